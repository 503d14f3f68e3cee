"""The aid-activity spreadsheet: download the template, upload it, check the dry run, confirm.

Administrators and focal points only (a focal point sees and changes its groups' activities).
The uploaded file is kept under the instance folder (`iati-tableur/`) between the dry run and
the confirmation, under a random name that only a signed token refers to; the token names the
user who uploaded it, and the confirmation runs the dry run again before storing anything.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from pathlib import Path

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import LazyString, gettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from wtforms import HiddenField

from sites.admin import bp
from sites.authz import can_edit_group, editable_groups
from sites.documents import upload_limit_mb
from sites.extensions import db
from sites.iati_spreadsheet import DryRun, apply, dry_run, template
from sites.models import Group, IatiActivity
from sites.storage import safe_filename

log = logging.getLogger("ptfops.admin")
STAGING = "iati-tableur"
TOKEN_AGE = 86400   # seconds between the dry run and the confirmation
_STAGED_NAME = re.compile(r"^[0-9a-f]{32}\.(xlsx|zip|csv)$")
_EXTENSIONS = {"xlsx": "xlsx", "xlsm": "xlsx", "zip": "zip", "csv": "csv"}
MIME_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
              "zip": "application/zip"}


class SpreadsheetForm(FlaskForm):
    """A filled template."""

    file = FileField(_l("Filled template"), description=LazyString(lambda: gettext(
        "The XLSX workbook, or the ZIP of CSV files (a single CSV file is accepted too); "
        "%(mb)s MB at most.", mb=upload_limit_mb())))


class ApplyForm(FlaskForm):
    """The confirmation of a dry run."""

    token = HiddenField()


def staging_dir() -> Path:
    """Where uploads wait for their confirmation (files older than a day are swept away)."""
    folder = Path(current_app.instance_path) / STAGING
    folder.mkdir(parents=True, exist_ok=True)
    limit = time.time() - TOKEN_AGE
    for path in folder.iterdir():
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            pass
    return folder


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="iati-spreadsheet")


def stage(data: bytes, filename: str, user_id: int) -> str:
    """Keep an upload for its confirmation; return the signed token that names it."""
    ext = _EXTENSIONS.get(filename.rsplit(".", 1)[-1].lower(), "csv")
    name = f"{secrets.token_hex(16)}.{ext}"
    (staging_dir() / name).write_bytes(data)
    return _serializer().dumps([name, filename, user_id])


def staged(token: str, user_id: int) -> tuple[Path, str] | None:
    """(file, its original name) of a valid token of this user whose file is still there."""
    try:
        name, filename, owner = _serializer().loads(token, max_age=TOKEN_AGE)
    except (BadData, ValueError, TypeError):
        return None
    if owner != user_id or not isinstance(name, str) or not _STAGED_NAME.match(name):
        return None
    path = staging_dir() / name
    return (path, str(filename)) if path.is_file() else None


def _groups() -> list[Group]:
    """The live groups the user edits; 403 for anyone who edits none (administrators pass)."""
    groups = editable_groups(current_user, list(db.session.scalars(
        select(Group).where(Group.archived.is_(False)).order_by(Group.position))))
    if not groups and not current_user.is_admin:
        abort(403)
    return groups


def _read_upload(upload: FileStorage | None, form: SpreadsheetForm) -> bytes | None:
    """The uploaded bytes, or None with the reason on the form."""
    if upload is None or not upload.filename:
        form.file.errors.append(_("Choose the filled template (XLSX, ZIP or CSV)."))
        return None
    limit = int(current_app.config["MAX_UPLOAD_BYTES"])
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        form.file.errors.append(_("The file is too large (%(mb)s MB at most).",
                                  mb=upload_limit_mb()))
        return None
    return data


def _page(form: SpreadsheetForm, run: DryRun | None = None, token: str = "", status: int = 200):
    groups = _groups()
    counts = dict(db.session.execute(
        select(IatiActivity.group_id, func.count()).group_by(IatiActivity.group_id)).all())
    return render_template("admin/iati_spreadsheet.html", form=form, run=run, token=token,
                           groups=groups, counts=counts, apply_form=ApplyForm(token=token),
                           total=sum(counts.values())), status


@bp.get("/iati/tableur")
@login_required
def iati_spreadsheet():
    """Download the template; upload a filled one."""
    _groups()
    return _page(SpreadsheetForm())


@bp.get("/iati/tableur/modele.<any(xlsx, zip):fmt>")
@login_required
def iati_spreadsheet_template(fmt: str) -> Response:
    """The template, empty or with the activities of one group (or of all one's groups)."""
    _groups()
    slug = request.args.get("groupe", "")
    group = None
    if slug:
        group = db.session.scalar(select(Group).where(Group.slug == slug)) or abort(404)
        if not can_edit_group(current_user, group):
            abort(403)
    filled = request.args.get("activites") == "1"
    data = template(current_user, fmt, filled, group)
    name = "modele-activites" if not filled else f"activites-{slug or 'portail'}"
    response = Response(data, mimetype=MIME_TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/iati/tableur")
@login_required
def iati_spreadsheet_upload():
    """The dry run of a filled template: what would be created, updated or refused."""
    _groups()
    form = SpreadsheetForm()
    if not form.validate_on_submit():
        abort(400)
    data = _read_upload(form.file.data, form)
    if data is None:
        return _page(form, status=400)
    filename = safe_filename(form.file.data.filename)
    run = dry_run(data, filename, current_user)
    token = stage(data, filename, current_user.id) if run.ok and run.changes_anything else ""
    log.info("spreadsheet dry run by %s: %s, %s errors", current_user.email, filename,
             len(run.errors))
    return _page(form, run, token)


@bp.post("/iati/tableur/appliquer")
@login_required
def iati_spreadsheet_apply():
    """Store the changes of a dry run, all or nothing."""
    _groups()
    form = ApplyForm()
    if not form.validate_on_submit():
        abort(400)
    kept = staged(form.token.data or "", current_user.id)
    if kept is None:
        flash(_("This import has expired or was already done: send the file again."), "error")
        return redirect(url_for("admin.iati_spreadsheet"))
    path, filename = kept
    try:
        run = apply(path.read_bytes(), filename, current_user)
    finally:
        path.unlink(missing_ok=True)
    if not run.stored:
        log.warning("spreadsheet import of %s by %s refused at confirmation", filename,
                    current_user.email)
        return _page(SpreadsheetForm(), run, status=409)
    flash(_("Stored: %(created)s activities created and %(updated)s updated.",
            created=len(run.having("create")), updated=len(run.having("update"))), "success")
    return redirect(url_for("admin.iati_spreadsheet"))
