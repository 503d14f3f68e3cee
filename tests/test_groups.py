"""The group directory, each platform's pages, themes.css and the sync from the inventory."""

from __future__ import annotations

import io
import shutil
from datetime import timedelta
from pathlib import Path

import yaml
from click.testing import CliRunner
from lxml import html
from sqlalchemy import select

from ops.cli import main as ptfops
from ops.inventory import GroupsInventory, load_groups
from sites.extensions import db
from sites.inventory_sync import sync_groups
from sites.models import Article, Document, Group, Meeting, PublishState
from sites.models.base import utcnow
from sites.storage import FileStore

REPO_INVENTORY = Path(__file__).resolve().parents[1] / "inventory"
PLATFORM_PAGES = ["", "actualites", "documents", "reunions", "membres", "sous-groupes"]


def _group(slug: str) -> Group:
    return db.session.scalars(select(Group).where(Group.slug == slug)).one()


def _add_content(app, slug: str, label: str, status: PublishState = PublishState.PUBLISHED,
                 when=None) -> None:
    """One news item, one document and one upcoming meeting titled after `label`."""
    when = when or utcnow() - timedelta(hours=1)
    with app.app_context():
        group = _group(slug)
        store = FileStore(app.config["UPLOAD_DIR"], app.config["MAX_UPLOAD_BYTES"])
        stored = store.save(io.BytesIO(f"Contenu {label}\n".encode()), f"{label}.txt")
        start = utcnow() + timedelta(days=3)
        db.session.add_all([
            Article(slug=f"article-{label}", title=f"Article {label}", body_html="<p>x</p>",
                    group=group, status=status, publish_at=when),
            Document(title=f"Document {label}", doc_type="report", year=2026, group=group,
                     file_hash=stored.sha256, filename=stored.filename,
                     mime_type=stored.mime_type, size=stored.size, status=status,
                     publish_at=when),
            Meeting(title=f"Réunion {label}", group=group, starts_at=start,
                    ends_at=start + timedelta(hours=2), status=status, publish_at=when),
        ])
        db.session.commit()


def _inventory_copy(tmp_path: Path, add: list[dict] | None = None,
                    remove: tuple[str, ...] = (), colours: dict[str, str] | None = None
                    ) -> GroupsInventory:
    """A copy of inventory/ with groups added, removed or recoloured, loaded back."""
    folder = tmp_path / "inventory"
    folder.mkdir(exist_ok=True)
    data = yaml.safe_load((REPO_INVENTORY / "groups.yml").read_text("utf-8"))
    data["groups"] = [g for g in data["groups"] if g["slug"] not in remove] + (add or [])
    for group in data["groups"]:
        if group["slug"] in (colours or {}):
            group["colour"] = colours[group["slug"]]
    (folder / "groups.yml").write_text(yaml.safe_dump(data, allow_unicode=True,
                                                      sort_keys=False), "utf-8")
    return load_groups(folder)


NEW_GT = {"slug": "gt-numerique", "name": "Groupe thématique Numérique et innovation",
          "short_name": "GT Numérique", "lead_partner": "Luxembourg",
          "description": "Transformation numérique de l'administration.", "colour": "#0b7285"}
NEW_SGT = {"slug": "sgt-donnees-ouvertes", "name": "Sous-groupe Données ouvertes",
           "short_name": "SGT Données ouvertes", "parent": "gt-numerique",
           "lead_partner": "Estonie", "description": "Publication des données publiques."}


def _sync(app, inventory: GroupsInventory):
    with app.app_context():
        return sync_groups(inventory)


def test_directory_lists_every_live_gt_with_its_subgroups_from_the_inventory(app, client):
    inventory = app.extensions["ptfops.inventory"]
    expected = {g.slug: [s.slug for s in inventory.groups if s.parent == g.slug]
                for g in inventory.groups if g.parent is None}
    assert len(expected) == 13
    response = client.get("/groupes/")
    assert response.status_code == 200
    doc = html.fromstring(response.data)
    found = {}
    for card in doc.xpath('//li[contains(@class, "group-card")]'):
        slug = card.xpath(".//h2/a/@href")[0].split("/")[2]
        links = card.xpath('.//ul[@class="subgroups"]//a/@href')
        found[slug] = [href.split("/")[2] for href in links]
        assert card.xpath(".//h2/a")[0].text_content() == inventory.group(slug).name
    assert found == expected


