"""Shared steps of the editing screens: permissions, publication state, uploads, slugs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort
from flask_babel import gettext as _
from flask_login import current_user
from slugify import slugify
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from sites.authz import can_edit_group
from sites.documents import file_store, upload_limit_mb
from sites.extensions import db
from sites.labels import STATES
from sites.models import Group, PublishState
from sites.models.base import as_utc, utcnow
from sites.sanitize import clean_html
from sites.storage import StoredFile, UploadError

BAMAKO = ZoneInfo("Africa/Bamako")


def group_for_edit(slug: str) -> Group:
    """The group named by `slug` if the current user may edit it (404/403 otherwise)."""
    group = db.session.scalar(select(Group).where(Group.slug == slug))
    if group is None:
        abort(404)
    if not can_edit_group(current_user, group):
        abort(403)
    return group


def check_can_edit(obj: Any) -> None:
    """403 unless the current user may edit `obj` (portal-wide items: administrators)."""
    group = getattr(obj, "group", None)
    allowed = can_edit_group(current_user, group) if group else current_user.is_admin
    if not allowed:
        abort(403)


def apply_publication(obj: Any, form: Any) -> None:
    """Set status and publication date from the form (dates typed in Bamako time)."""
    obj.status = PublishState(form.status.data)
    if form.publish_at.data:
        obj.publish_at = form.publish_at.data.replace(tzinfo=BAMAKO).astimezone(UTC)
    elif obj.status == PublishState.PUBLISHED and obj.publish_at is None:
        obj.publish_at = utcnow()


def local_time(value: datetime | None) -> datetime | None:
    """A stored UTC datetime as naive Bamako time, for form fields."""
    value = as_utc(value)
    return value.astimezone(BAMAKO).replace(tzinfo=None) if value else None


_BLOCK_TAG = re.compile(r"<(p|ul|ol|h[2-4]|table|blockquote|pre|hr)\b", re.IGNORECASE)


def text_to_html(text: str) -> str:
    """Text typed by a focal point, as sanitised HTML.

    An empty line separates paragraphs and a line break is kept; simple inline tags
    (<b>, <i>, <a href>…) survive sanitising. Text that already has block tags (pasted
    HTML) is only sanitised.
    """
    text = (text or "").replace("\r\n", "\n")
    if _BLOCK_TAG.search(text):
        return clean_html(text)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return clean_html("".join("<p>" + p.replace("\n", "<br>") + "</p>" for p in paragraphs))


def html_to_text(value: str) -> str:
    """Stored HTML back in the editor's form: paragraphs as blank lines when possible."""
    value = (value or "").strip()
    inner = re.fullmatch(r"<p>(.*)</p>", value, re.DOTALL)
    if inner is None or _BLOCK_TAG.search(inner.group(1).replace("</p><p>", "")):
        return value
    text = re.sub(r"</p>\s*<p>", "\n\n", inner.group(1))
    return re.sub(r"<br\s*/?>", "\n", text)


def unique_slug(model: Any, wanted: str, exclude_id: int | None = None) -> str:
    """`wanted` (slugified), suffixed with -2, -3… until no other row uses it."""
    base = slugify(wanted, max_length=140) or "article"
    candidate, n = base, 1
    while True:
        query = select(model.id).where(model.slug == candidate)
        if exclude_id is not None:
            query = query.where(model.id != exclude_id)
        if db.session.scalar(query) is None:
            return candidate
        n += 1
        candidate = f"{base}-{n}"


def slug_taken(model: Any, slug: str, exclude_id: int | None = None) -> bool:
    """Whether another row already uses `slug`."""
    query = select(model.id).where(model.slug == slug)
    if exclude_id is not None:
        query = query.where(model.id != exclude_id)
    return db.session.scalar(query) is not None


def upload_message(error: UploadError, images_only: bool = False) -> str:
    """The user-facing message of a refused upload."""
    if images_only and error.code == "type":
        return _("Only PNG or JPEG images are accepted here.")
    messages = {
        "type": _("This type of file is not accepted. Accepted: PDF, Word, Excel, PowerPoint, "
                  "OpenDocument, CSV, text and PNG/JPEG images."),
        "disguised": _("The file's content does not match its name: it was refused."),
        "too_large": _("The file is too large (%(mb)s MB at most).", mb=upload_limit_mb()),
        "empty": _("The file is empty."),
        "disk_full": _("The server's disk is full: the file could not be saved. Nothing was "
                       "changed. Please warn the administrator."),
    }
    return messages.get(error.code, _("The file could not be saved. Nothing was changed."))


def store_upload(upload: FileStorage | None, allowed: set[str] | None = None) -> StoredFile | None:
    """Store an uploaded file if one was sent (raises UploadError when refused)."""
    if upload is None or not upload.filename:
        return None
    return file_store().save(upload.stream, upload.filename, allowed)


def state_label(obj: Any) -> str:
    """The translated publication state of `obj`."""
    return str(STATES[obj.state])
