"""Importing an IATI XML file: upload and dry run, then confirm (sites.iati_import).

Administrators import into any group or none; a focal point imports into the groups it may
edit, and may not update an activity owned by another group. The uploaded file is kept under
the instance folder (`iati-imports/`) between the dry run and the confirmation, named by a
random name that only a signed token (an hour at most) refers to; it is deleted once imported.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from pathlib import Path

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import LazyString, format_decimal, gettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from wtforms import SelectField

from iati.standard import StandardMissingError
from sites.admin import bp
from sites.admin.forms import ConfirmForm
from sites.admin.helpers import group_for_edit
from sites.authz import editable_groups
from sites.extensions import db
from sites.iati_import import ImportRefusedError, import_file
from sites.models import Group
from sites.storage import safe_filename

log = logging.getLogger("ptfops.admin")
STAGING = "iati-imports"
TOKEN_AGE = 3600          # seconds between the dry run and the confirmation
STALE_AGE = 86400         # staged files older than this are swept away
_STAGED_NAME = re.compile(r"^[0-9a-f]{32}\.xml$")
_CHUNK = 64 * 1024


def import_limit_mb() -> str:
    """The largest accepted IATI file, in megabytes (PTFOPS_IATI_IMPORT_MAX_MB)."""
    return format_decimal(int(current_app.config["IATI_IMPORT_MAX_BYTES"]) / (1024 * 1024),
                          format="#,##0.#")


class IatiImportForm(FlaskForm):
    """An IATI XML file and the group that will own its activities."""

    file = FileField(_l("IATI XML file"), description=LazyString(lambda: gettext(
        "An IATI activity file (version 2.01, 2.02 or 2.03), %(mb)s MB at most.",
        mb=import_limit_mb())))
    group = SelectField(_l("Group that owns the activities"), choices=[],
                        validate_choice=False,
                        description=_l("Activities already in the portal are updated and keep "
                                       "this group; none is duplicated."))


class TooLargeError(ValueError):
    """The upload is over the configured limit."""


def staging_dir() -> Path:
    """The folder where uploaded files wait for their confirmation."""
    folder = Path(current_app.instance_path) / STAGING
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _sweep(folder: Path) -> None:
    """Remove staged files nobody confirmed."""
    limit = time.time() - STALE_AGE
    for path in folder.glob("*.xml"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            pass


def stage(upload: FileStorage) -> Path:
    """Copy an upload to the staging folder under a random name (TooLargeError over the limit)."""
    folder = staging_dir()
    _sweep(folder)
    limit = int(current_app.config["IATI_IMPORT_MAX_BYTES"])
    path = folder / f"{secrets.token_hex(16)}.xml"
    size = 0
    try:
        with open(path, "xb") as target:
            while chunk := upload.stream.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise TooLargeError(size)
                target.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="iati-import")


def import_token(path: Path, group_slug: str, filename: str) -> str:
    """A signed reference to a staged file, the chosen group and the file's own name.

    It names no user: the confirmation checks again that the current user may import into
    that group, so a token passed to someone else gives nothing they could not do themselves.
    """
    return _serializer().dumps([path.name, group_slug, filename])


def staged_import(token: str) -> tuple[Path, str, str] | None:
    """(staged file, group slug, file name) of a valid, unexpired token whose file is there."""
    try:
        name, group_slug, filename = _serializer().loads(token, max_age=TOKEN_AGE)
    except (BadData, ValueError, TypeError):
        return None
    if not isinstance(name, str) or not _STAGED_NAME.match(name):
        return None
    path = staging_dir() / name
    return (path, str(group_slug), str(filename)) if path.is_file() else None


def _live_groups() -> list[Group]:
    return list(db.session.scalars(select(Group).where(Group.archived.is_(False))
                                   .order_by(Group.position)))


def _scope() -> tuple[list[Group], set[int] | None]:
    """The groups the user may import into, and the activities' groups it may update
    (None: all, for administrators). 403 for anyone with no group to edit."""
    groups = editable_groups(current_user, _live_groups())
    if current_user.is_admin:
        return groups, None
    if not groups:
        abort(403)
    return groups, {g.id for g in groups}


def _group_of(slug: str) -> Group | None:
    """The chosen group (None: the whole portal); 403 when the user may not import into it."""
    if not slug:
        if not current_user.is_admin:
            abort(403)
        return None
    return group_for_edit(slug)


@bp.route("/iati/import", methods=["GET", "POST"])
@login_required
def iati_import():
    """Upload an IATI file: a dry run shows what would be stored and what the file lacks."""
    groups, editable_ids = _scope()
    form = IatiImportForm()
    form.group.choices = ([("", _("None (activities of the whole portal)"))]
                          if current_user.is_admin else []) + [(g.slug, g.short_name)
                                                               for g in groups]
    summary = refused = token = None
    if form.validate_on_submit():
        group = _group_of(form.group.data or "")
        upload = form.file.data
        if upload is None or not upload.filename:
            form.file.errors.append(_("Choose an IATI XML file."))
        else:
            filename = safe_filename(upload.filename)
            try:
                path = stage(upload)
            except TooLargeError:
                form.file.errors.append(_("The file is too large (%(mb)s MB at most). Nothing "
                                          "was imported.", mb=import_limit_mb()))
                log.warning("IATI import refused for %s: %s too large", current_user.email,
                            filename)
            else:
                try:
                    summary = import_file(path, group=group, dry_run=True,
                                          editable_group_ids=editable_ids, filename=filename)
                except (ImportRefusedError, StandardMissingError) as exc:
                    path.unlink(missing_ok=True)
                    refused = getattr(exc, "message", str(exc))
                    log.warning("IATI import refused for %s: %s", current_user.email, refused)
                else:
                    token = import_token(path, group.slug if group else "", filename)
    return render_template("admin/iati_import.html", form=form, summary=summary,
                           refused=refused, token=token, confirm=ConfirmForm())


@bp.post("/iati/import/confirmer")
@login_required
def iati_import_confirm():
    """Import the file of a dry run, for real (one transaction)."""
    _groups, editable_ids = _scope()
    if not ConfirmForm().validate_on_submit():
        abort(400)
    staged = staged_import(request.form.get("token", ""))
    if staged is None:
        flash(_("This import has expired or was already done: upload the file again."),
              "error")
        return redirect(url_for("admin.iati_import"))
    path, group_slug, filename = staged
    group = _group_of(group_slug)
    try:
        summary = import_file(path, group=group, editable_group_ids=editable_ids,
                              filename=filename)
    except (ImportRefusedError, StandardMissingError) as exc:
        message = getattr(exc, "message", str(exc))
        log.warning("IATI import refused for %s: %s", current_user.email, message)
        flash(message, "error")
        return redirect(url_for("admin.iati_import"))
    finally:
        path.unlink(missing_ok=True)
    flash(_("Imported: %(activities)s activities (%(created)s new, %(updated)s updated), "
            "%(locations)s locations and %(transactions)s transactions.",
            activities=summary.activities, created=summary.created, updated=summary.updated,
            locations=summary.locations, transactions=summary.transactions), "success")
    return redirect(url_for("admin.iati_import"))
