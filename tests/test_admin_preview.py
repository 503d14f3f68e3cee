"""The preview keeps a chosen attachment, so a focal point need not choose it again."""

from __future__ import annotations

import io

from sqlalchemy import select

from sites.demo import minimal_pdf
from sites.extensions import db
from sites.models import Article, Document


def _post(client, data: dict, file: bytes | None = None):
    payload = {"title": "Atelier", "body": "Texte.", "status": "published", **data}
    if file is not None:
        payload["attachment"] = (io.BytesIO(file), "compte-rendu.pdf")
    return client.post("/admin/groupes/gt-sante/actualites/nouvelle", data=payload,
                       content_type="multipart/form-data")


def test_preview_keeps_the_attachment_for_the_save(app, client, auth, make_user):
    auth.login(make_user("focal", "gt-sante"))
    preview = _post(client, {"action": "preview"}, minimal_pdf("CR"))
    page = preview.get_data(as_text=True)
    assert "compte-rendu.pdf" in page
    token = page.split('name="pending_attachment" value="')[1].split('"')[0]
    with app.app_context():
        assert db.session.scalar(select(Article)) is None  # a preview stores no article
    saved = _post(client, {"action": "save", "pending_attachment": token})
    assert saved.status_code == 302
    with app.app_context():
        document = db.session.scalar(select(Document).where(Document.article_id.is_not(None)))
        assert document is not None and document.filename == "compte-rendu.pdf"


def test_a_forged_or_foreign_attachment_token_is_ignored(app, client, auth, make_user):
    auth.login(make_user("focal", "gt-sante"))
    page = _post(client, {"action": "preview"}, minimal_pdf("CR")).get_data(as_text=True)
    token = page.split('name="pending_attachment" value="')[1].split('"')[0]
    auth.logout()
    auth.login(make_user("focal", "gt-sante"))  # another focal point replays the token
    _post(client, {"action": "save", "pending_attachment": token})
    _post(client, {"action": "save", "title": "Autre", "pending_attachment": token[:-3] + "abc"})
    with app.app_context():
        assert db.session.scalars(select(Article)).all()
        assert db.session.scalar(select(Document).where(Document.article_id.is_not(None))) \
            is None
