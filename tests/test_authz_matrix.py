"""The authorisation matrix: every route of the portal for every role.

The table `CASES` holds, for each route (rule and method) of `app.url_map`, one or
more concrete requests and the outcome expected for each role. A route added to
the app without an entry here fails `test_every_route_has_an_entry_in_the_matrix`.

Outcomes: "200" and "302" are successes (for a POST, the change must be visible in
the database); "login" is a redirect to /connexion; "403" and "404" are refusals;
"unchanged" is a 302 that changes nothing. A refused POST must leave every table and
the upload folder exactly as they were.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from argon2 import PasswordHasher
from flask import Flask, current_app
from flask.testing import FlaskClient
from sqlalchemy import select

from sites.documents import file_store
from sites.extensions import db
from sites.models import (
    Article,
    AuditEvent,
    Document,
    Group,
    Meeting,
    Membership,
    MembershipRole,
    Page,
    PublishState,
    Structure,
    User,
)
from sites.models.base import utcnow

ROLES = ("anonymous", "member", "focal", "other_focal", "admin")
PASSWORD = "un mot de passe pour les tests"
SUCCESS = ("200", "302")
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
#: The names shown (or not) on /groupes/gt-sante/membres.
FOCAL_NAME = "Boubacar Point-Focal Santé"
OTHER_MEMBER_NAME = "Fatou Autre-Membre Santé"


# --- The world every request runs against ------------------------------------------------


@cache
def _password_hash() -> str:
    """A cheap argon2id hash shared by every test account.

    The portal verifies a hash with the parameters stored in it, so the real login
    code runs, without the deliberate cost of production parameters in every test.
    """
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)


def tiny_png(seed: int = 0) -> bytes:
    """A valid 1x1 PNG (the colour varies with `seed`, so is its hash)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    pixel = zlib.compress(bytes([0, seed % 256, 80, 120]))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", pixel) + chunk(b"IEND", b""))


@dataclass
class World:
    """Ids and slugs of the rows built by `build_world`."""

    emails: dict[str, str] = field(default_factory=dict)
    articles: dict[str, int] = field(default_factory=dict)
    article_slugs: dict[str, str] = field(default_factory=dict)
    documents: dict[str, int] = field(default_factory=dict)
    meetings: dict[str, int] = field(default_factory=dict)
    page_id: int = 0
    page_slug: str = ""
    logo_sha: str = ""
    target_user_id: int = 0
    iati_staged: str = ""   # a file waiting for its import confirmation (gt-sante)
    iati_token: str = ""
    spreadsheet_tokens: dict[str, str] = field(default_factory=dict)  # role -> its own upload


def _user(email: str, name: str, group: Group | None, role: str | None,
          is_admin: bool = False) -> User:
    user = User(email=email, name=name, password_hash=_password_hash(), is_admin=is_admin)
    if group is not None and role is not None:
        user.memberships.append(Membership(group=group, role=MembershipRole(role)))
    db.session.add(user)
    return user


