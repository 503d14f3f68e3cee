"""Uploading, describing, replacing and archiving documents from /admin."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from sites.demo import minimal_pdf
from sites.extensions import db
from sites.models import AuditEvent, Document, PublishState

NEW = "/admin/groupes/gt-sante/documents/nouveau"


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


def _form(**fields: object) -> dict[str, object]:
    return {"title": "Rapport annuel 2025", "description": "Bilan du secteur.",
            "doc_type": "report", "year": "2025", "status": "published", **fields}


def _upload(client, url: str = NEW, **fields: object):
    return client.post(url, data=_form(**fields), content_type="multipart/form-data")


def _pdf_file(content: bytes, name: str = "rapport-2025.pdf") -> tuple[io.BytesIO, str]:
    return io.BytesIO(content), name


def _only_document(app) -> Document:
    with app.app_context():
        documents = db.session.scalars(select(Document)).all()
        assert len(documents) == 1
        db.session.expunge(documents[0])
        return documents[0]


def _stored_files(app) -> list[Path]:
    root = Path(app.config["UPLOAD_DIR"])
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_new_document_needs_a_file(app, client, focal):
    response = _upload(client)
    assert response.status_code == 200
    assert 'class="error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(Document)).all() == []


def test_an_uploaded_document_is_stored_by_hash_and_downloadable(app, client, focal, public):
    pdf = minimal_pdf("Rapport annuel 2025")
    response = _upload(client, file=_pdf_file(pdf))
    assert response.status_code == 302
    document = _only_document(app)
    sha = hashlib.sha256(pdf).hexdigest()
    assert (document.file_hash, document.filename, document.size) == (
        sha, "rapport-2025.pdf", len(pdf))
    assert document.mime_type == "application/pdf" and document.year == 2025
    assert document.uploaded_by_id == focal.id and document.state == "published"
    assert _stored_files(app) == [Path(app.config["UPLOAD_DIR"]) / sha[:2] / sha]
    assert "Rapport annuel 2025" in public.get("/groupes/gt-sante/").get_data(True)
    assert "Rapport annuel 2025" in public.get("/documents/?type=report").get_data(True)
    download = public.get(f"/documents/{document.id}/telecharger")
    assert download.status_code == 200 and download.data == pdf
    assert download.mimetype == "application/pdf"
    assert "rapport-2025.pdf" in download.headers["Content-Disposition"]


def test_a_draft_document_is_not_downloadable_by_the_public(app, client, focal, public):
    _upload(client, status="draft", file=_pdf_file(minimal_pdf("Brouillon")))
    document = _only_document(app)
    assert document.state == "draft"
    assert public.get(f"/documents/{document.id}").status_code == 404
    assert public.get(f"/documents/{document.id}/telecharger").status_code == 404


def test_editing_without_a_file_keeps_the_stored_file(app, client, focal, public):
    pdf = minimal_pdf("Rapport annuel 2025")
    _upload(client, file=_pdf_file(pdf))
    before = _only_document(app)
    response = _upload(client, f"/admin/documents/{before.id}", title="Rapport annuel 2025 (v2)",
                       doc_type="minutes")
    assert response.status_code == 302
    after = _only_document(app)
    assert (after.title, after.doc_type) == ("Rapport annuel 2025 (v2)", "minutes")
    assert (after.file_hash, after.filename, after.size) == (
        before.file_hash, before.filename, before.size)
    assert public.get(f"/documents/{after.id}/telecharger").data == pdf


def test_editing_with_a_new_file_replaces_the_download(app, client, focal, public):
    old, new = minimal_pdf("Version 1"), minimal_pdf("Version 2 corrigée")
    _upload(client, file=_pdf_file(old))
    document = _only_document(app)
    response = _upload(client, f"/admin/documents/{document.id}",
                       file=_pdf_file(new, "rapport-2025-corrige.pdf"))
    assert response.status_code == 302
    replaced = _only_document(app)
    assert replaced.file_hash == hashlib.sha256(new).hexdigest()
    assert (replaced.filename, replaced.size) == ("rapport-2025-corrige.pdf", len(new))
    download = public.get(f"/documents/{document.id}/telecharger")
    assert download.data == new
    assert "rapport-2025-corrige.pdf" in download.headers["Content-Disposition"]


def test_the_same_content_is_stored_once(app, client, focal):
    pdf = minimal_pdf("Note commune")
    _upload(client, title="Note du GT", file=_pdf_file(pdf, "note.pdf"))
    _upload(client, title="Note reprise", file=_pdf_file(pdf, "copie-de-note.pdf"))
    with app.app_context():
        rows = db.session.execute(select(Document.file_hash, Document.filename)
                                  .order_by(Document.id)).all()
    sha = hashlib.sha256(pdf).hexdigest()
    assert [tuple(r) for r in rows] == [(sha, "note.pdf"), (sha, "copie-de-note.pdf")]
    assert _stored_files(app) == [Path(app.config["UPLOAD_DIR"]) / sha[:2] / sha]


@pytest.mark.parametrize(("content", "name"), [
    (b"#!/bin/sh\nrm -rf /\n", "script.sh"),
    (b"MZ\x90\x00\x03\x00\x00\x00 not a pdf", "rapport.pdf"),
    (b"", "vide.pdf"),
], ids=["wrong-type", "disguised", "empty"])
def test_a_refused_file_stores_nothing(app, client, focal, content, name):
    response = _upload(client, file=(io.BytesIO(content), name))
    assert response.status_code == 200
    assert 'class="error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(Document)).all() == []
    assert _stored_files(app) == []


def test_a_refused_replacement_keeps_the_old_file(app, client, focal, public):
    pdf = minimal_pdf("Rapport annuel 2025")
    _upload(client, file=_pdf_file(pdf))
    document = _only_document(app)
    response = _upload(client, f"/admin/documents/{document.id}", title="Autre titre",
                       file=(io.BytesIO(b"plain text"), "rapport.pdf"))
    assert response.status_code == 200
    kept = _only_document(app)
    assert (kept.title, kept.file_hash) == ("Rapport annuel 2025", document.file_hash)
    assert public.get(f"/documents/{document.id}/telecharger").data == pdf


def test_archiving_a_document_hides_it_and_keeps_the_file(app, client, focal, public):
    _upload(client, file=_pdf_file(minimal_pdf("Rapport")))
    document = _only_document(app)
    assert client.post(f"/admin/documents/{document.id}/retirer").status_code == 302
    assert _only_document(app).status == PublishState.ARCHIVED
    assert public.get(f"/documents/{document.id}/telecharger").status_code == 404
    assert "Rapport annuel 2025" not in public.get("/documents/").get_data(True)
    assert len(_stored_files(app)) == 1


def test_a_focal_point_cannot_edit_another_groups_document(app, client, focal, make_user,
                                                           auth):
    _upload(client, file=_pdf_file(minimal_pdf("Rapport")))
    document = _only_document(app)
    auth.logout()
    auth.login(make_user("focal", "gt-education"))
    assert client.get(f"/admin/documents/{document.id}").status_code == 403
    assert _upload(client, f"/admin/documents/{document.id}", title="Piraté").status_code == 403
    assert client.post(f"/admin/documents/{document.id}/retirer").status_code == 403
    assert _only_document(app).title == "Rapport annuel 2025"


def test_every_document_action_is_written_to_the_audit_log(app, client, focal):
    _upload(client, file=_pdf_file(minimal_pdf("Rapport")))
    document = _only_document(app)
    _upload(client, f"/admin/documents/{document.id}", title="Rapport final")
    client.post(f"/admin/documents/{document.id}/retirer")
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action.like("document.%")).order_by(AuditEvent.id)).all()
        rows = [(e.action, e.user_id, e.actor, e.object_type, e.object_id) for e in events]
        summaries = [e.summary for e in events]
    expected = [(action, focal.id, focal.email, "document", str(document.id))
                for action in ("document.create", "document.update", "document.remove")]
    assert rows == expected
    assert "rapport-2025.pdf" in summaries[0] and "Rapport final" in summaries[1]
