"""Uploading and describing documents."""

from __future__ import annotations

import logging

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from sites.admin import bp
from sites.admin.forms import ConfirmForm, DocumentForm
from sites.admin.helpers import (
    apply_publication,
    check_can_edit,
    group_for_edit,
    local_time,
    state_label,
    store_upload,
    upload_message,
)
from sites.audit import record
from sites.extensions import db
from sites.models import Document, Group, PublishState
from sites.storage import UploadError

log = logging.getLogger("ptfops.admin")


def _editor(form: DocumentForm, document: Document, group: Group, is_new: bool):
    if form.validate_on_submit():
        try:
            stored = store_upload(form.file.data)
        except UploadError as exc:
            form.file.errors.append(upload_message(exc))
            log.warning("document refused for %s: %s", current_user.email, exc)
            stored = None
        else:
            if stored is None and is_new:
                form.file.errors.append(_("Choose the file to publish."))
        if not form.file.errors:
            document.title = form.title.data.strip()
            document.description = (form.description.data or "").strip()
            document.doc_type, document.year = form.doc_type.data, form.year.data
            document.featured = form.featured.data
            document.group = group
            apply_publication(document, form)
            if stored is not None:
                document.file_hash, document.filename = stored.sha256, stored.filename
                document.mime_type, document.size = stored.mime_type, stored.size
                document.uploaded_by_id = current_user.id
            db.session.add(document)
            db.session.flush()
            record("document.create" if is_new else "document.update", document,
                   f"{document.title} ({document.filename}) [{document.state}]")
            db.session.commit()
            flash(_("The document is saved (%(state)s).", state=state_label(document)),
                  "success")
            return redirect(url_for("admin.workspace", slug=group.slug))
    return render_template("admin/document_form.html", form=form, group=group,
                           document=document, is_new=is_new)


@bp.route("/groupes/<slug>/documents/nouveau", methods=["GET", "POST"])
@login_required
def document_new(slug: str):
    """Upload a document for a group."""
    group = group_for_edit(slug)
    return _editor(DocumentForm(), Document(status=PublishState.DRAFT), group, is_new=True)


@bp.route("/documents/<int:doc_id>", methods=["GET", "POST"])
@login_required
def document_edit(doc_id: int):
    """Change a document's description, state or file."""
    document = db.session.get(Document, doc_id) or abort(404)
    check_can_edit(document)
    if document.group is None:
        abort(403)
    form = DocumentForm(obj=document) if request.method == "GET" else DocumentForm()
    if request.method == "GET":
        form.status.data = document.status.value
        form.publish_at.data = local_time(document.publish_at)
    return _editor(form, document, document.group, is_new=False)


@bp.post("/documents/<int:doc_id>/retirer")
@login_required
def document_remove(doc_id: int):
    """Archive a document (the file is kept)."""
    document = db.session.get(Document, doc_id) or abort(404)
    check_can_edit(document)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    document.status = PublishState.ARCHIVED
    record("document.remove", document, document.title)
    db.session.commit()
    flash(_("The document is archived."), "success")
    return redirect(url_for("admin.workspace", slug=document.group.slug) if document.group
                    else url_for("admin.dashboard"))
