"""Who may do what: administrators everywhere, focal points on their own groups."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort
from flask_login import current_user, login_required

from sites.models import Group, MembershipRole, User


def can_edit_group(user: User, group: Group) -> bool:
    """Administrators, and focal points of the group (or of its parent GT)."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_admin:
        return True
    return not group.archived and user.role_in(group) == MembershipRole.FOCAL


def can_see_members(user: User, group: Group) -> bool:
    """Administrators and the group's own members see the member list."""
    return bool(user.is_authenticated and (user.is_admin or user.role_in(group)))


def editable_groups(user: User, groups: list[Group]) -> list[Group]:
    """The groups `user` may edit, among `groups`."""
    return [g for g in groups if can_edit_group(user, g)]


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Allow administrators only (403 for anyone else logged in)."""

    @wraps(view)
    @login_required
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper
