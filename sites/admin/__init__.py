"""Editing screens for focal points and administrators, under /admin."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from sites.admin import (  # noqa: E402,F401 - views register themselves on bp
    articles,
    audit_log,
    dashboard,
    documents,
    iati_import,
    iati_spreadsheet,
    identity,
    map_boundaries,
    meetings,
    pages,
    users,
)
