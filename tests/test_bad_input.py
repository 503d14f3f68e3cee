"""Bad input and faults: each gets a clear French message or a 4xx, loses nothing, and is logged.

A focal point of gt-sante works through the real editing screens; every refused action is
checked four ways: the status or the (French) message on the page, no new database row, no new
or partial file in the upload folder, and a line in the `ptfops.*` logs.
"""

from __future__ import annotations

import hashlib
import html
import io
import logging
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask_babel import gettext
from sqlalchemy import func, select

from ops.cli import main as ptfops
from ops.inventory import InventoryError
from sites import create_app
from sites.extensions import db
from sites.models import Article, AuditEvent, Document, Group, PublishState
from sites.models.base import utcnow
from tests.conftest import REPO
from tests.support.postgres import free_port

FR_CATALOG = REPO / "sites" / "translations" / "fr" / "LC_MESSAGES" / "messages.mo"
OWN = "gt-sante"
OTHER = "gt-economie-finances"

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00"

# Messages shown to the user (English msgids; the page shows their French translation).
MSG_TOO_LARGE = "The file is too large (%(mb)s MB at most)."
MSG_DISGUISED = "The file's content does not match its name: it was refused."
MSG_TYPE = ("This type of file is not accepted. Accepted: PDF, Word, Excel, PowerPoint, "
            "OpenDocument, CSV, text and PNG/JPEG images.")
MSG_DISK_FULL = ("The server's disk is full: the file could not be saved. Nothing was changed. "
                 "Please warn the administrator.")
MSG_SLUG_TAKEN = "This web address is already used by another news item."
MSG_FORBIDDEN = ("You are not allowed to do this. Each focal point can only edit their own "
                 "group's platform.")
MSG_CSRF = ("The form has expired or did not come from this site. Please go back, reload the "
            "page and try again.")

# The two screens that take an upload, with the other fields of a valid submission.
SCREENS: dict[str, tuple[str, str, dict[str, str]]] = {
    "document": (f"/admin/groupes/{OWN}/documents/nouveau", "file",
                 {"title": "Rapport annuel", "doc_type": "report", "year": "2025",
                  "status": "published"}),
    "article": (f"/admin/groupes/{OWN}/actualites/nouvelle", "attachment",
                {"title": "Atelier de validation", "body": "Compte rendu de l'atelier.",
                 "status": "published", "action": "save"}),
}


# --- helpers ---------------------------------------------------------------------------------

def expected(app: Flask, msgid: str) -> str:
    """`msgid` as the (French by default) UI shows it; French is required once compiled."""
    values = {"mb": app.config["MAX_UPLOAD_BYTES"] // (1024 * 1024)} if "%(mb)s" in msgid else {}
    with app.test_request_context("/"):
        text = gettext(msgid, **values)
    if FR_CATALOG.exists():
        assert text != msgid % values, f"no French translation for {msgid!r}"
    return text


def page_text(response) -> str:
    """The page's HTML with entities decoded (apostrophes are escaped by Jinja)."""
    return html.unescape(response.get_data(as_text=True))


def row_counts(app: Flask) -> dict[str, int]:
    """How many articles, documents, audit events and groups are stored."""
    with app.app_context():
        return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
                for model in (Article, Document, AuditEvent, Group)}


def files_in(root: Path) -> dict[str, str]:
    """Every file under `root` (hidden temp files included) with the SHA-256 of its bytes."""
    found: dict[str, str] = {}
    if not root.exists():
        return found
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def upload_dir(app: Flask) -> Path:
    """The app's upload folder."""
    return Path(app.config["UPLOAD_DIR"])


def logged(caplog: pytest.LogCaptureFixture, *words: str,
           level: int = logging.WARNING) -> list[str]:
    """Messages of `ptfops.*` records at `level` or above that contain every word."""
    return [r.getMessage() for r in caplog.records
            if r.name.startswith("ptfops.") and r.levelno >= level
            and all(w in r.getMessage() for w in words)]


def submit(client, screen: str, name: str, content: bytes, **fields: str):
    """Post one of the upload screens with a file."""
    url, file_field, data = SCREENS[screen]
    data = {**data, **fields, file_field: (io.BytesIO(content), name)}
    return client.post(url, data=data, content_type="multipart/form-data")


