"""Template globals, filters and the shared navigation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, request
from flask_babel import format_date, format_datetime, get_locale
from flask_login import current_user
from sqlalchemy import select

from sites import labels
from sites.authz import can_edit_group
from sites.extensions import db
from sites.models import Group, Structure
from sites.models.base import as_utc


def _nav() -> dict[str, Any]:
    structures = db.session.scalars(select(Structure).order_by(Structure.position)).all()
    return {"nav_structures": structures}


def _human_size(size: int) -> str:
    for unit in ("o", "Ko", "Mo", "Go"):
        if size < 1024 or unit == "Go":
            return f"{size:.0f} {unit}" if unit == "o" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)


def _date(value: datetime | None, fmt: str = "long") -> str:
    return format_date(as_utc(value), fmt) if value else ""


def _datetime(value: datetime | None, fmt: str = "medium") -> str:
    return format_datetime(as_utc(value), fmt) if value else ""


def _iso(value: datetime | None) -> str:
    """ISO 8601 in UTC with its offset (SQLite gives naive datetimes back)."""
    return as_utc(value).isoformat() if value else ""


def init_templating(app: Flask) -> None:
    """Register globals and filters used by every template."""
    app.jinja_env.filters.update(date=_date, datetime=_datetime, filesize=_human_size,
                                  iso=_iso)
    app.jinja_env.globals.update(labels=labels, can_edit_group=can_edit_group)

    @app.context_processor
    def _globals() -> dict[str, Any]:
        lang = str(get_locale() or "fr")
        return {
            "lang": lang,
            "other_lang": "en" if lang == "fr" else "fr",
            "current_path": request.full_path.rstrip("?"),
            "user": current_user,
            **_nav(),
        }

    @app.template_global()
    def group_accent(group: Group | None) -> str:
        """The accent colour of a platform (for CSS custom properties)."""
        return group.accent if group else "#1f5f8b"
