"""Institutional pages of the three structures."""

from flask import Blueprint, abort, render_template
from sqlalchemy import select

from sites.cache import public_page
from sites.extensions import db
from sites.models import Page
from sites.queries import visible

bp = Blueprint("pages", __name__, url_prefix="/pages")


@bp.get("/<slug>")
@public_page
def show(slug: str):
    """One institutional page."""
    page = db.session.scalar(select(Page).where(Page.slug == slug, *visible(Page)))
    if page is None:
        abort(404)
    siblings = db.session.scalars(
        select(Page).where(Page.structure_id == page.structure_id, *visible(Page))
        .order_by(Page.position)).all() if page.structure_id else []
    return render_template("pages/show.html", page=page, siblings=siblings)