def add_article(app: Flask, slug: str, title: str, group_slug: str,
                body: str = "<p>Texte d'origine</p>") -> int:
    """Store a published article directly; returns its id."""
    with app.app_context():
        group = db.session.scalars(select(Group).where(Group.slug == group_slug)).one()
        article = Article(slug=slug, title=title, body_html=body, group=group,
                          status=PublishState.PUBLISHED, publish_at=utcnow())
        db.session.add(article)
        db.session.commit()
        return article.id


def article_state(app: Flask, article_id: int) -> tuple:
    """The fields of an article that an edit could change."""
    with app.app_context():
        a = db.session.get(Article, article_id)
        return (a.slug, a.title, a.summary, a.body_html, a.group_id, a.status, a.publish_at)


@pytest.fixture
def focal(make_user, auth):
    """A focal point of gt-sante, logged in."""
    account = make_user("focal", OWN)
    auth.login(account)
    return account


@pytest.fixture
def stored(app, client, focal) -> dict[str, str]:
    """One document already uploaded (so there is something that must not be lost)."""
    response = submit(client, "document", "existant.pdf", PDF + b"% existing\n")
    assert response.status_code == 302
    files = files_in(upload_dir(app))
    assert len(files) == 1
    return files


# --- uploads ---------------------------------------------------------------------------------

REFUSED = {
    "exe renamed pdf": ("rapport.pdf", EXE + b"\x00" * 200, MSG_DISGUISED, "disguised"),
    "png renamed docx": ("note.docx", PNG + b"\x00" * 200, MSG_DISGUISED, "disguised"),
    "unaccepted type": ("page.html", b"<html><script>alert(1)</script></html>", MSG_TYPE, "type"),
    "over the size limit": ("gros.pdf", PDF + b"0" * 20_000, MSG_TOO_LARGE, "too_large"),
}


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("case", REFUSED)
def test_refused_upload_shows_french_error_and_stores_nothing(app, client, focal, stored,
                                                              caplog, screen, case):
    name, content, msgid, code = REFUSED[case]
    app.config["MAX_UPLOAD_BYTES"] = 16 * 1024  # the request itself stays under MAX_CONTENT_LENGTH
    before = row_counts(app)
    response = submit(client, screen, name, content)
    assert response.status_code == 200
    assert expected(app, msgid) in page_text(response)
    assert row_counts(app) == before
    assert files_in(upload_dir(app)) == stored
    assert logged(caplog, "refused", code, focal.email)


def test_request_over_max_content_length_gets_413_in_french(app, client, focal, stored, caplog):
    app.config["MAX_CONTENT_LENGTH"] = 32 * 1024
    before = row_counts(app)
    response = submit(client, "document", "enorme.pdf", PDF + b"0" * 100_000)
    assert response.status_code == 413
    assert expected(app, MSG_TOO_LARGE) in page_text(response)
    assert row_counts(app) == before
    assert files_in(upload_dir(app)) == stored
    assert logged(caplog, "413", focal.email)


@pytest.mark.parametrize(("name", "safe_name"), [
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("..\\..\\x.pdf", "x.pdf"),
    ("/tmp/../../absolu.pdf", "absolu.pdf"),
    ("....//..//.cache.pdf", "cache.pdf"),
])
def test_path_tricks_in_file_names_stay_inside_the_upload_folder(app, client, focal, tmp_path,
                                                                 caplog, name, safe_name):
    # deep enough that any "../.." escape would still land inside tmp_path, where it is seen
    app.config["UPLOAD_DIR"] = str(tmp_path / "a" / "b" / "c" / "uploads")

    def outside() -> set[str]:
        return {p for p in files_in(tmp_path)
                if not p.startswith("a/b/c/uploads/") and ".sqlite3" not in p}

    before = outside()
    response = submit(client, "document", name, PDF)
    assert response.status_code == 302
    with app.app_context():
        document = db.session.scalars(select(Document)).one()
        doc_id, sha, filename = document.id, document.file_hash, document.filename
    assert filename == safe_name
    assert files_in(upload_dir(app)) == {f"{sha[:2]}/{sha}": hashlib.sha256(PDF).hexdigest()}
    assert outside() == before
    assert not Path("/absolu.pdf").exists()
    download = client.get(f"/documents/{doc_id}/telecharger")
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Disposition"] == f"inline; filename={safe_name}"
    assert logged(caplog, "document.create", f"({safe_name})", level=logging.INFO)


