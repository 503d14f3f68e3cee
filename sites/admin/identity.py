"""A platform's identity: logo, banner, colour and tagline."""

from __future__ import annotations

import logging

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required

from sites.admin import bp
from sites.admin.forms import IdentityForm
from sites.admin.helpers import group_for_edit, store_upload, upload_message
from sites.audit import record
from sites.extensions import db
from sites.storage import IMAGE_EXTENSIONS, UploadError

log = logging.getLogger("ptfops.admin")


@bp.route("/groupes/<slug>/identite", methods=["GET", "POST"])
@login_required
def identity(slug: str):
    """Set the platform's logo, banner, colour and tagline."""
    group = group_for_edit(slug)
    form = IdentityForm(obj=group)
    if form.validate_on_submit():
        uploads = {}
        for name in ("logo", "banner"):
            field = getattr(form, name)
            try:
                uploads[name] = store_upload(field.data, IMAGE_EXTENSIONS)
            except UploadError as exc:
                field.errors.append(upload_message(exc, images_only=True))
                log.warning("%s refused for %s: %s", name, group.slug, exc)
        if not form.logo.errors and not form.banner.errors:
            colour = (form.colour.data or "").lower()
            if colour and colour != group.accent.lower():  # a colour picker always sends one
                group.colour = colour
            group.tagline = (form.tagline.data or "").strip()
            if uploads.get("logo"):
                group.logo_hash = uploads["logo"].sha256
            if uploads.get("banner"):
                group.banner_hash = uploads["banner"].sha256
            group.identity_locked = True
            record("group.identity", group, f"colour={group.colour} tagline={group.tagline!r}")
            db.session.commit()
            flash(_("The platform's identity is saved."), "success")
            return redirect(url_for("admin.workspace", slug=group.slug))
    return render_template("admin/identity_form.html", form=form, group=group)
