"""Writing, previewing and publishing news items."""

from __future__ import annotations

import logging

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from itsdangerous import BadData, URLSafeTimedSerializer

from sites.admin import bp
from sites.admin.forms import ArticleForm, ConfirmForm
from sites.admin.helpers import (
    apply_publication,
    check_can_edit,
    group_for_edit,
    html_to_text,
    local_time,
    slug_taken,
    state_label,
    store_upload,
    text_to_html,
    unique_slug,
    upload_message,
)
from sites.audit import record
from sites.documents import file_store
from sites.extensions import db
from sites.models import Article, Document, Group, PublishState
from sites.models.base import utcnow
from sites.storage import StoredFile, UploadError

log = logging.getLogger("ptfops.admin")
_PENDING = "pending_attachment"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="pending-attachment")


def attachment_token(stored: StoredFile) -> str:
    """A signed reference to a file stored during a preview."""
    return _serializer().dumps([stored.sha256, stored.filename, stored.mime_type, stored.size,
                                current_user.id])


def pending_attachment() -> StoredFile | None:
    """The file kept by a preview of this user (signed, a day at most, still on disk)."""
    token = request.form.get(_PENDING, "")
    if not token:
        return None
    try:
        sha, filename, mime, size, user_id = _serializer().loads(token, max_age=86400)
    except BadData:
        return None
    if user_id != current_user.id or not file_store().path_for(sha).is_file():
        return None
    return StoredFile(sha, filename, mime, size)


def _save(form: ArticleForm, article: Article, group: Group | None) -> bool:
    """Apply the form; store the attachment; False (nothing stored) on a refused upload."""
    if form.slug.data and slug_taken(Article, form.slug.data, article.id):
        form.slug.errors.append(_("This web address is already used by another news item."))
        log.warning("news item refused for %s: slug %r already used", current_user.email,
                    form.slug.data)
        return False
    try:
        stored = store_upload(form.attachment.data) or pending_attachment()
    except UploadError as exc:
        form.attachment.errors.append(upload_message(exc))
        log.warning("attachment refused for %s: %s", current_user.email, exc)
        return False
    article.title = form.title.data.strip()
    article.slug = form.slug.data or article.slug or unique_slug(Article, article.title)
    article.summary = (form.summary.data or "").strip()
    article.body_html = text_to_html(form.body.data)
    article.featured = form.featured.data
    article.group = group
    if article.author_id is None:
        article.author_id = current_user.id
    before = (article.status, article.publish_at)
    apply_publication(article, form)
    for attached in article.documents:  # attachments follow the article's publication
        if (attached.status, attached.publish_at) == before:
            attached.status, attached.publish_at = article.status, article.publish_at
    db.session.add(article)
    if stored is not None:
        db.session.add(Document(
            title=(form.attachment_title.data or "").strip() or stored.filename,
            doc_type="other", year=utcnow().year, group=group, article=article,
            file_hash=stored.sha256, filename=stored.filename, mime_type=stored.mime_type,
            size=stored.size, status=article.status, publish_at=article.publish_at,
            uploaded_by_id=current_user.id))
    return True


def _editor(form: ArticleForm, article: Article, group: Group | None, is_new: bool):
    preview = None
    if form.validate_on_submit():
        if request.form.get("action") == "preview":
            preview = {"title": form.title.data, "summary": form.summary.data,
                       "body_html": text_to_html(form.body.data)}
            try:  # keep a chosen file across the preview: browsers empty file fields
                kept = store_upload(form.attachment.data) or pending_attachment()
            except UploadError as exc:
                form.attachment.errors.append(upload_message(exc))
                kept = None
            if kept is not None:
                preview["attachment"] = kept
                preview["attachment_token"] = attachment_token(kept)
        elif _save(form, article, group):
            db.session.flush()
            record("article.create" if is_new else "article.update", article,
                   f"{article.title} [{article.state}]")
            db.session.commit()
            flash(_("The news item is saved (%(state)s).", state=state_label(article)), "success")
            if group is not None:
                return redirect(url_for("admin.workspace", slug=group.slug))
            return redirect(url_for("admin.dashboard"))
        else:
            db.session.rollback()
    return render_template("admin/article_form.html", form=form, group=group, article=article,
                           preview=preview, is_new=is_new)


@bp.route("/groupes/<slug>/actualites/nouvelle", methods=["GET", "POST"])
@login_required
def article_new(slug: str):
    """Write a news item for a group."""
    group = group_for_edit(slug)
    return _editor(ArticleForm(), Article(status=PublishState.DRAFT), group, is_new=True)


@bp.route("/actualites/<int:article_id>", methods=["GET", "POST"])
@login_required
def article_edit(article_id: int):
    """Change a news item."""
    article = db.session.get(Article, article_id) or abort(404)
    check_can_edit(article)
    form = ArticleForm(obj=article) if request.method == "GET" else ArticleForm()
    if request.method == "GET":
        form.body.data = html_to_text(article.body_html)
        form.status.data = article.status.value
        form.publish_at.data = local_time(article.publish_at)
    return _editor(form, article, article.group, is_new=False)


@bp.post("/actualites/<int:article_id>/retirer")
@login_required
def article_remove(article_id: int):
    """Archive a news item: hidden from the public, kept in the database."""
    article = db.session.get(Article, article_id) or abort(404)
    check_can_edit(article)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    for attached in article.documents:  # its attachments leave with it
        if attached.status == article.status:
            attached.status = PublishState.ARCHIVED
    article.status = PublishState.ARCHIVED
    record("article.remove", article, article.title)
    db.session.commit()
    flash(_("The news item is archived."), "success")
    if article.group:
        return redirect(url_for("admin.workspace", slug=article.group.slug))
    return redirect(url_for("admin.dashboard"))