def test_full_disk_during_upload_is_reported_in_french_and_leaves_nothing(
        app, client, focal, tiny_disk, caplog):
    app.config["UPLOAD_DIR"] = str(tiny_disk)
    small = submit(client, "document", "petit.pdf", PDF)
    assert small.status_code == 302
    stored = files_in(tiny_disk)
    before = row_counts(app)
    for screen in SCREENS:
        caplog.clear()
        response = submit(client, screen, "volumineux.pdf", PDF + b"0" * 256 * 1024)
        assert response.status_code == 200
        assert expected(app, MSG_DISK_FULL) in page_text(response)
        assert row_counts(app) == before
        assert files_in(tiny_disk) == stored, "a partial or temp file was left on the full disk"
        assert logged(caplog, "disk full", level=logging.ERROR)
        assert logged(caplog, "refused", "disk_full", focal.email)
    with app.app_context():
        document = db.session.scalars(select(Document)).one()
        assert (tiny_disk / document.file_hash[:2] / document.file_hash).read_bytes() == PDF


# --- hostile HTML ----------------------------------------------------------------------------

HOSTILE_BODY = """<p style="color:red" onclick="alert(1)">Bonjour <strong>équipe</strong></p>
<script>alert('script')</script>
<img src="x" onerror="alert(2)">
<p><a href="javascript:alert(3)">piège</a> <a href="JaVaScRiPt:alert(4)">bis</a>
<a href="https://www.example.org/ok">lien sûr</a></p>
<iframe src="https://evil.example/"></iframe>
<svg onload="alert(5)"></svg><style>body{display:none}</style>"""
FORBIDDEN_MARKUP = ("<script", "alert(", "onclick", "onerror", "onload", "javascript:", "<iframe",
                    "style=", "<style", "<svg", "<img", "evil.example")


def _assert_clean(markup: str) -> None:
    lowered = markup.lower()
    for bad in FORBIDDEN_MARKUP:
        assert bad not in lowered, f"{bad!r} survived sanitising: {markup}"
    assert "<strong>équipe</strong>" in markup
    assert 'href="https://www.example.org/ok"' in markup


def test_hostile_html_in_a_news_body_is_sanitised_when_stored_and_shown(app, client, focal,
                                                                         caplog):
    response = client.post(SCREENS["article"][0], data={
        "title": "Réunion <script>var t=1</script>", "body": HOSTILE_BODY, "slug": "piege",
        "status": "published", "action": "save"})
    assert response.status_code == 302
    with app.app_context():
        article = db.session.scalars(select(Article).where(Article.slug == "piege")).one()
        _assert_clean(article.body_html)
    shown = client.get("/actualites/piege").get_data(as_text=True)
    body = shown.split('<article class="prose">', 1)[1].split("</article>", 1)[0]
    _assert_clean(body)
    assert "<script>var t" not in shown and "&lt;script&gt;var t=1" in shown
    assert logged(caplog, "article.create", "Réunion", level=logging.INFO)


def test_hostile_html_preview_is_sanitised_and_saves_nothing(app, client, focal):
    before = row_counts(app)
    response = client.post(SCREENS["article"][0], data={
        "title": "Aperçu", "body": HOSTILE_BODY, "status": "published", "action": "preview"})
    assert response.status_code == 200
    preview = response.get_data(as_text=True).split('<article class="prose">', 1)[1]
    _assert_clean(preview.split("</article>", 1)[0])
    assert row_counts(app) == before


# --- duplicate slugs, another group's platform -----------------------------------------------

def test_duplicate_slug_chosen_by_hand_gets_a_french_error_and_changes_nothing(app, client,
                                                                               focal, caplog):
    taken = add_article(app, "atelier-budget", "Atelier budget (original)", OTHER)
    mine = add_article(app, "mon-article", "Mon article", OWN)
    originals = {taken: article_state(app, taken), mine: article_state(app, mine)}
    before = row_counts(app)
    for url in (SCREENS["article"][0], f"/admin/actualites/{mine}"):
        response = client.post(url, data={"title": "Copie", "body": "Nouveau texte",
                                          "slug": "atelier-budget", "status": "published",
                                          "action": "save"})
        assert response.status_code == 200
        assert expected(app, MSG_SLUG_TAKEN) in page_text(response)
    assert row_counts(app) == before
    assert {i: article_state(app, i) for i in originals} == originals
    assert len(logged(caplog, "atelier-budget", "already used", focal.email)) == 2


