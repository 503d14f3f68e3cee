"""Reusable queries for what the public may see."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, or_, select

from sites.extensions import db
from sites.models import Article, Document, Group, Meeting, PublishState
from sites.models.base import utcnow


def visible(model: Any) -> list[Any]:
    """Conditions for rows of `model` the public may see now."""
    return [
        model.status == PublishState.PUBLISHED,
        or_(model.publish_at.is_(None), model.publish_at <= utcnow()),
    ]


def active_group_ids() -> Select[Any]:
    """A subquery of the ids of groups that are not archived."""
    return select(Group.id).where(Group.archived.is_(False))


def public_articles(group: Group | None = None) -> Select[Any]:
    """Published news, newest first (portal news and live groups only)."""
    query = select(Article).where(*visible(Article)).where(
        or_(Article.group_id.is_(None), Article.group_id.in_(active_group_ids())))
    if group is not None:
        query = query.where(Article.group_id == group.id)
    return query.order_by(Article.publish_at.desc(), Article.id.desc())


def public_documents(group: Group | None = None) -> Select[Any]:
    """Published documents, newest first."""
    query = select(Document).where(*visible(Document)).where(
        or_(Document.group_id.is_(None), Document.group_id.in_(active_group_ids())))
    if group is not None:
        query = query.where(Document.group_id == group.id)
    return query.order_by(Document.publish_at.desc(), Document.id.desc())


def public_meetings(group: Group | None = None, upcoming: bool = True) -> Select[Any]:
    """Published meetings (upcoming first by date, or all, newest first)."""
    query = select(Meeting).where(*visible(Meeting)).where(
        Meeting.group_id.in_(active_group_ids()))
    if group is not None:
        query = query.where(Meeting.group_id == group.id)
    if upcoming:
        return query.where(Meeting.ends_at >= utcnow()).order_by(Meeting.starts_at)
    return query.order_by(Meeting.starts_at.desc())


def live_group(slug: str) -> Group | None:
    """The non-archived group with this slug."""
    return db.session.scalar(select(Group).where(Group.slug == slug,
                                                 Group.archived.is_(False)))
