"""The three structures and the thematic groups (GT) with their sub-groups (SGT)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sites.extensions import db
from sites.models.base import utcnow


class Structure(db.Model):
    """A co-located structure; owns institutional pages."""

    __tablename__ = "structures"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)


class Group(db.Model):
    """A GT or SGT platform, created and archived from `inventory/groups.yml`."""

    __tablename__ = "groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(3), default="gt")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"))
    lead_partner: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    archived: Mapped[bool] = mapped_column(default=False)
    # Identity: set in the inventory, or by the focal point (which then wins).
    colour: Mapped[str | None] = mapped_column(String(7))
    logo_hash: Mapped[str | None] = mapped_column(String(64))
    banner_hash: Mapped[str | None] = mapped_column(String(64))
    tagline: Mapped[str] = mapped_column(String(300), default="")
    identity_locked: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    parent: Mapped[Group | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Group]] = relationship(
        back_populates="parent", order_by="Group.position"
    )

    @property
    def active_children(self) -> list[Group]:
        """Sub-groups that are not archived."""
        return [c for c in self.children if not c.archived]

    @property
    def accent(self) -> str:
        """The platform's accent colour (its own, else its parent's, else the site's)."""
        if self.colour:
            return self.colour
        if self.parent and self.parent.colour:
            return self.parent.colour
        return "#1f5f8b"
