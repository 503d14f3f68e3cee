"""Record actions in the audit log and the application log."""

from __future__ import annotations

import logging

from flask import has_request_context, request
from flask_login import current_user

from sites.extensions import db
from sites.models import AuditEvent

log = logging.getLogger("ptfops.audit")


def record(action: str, obj: object | None = None, summary: str = "",
           actor: str | None = None) -> AuditEvent:
    """Add an audit event to the current transaction (committed with the change)."""
    user = current_user if has_request_context() and current_user.is_authenticated else None
    if hasattr(obj, "_get_current_object"):  # current_user is a proxy: log the real object
        obj = obj._get_current_object()
    event = AuditEvent(
        user_id=user.id if user else None,
        actor=actor or (user.email if user else "system"),
        action=action,
        object_type=type(obj).__name__.lower() if obj is not None else "",
        object_id=str(getattr(obj, "id", "") or getattr(obj, "slug", "") or ""),
        summary=summary,
        ip=(request.remote_addr or "") if has_request_context() else "",
    )
    db.session.add(event)
    log.info("%s %s %s:%s %s", event.actor, action, event.object_type, event.object_id, summary)
    return event
