"""Creating, listing and disabling accounts (shared by the CLI and the admin screens)."""

from __future__ import annotations

import re

from flask_babel import gettext as _
from sqlalchemy import func, select

from sites.audit import record
from sites.extensions import db
from sites.models import Group, Membership, MembershipRole, User
from sites.passwords import generate_password, hash_password

ROLES = ("admin", "focal", "member")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(ValueError):
    """An account cannot be created or changed as asked."""


def find_user(email: str) -> User | None:
    """The account with this e-mail address (case-insensitive)."""
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def create_user(email: str, name: str, role: str, group_slug: str | None = None,
                organisation: str = "", password: str | None = None,
                actor: str = "cli") -> tuple[User, str]:
    """Add an account (not committed); return it with its password (generated if not given)."""
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise AccountError(_("“%(email)s” is not a valid e-mail address.", email=email))
    if role not in ROLES:
        raise AccountError(_("Unknown role “%(role)s” (admin, focal or member).", role=role))
    if find_user(email) is not None:
        raise AccountError(_("An account already uses %(email)s.", email=email))
    group = None
    if role != "admin":
        if not group_slug:
            raise AccountError(_("A focal point or member needs a group."))
        group = db.session.scalar(select(Group).where(Group.slug == group_slug,
                                                      Group.archived.is_(False)))
        if group is None:
            raise AccountError(_("Unknown group “%(slug)s”.", slug=group_slug))
    password = password or generate_password()
    user = User(email=email, name=name.strip(), organisation=organisation.strip(),
                password_hash=hash_password(password), is_admin=role == "admin")
    db.session.add(user)
    if group is not None:
        user.memberships.append(Membership(group=group, role=MembershipRole(role)))
    db.session.flush()
    record("user.create", user, f"{email} role={role} group={group_slug or '-'}", actor=actor)
    return user, password


def reset_password(user: User, password: str | None = None, actor: str = "cli") -> str:
    """Set a new password (generated when not given); other sessions end. Returns it."""
    password = password or generate_password()
    user.password_hash = hash_password(password)
    user.session_version += 1
    record("user.reset_password", user, user.email, actor=actor)
    return password


def set_active(user: User, active: bool, actor: str = "cli") -> None:
    """Enable or disable an account; disabling ends its sessions everywhere."""
    user.active = active
    user.session_version += 1
    record("user.enable" if active else "user.disable", user, user.email, actor=actor)