def test_focal_point_cannot_touch_another_groups_platform(app, client, focal, caplog):
    foreign = add_article(app, "conseil-budget", "Conseil budgétaire", OTHER)
    mine = add_article(app, "sante-article", "Article santé", OWN)
    original = article_state(app, foreign)
    with app.app_context():
        identity = db.session.execute(select(Group.colour, Group.tagline, Group.logo_hash)
                                      .where(Group.slug == OTHER)).one()
    before = row_counts(app)
    attempts = [
        ("GET", f"/admin/actualites/{foreign}", {}),
        ("POST", f"/admin/actualites/{foreign}", {"title": "Piraté", "body": "x",
                                                  "status": "archived", "action": "save"}),
        ("POST", f"/admin/actualites/{foreign}/retirer", {}),
        ("POST", f"/admin/groupes/{OTHER}/actualites/nouvelle",
         {"title": "Intrus", "body": "x", "status": "published", "action": "save"}),
        ("POST", f"/admin/groupes/{OTHER}/documents/nouveau",
         {**SCREENS["document"][2], "file": (io.BytesIO(PDF), "intrus.pdf")}),
        ("POST", f"/admin/groupes/{OTHER}/identite", {"colour": "#ff0000", "tagline": "Piraté"}),
    ]
    for method, url, data in attempts:
        caplog.clear()
        response = client.open(url, method=method, data=data,
                               content_type="multipart/form-data" if data else None)
        assert response.status_code == 403, url
        assert expected(app, MSG_FORBIDDEN) in page_text(response)
        assert logged(caplog, "403", url, focal.email), url
    assert article_state(app, foreign) == original
    assert row_counts(app) == before
    assert files_in(upload_dir(app)) == {}
    with app.app_context():
        assert db.session.execute(select(Group.colour, Group.tagline, Group.logo_hash)
                                  .where(Group.slug == OTHER)).one() == identity
    # the same focal point may still edit its own group's article
    own = client.post(f"/admin/actualites/{mine}", data={
        "title": "Article santé (modifié)", "body": "x", "status": "published", "action": "save"})
    assert own.status_code == 302


# --- CSRF --------------------------------------------------------------------------------------

def _csrf_token(client, url: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get(url).get_data(as_text=True))
    assert found, f"no CSRF token in {url}"
    return found.group(1)


@pytest.mark.csrf
def test_form_without_csrf_token_gets_400_with_french_explanation(app, client, make_user,
                                                                  caplog):
    account = make_user("focal", OWN)
    login = client.post("/connexion", data={"email": account.email, "password": account.password,
                                            "csrf_token": _csrf_token(client, "/connexion")})
    assert login.status_code == 302
    url = SCREENS["article"][0]
    data = {"title": "Sans jeton", "body": "Texte", "status": "published", "action": "save"}
    before = row_counts(app)
    for token in (None, "faux-jeton"):
        caplog.clear()
        response = client.post(url, data=data if token is None else {**data, "csrf_token": token})
        assert response.status_code == 400
        assert expected(app, MSG_CSRF) in page_text(response)
        assert logged(caplog, "CSRF")
    assert row_counts(app) == before
    accepted = client.post(url, data={**data, "csrf_token": _csrf_token(client, url)})
    assert accepted.status_code == 302  # the same form with its token goes through


# --- bad DATABASE_URL --------------------------------------------------------------------------

def _bad_urls(tmp_path: Path) -> dict[str, str]:
    garbage = tmp_path / "pas-une-base.sqlite3"
    garbage.write_bytes(b"ceci n'est pas une base de donnees SQLite\n" * 40)
    return {
        "mysql": "mysql://x",
        "not a url": "not a url",
        "closed port": f"postgresql://ptfops@127.0.0.1:{free_port()}/ptfops",
        "port not a number": "postgresql://ptfops@127.0.0.1:abc/ptfops",
        "not a database file": f"sqlite:///{garbage}",
    }