def build_world(app: Flask) -> World:
    """Accounts of each role, and real content in gt-sante, sgt-nutrition and gt-education."""
    world = World()
    with app.app_context():
        groups = {g.slug: g for g in db.session.scalars(select(Group))}
        sante, nutrition, education = (groups["gt-sante"], groups["sgt-nutrition"],
                                       groups["gt-education"])
        people = {
            "member": _user("membre@example.org", "Awa Membre Santé", sante, "member"),
            "focal": _user("focal@example.org", FOCAL_NAME, sante, "focal"),
            "other_focal": _user("focal-edu@example.org", "Chantal Point-Focal Éducation",
                                 education, "focal"),
            "admin": _user("admin@example.org", "Daouda Administrateur", None, None, True),
        }
        _user("autre-membre@example.org", OTHER_MEMBER_NAME, sante, "member")
        target = _user("cible@example.org", "Éric Cible Éducation", education, "member")
        store = file_store()
        logo = store.save(io.BytesIO(tiny_png(1)), "logo.png")
        sante.logo_hash = logo.sha256
        now = utcnow()
        for label, group in (("gt-sante", sante), ("sgt-nutrition", nutrition),
                             ("gt-education", education), ("portal", None)):
            db.session.add(Article(slug=f"article-{label}", title=f"Actualité {label}",
                                   body_html="<p>Texte</p>", group=group,
                                   status=PublishState.PUBLISHED,
                                   publish_at=now - timedelta(hours=1)))
        db.session.add(Article(slug="brouillon-sante", title="Brouillon Santé",
                               body_html="<p>Pas encore</p>", group=sante,
                               status=PublishState.DRAFT))
        for label, group, status in (("gt-sante", sante, PublishState.PUBLISHED),
                                     ("sgt-nutrition", nutrition, PublishState.PUBLISHED),
                                     ("gt-education", education, PublishState.PUBLISHED),
                                     ("draft", sante, PublishState.DRAFT)):
            stored = store.save(io.BytesIO(PDF + label.encode()), f"rapport-{label}.pdf")
            db.session.add(Document(
                title=f"Rapport {label}", doc_type="report", year=2025, group=group,
                file_hash=stored.sha256, filename=stored.filename, mime_type=stored.mime_type,
                size=stored.size, status=status, publish_at=now - timedelta(hours=1)))
        for label, group in (("gt-sante", sante), ("gt-education", education)):
            starts = now + timedelta(days=10)
            db.session.add(Meeting(title=f"Réunion {label}", group=group, location="Bamako",
                                   starts_at=starts, ends_at=starts + timedelta(hours=2),
                                   status=PublishState.PUBLISHED, publish_at=now))
        structure = db.session.scalar(select(Structure).order_by(Structure.position))
        page = Page(slug="mandat-test", title="Notre mandat", body_html="<p>Mandat</p>",
                    structure=structure, status=PublishState.PUBLISHED,
                    publish_at=now - timedelta(hours=1))
        db.session.add(page)
        db.session.commit()
        world.emails = {role: user.email for role, user in people.items()}
        world.target_user_id = target.id
        world.page_id, world.page_slug = page.id, page.slug
        world.logo_sha = logo.sha256
        world.iati_staged, world.iati_token = _stage_iati_import("gt-sante")
        world.spreadsheet_tokens = {
            role: _stage_spreadsheet(people[role].id, SPREADSHEET_IDS[role], group)
            for role, group in (("focal", "gt-sante"), ("admin", "gt-education"))}
        for article in db.session.scalars(select(Article)):
            label = article.slug.removeprefix("article-")
            world.articles[label] = article.id
            world.article_slugs[label] = article.slug
        for document in db.session.scalars(select(Document)):
            world.documents[document.title.removeprefix("Rapport ")] = document.id
        for meeting in db.session.scalars(select(Meeting)):
            world.meetings[meeting.title.removeprefix("Réunion ")] = meeting.id
    return world


def login(client: FlaskClient, world: World, role: str, **extra: str) -> None:
    """Sign `client` in as `role` through the real login form (anonymous: do nothing)."""
    if role == "anonymous":
        return
    response = client.post("/connexion", data={"email": world.emails[role],
                                                "password": PASSWORD, **extra})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def snapshot(app: Flask) -> dict[str, Any]:
    """Every row of every table, and every file of the upload folder."""
    state: dict[str, Any] = {}
    with app.app_context():
        for table in db.metadata.sorted_tables:
            rows = db.session.execute(select(table).order_by(*table.primary_key.columns))
            state[table.name] = [tuple(row) for row in rows]
    root = Path(app.config["UPLOAD_DIR"])
    state["files"] = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    return state


def _diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [name for name in before if before[name] != after.get(name)]


# --- Expectations --------------------------------------------------------------------------


def everyone(outcome: str = "200") -> dict[str, str]:
    """The same outcome for every role."""
    return dict.fromkeys(ROLES, outcome)


def signed_in(outcome: str) -> dict[str, str]:
    """`outcome` for any account, the login page for anonymous visitors."""
    return {"anonymous": "login", **dict.fromkeys(ROLES[1:], outcome)}


def only(outcome: str, *allowed: str) -> dict[str, str]:
    """`outcome` for the `allowed` roles, 403 for other accounts, login for anonymous."""
    return {"anonymous": "login",
            **{role: outcome if role in allowed else "403" for role in ROLES[1:]}}


#: Who may edit each group's platform.
EDITORS = {"gt-sante": ("focal", "admin"), "sgt-nutrition": ("focal", "admin"),
           "gt-education": ("other_focal", "admin"), "portal": ("admin",)}

IDENTITY_COLOURS = {"gt-sante": "#a11d33", "sgt-nutrition": "#1d7a33", "gt-education": "#33301d"}

Data = Callable[[World], dict[str, Any]]
Effect = Callable[[World], bool]


