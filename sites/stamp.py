"""The content stamp: what public pages depend on, read in a few small queries."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from sites.extensions import db
from sites.models import Article, Document, Meeting, Page, PublishState, SiteState
from sites.models.base import as_utc, utcnow

Stamp = tuple[int, datetime, datetime | None]

# The code rendering the pages: each release is installed in a folder of its own, so a deploy
# or a rollback changes it (and with it every page's ETag and the snapshots' generation).
RELEASE = str(Path(__file__).resolve().parent)


def content_stamp() -> Stamp:
    """(version, last change, latest scheduled item that has come due)."""
    state = db.session.get(SiteState, 1)
    version = state.version if state else 0
    changed = as_utc(state.changed_at) if state else utcnow()
    now = utcnow()
    due = None
    for model in (Article, Document, Meeting, Page):
        latest = db.session.scalar(
            select(func.max(model.publish_at)).where(
                model.status == PublishState.PUBLISHED, model.publish_at <= now)
        )
        latest = as_utc(latest)
        if latest is not None and (due is None or latest > due):
            due = latest
    return version, changed, due