@pytest.mark.parametrize("case", ["mysql", "not a url", "closed port", "port not a number",
                                  "not a database file"])
def test_db_upgrade_with_a_bad_database_url_exits_with_one_clear_line(tmp_path, case):
    url = _bad_urls(tmp_path)[case]
    garbage = tmp_path / "pas-une-base.sqlite3"
    garbage_before = garbage.read_bytes()
    result = CliRunner().invoke(ptfops, ["db", "upgrade"], env={
        "DATABASE_URL": url, "PTFOPS_INSTANCE": str(tmp_path / "instance"),
        "PTFOPS_INVENTORY": None})
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "DATABASE_URL" in lines[0] or "database" in lines[0]
    assert garbage.read_bytes() == garbage_before
    assert not (tmp_path / "instance" / "ptfops.sqlite3").exists()


# --- invalid inventories -----------------------------------------------------------------------

VALID_INVENTORY = """\
structures:
  - slug: pool-technique
    name: Pool Technique
    short_name: Pool
groups:
  - slug: gt-sante
    name: Groupe Santé
    short_name: GT Santé
    lead_partner: OMS
  - slug: sgt-nutrition
    name: Nutrition
    short_name: SGT Nutrition
    lead_partner: UNICEF
    parent: gt-sante
"""
BAD_INVENTORIES = {
    "duplicate slug": (VALID_INVENTORY + "  - slug: gt-sante\n    name: Doublon\n"
                       "    short_name: Doublon\n    lead_partner: X\n",
                       15, "duplicate slug 'gt-sante' (first used on line 6)"),
    "unknown parent": (VALID_INVENTORY.replace("parent: gt-sante", "parent: gt-inconnu"),
                       14, "unknown group 'gt-inconnu'"),
    "bad colour": (VALID_INVENTORY.replace("    lead_partner: OMS\n",
                                           "    lead_partner: OMS\n    colour: rouge\n"),
                   10, "groups.0.colour: 'rouge' does not match"),
    "broken YAML": (VALID_INVENTORY.replace("    short_name: GT Santé", "   short_name: GT Santé"),
                    8, "invalid YAML"),
}


def _write_inventory(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "groups.yml").write_text(text, "utf-8")
    return folder


def test_valid_inventory_fixture_passes_the_check(tmp_path):
    folder = _write_inventory(tmp_path / "inv", VALID_INVENTORY)
    result = CliRunner().invoke(ptfops, ["inventory", "check"],
                                env={"PTFOPS_INVENTORY": str(folder)})
    assert result.exit_code == 0 and "inventory OK" in result.output


@pytest.mark.parametrize("case", BAD_INVENTORIES)
def test_invalid_inventory_is_refused_with_file_line_message(tmp_path, case):
    text, line, message = BAD_INVENTORIES[case]
    folder = _write_inventory(tmp_path / "inv", text)
    path = folder / "groups.yml"
    with pytest.raises(InventoryError) as raised:
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "INVENTORY_DIR": str(folder)},
                   instance_path=str(tmp_path / "instance"))
    assert [(i.path, i.line) for i in raised.value.issues] == [(path, line)]
    assert message in raised.value.issues[0].message
    result = CliRunner().invoke(ptfops, ["inventory", "check"],
                                env={"PTFOPS_INVENTORY": str(folder)})
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.strip().splitlines() == [str(raised.value.issues[0])]
    assert result.stderr.startswith(f"{path}:{line}: ")


def test_db_upgrade_with_an_invalid_inventory_keeps_every_platform(app, database_url, tmp_path):
    with app.app_context():
        platforms = sorted(db.session.execute(select(Group.slug, Group.archived)).all())
    folder = _write_inventory(tmp_path / "inv", BAD_INVENTORIES["unknown parent"][0])
    result = CliRunner().invoke(ptfops, ["db", "upgrade"], env={
        "DATABASE_URL": database_url, "PTFOPS_INSTANCE": str(tmp_path / "cli-instance"),
        "PTFOPS_INVENTORY": str(folder)})
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.stderr.strip() == (
        f"{folder / 'groups.yml'}:14: groups.1.parent: unknown group 'gt-inconnu'")
    with app.app_context():
        db.session.remove()
        assert sorted(db.session.execute(select(Group.slug, Group.archived)).all()) == platforms
    assert len(platforms) > 2