@dataclass(frozen=True)
class Case:
    """One request to one route, and what each role must get."""

    rule: str
    method: str
    target: str
    url: Callable[[World], str]
    expect: dict[str, str]
    data: Data | None = None
    effect: Effect | None = None

    @property
    def name(self) -> str:
        """A readable id: method, rule and target."""
        return f"{self.method} {self.rule} [{self.target}]"


def _exists(model: Any, title: str, label: str) -> Effect:
    def effect(_: World) -> bool:
        rows = db.session.scalars(select(model).where(model.title == title)).all()
        return any((row.group.slug if row.group else "portal") == label for row in rows)
    return effect


def _status(model: Any, bucket: str, label: str, status: PublishState) -> Effect:
    def effect(world: World) -> bool:
        return db.session.get(model, getattr(world, bucket)[label]).status == status
    return effect


def _title(model: Any, bucket: str, label: str, title: str) -> Effect:
    def effect(world: World) -> bool:
        return db.session.get(model, getattr(world, bucket)[label]).title == title
    return effect


def _article_form(title: str) -> Data:
    return lambda _: {"title": title, "body": "Un texte.", "status": "published",
                      "attachment": (io.BytesIO(b"Compte rendu\n"), "compte-rendu.txt")}


def _document_form(title: str) -> Data:
    return lambda _: {"title": title, "description": "", "doc_type": "report",
                      "year": "2025", "status": "published",
                      "file": (io.BytesIO(PDF + title.encode()), "nouveau.pdf")}


def _meeting_form(title: str) -> Data:
    return lambda _: {"title": title, "day": "2031-05-06", "start": "09:00", "end": "11:00",
                      "location": "Salle A", "status": "published"}


def _page_form(title: str, slug: str) -> Data:
    return lambda _: {"title": title, "slug": slug, "structure": "", "summary": "",
                      "body": "Texte de la page.", "status": "published"}


def _group_cases(slug: str) -> list[Case]:
    editors = EDITORS[slug]
    base = f"/admin/groupes/{slug}"
    colour = IDENTITY_COLOURS[slug]  # its own: a sub-group's colour equal to its GT's is no change
    return [
        Case("/admin/groupes/<slug>/", "GET", slug, lambda _: f"{base}/", only("200", *editors)),
        Case("/admin/groupes/<slug>/actualites/nouvelle", "GET", slug,
             lambda _: f"{base}/actualites/nouvelle", only("200", *editors)),
        Case("/admin/groupes/<slug>/actualites/nouvelle", "POST", slug,
             lambda _: f"{base}/actualites/nouvelle", only("302", *editors),
             _article_form("Nouvelle du test"), _exists(Article, "Nouvelle du test", slug)),
        Case("/admin/groupes/<slug>/documents/nouveau", "GET", slug,
             lambda _: f"{base}/documents/nouveau", only("200", *editors)),
        Case("/admin/groupes/<slug>/documents/nouveau", "POST", slug,
             lambda _: f"{base}/documents/nouveau", only("302", *editors),
             _document_form("Document du test"), _exists(Document, "Document du test", slug)),
        Case("/admin/groupes/<slug>/reunions/nouvelle", "GET", slug,
             lambda _: f"{base}/reunions/nouvelle", only("200", *editors)),
        Case("/admin/groupes/<slug>/reunions/nouvelle", "POST", slug,
             lambda _: f"{base}/reunions/nouvelle", only("302", *editors),
             _meeting_form("Réunion du test"), _exists(Meeting, "Réunion du test", slug)),
        Case("/admin/groupes/<slug>/identite", "GET", slug,
             lambda _: f"{base}/identite", only("200", *editors)),
        Case("/admin/groupes/<slug>/identite", "POST", slug,
             lambda _: f"{base}/identite", only("302", *editors),
             lambda _: {"colour": colour, "tagline": "Devise du test"},
             lambda _: db.session.scalar(select(Group.colour).where(Group.slug == slug))
             == colour),
    ]


def _article_cases(label: str) -> list[Case]:
    editors = EDITORS[label]
    url = "/admin/actualites/{}"
    return [
        Case("/admin/actualites/<int:article_id>", "GET", label,
             lambda w: url.format(w.articles[label]), only("200", *editors)),
        Case("/admin/actualites/<int:article_id>", "POST", label,
             lambda w: url.format(w.articles[label]), only("302", *editors),
             _article_form("Titre modifié"), _title(Article, "articles", label, "Titre modifié")),
        Case("/admin/actualites/<int:article_id>/retirer", "POST", label,
             lambda w: url.format(w.articles[label]) + "/retirer", only("302", *editors),
             lambda _: {}, _status(Article, "articles", label, PublishState.ARCHIVED)),
    ]


