"""Track content changes: bump the site version (cache validation) and keep search current."""

from __future__ import annotations

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from sites.models import (
    IATI_TABLES,
    Article,
    Document,
    Group,
    Meeting,
    Membership,
    Page,
    Structure,
    User,
)
from sites.models.base import utcnow
from sites.search import entry_for, reindex

# Everything a public page shows (users and memberships: the focal points listed on platforms;
# the IATI tables: the activity pages and the published IATI files).
CONTENT_TYPES = (Article, Document, Meeting, Page, Group, Structure, User, Membership,
                 *IATI_TABLES)


def _after_flush(session: Session, _flush_context: object) -> None:
    # An object is "dirty" after any assignment, even of an equal value (a sync of an
    # unchanged groups file): only real changes make a new content version.
    modified = [o for o in session.dirty if session.is_modified(o)]
    changed = [o for o in (*session.new, *modified, *session.deleted)
               if isinstance(o, CONTENT_TYPES)]
    if not changed:
        return
    session.info["content_changed"] = True  # read by sites.snapshots after the request
    conn = session.connection()
    conn.execute(text("UPDATE site_state SET version = version + 1, changed_at = :now"),
                 {"now": utcnow()})
    for obj in changed:
        entry = entry_for(obj)
        if entry is None:
            continue
        kind, ref_id, title, body = entry
        reindex(conn, kind, ref_id, None if obj in session.deleted else title, body)


def install(session_factory: object) -> None:
    """Listen to flushes of every session made by `session_factory`."""
    if not event.contains(session_factory, "after_flush", _after_flush):
        event.listen(session_factory, "after_flush", _after_flush)
