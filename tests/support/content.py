"""Content for tests that need some: published items in the gt-sante platform."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from sites.extensions import db
from sites.models import Article, Group, PublishState
from sites.models.base import utcnow


def group(slug: str) -> Group:
    """A platform by its slug (inside an app context)."""
    return db.session.scalars(select(Group).where(Group.slug == slug)).one()


def add_article(app, slug: str, title: str, when: datetime | None = None,
                status: PublishState = PublishState.PUBLISHED) -> None:
    """A news item of gt-sante, published an hour ago unless `when` says otherwise."""
    with app.app_context():
        db.session.add(Article(slug=slug, title=title, body_html="<p>Texte</p>",
                               group=group("gt-sante"), status=status,
                               publish_at=when or utcnow() - timedelta(hours=1)))
        db.session.commit()