def _document_cases(label: str) -> list[Case]:
    editors = EDITORS[label]
    url = "/admin/documents/{}"
    return [
        Case("/admin/documents/<int:doc_id>", "GET", label,
             lambda w: url.format(w.documents[label]), only("200", *editors)),
        Case("/admin/documents/<int:doc_id>", "POST", label,
             lambda w: url.format(w.documents[label]), only("302", *editors),
             _document_form("Titre modifié"),
             _title(Document, "documents", label, "Titre modifié")),
        Case("/admin/documents/<int:doc_id>/retirer", "POST", label,
             lambda w: url.format(w.documents[label]) + "/retirer", only("302", *editors),
             lambda _: {}, _status(Document, "documents", label, PublishState.ARCHIVED)),
    ]


def _meeting_cases(label: str) -> list[Case]:
    editors = EDITORS[label]
    url = "/admin/reunions/{}"
    return [
        Case("/admin/reunions/<int:meeting_id>", "GET", label,
             lambda w: url.format(w.meetings[label]), only("200", *editors)),
        Case("/admin/reunions/<int:meeting_id>", "POST", label,
             lambda w: url.format(w.meetings[label]), only("302", *editors),
             _meeting_form("Titre modifié"), _title(Meeting, "meetings", label, "Titre modifié")),
        Case("/admin/reunions/<int:meeting_id>/retirer", "POST", label,
             lambda w: url.format(w.meetings[label]) + "/retirer", only("302", *editors),
             lambda _: {}, _status(Meeting, "meetings", label, PublishState.ARCHIVED)),
    ]


def _public(rule: str, url: str | Callable[[World], str], target: str = "",
            expect: dict[str, str] | None = None) -> Case:
    build = url if callable(url) else (lambda _: url)
    return Case(rule, "GET", target or "public", build, expect or everyone("200"))


def _boundaries_geojson() -> bytes:
    """A valid boundaries upload: one square polygon around Ségou, named by its ISO code."""
    ring = [[-7.0, 13.0], [-5.5, 13.0], [-5.5, 14.0], [-7.0, 14.0], [-7.0, 13.0]]
    return json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"code": "ML-4"},
        "geometry": {"type": "Polygon", "coordinates": [ring]}}]}).encode()


def _boundaries_stored() -> bool:
    """Whether the map's boundaries file exists in the instance folder."""
    return (Path(current_app.instance_path) / "map" / "boundaries.geojson").is_file()


def _stage_iati_import(group_slug: str) -> tuple[str, str]:
    """A file waiting for its import confirmation, as a dry run leaves it, and its token."""
    from sites.admin.iati_import import import_token, staging_dir
    from tests.iati.conftest import activity_xml

    path = staging_dir() / "0123456789abcdef0123456789abcdef.xml"
    path.write_bytes(activity_xml(identifier="XM-DAC-7-PTF-MATRICE"))
    return path.name, import_token(path, group_slug, "matrice.xml")


def _iati_upload(group_slug: str) -> Data:
    from tests.iati.conftest import activity_xml

    return lambda _: {"group": group_slug,
                      "file": (io.BytesIO(activity_xml(identifier="XM-DAC-7-PTF-ESSAI")),
                               "essai.xml")}


def _iati_dry_run_staged(world: World) -> bool:
    """The dry run kept its file for the confirmation (and stored no activity)."""
    from sites.admin.iati_import import staging_dir
    from sites.models import IatiActivity

    staged = [p for p in staging_dir().glob("*.xml") if p.name != world.iati_staged]
    return bool(staged) and db.session.scalar(select(IatiActivity.id).where(
        IatiActivity.identifier == "XM-DAC-7-PTF-ESSAI")) is None


def _iati_imported(group_slug: str) -> Effect:
    def effect(_: World) -> bool:
        from sites.models import IatiActivity

        row = db.session.scalar(select(IatiActivity).where(
            IatiActivity.identifier == "XM-DAC-7-PTF-MATRICE"))
        return row is not None and row.group is not None and row.group.slug == group_slug
    return effect


#: The activity in the spreadsheet each role uploaded, waiting for its confirmation.
SPREADSHEET_IDS = {"focal": "XM-PTF-MALI-MATRICE-FOCAL", "admin": "XM-PTF-MALI-MATRICE-ADMIN"}
SPREADSHEET_DRY_RUN_ID = "XM-PTF-MALI-MATRICE-ESSAI"


