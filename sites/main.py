"""Home page, search and health check."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request
from sqlalchemy import select, text

from sites.cache import public_page
from sites.extensions import db
from sites.models import Article, Document, Group, Page
from sites.queries import public_articles, public_documents, public_meetings, visible
from sites.search import search

bp = Blueprint("main", __name__)


@bp.get("/")
@public_page
def home():
    """Latest news from all groups, upcoming meetings and featured documents."""
    lead = db.session.scalar(public_articles().where(Article.featured.is_(True)).limit(1))
    news = [a for a in db.session.scalars(public_articles().limit(7)) if a != lead][:6]
    meetings = db.session.scalars(public_meetings().limit(5)).all()
    featured = db.session.scalars(
        public_documents().where(Document.featured.is_(True)).limit(4)).all()
    if len(featured) < 4:
        seen = {d.id for d in featured}
        extra = [d for d in db.session.scalars(public_documents().limit(8)) if d.id not in seen]
        featured = [*featured, *extra][:4]
    groups = db.session.scalars(select(Group).where(Group.archived.is_(False),
                                                    Group.parent_id.is_(None))
                                .order_by(Group.position)).all()
    return render_template("main/home.html", lead=lead, news=news, meetings=meetings,
                           documents=featured, groups=groups)


@bp.get("/recherche")
@public_page
def search_page():
    """Full-text search over pages, news and documents."""
    query = request.args.get("q", "").strip()[:200]
    results = []
    if query:
        hits = search(db.session.connection(), query)
        models = {"page": Page, "article": Article, "document": Document}
        for hit in hits:
            model = models[hit.kind]
            obj = db.session.scalar(select(model).where(model.id == hit.ref_id, *visible(model)))
            group = getattr(obj, "group", None)
            if obj is not None and not (group is not None and group.archived):
                results.append((hit.kind, obj, hit.excerpt))
    return render_template("main/search.html", query=query, results=results)


@bp.get("/healthz")
def healthz():
    """200 when the app and its database answer; 503 otherwise."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any database failure means unhealthy
        return jsonify(status="error", database=str(exc.__class__.__name__)), 503
    return jsonify(status="ok", database="ok")