def test_directory_and_platforms_hide_archived_groups(app, client):
    with app.app_context():
        _group("sgt-nutrition").archived = True
        _group("gt-genre").archived = True
        db.session.commit()
    page = client.get("/groupes/").get_data(as_text=True)
    assert "/groupes/gt-genre/" not in page and "/groupes/sgt-nutrition/" not in page
    assert "/groupes/gt-sante/" in page
    subgroups = client.get("/groupes/gt-sante/sous-groupes").get_data(as_text=True)
    assert "/groupes/sgt-nutrition/" not in subgroups


def test_unknown_and_archived_platforms_answer_404_on_every_page(app, client):
    with app.app_context():
        _group("gt-genre").archived = True
        db.session.commit()
    for sub in PLATFORM_PAGES:
        assert client.get(f"/groupes/gt-inconnu/{sub}").status_code == 404, sub
        assert client.get(f"/groupes/gt-genre/{sub}").status_code == 404, sub
        assert client.get(f"/groupes/gt-justice/{sub}").status_code == 200, sub


def test_platform_pages_show_only_their_groups_published_content(app, client):
    _add_content(app, "gt-sante", "sante")
    _add_content(app, "gt-sante", "brouillon", status=PublishState.DRAFT)
    _add_content(app, "gt-sante", "archivee", status=PublishState.ARCHIVED)
    _add_content(app, "gt-sante", "programmee", when=utcnow() + timedelta(days=1))
    _add_content(app, "sgt-nutrition", "nutrition")
    _add_content(app, "gt-education", "education")
    for sub, kinds in (("", ("Article", "Document", "Réunion")), ("actualites", ("Article",)),
                       ("documents", ("Document",)), ("reunions", ("Réunion",))):
        page = client.get(f"/groupes/gt-sante/{sub}").get_data(as_text=True)
        for kind in kinds:
            assert f"{kind} sante" in page, sub
            for other in ("brouillon", "archivee", "programmee", "nutrition", "education"):
                assert f"{kind} {other}" not in page, (sub, other)


def test_members_page_shows_focal_points_to_all_and_members_to_the_group_only(
        app, client, make_user, auth):
    make_user("focal", "gt-sante")
    member = make_user("member", "gt-sante")
    make_user("focal", "gt-education")
    public = client.get("/groupes/gt-sante/membres").get_data(as_text=True)
    assert "Focal gt-sante" in public
    assert "Member gt-sante" not in public and "Focal gt-education" not in public
    auth.login(member)
    inside = client.get("/groupes/gt-sante/membres").get_data(as_text=True)
    assert "Focal gt-sante" in inside and "Member gt-sante" in inside
    other = client.get("/groupes/gt-education/membres").get_data(as_text=True)
    assert "Focal gt-education" in other and "Member gt-sante" not in other


def test_subgroups_page_lists_the_gts_own_subgroups(app, client):
    inventory = app.extensions["ptfops.inventory"]
    doc = html.fromstring(client.get("/groupes/gt-economie-finances/sous-groupes").data)
    listed = [h.split("/")[2] for h in doc.xpath('//ul[@class="directory"]//h3/a/@href')]
    assert listed == [g.slug for g in inventory.groups if g.parent == "gt-economie-finances"]
    assert listed == ["sgt-fiscalite", "sgt-marches-publics"]


def test_themes_css_gives_each_group_its_accent_colour(app, client):
    inventory = app.extensions["ptfops.inventory"]
    response = client.get("/groupes/themes.css")
    assert response.status_code == 200
    assert response.mimetype == "text/css"
    css = response.get_data(as_text=True)
    for spec in inventory.groups:
        colour = spec.colour or inventory.group(spec.parent).colour
        assert f".accent-{spec.slug}{{--accent:{colour}}}" in css


def test_a_group_added_to_the_inventory_gets_a_working_platform(app, client, tmp_path):
    report = _sync(app, _inventory_copy(tmp_path, add=[NEW_GT, NEW_SGT]))
    assert report.created == ["gt-numerique", "sgt-donnees-ouvertes"]
    assert report.archived == [] and report.restored == []
    for sub in PLATFORM_PAGES:
        assert client.get(f"/groupes/gt-numerique/{sub}").status_code == 200
    home = client.get("/groupes/gt-numerique/").get_data(as_text=True)
    assert "Groupe thématique Numérique et innovation" in home and "Luxembourg" in home
    sgt = client.get("/groupes/sgt-donnees-ouvertes/").get_data(as_text=True)
    assert 'href="/groupes/gt-numerique/"' in sgt
    doc = html.fromstring(client.get("/groupes/").data)
    card = doc.xpath('//li[contains(@class, "group-card")]'
                     '[.//h2/a[@href="/groupes/gt-numerique/"]]')
    assert card and card[0].xpath('.//ul[@class="subgroups"]//a/@href') == [
        "/groupes/sgt-donnees-ouvertes/"]
    css = client.get("/groupes/themes.css").get_data(as_text=True)
    assert ".accent-gt-numerique{--accent:#0b7285}" in css
    assert ".accent-sgt-donnees-ouvertes{--accent:#0b7285}" in css


