"""The group directory and each GT/SGT platform."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template
from flask_login import current_user
from sqlalchemy import select

from sites.authz import can_see_members
from sites.cache import public_page
from sites.extensions import db
from sites.models import Group, Membership, MembershipRole, User
from sites.pagination import paginate
from sites.queries import live_group, public_articles, public_documents, public_meetings

bp = Blueprint("groups", __name__, url_prefix="/groupes")


def _group_or_404(slug: str) -> Group:
    group = live_group(slug)
    if group is None:
        abort(404)
    return group


@bp.get("/")
@public_page
def directory():
    """Every live GT with its sub-groups."""
    groups = db.session.scalars(
        select(Group).where(Group.archived.is_(False), Group.parent_id.is_(None))
        .order_by(Group.position)).all()
    return render_template("groups/directory.html", groups=groups)


@bp.get("/<slug>/")
@public_page
def platform(slug: str):
    """A platform's home: news, documents, meetings and sub-groups."""
    group = _group_or_404(slug)
    news = db.session.scalars(public_articles(group).limit(5)).all()
    documents = db.session.scalars(public_documents(group).limit(5)).all()
    meetings = db.session.scalars(public_meetings(group).limit(5)).all()
    focal_points = _people(group, MembershipRole.FOCAL)
    return render_template("groups/platform.html", group=group, news=news,
                           documents=documents, meetings=meetings, focal_points=focal_points)


@bp.get("/<slug>/actualites")
@public_page
def news(slug: str):
    """All news of a platform."""
    group = _group_or_404(slug)
    return render_template("groups/news.html", group=group,
                           paged=paginate(public_articles(group)))


@bp.get("/<slug>/documents")
@public_page
def documents(slug: str):
    """All documents of a platform."""
    group = _group_or_404(slug)
    return render_template("groups/documents.html", group=group,
                           paged=paginate(public_documents(group)))


@bp.get("/<slug>/reunions")
@public_page
def meetings(slug: str):
    """Upcoming and past meetings of a platform."""
    group = _group_or_404(slug)
    upcoming = db.session.scalars(public_meetings(group)).all()
    past = [m for m in db.session.scalars(public_meetings(group, upcoming=False).limit(30))
            if m not in upcoming]
    return render_template("groups/meetings.html", group=group, upcoming=upcoming, past=past)


@bp.get("/<slug>/membres")
@public_page
def members(slug: str):
    """Focal points for everyone; the full member list for members and administrators."""
    group = _group_or_404(slug)
    full = can_see_members(current_user, group)
    return render_template("groups/members.html", group=group,
                           focal_points=_people(group, MembershipRole.FOCAL),
                           members=_people(group, MembershipRole.MEMBER) if full else None)


@bp.get("/<slug>/sous-groupes")
@public_page
def subgroups(slug: str):
    """The sub-groups of a GT."""
    group = _group_or_404(slug)
    return render_template("groups/subgroups.html", group=group)


def _people(group: Group, role: MembershipRole) -> list[User]:
    return list(db.session.scalars(
        select(User).join(Membership).where(Membership.group_id == group.id,
                                            Membership.role == role, User.active.is_(True))
        .order_by(User.name)))


@bp.get("/themes.css")
@public_page
def themes():
    """Each platform's accent colour as a CSS class (no inline style: the CSP forbids it)."""
    groups = db.session.scalars(select(Group).order_by(Group.position)).all()
    css = "\n".join(f".accent-{g.slug}{{--accent:{g.accent}}}" for g in groups)
    return Response(css + "\n", content_type="text/css; charset=utf-8")
