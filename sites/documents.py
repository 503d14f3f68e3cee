"""The document library, downloads, and platform images."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request, send_file
from sqlalchemy import distinct, select

from sites.cache import public_page
from sites.extensions import db
from sites.labels import DOC_TYPES
from sites.models import Document, Group
from sites.pagination import paginate
from sites.queries import public_documents
from sites.storage import FileStore, UploadError

bp = Blueprint("documents", __name__)


def upload_limit_mb() -> int:
    """The largest accepted upload, in megabytes (PTFOPS_MAX_UPLOAD_MB)."""
    return int(current_app.config["MAX_UPLOAD_BYTES"]) // (1024 * 1024)


def file_store() -> FileStore:
    """The upload store configured for this app."""
    return FileStore(current_app.config["UPLOAD_DIR"], current_app.config["MAX_UPLOAD_BYTES"])


@bp.get("/documents/")
@public_page
def library():
    """All published documents, filtered by group, type and year."""
    query = public_documents()
    group_slug = request.args.get("groupe", "")
    doc_type = request.args.get("type", "")
    year = request.args.get("annee", "")
    if group_slug:
        query = query.join(Group, Document.group_id == Group.id).where(Group.slug == group_slug)
    if doc_type in DOC_TYPES:
        query = query.where(Document.doc_type == doc_type)
    if year.isdigit():
        query = query.where(Document.year == int(year))
    groups = db.session.scalars(select(Group).where(Group.archived.is_(False))
                                .order_by(Group.position)).all()
    years = sorted(db.session.scalars(public_documents().order_by(None).with_only_columns(
        distinct(Document.year))), reverse=True)
    return render_template("documents/library.html", paged=paginate(query), groups=groups,
                           years=years, selected={"groupe": group_slug, "type": doc_type,
                                                  "annee": year})


@bp.get("/documents/<int:doc_id>")
@public_page
def show(doc_id: int):
    """A document's description page."""
    document = db.session.scalar(public_documents().where(Document.id == doc_id))
    if document is None:
        abort(404)
    return render_template("documents/show.html", document=document)


@bp.get("/documents/<int:doc_id>/telecharger")
def download(doc_id: int):
    """The file, with its type and original name."""
    document = db.session.scalar(public_documents().where(Document.id == doc_id))
    if document is None:
        abort(404)
    try:
        path = file_store().path_for(document.file_hash)
    except UploadError:
        abort(404)
    if not path.is_file():
        abort(404)
    inline = document.mime_type in ("application/pdf", "image/png", "image/jpeg")
    response = send_file(path, mimetype=document.mime_type, as_attachment=not inline,
                         download_name=document.filename, conditional=True, etag=document.file_hash,
                         max_age=3600)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.get("/medias/<sha>")
def media(sha: str):
    """A platform logo or banner, immutable under its hash."""
    group = db.session.scalar(select(Group).where((Group.logo_hash == sha)
                                                  | (Group.banner_hash == sha)))
    if group is None:
        abort(404)
    path = file_store().path_for(sha)
    if not path.is_file():
        abort(404)
    with path.open("rb") as fh:
        head = fh.read(8)
    mime = "image/png" if head.startswith(b"\x89PNG") else "image/jpeg"
    return send_file(path, mimetype=mime, max_age=31536000, conditional=True, etag=sha)