def _spreadsheet(identifier: str, group: str = "") -> bytes:
    """A filled activity template creating one activity."""
    from datetime import date

    from iati.model import Activity, ActivityDate
    from iati.spreadsheet import write_xlsx

    return write_xlsx([Activity(identifier, title={"fr": "Activité de la matrice"}, status="2",
                                dates=[ActivityDate("1", date(2025, 1, 1))],
                                default_currency="XOF", group=group)])


def _stage_spreadsheet(user_id: int, identifier: str, group: str) -> str:
    """The token of a spreadsheet waiting for its confirmation by `user_id`."""
    from sites.admin.iati_spreadsheet import stage

    return stage(_spreadsheet(identifier, group), "matrice.xlsx", user_id)


def _spreadsheet_dry_run_kept(_: World) -> bool:
    """The dry run kept its file for the confirmation, and stored no activity."""
    from sites.admin.iati_spreadsheet import staging_dir
    from sites.models import IatiActivity

    return len(list(staging_dir().iterdir())) == 3 and db.session.scalar(select(
        IatiActivity.id).where(IatiActivity.identifier == SPREADSHEET_DRY_RUN_ID)) is None


def _spreadsheet_applied(role: str, group_slug: str) -> Effect:
    def effect(_: World) -> bool:
        from sites.models import IatiActivity

        row = db.session.scalar(select(IatiActivity).where(
            IatiActivity.identifier == SPREADSHEET_IDS[role]))
        return row is not None and row.group is not None and row.group.slug == group_slug
    return effect


def _spreadsheet_apply(owner: str, group_slug: str) -> Case:
    """Confirming the upload of `owner`: only that user may, anyone else changes nothing."""
    others = {role: "unchanged" for role in ("focal", "other_focal", "admin") if role != owner}
    return Case("/admin/iati/tableur/appliquer", "POST", f"{owner}'s upload",
                lambda _: "/admin/iati/tableur/appliquer",
                {"anonymous": "login", "member": "403", owner: "302", **others},
                lambda w: {"token": w.spreadsheet_tokens[owner]},
                _spreadsheet_applied(owner, group_slug))


def _password_changed(world: World) -> bool:
    """Exactly one account (the one signed in) has a new hash, an argon2id one."""
    hashes = db.session.scalars(select(User.password_hash).where(
        User.email.in_(world.emails.values()))).all()
    changed = [h for h in hashes if h != _password_hash()]
    return len(changed) == 1 and changed[0].startswith("$argon2id$")


