"""Published content: institutional pages, news, documents and meetings."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import DateTime, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sites.extensions import db
from sites.models.base import as_utc, utcnow
from sites.models.groups import Group, Structure
from sites.models.users import User


class PublishState(enum.StrEnum):
    """Stored publication state; 'scheduled' is 'published' with a future date."""

    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


def _state_column() -> Mapped[PublishState]:
    return mapped_column(
        Enum(PublishState, native_enum=False, length=12,
             values_callable=lambda e: [m.value for m in e]),
        default=PublishState.DRAFT,
    )


class Publishable:
    """Columns and rules shared by everything that is drafted, scheduled and published."""

    status: Mapped[PublishState] = _state_column()
    publish_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    @property
    def state(self) -> str:
        """draft, scheduled, published or archived, as shown to editors."""
        if self.status == PublishState.PUBLISHED:
            when = as_utc(self.publish_at)
            if when is not None and when > utcnow():
                return "scheduled"
        return self.status.value

    @property
    def is_public(self) -> bool:
        """Visible to the public now."""
        return self.state == "published"


class Page(Publishable, db.Model):
    """An institutional page of one of the structures, at /pages/<slug>."""

    __tablename__ = "pages"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(400), default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    structure_id: Mapped[int | None] = mapped_column(ForeignKey("structures.id"))
    position: Mapped[int] = mapped_column(default=0)
    structure: Mapped[Structure | None] = relationship()


class Article(Publishable, db.Model):
    """A news item of a group (or of the portal when `group_id` is empty)."""

    __tablename__ = "articles"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(160), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(400), default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    featured: Mapped[bool] = mapped_column(default=False)

    group: Mapped[Group | None] = relationship()
    author: Mapped[User | None] = relationship()
    documents: Mapped[list[Document]] = relationship(back_populates="article")


class Document(Publishable, db.Model):
    """An uploaded file, stored under its content hash."""

    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    doc_type: Mapped[str] = mapped_column(String(30), default="other", index=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"), index=True)
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL")
    )
    file_hash: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(200))
    mime_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    featured: Mapped[bool] = mapped_column(default=False)
    uploaded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    group: Mapped[Group | None] = relationship()
    article: Mapped[Article | None] = relationship(back_populates="documents")
    uploaded_by: Mapped[User | None] = relationship()


class Meeting(Publishable, db.Model):
    """A meeting of a group, exported as iCalendar."""

    __tablename__ = "meetings"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cancelled: Mapped[bool] = mapped_column(default=False)
    sequence: Mapped[int] = mapped_column(default=0)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), index=True)
    group: Mapped[Group] = relationship()


class SiteState(db.Model):
    """One row: a counter bumped by every content change, for cache validation."""

    __tablename__ = "site_state"
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=1)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
