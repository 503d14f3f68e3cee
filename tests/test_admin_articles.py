"""Writing, previewing, publishing, scheduling and archiving news items from /admin."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from sites.demo import minimal_pdf
from sites.extensions import db
from sites.models import Article, AuditEvent, Document, PublishState
from sites.models.base import as_utc, utcnow

NEW = "/admin/groupes/gt-sante/actualites/nouvelle"


@pytest.fixture
def focal(make_user, auth):
    """A focal point of gt-sante, signed in."""
    account = make_user("focal", "gt-sante")
    auth.login(account)
    return account


@pytest.fixture
def public(app):
    """An anonymous visitor."""
    return app.test_client()


def _write(client, title: str = "Campagne de vaccination", action: str = "save",
           **fields: object):
    data = {"title": title, "body": "Texte de l'actualité.", "status": "draft",
            "action": action, **fields}
    return client.post(NEW, data=data, content_type="multipart/form-data")


def _article(app, title: str) -> Article:
    with app.app_context():
        article = db.session.scalar(select(Article).where(Article.title == title))
        assert article is not None, f"no article {title!r}"
        db.session.expunge(article)
        return article


def _events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                    .order_by(AuditEvent.id)).all()
        db.session.expunge_all()
        return list(events)


def test_a_draft_is_saved_but_not_shown_to_the_public(app, client, focal, public):
    response = _write(client, status="draft")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/groupes/gt-sante/")
    article = _article(app, "Campagne de vaccination")
    assert article.state == "draft" and not article.is_public
    assert public.get(f"/actualites/{article.slug}").status_code == 404
    assert "Campagne de vaccination" not in public.get("/groupes/gt-sante/").get_data(True)
    assert "Campagne de vaccination" in client.get("/admin/groupes/gt-sante/").get_data(True)


def test_preview_renders_the_text_and_stores_nothing(app, client, focal):
    response = _write(client, action="preview", status="published",
                      body="Premier paragraphe.\n\nSecond paragraphe.")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'class="preview"' in page
    assert "<p>Premier paragraphe.</p><p>Second paragraphe.</p>" in page
    with app.app_context():
        assert db.session.scalars(select(Article)).all() == []
        assert db.session.scalars(select(AuditEvent).where(
            AuditEvent.action.like("article.%"))).all() == []


def test_publishing_now_makes_the_news_public_everywhere(app, client, focal, public):
    before = utcnow()
    assert _write(client, status="published", summary="Lancement à Kayes").status_code == 302
    article = _article(app, "Campagne de vaccination")
    assert article.state == "published"
    assert before - timedelta(seconds=5) <= as_utc(article.publish_at) <= utcnow()
    page = public.get(f"/actualites/{article.slug}")
    assert page.status_code == 200 and "Lancement à Kayes" in page.get_data(as_text=True)
    assert "Campagne de vaccination" in public.get("/groupes/gt-sante/").get_data(True)
    assert "Campagne de vaccination" in public.get("/actualites/").get_data(True)
    assert "Campagne de vaccination" in public.get("/flux/actualites.rss").get_data(True)


def test_a_future_date_schedules_the_news(app, client, focal, public):
    when = (datetime.now(UTC) + timedelta(days=3)).replace(second=0, microsecond=0)
    # Bamako is UTC+0 all year: the typed time is the stored UTC time.
    response = _write(client, status="published", publish_at=when.strftime("%Y-%m-%dT%H:%M"))
    assert response.status_code == 302
    article = _article(app, "Campagne de vaccination")
    assert article.status == PublishState.PUBLISHED
    assert article.state == "scheduled" and not article.is_public
    assert as_utc(article.publish_at) == when
    assert public.get(f"/actualites/{article.slug}").status_code == 404
    assert "Campagne de vaccination" not in public.get("/actualites/").get_data(True)


def test_archiving_hides_a_published_news_item(app, client, focal, public):
    _write(client, status="published")
    article = _article(app, "Campagne de vaccination")
    assert public.get(f"/actualites/{article.slug}").status_code == 200
    response = client.post(f"/admin/actualites/{article.id}/retirer")
    assert response.status_code == 302
    assert _article(app, "Campagne de vaccination").status == PublishState.ARCHIVED
    assert public.get(f"/actualites/{article.slug}").status_code == 404
    assert "Campagne de vaccination" not in public.get("/groupes/gt-sante/").get_data(True)


def test_an_attached_pdf_is_stored_under_its_hash_and_listed_on_the_article(
        app, client, focal, public):
    pdf = minimal_pdf("Plan de vaccination 2026")
    response = _write(client, status="published", attachment_title="Plan de vaccination",
                      attachment=(io.BytesIO(pdf), "plan-vaccination.pdf"))
    assert response.status_code == 302
    article = _article(app, "Campagne de vaccination")
    with app.app_context():
        document = db.session.scalar(select(Document).where(Document.article_id == article.id))
        assert document is not None
        sha, doc_id = document.file_hash, document.id
        assert (document.title, document.filename) == ("Plan de vaccination",
                                                       "plan-vaccination.pdf")
        assert document.mime_type == "application/pdf" and document.size == len(pdf)
        assert document.group.slug == "gt-sante" and document.uploaded_by_id == focal.id
    assert sha == hashlib.sha256(pdf).hexdigest()
    assert (Path(app.config["UPLOAD_DIR"]) / sha[:2] / sha).read_bytes() == pdf
    page = public.get(f"/actualites/{article.slug}").get_data(as_text=True)
    assert "Plan de vaccination" in page and f"/documents/{doc_id}" in page
    download = public.get(f"/documents/{doc_id}/telecharger")
    assert download.status_code == 200 and download.data == pdf
    assert download.mimetype == "application/pdf"


def test_an_attachment_follows_its_draft_article_when_it_is_published(app, client, focal,
                                                                       public):
    pdf = minimal_pdf("Compte rendu")
    _write(client, status="draft", attachment=(io.BytesIO(pdf), "compte-rendu.pdf"))
    article = _article(app, "Campagne de vaccination")
    assert "compte-rendu.pdf" not in public.get("/documents/").get_data(True)
    response = client.post(f"/admin/actualites/{article.id}", data={
        "title": article.title, "body": article.body_html, "status": "published",
        "action": "save"})
    assert response.status_code == 302
    with app.app_context():
        document = db.session.scalar(select(Document))
        assert document.state == "published"
    page = public.get(f"/actualites/{article.slug}").get_data(as_text=True)
    assert f"/documents/{document.id}" in page
    assert public.get(f"/documents/{document.id}/telecharger").data == pdf


def test_a_disguised_attachment_is_refused_and_nothing_is_stored(app, client, focal):
    response = _write(client, status="published",
                      attachment=(io.BytesIO(b"MZ\x90\x00not a pdf at all"), "rapport.pdf"))
    assert response.status_code == 200
    assert 'class="error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(Article)).all() == []
        assert db.session.scalars(select(Document)).all() == []
    uploads = Path(app.config["UPLOAD_DIR"])
    assert not uploads.exists() or [p for p in uploads.rglob("*") if p.is_file()] == []


def test_plain_text_with_blank_lines_becomes_paragraphs(app, client, focal):
    body = "La campagne commence lundi.\nElle dure 5 jours.\n\n  \nVaccins < 10 ans & adultes."
    _write(client, body=body)
    assert _article(app, "Campagne de vaccination").body_html == (
        "<p>La campagne commence lundi.<br>Elle dure 5 jours.</p>"
        "<p>Vaccins &lt; 10 ans &amp; adultes.</p>")


def test_hostile_html_in_the_text_is_sanitised(app, client, focal):
    _write(client, body='<p onclick="steal()">Bonjour</p><script>alert(1)</script>')
    html = _article(app, "Campagne de vaccination").body_html
    assert "Bonjour" in html and "<script" not in html and "onclick" not in html


def test_editing_keeps_the_slug_and_changes_the_text(app, client, focal, public):
    _write(client, status="published")
    article = _article(app, "Campagne de vaccination")
    assert article.slug == "campagne-de-vaccination"
    form = client.get(f"/admin/actualites/{article.id}")
    assert form.status_code == 200 and "Campagne de vaccination" in form.get_data(True)
    response = client.post(f"/admin/actualites/{article.id}", data={
        "title": "Campagne de vaccination prolongée", "body": "Elle continue en juin.",
        "status": "published", "action": "save"})
    assert response.status_code == 302
    edited = _article(app, "Campagne de vaccination prolongée")
    assert edited.id == article.id and edited.slug == "campagne-de-vaccination"
    page = public.get("/actualites/campagne-de-vaccination").get_data(as_text=True)
    assert "Campagne de vaccination prolongée" in page and "<p>Elle continue en juin.</p>" in page


def test_a_second_news_item_with_the_same_title_gets_its_own_address(app, client, focal):
    _write(client, title="Réunion mensuelle")
    _write(client, title="Réunion mensuelle")
    with app.app_context():
        slugs = sorted(db.session.scalars(select(Article.slug)))
    assert slugs == ["reunion-mensuelle", "reunion-mensuelle-2"]


def test_a_web_address_used_by_another_news_item_is_refused(app, client, focal):
    _write(client, title="Premier", slug="campagne")
    response = _write(client, title="Second", slug="campagne")
    assert response.status_code == 200
    assert 'class="error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(Article.title)).all() == ["Premier"]


def test_a_focal_point_cannot_write_for_another_group(app, client, make_user, auth):
    auth.login(make_user("focal", "gt-education"))
    assert client.get(NEW).status_code == 403
    assert _write(client).status_code == 403
    with app.app_context():
        assert db.session.scalars(select(Article)).all() == []


def test_every_action_is_written_to_the_audit_log(app, client, focal):
    _write(client, status="draft")
    article = _article(app, "Campagne de vaccination")
    client.post(f"/admin/actualites/{article.id}", data={
        "title": article.title, "body": "Nouveau texte", "status": "published",
        "action": "save"})
    client.post(f"/admin/actualites/{article.id}/retirer")
    for action, state in (("article.create", "[draft]"), ("article.update", "[published]"),
                          ("article.remove", "")):
        events = _events(app, action)
        assert len(events) == 1, action
        event = events[0]
        assert (event.user_id, event.actor) == (focal.id, focal.email)
        assert (event.object_type, event.object_id) == ("article", str(article.id))
        assert "Campagne de vaccination" in event.summary and state in event.summary
        assert event.ip == "127.0.0.1"
