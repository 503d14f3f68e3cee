"""News from all groups."""

from flask import Blueprint, abort, render_template
from sqlalchemy import select

from sites.cache import public_page
from sites.extensions import db
from sites.models import Article, Document
from sites.pagination import paginate
from sites.queries import public_articles, visible

bp = Blueprint("news", __name__, url_prefix="/actualites")


@bp.get("/")
@public_page
def index():
    """All published news, newest first."""
    return render_template("news/index.html", paged=paginate(public_articles()))


@bp.get("/<slug>")
@public_page
def show(slug: str):
    """One news item with its attached documents."""
    article = db.session.scalar(public_articles().where(Article.slug == slug))
    if article is None:
        abort(404)
    attachments = db.session.scalars(
        select(Document).where(Document.article_id == article.id, *visible(Document))).all()
    return render_template("news/show.html", article=article, attachments=attachments)
