"""A small paginator over SQLAlchemy selects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request
from sqlalchemy import Select, func, select

from sites.extensions import db


@dataclass
class Paged:
    """One page of results."""

    items: list[Any]
    page: int
    pages: int
    total: int


def paginate(query: Select[Any], per_page: int = 20) -> Paged:
    """The page named by `?page=` (1 when absent or invalid)."""
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    pages = max(1, -(-(total or 0) // per_page))
    page = min(page, pages)
    items = db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Paged(list(items), page, pages, total or 0)
