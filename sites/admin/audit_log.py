"""The audit log viewer (administrators only)."""

from flask import render_template
from sqlalchemy import select

from sites.admin import bp
from sites.authz import admin_required
from sites.models import AuditEvent
from sites.pagination import paginate


@bp.get("/journal")
@admin_required
def audit_log():
    """Who published, changed or removed what, newest first."""
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    return render_template("admin/audit_log.html", paged=paginate(query, per_page=50))