CASES: list[Case] = [
    # The public site: the same page for everyone.
    _public("/", "/"),
    _public("/recherche", "/recherche?q=texte"),
    _public("/healthz", "/healthz"),
    _public("/langue/<code>", "/langue/en?next=/groupes/", expect=everyone("302")),
    _public("/pages/<slug>", lambda w: f"/pages/{w.page_slug}"),
    _public("/actualites/", "/actualites/"),
    _public("/actualites/<slug>", lambda w: f"/actualites/{w.article_slugs['gt-sante']}"),
    _public("/actualites/<slug>", "/actualites/brouillon-sante", "draft", everyone("404")),
    _public("/documents/", "/documents/?groupe=gt-sante"),
    _public("/documents/<int:doc_id>", lambda w: f"/documents/{w.documents['gt-sante']}"),
    _public("/documents/<int:doc_id>", lambda w: f"/documents/{w.documents['draft']}",
            "draft", everyone("404")),
    _public("/documents/<int:doc_id>/telecharger",
            lambda w: f"/documents/{w.documents['gt-education']}/telecharger"),
    _public("/documents/<int:doc_id>/telecharger",
            lambda w: f"/documents/{w.documents['draft']}/telecharger", "draft",
            everyone("404")),
    _public("/medias/<sha>", lambda w: f"/medias/{w.logo_sha}"),
    _public("/flux/actualites.<any(rss, atom):kind>", "/flux/actualites.rss", "rss"),
    _public("/flux/actualites.<any(rss, atom):kind>", "/flux/actualites.atom", "atom"),
    _public("/groupes/", "/groupes/"),
    _public("/groupes/themes.css", "/groupes/themes.css"),
    _public("/groupes/<slug>/", "/groupes/gt-sante/"),
    _public("/groupes/<slug>/actualites", "/groupes/gt-sante/actualites"),
    _public("/groupes/<slug>/documents", "/groupes/gt-sante/documents"),
    _public("/groupes/<slug>/reunions", "/groupes/gt-education/reunions"),
    _public("/groupes/<slug>/membres", "/groupes/gt-sante/membres"),
    _public("/groupes/<slug>/sous-groupes", "/groupes/gt-sante/sous-groupes"),
    _public("/groupes/<slug>/reunions.ics", "/groupes/gt-sante/reunions.ics"),
    _public("/groupes/<slug>/flux.<any(rss, atom):kind>", "/groupes/gt-sante/flux.rss", "rss"),
    _public("/groupes/<slug>/flux.<any(rss, atom):kind>", "/groupes/gt-sante/flux.atom",
            "atom"),
    _public("/activites/", "/activites/?secteur=11220&region=ML-3&annee=2024"),
    _public("/activites/<path:identifier>", "/activites/XM-PTF-MALI-INCONNU-1", "unknown",
            everyone("404")),
    _public("/iati/activities.xml", "/iati/activities.xml"),
    _public("/iati/organisation.xml", "/iati/organisation.xml"),
    _public("/iati/groupes/<slug>.xml", "/iati/groupes/gt-sante.xml"),
    _public("/iati/groupes/<slug>.xml", "/iati/groupes/inconnu.xml", "unknown",
            everyone("404")),
    _public("/iati/registry.json", "/iati/registry.json"),
    # The map and its GeoJSON (the boundaries route answers an empty collection when none).
    _public("/carte/", "/carte/?region=ML-4&annee=2024"),
    _public("/carte/leaflet/<path:filename>", "/carte/leaflet/leaflet.js"),
    _public("/carte/leaflet/<path:filename>", "/carte/leaflet/leaflet-src.js", "unlisted",
            everyone("404")),
    _public("/api/activites.geojson", "/api/activites.geojson?secteur=11220"),
    _public("/api/regions.geojson", "/api/regions.geojson?statut=2"),
    _public("/api/limites.geojson", "/api/limites.geojson"),
    # Signing in and out, one's own password.
    Case("/connexion", "GET", "form", lambda _: "/connexion",
         {"anonymous": "200", **dict.fromkeys(ROLES[1:], "302")}),
    Case("/connexion", "POST", "member's credentials", lambda _: "/connexion",
         {"anonymous": "302", **dict.fromkeys(ROLES[1:], "unchanged")},
         lambda w: {"email": w.emails["member"], "password": PASSWORD},
         lambda w: db.session.scalar(select(User.last_login_at).where(
             User.email == w.emails["member"])) is not None),
    Case("/deconnexion", "POST", "self", lambda _: "/deconnexion", signed_in("302"),
         lambda _: {},
         lambda _: db.session.scalar(select(AuditEvent).where(
             AuditEvent.action == "auth.logout")) is not None),
    Case("/compte/mot-de-passe", "GET", "self", lambda _: "/compte/mot-de-passe",
         signed_in("200")),
    Case("/compte/mot-de-passe", "POST", "self", lambda _: "/compte/mot-de-passe",
         signed_in("302"),
         lambda _: {"current": PASSWORD, "new": "une phrase nouvelle et longue",
                    "confirm": "une phrase nouvelle et longue"},
         _password_changed),
    # The editor's home, and each group's editing screens.
    Case("/admin/", "GET", "dashboard", lambda _: "/admin/", signed_in("200")),
    *[case for slug in ("gt-sante", "sgt-nutrition", "gt-education")
      for case in _group_cases(slug)],
    *[case for label in ("gt-sante", "sgt-nutrition", "gt-education", "portal")
      for case in _article_cases(label)],
    *[case for label in ("gt-sante", "sgt-nutrition", "gt-education")
      for case in _document_cases(label)],
    *[case for label in ("gt-sante", "gt-education") for case in _meeting_cases(label)],
    # IATI import: administrators, and focal points into the groups they edit.
    Case("/admin/iati/import", "GET", "form", lambda _: "/admin/iati/import",
         only("200", "focal", "other_focal", "admin")),
    Case("/admin/iati/import", "POST", "gt-sante", lambda _: "/admin/iati/import",
         only("200", *EDITORS["gt-sante"]), _iati_upload("gt-sante"), _iati_dry_run_staged),
    Case("/admin/iati/import/confirmer", "POST", "gt-sante",
         lambda _: "/admin/iati/import/confirmer", only("302", *EDITORS["gt-sante"]),
         lambda w: {"token": w.iati_token}, _iati_imported("gt-sante")),
    # The activity spreadsheet: administrators, and focal points for the groups they edit.
    Case("/admin/iati/tableur", "GET", "page", lambda _: "/admin/iati/tableur",
         only("200", "focal", "other_focal", "admin")),
    Case("/admin/iati/tableur/modele.<any(xlsx, zip):fmt>", "GET", "own groups",
         lambda _: "/admin/iati/tableur/modele.xlsx?activites=1",
         only("200", "focal", "other_focal", "admin")),
    Case("/admin/iati/tableur/modele.<any(xlsx, zip):fmt>", "GET", "gt-sante",
         lambda _: "/admin/iati/tableur/modele.zip?activites=1&groupe=gt-sante",
         only("200", *EDITORS["gt-sante"])),
    Case("/admin/iati/tableur", "POST", "dry run", lambda _: "/admin/iati/tableur",
         only("200", "focal", "other_focal", "admin"),
         lambda _: {"file": (io.BytesIO(_spreadsheet(SPREADSHEET_DRY_RUN_ID, "")),
                             "essai.xlsx")}, _spreadsheet_dry_run_kept),
    _spreadsheet_apply("focal", "gt-sante"),
    _spreadsheet_apply("admin", "gt-education"),
    # Administrators only.
    Case("/admin/journal", "GET", "admin", lambda _: "/admin/journal", only("200", "admin")),
    Case("/admin/pages", "GET", "admin", lambda _: "/admin/pages", only("200", "admin")),
    Case("/admin/pages/nouvelle", "GET", "admin", lambda _: "/admin/pages/nouvelle",
         only("200", "admin")),
    Case("/admin/pages/nouvelle", "POST", "admin", lambda _: "/admin/pages/nouvelle",
         only("302", "admin"), _page_form("Page du test", "page-du-test"),
         lambda _: db.session.scalar(select(Page).where(Page.slug == "page-du-test"))
         is not None),
    Case("/admin/pages/<int:page_id>", "GET", "admin", lambda w: f"/admin/pages/{w.page_id}",
         only("200", "admin")),
    Case("/admin/pages/<int:page_id>", "POST", "admin", lambda w: f"/admin/pages/{w.page_id}",
         only("302", "admin"), lambda w: _page_form("Mandat modifié", w.page_slug)(w),
         lambda w: db.session.get(Page, w.page_id).title == "Mandat modifié"),
    Case("/admin/utilisateurs", "GET", "admin", lambda _: "/admin/utilisateurs",
         only("200", "admin")),
    Case("/admin/utilisateurs/nouveau", "GET", "admin", lambda _: "/admin/utilisateurs/nouveau",
         only("200", "admin")),
    Case("/admin/utilisateurs/nouveau", "POST", "admin", lambda _: "/admin/utilisateurs/nouveau",
         only("200", "admin"),
         lambda _: {"email": "nouveau@example.org", "name": "Nouvelle Personne",
                    "organisation": "", "role": "member", "group": "gt-sante"},
         lambda _: db.session.scalar(select(User).where(User.email == "nouveau@example.org"))
         is not None),
    Case("/admin/utilisateurs/<int:user_id>/<any(desactiver, activer):action>", "POST",
         "disable", lambda w: f"/admin/utilisateurs/{w.target_user_id}/desactiver",
         only("302", "admin"), lambda _: {},
         lambda w: not db.session.get(User, w.target_user_id).active),
    Case("/admin/carte/limites", "GET", "admin", lambda _: "/admin/carte/limites",
         only("200", "admin")),
    Case("/admin/carte/limites", "POST", "admin", lambda _: "/admin/carte/limites",
         only("302", "admin"),
         lambda _: {"file": (io.BytesIO(_boundaries_geojson()), "regions.geojson")},
         lambda _: _boundaries_stored()),
    Case("/admin/carte/limites/supprimer", "POST", "admin",
         lambda _: "/admin/carte/limites/supprimer", only("302", "admin"), lambda _: {},
         lambda _: not _boundaries_stored()),
]

