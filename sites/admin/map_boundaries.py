"""The map's region or cercle boundaries: an administrator uploads a GeoJSON (administrators only).

The file is checked by `sites.boundaries` and kept in the instance folder; the map then colours
the regions by their commitments. A refused file leaves the stored boundaries as they were.
"""

from __future__ import annotations

import logging

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import update

from sites import boundaries
from sites.admin import bp
from sites.admin.forms import ConfirmForm
from sites.audit import record
from sites.authz import admin_required
from sites.extensions import db
from sites.models import SiteState
from sites.models.base import utcnow

log = logging.getLogger("ptfops.admin")


class BoundariesForm(FlaskForm):
    """A boundaries GeoJSON file."""

    file = FileField(_l("Boundaries file (GeoJSON)"), validators=[FileRequired(
        _l("Choose a GeoJSON file."))], description=_l(
        "A FeatureCollection of Mali's regions or cercles (polygons, WGS84 longitude/latitude); "
        "each feature has a property with the region's ISO 3166-2:ML code (ML-1 … ML-10, "
        "ML-BKO) or its name."))


def _content_changed() -> None:
    """Bump the content version: cached map pages and GeoJSON change at once."""
    db.session.execute(update(SiteState).values(version=SiteState.version + 1,
                                                changed_at=utcnow()))


@bp.route("/carte/limites", methods=["GET", "POST"])
@admin_required
def map_boundaries():
    """Upload (or replace) the boundaries the map colours by commitments."""
    form = BoundariesForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            document = boundaries.read_upload(upload.stream, boundaries.max_bytes())
            checked = boundaries.check(document, upload.filename or "")
        except boundaries.BoundaryError as exc:
            form.file.errors.append(str(exc))
            log.warning("boundaries refused (%s): %s", upload.filename, exc)
        else:
            boundaries.store(checked)
            record("map.boundaries", None, f"{upload.filename}: {len(checked.features)} "
                   f"features, {len(checked.region_codes)} regions ({checked.level})")
            _content_changed()
            db.session.commit()
            flash(_("The boundaries are saved: %(num)s features over %(regions)s regions.",
                    num=len(checked.features), regions=len(checked.region_codes)), "success")
            return redirect(url_for("admin.map_boundaries"))
    return render_template("admin/map_boundaries.html", form=form, current=boundaries.load(),
                           confirm=ConfirmForm(), limit_mb=boundaries.max_bytes() // 2**20)


@bp.post("/carte/limites/supprimer")
@admin_required
def map_boundaries_remove():
    """Remove the boundaries: the map goes back to Mali's outline and the region bubbles."""
    if ConfirmForm().validate_on_submit() and boundaries.remove():
        record("map.boundaries", None, "removed")
        _content_changed()
        db.session.commit()
        flash(_("The boundaries are removed."), "success")
    return redirect(url_for("admin.map_boundaries"))