def test_a_group_removed_from_the_inventory_is_archived_and_restored_when_back(
        app, client, tmp_path):
    _sync(app, _inventory_copy(tmp_path, add=[NEW_GT]))
    _add_content(app, "gt-numerique", "numerique")
    assert "Article numerique" in client.get("/actualites/").get_data(as_text=True)

    report = _sync(app, _inventory_copy(tmp_path))
    assert report.archived == ["gt-numerique"]
    assert client.get("/groupes/gt-numerique/").status_code == 404
    assert "/groupes/gt-numerique/" not in client.get("/groupes/").get_data(as_text=True)
    assert client.get("/actualites/article-numerique").status_code == 404
    with app.app_context():
        group = _group("gt-numerique")
        assert group.archived
        kept = db.session.scalars(select(Article).where(Article.group_id == group.id)).all()
        assert [a.title for a in kept] == ["Article numerique"]
        assert db.session.scalars(select(Document).where(Document.group_id == group.id)).all()

    report = _sync(app, _inventory_copy(tmp_path, add=[NEW_GT]))
    assert report.restored == ["gt-numerique"] and report.created == []
    assert client.get("/groupes/gt-numerique/").status_code == 200
    assert "Article numerique" in client.get(
        "/groupes/gt-numerique/actualites").get_data(as_text=True)
    assert client.get("/actualites/article-numerique").status_code == 200


def test_ptfops_db_upgrade_creates_the_platform_of_a_group_added_to_the_inventory(
        app, client, tmp_path, database_url):
    _inventory_copy(tmp_path, add=[NEW_GT])
    env = {"DATABASE_URL": database_url, "PTFOPS_INVENTORY": str(tmp_path / "inventory"),
           "PTFOPS_INSTANCE": str(tmp_path / "cli-instance")}
    result = CliRunner().invoke(ptfops, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    assert "platforms created: gt-numerique" in result.output
    assert client.get("/groupes/gt-numerique/").status_code == 200


def test_sync_applies_inventory_colours_but_keeps_a_colour_set_by_the_focal_point(
        app, client, make_user, auth, tmp_path):
    auth.login(make_user("focal", "gt-sante"))
    response = client.post("/admin/groupes/gt-sante/identite",
                           data={"colour": "#123456", "tagline": "Santé pour tous"})
    assert response.status_code == 302
    auth.logout()
    _sync(app, _inventory_copy(tmp_path, colours={"gt-sante": "#b00000",
                                                  "gt-education": "#000000"}))
    css = client.get("/groupes/themes.css").get_data(as_text=True)
    assert ".accent-gt-sante{--accent:#123456}" in css
    assert ".accent-sgt-nutrition{--accent:#123456}" in css
    assert ".accent-gt-education{--accent:#000000}" in css
    assert "Santé pour tous" in client.get("/groupes/gt-sante/").get_data(as_text=True)


def test_copying_the_repository_inventory_changes_nothing(app, tmp_path):
    shutil.copytree(REPO_INVENTORY, tmp_path / "same")
    report = _sync(app, load_groups(tmp_path / "same"))
    assert report.created == report.updated == report.archived == report.restored == []


def test_syncing_an_unchanged_groups_file_keeps_the_content_version(app, client):
    """Every deploy syncs the groups: nothing changed must mean no new version (every public
    page's ETag and the static snapshots' generation depend on it)."""
    from sites.models import SiteState

    etag = client.get("/groupes/").headers["ETag"]
    with app.app_context():
        before = db.session.get(SiteState, 1).version
    _sync(app, app.extensions["ptfops.inventory"])
    with app.app_context():
        assert db.session.get(SiteState, 1).version == before
    assert client.get("/groupes/", headers={"If-None-Match": etag}).status_code == 304
