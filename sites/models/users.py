"""Accounts, roles and group memberships."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import DateTime, Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sites.extensions import db
from sites.models.base import utcnow
from sites.models.groups import Group


class MembershipRole(enum.StrEnum):
    """What a person is in a group."""

    FOCAL = "focal"
    MEMBER = "member"


class User(UserMixin, db.Model):
    """A person who can log in: an administrator, or a focal point/member of groups."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Bumped on disable or password change: invalidates every open session.
    session_version: Mapped[int] = mapped_column(default=1)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:
        """Session identity: id plus version, so a disable logs the user out everywhere."""
        return f"{self.id}:{self.session_version}"

    @property
    def role_label(self) -> str:
        """'admin', 'focal', 'member' or 'none', the highest role the user holds."""
        if self.is_admin:
            return "admin"
        roles = {m.role for m in self.memberships}
        if MembershipRole.FOCAL in roles:
            return "focal"
        return "member" if roles else "none"

    def role_in(self, group: Group) -> MembershipRole | None:
        """The user's role in `group` (a focal point of a GT is focal in its SGTs too)."""
        best: MembershipRole | None = None
        for m in self.memberships:
            if m.group_id == group.id or (group.parent_id and m.group_id == group.parent_id
                                          and m.role == MembershipRole.FOCAL):
                if m.role == MembershipRole.FOCAL:
                    return MembershipRole.FOCAL
                best = MembershipRole.MEMBER
        return best


class Membership(db.Model):
    """A user's role in one group."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "group_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    role: Mapped[MembershipRole] = mapped_column(
        Enum(MembershipRole, native_enum=False, length=10,
             values_callable=lambda e: [m.value for m in e])
    )

    user: Mapped[User] = relationship(back_populates="memberships")
    group: Mapped[Group] = relationship()
