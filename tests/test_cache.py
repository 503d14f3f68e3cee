"""Caching of public pages: validators, nginx's X-Accel-Expires, invalidation on publish."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from sites.demo import minimal_pdf
from sites.extensions import db
from sites.models import Article, Document, Meeting, Page, PublishState, Structure
from sites.models.base import utcnow
from sites.storage import FileStore
from tests.support.content import add_article, group

PUBLIC_URLS = [
    "/", "/groupes/", "/groupes/gt-sante/", "/groupes/gt-sante/actualites",
    "/groupes/gt-sante/documents", "/groupes/gt-sante/reunions", "/groupes/gt-sante/membres",
    "/groupes/gt-economie-finances/sous-groupes", "/groupes/themes.css", "/actualites/",
    "/actualites/vaccination", "/documents/", "/documents/?type=report", "/pages/sha",
    "/recherche?q=vaccination", "/flux/actualites.rss", "/flux/actualites.atom",
    "/groupes/gt-sante/flux.rss", "/groupes/gt-sante/reunions.ics",
]


def _add_document(app, title: str, when: datetime | None = None) -> None:
    with app.app_context():
        store = FileStore(app.config["UPLOAD_DIR"], app.config["MAX_UPLOAD_BYTES"])
        stored = store.save(io.BytesIO(minimal_pdf(title)), "rapport.pdf")
        db.session.add(Document(title=title, doc_type="report", year=2026,
                                group=group("gt-sante"), file_hash=stored.sha256,
                                filename=stored.filename, mime_type=stored.mime_type,
                                size=stored.size, status=PublishState.PUBLISHED,
                                publish_at=when or utcnow() - timedelta(hours=1)))
        db.session.commit()


def _add_meeting(app, title: str, when: datetime | None = None) -> None:
    with app.app_context():
        start = utcnow() + timedelta(days=2)
        db.session.add(Meeting(title=title, group=group("gt-sante"), starts_at=start,
                               ends_at=start + timedelta(hours=1),
                               status=PublishState.PUBLISHED,
                               publish_at=when or utcnow() - timedelta(hours=1)))
        db.session.commit()


def _add_page(app, slug: str, title: str, when: datetime | None = None) -> None:
    with app.app_context():
        sha = db.session.scalars(select(Structure).where(Structure.slug == "sha")).one()
        db.session.add(Page(slug=slug, title=title, body_html="<p>Texte</p>", structure=sha,
                            status=PublishState.PUBLISHED,
                            publish_at=when or utcnow() - timedelta(hours=1)))
        db.session.commit()


@pytest.fixture
def content(app) -> None:
    """Something on each kind of public page."""
    add_article(app, "vaccination", "Campagne de vaccination")
    _add_document(app, "Rapport santé")
    _add_meeting(app, "Réunion santé")
    _add_page(app, "sha", "Le SHA")


def test_public_pages_carry_validators_and_an_nginx_cache_time(app, client, content):
    for url in PUBLIC_URLS:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["ETag"], url
        assert response.last_modified is not None, url
        assert response.headers["X-Accel-Expires"] == str(app.config["PUBLIC_CACHE_SECONDS"])
        assert response.headers["Cache-Control"] == "public, max-age=0, must-revalidate", url


def test_public_pages_answer_304_to_a_matching_if_none_match(app, client, content):
    for url in PUBLIC_URLS:
        etag = client.get(url).headers["ETag"]
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304, url
        assert again.data == b"", url
        assert again.headers["ETag"] == etag, url
        assert again.headers["X-Accel-Expires"] == str(app.config["PUBLIC_CACHE_SECONDS"])
        assert client.get(url, headers={"If-None-Match": '"autre"'}).status_code == 200, url


def test_each_url_and_language_has_its_own_etag(client, content):
    etags = {url: client.get(url).headers["ETag"] for url in PUBLIC_URLS}
    assert len(set(etags.values())) == len(PUBLIC_URLS)
    client.get("/langue/en")
    english = client.get("/", headers={"If-None-Match": etags["/"]})
    assert english.status_code == 200
    assert '<html lang="en">' in english.get_data(as_text=True)
    assert english.headers["ETag"] != etags["/"]


def _publish_article(app) -> None:
    add_article(app, "nouvelle", "Nouvelle actualité")


def _publish_document(app) -> None:
    _add_document(app, "Nouveau rapport")


def _plan_meeting(app) -> None:
    _add_meeting(app, "Nouvelle réunion")


def _edit_page(app) -> None:
    with app.app_context():
        db.session.scalars(select(Page).where(Page.slug == "sha")).one().title = "Le SHA (maj)"
        db.session.commit()


def _archive_article(app) -> None:
    with app.app_context():
        article = db.session.scalars(select(Article).where(Article.slug == "vaccination")).one()
        article.status = PublishState.ARCHIVED
        db.session.commit()


def _retag_group(app) -> None:
    with app.app_context():
        group("gt-sante").tagline = "Une nouvelle devise"
        db.session.commit()


CHANGES: dict[str, Callable] = {
    "publish-article": _publish_article, "publish-document": _publish_document,
    "plan-meeting": _plan_meeting, "edit-page": _edit_page,
    "archive-article": _archive_article, "retag-group": _retag_group,
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_any_content_change_changes_the_etag(app, client, content, change):
    urls = ["/", "/groupes/gt-sante/", "/pages/sha", "/flux/actualites.rss"]
    before = {url: client.get(url) for url in urls}
    change(app)
    for url in urls:
        after = client.get(url, headers={"If-None-Match": before[url].headers["ETag"]})
        assert after.status_code == 200, url
        assert after.headers["ETag"] != before[url].headers["ETag"], url
        assert after.last_modified >= before[url].last_modified, url


def test_a_publish_from_the_editing_screen_is_seen_at_once(app, client, content, make_user,
                                                           auth):
    etags = {url: client.get(url).headers["ETag"] for url in ("/", "/groupes/gt-sante/")}
    auth.login(make_user("focal", "gt-sante"))
    response = client.post("/admin/groupes/gt-sante/actualites/nouvelle", data={
        "title": "Journée mondiale de la santé", "body": "Programme de la journée.",
        "summary": "", "status": "published", "action": "publish"})
    assert response.status_code == 302
    auth.logout()
    for url, etag in etags.items():
        after = client.get(url, headers={"If-None-Match": etag})
        assert after.status_code == 200, url
        assert "Journée mondiale de la santé" in after.get_data(as_text=True)


def test_signed_in_users_get_private_uncached_pages(app, client, content, make_user, auth):
    urls = ["/", "/groupes/gt-sante/", "/actualites/vaccination", "/flux/actualites.rss"]
    public_etags = {url: client.get(url).headers["ETag"] for url in urls}
    auth.login(make_user("member", "gt-sante"))
    for url in urls:
        response = client.get(url, headers={"If-None-Match": public_etags[url]})
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "private, no-store", url
        assert "ETag" not in response.headers, url
        assert "X-Accel-Expires" not in response.headers, url


SCHEDULED = {
    "article": (lambda app, due: add_article(app, "programmee", "Annonce programmée", when=due),
                ["/", "/actualites/", "/groupes/gt-sante/", "/flux/actualites.rss"],
                "Annonce programmée"),
    "document": (lambda app, due: _add_document(app, "Rapport programmé", when=due),
                 ["/documents/", "/groupes/gt-sante/documents"], "Rapport programmé"),
    "meeting": (lambda app, due: _add_meeting(app, "Réunion programmée", when=due),
                ["/groupes/gt-sante/reunions", "/groupes/gt-sante/reunions.ics"],
                "Réunion programmée"),
    "page": (lambda app, due: _add_page(app, "page-programmee", "Page programmée", when=due),
             ["/recherche?q=programm%C3%A9e"], "Page programmée"),
}


@pytest.mark.parametrize("kind", SCHEDULED)
def test_scheduled_content_changes_the_etag_when_it_becomes_due(app, client, kind):
    create, urls, title = SCHEDULED[kind]
    due = utcnow() + timedelta(seconds=1.5)
    create(app, due)
    etags = {}
    for url in urls:
        response = client.get(url)
        assert title not in response.get_data(as_text=True), url
        etags[url] = response.headers["ETag"]
        assert client.get(url, headers={"If-None-Match": etags[url]}).status_code == 304
    time.sleep(max(0.0, (due - utcnow()).total_seconds()) + 0.2)
    for url in urls:
        response = client.get(url, headers={"If-None-Match": etags[url]})
        assert response.status_code == 200, url
        assert title in response.get_data(as_text=True), url
        assert response.last_modified >= due.replace(microsecond=0), url


def test_a_new_release_changes_every_etag(app, client, content, monkeypatch):
    """A deploy or a rollback changes the markup without any content change: nginx's cache
    and browsers must not keep the other release's pages (a 304 would)."""
    from sites import stamp

    urls = ["/", "/groupes/gt-sante/", "/flux/actualites.rss"]
    before = {url: client.get(url).headers["ETag"] for url in urls}
    monkeypatch.setattr(stamp, "RELEASE", "/srv/ptfops/releases/une-autre-version/sites")
    for url in urls:
        after = client.get(url, headers={"If-None-Match": before[url]})
        assert after.status_code == 200, url
        assert after.headers["ETag"] != before[url], url


def test_a_restored_database_at_the_same_version_gets_other_etags(app, client, content):
    """Another host's backup may carry the same version number: the last change tells them
    apart, so nginx's cache does not keep the replaced content on a 304."""
    from sqlalchemy import text

    etag = client.get("/actualites/").headers["ETag"]
    with app.app_context():
        db.session.execute(text("UPDATE site_state SET changed_at = :when"),
                           {"when": utcnow() - timedelta(days=3)})
        db.session.commit()
    after = client.get("/actualites/", headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.headers["ETag"] != etag
