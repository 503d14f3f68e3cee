"""The document library, downloads and platform images."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from datetime import timedelta

import pytest
from lxml import html
from sqlalchemy import select

from sites.demo import minimal_pdf
from sites.extensions import db
from sites.models import Document, Group, PublishState
from sites.models.base import utcnow
from sites.storage import FileStore

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def tiny_png() -> bytes:
    """A valid 1x1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\x1f\x5f\x8b")) + chunk(b"IEND", b""))


def tiny_docx(text: str) -> bytes:
    """A minimal Word document (a zip with the OOXML parts)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.'
                   'openxmlformats.org/package/2006/content-types"/>')
        z.writestr("word/document.xml", f"<w:document><w:body>{text}</w:body></w:document>")
    return out.getvalue()


def _document(app, title: str, *, group: str | None = "gt-sante", doc_type: str = "report",
              year: int = 2025, status: PublishState = PublishState.PUBLISHED,
              when=None, content: bytes | None = None, filename: str | None = None) -> int:
    with app.app_context():
        store = FileStore(app.config["UPLOAD_DIR"], app.config["MAX_UPLOAD_BYTES"])
        stored = store.save(io.BytesIO(content or minimal_pdf(title)),
                            filename or f"{title}.pdf")
        owner = db.session.scalars(select(Group).where(Group.slug == group)).one() \
            if group else None
        document = Document(title=title, doc_type=doc_type, year=year, group=owner,
                            file_hash=stored.sha256, filename=stored.filename,
                            mime_type=stored.mime_type, size=stored.size, status=status,
                            publish_at=when or utcnow() - timedelta(hours=1))
        db.session.add(document)
        db.session.commit()
        return document.id


def _listed(client, query: str = "") -> set[str]:
    doc = html.fromstring(client.get(f"/documents/{query}").data)
    return {a.text_content() for a in doc.xpath('//ul[@class="docs"]/li[@class="doc"]/a')}


@pytest.fixture
def library(app) -> None:
    """Documents across two groups, three types and two years, plus hidden ones."""
    _document(app, "Rapport santé 2024", doc_type="report", year=2024)
    _document(app, "PV santé 2025", doc_type="minutes", year=2025)
    _document(app, "Rapport éducation 2025", group="gt-education", doc_type="report", year=2025)
    _document(app, "Note du Pool 2025", group=None, doc_type="note", year=2025)
    _document(app, "Brouillon santé 1999", doc_type="report", year=1999,
              status=PublishState.DRAFT)
    _document(app, "Rapport futur", doc_type="report", year=2024,
              when=utcnow() + timedelta(days=3))


ALL_PUBLIC = {"Rapport santé 2024", "PV santé 2025", "Rapport éducation 2025", "Note du Pool 2025"}


FILTERS = {
    "": ALL_PUBLIC,
    "?groupe=gt-sante": {"Rapport santé 2024", "PV santé 2025"},
    "?groupe=gt-education": {"Rapport éducation 2025"},
    "?type=report": {"Rapport santé 2024", "Rapport éducation 2025"},
    "?type=minutes": {"PV santé 2025"},
    "?annee=2025": {"PV santé 2025", "Rapport éducation 2025", "Note du Pool 2025"},
    "?annee=2024": {"Rapport santé 2024"},
    "?groupe=gt-sante&type=report&annee=2024": {"Rapport santé 2024"},
    "?groupe=gt-sante&type=report&annee=2025": set(),
    "?annee=1999": set(),
    "?groupe=gt-inconnu": set(),
}


def test_library_filters_by_group_type_and_year(client, library):
    for query, expected in FILTERS.items():
        assert _listed(client, query) == expected, query


def test_library_counts_results_and_keeps_the_chosen_filters_selected(client, library):
    doc = html.fromstring(client.get("/documents/?groupe=gt-sante&annee=2025").data)
    assert "1 document" in doc.xpath('//main/p')[0].text_content()
    assert doc.xpath('//select[@name="groupe"]/option[@selected]/@value') == ["gt-sante"]
    assert doc.xpath('//select[@name="annee"]/option[@selected]/@value') == ["2025"]


def test_library_offers_only_years_of_published_documents(client, library):
    doc = html.fromstring(client.get("/documents/").data)
    years = doc.xpath('//select[@name="annee"]/option/@value')
    assert years == ["", "2025", "2024"]


def test_library_is_paginated_and_pages_keep_the_filters(app, client):
    for n in range(22):
        _document(app, f"Rapport {n:02d}", when=utcnow() - timedelta(hours=n + 1))
    _document(app, "Autre groupe", group="gt-education")
    doc = html.fromstring(client.get("/documents/?groupe=gt-sante").data)
    assert len(doc.xpath('//ul[@class="docs"]/li[@class="doc"]')) == 20
    next_link = doc.xpath('//a[@rel="next"]/@href')[0]
    assert "groupe=gt-sante" in next_link and "page=2" in next_link
    assert _listed(client, next_link.removeprefix("/documents/")) == {"Rapport 20", "Rapport 21"}


def test_pdf_downloads_inline_with_its_type_and_name(app, client):
    content = minimal_pdf("Rapport annuel")
    doc_id = _document(app, "Rapport annuel", content=content, filename="rapport-annuel.pdf")
    response = client.get(f"/documents/{doc_id}/telecharger")
    assert response.status_code == 200
    assert response.data == content
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == "inline; filename=rapport-annuel.pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]


def test_word_document_downloads_as_an_attachment_under_its_original_name(app, client):
    content = tiny_docx("Procès-verbal")
    doc_id = _document(app, "Procès-verbal", content=content,
                       filename="Procès-verbal réunion 12.docx")
    response = client.get(f"/documents/{doc_id}/telecharger")
    assert response.status_code == 200
    assert response.data == content
    assert response.headers["Content-Type"] == DOCX
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Proc%C3%A8s-verbal%20r%C3%A9union%2012.docx" in disposition


def test_csv_downloads_as_an_attachment_with_a_text_type(app, client):
    doc_id = _document(app, "Données", content=b"region;montant\nKayes;12\n",
                       filename="financements.csv")
    response = client.get(f"/documents/{doc_id}/telecharger")
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == "attachment; filename=financements.csv"


def test_download_answers_conditional_requests_with_304(app, client):
    doc_id = _document(app, "Rapport", content=minimal_pdf("Rapport"))
    first = client.get(f"/documents/{doc_id}/telecharger")
    with app.app_context():
        sha = db.session.get(Document, doc_id).file_hash
    assert first.headers["ETag"] == f'"{sha}"'
    assert first.headers["Last-Modified"]
    again = client.get(f"/documents/{doc_id}/telecharger", headers={"If-None-Match": f'"{sha}"'})
    assert again.status_code == 304 and again.data == b""
    other = client.get(f"/documents/{doc_id}/telecharger", headers={"If-None-Match": '"autre"'})
    assert other.status_code == 200


@pytest.mark.parametrize(("status", "delta"), [
    (PublishState.DRAFT, timedelta(hours=-1)),
    (PublishState.ARCHIVED, timedelta(hours=-1)),
    (PublishState.PUBLISHED, timedelta(days=1)),
], ids=["draft", "archived", "scheduled"])
def test_unpublished_documents_answer_404(app, client, status, delta):
    doc_id = _document(app, "Caché", status=status, when=utcnow() + delta)
    assert client.get(f"/documents/{doc_id}").status_code == 404
    assert client.get(f"/documents/{doc_id}/telecharger").status_code == 404
    with app.app_context():
        sha = db.session.get(Document, doc_id).file_hash
    assert client.get(f"/documents/{doc_id}/telecharger",
                      headers={"If-None-Match": f'"{sha}"'}).status_code == 404


def test_documents_of_an_archived_group_answer_404(app, client):
    doc_id = _document(app, "Rapport genre", group="gt-genre")
    assert client.get(f"/documents/{doc_id}/telecharger").status_code == 200
    with app.app_context():
        db.session.scalars(select(Group).where(Group.slug == "gt-genre")).one().archived = True
        db.session.commit()
    assert client.get(f"/documents/{doc_id}").status_code == 404
    assert client.get(f"/documents/{doc_id}/telecharger").status_code == 404
    assert "Rapport genre" not in _listed(client)


def test_document_page_links_to_the_download(app, client):
    doc_id = _document(app, "Plan d'action", doc_type="terms", year=2026,
                       filename="plan-action.pdf")
    doc = html.fromstring(client.get(f"/documents/{doc_id}").data)
    link = doc.xpath('//a[@class="button"]')[0]
    assert link.get("href") == f"/documents/{doc_id}/telecharger"
    assert link.get("download") == "plan-action.pdf"
    assert "2026" in doc.xpath('//p[@class="meta"]')[0].text_content()


def test_medias_serves_a_group_logo_and_nothing_else(app, client, make_user, auth):
    logo = tiny_png()
    auth.login(make_user("focal", "gt-sante"))
    response = client.post("/admin/groupes/gt-sante/identite", content_type="multipart/form-data",
                           data={"colour": "", "tagline": "",
                                 "logo": (io.BytesIO(logo), "logo.png")})
    assert response.status_code == 302
    auth.logout()
    with app.app_context():
        sha = db.session.scalars(select(Group).where(Group.slug == "gt-sante")).one().logo_hash
    assert sha
    served = client.get(f"/medias/{sha}")
    assert served.status_code == 200
    assert served.data == logo
    assert served.mimetype == "image/png"
    assert "max-age=31536000" in served.headers["Cache-Control"]
    assert client.get(f"/medias/{sha}", headers={"If-None-Match": f'"{sha}"'}).status_code == 304
    assert f"/medias/{sha}" in client.get("/groupes/gt-sante/").get_data(as_text=True)

    doc_id = _document(app, "Rapport", content=minimal_pdf("Rapport"))
    with app.app_context():
        doc_sha = db.session.get(Document, doc_id).file_hash
    assert client.get(f"/medias/{doc_sha}").status_code == 404
    assert client.get("/medias/" + "0" * 64).status_code == 404
    assert client.get("/medias/..%2F..%2Fsecret_key").status_code == 404