GET_CASES = [case for case in CASES if case.method == "GET"]
POST_CASES = [case for case in CASES if case.method == "POST"]
#: Allowed POSTs that end or renew the session run last, in this order.
SESSION_ENDERS = ("/compte/mot-de-passe", "/deconnexion")


def allowed_posts(role: str) -> list[Case]:
    """The POSTs `role` may make; each changes its own rows, so they can run in a row."""
    allowed = [case for case in POST_CASES if case.expect[role] in SUCCESS]
    return sorted(allowed, key=lambda c: SESSION_ENDERS.index(c.rule) + 1
                  if c.rule in SESSION_ENDERS else 0)


def route_keys(app: Flask) -> set[tuple[str, str]]:
    """(rule, method) of every route of the app, `static` excepted."""
    return {(rule.rule, method) for rule in app.url_map.iter_rules()
            if rule.endpoint != "static"
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def check_outcome(response: Any, expected: str) -> str | None:
    """None when `response` is the `expected` outcome, else what was wrong."""
    status = response.status_code
    location = urlsplit(response.headers.get("Location", ""))
    if expected == "login":
        ok = status == 302 and location.path == "/connexion" and "next=" in location.query
    elif expected == "unchanged":
        ok = status == 302
    else:
        ok = status == int(expected)
    if ok:
        return None
    return f"expected {expected}, got {status} {response.headers.get('Location', '')}".strip()


def send(client: FlaskClient, case: Case, world: World) -> Any:
    """Make the request of `case`."""
    url = case.url(world)
    if case.method == "GET":
        return client.get(url)
    data = case.data(world) if case.data else {}
    return client.post(url, data=data, content_type="multipart/form-data")


# --- Tests ---------------------------------------------------------------------------------


def test_every_route_has_an_entry_in_the_matrix(app):
    routes = route_keys(app)
    table = {(case.rule, case.method) for case in CASES}
    assert not routes - table, f"routes missing from the authorisation matrix: {routes - table}"
    assert not table - routes, f"matrix entries for routes that do not exist: {table - routes}"
    adapter = app.url_map.bind("portail.test")
    world = build_world(app)
    for case in CASES:
        assert set(case.expect) == set(ROLES), case.name
        rule, _ = adapter.match(urlsplit(case.url(world)).path, method=case.method,
                                return_rule=True)
        assert rule.rule == case.rule, f"{case.name} requests {case.url(world)}"
        assert case.method == "GET" or case.data is not None, case.name


@pytest.mark.parametrize("role", ROLES)
def test_every_get_route_answers_each_role_as_the_matrix_says(app, role):
    world = build_world(app)
    client = app.test_client()
    login(client, world, role)
    wrong = []
    for case in GET_CASES:
        problem = check_outcome(send(client, case, world), case.expect[role])
        if problem:
            wrong.append(f"{case.name}: {problem}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", ROLES)
def test_a_refused_post_changes_nothing_in_the_database_or_the_uploads(app, role):
    world = build_world(app)
    client = app.test_client()
    login(client, world, role)
    refused = [case for case in POST_CASES if case.expect[role] not in SUCCESS]
    assert refused or role == "admin"
    before = snapshot(app)
    wrong = []
    for case in refused:
        problem = check_outcome(send(client, case, world), case.expect[role])
        changed = _diff(before, snapshot(app))
        if problem or changed:
            wrong.append(f"{case.name}: {problem or 'status ok'}; changed: {changed}")
            before = snapshot(app)
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", ROLES)
def test_every_allowed_post_succeeds_and_takes_effect(app, role):
    world = build_world(app)
    client = app.test_client()
    login(client, world, role)
    wrong = []
    for case in allowed_posts(role):
        response = send(client, case, world)
        problem = check_outcome(response, case.expect[role])
        assert case.effect is not None, case.name
        with app.app_context():
            if problem is None and not case.effect(world):
                problem = f"answered {response.status_code} but nothing changed"
        if problem:
            wrong.append(f"{case.name}: {problem}")
    assert not wrong, "\n".join(wrong)


def test_the_matrix_lets_a_gt_focal_point_edit_its_sub_groups_and_nothing_of_another_gt():
    assert EDITORS["sgt-nutrition"] == EDITORS["gt-sante"]
    sub = [c for c in CASES if c.target == "sgt-nutrition"]
    other = [c for c in CASES if c.target == "gt-education"]
    assert sub and all(c.expect["focal"] in SUCCESS for c in sub)
    assert other and all(c.expect["focal"] == "403" for c in other)
    assert all(c.expect["member"] == "403" for c in sub + other)


@pytest.mark.parametrize(("role", "sees_members"), [
    ("anonymous", False), ("member", True), ("focal", True), ("other_focal", False),
    ("admin", True)])
def test_members_list_shows_member_names_only_to_members_and_administrators(
        app, role, sees_members):
    world = build_world(app)
    client = app.test_client()
    login(client, world, role)
    page = client.get("/groupes/gt-sante/membres").get_data(as_text=True)
    assert FOCAL_NAME in page
    assert (OTHER_MEMBER_NAME in page) is sees_members
