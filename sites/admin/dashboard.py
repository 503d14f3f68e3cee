"""The editor's home: the groups one may edit, and each group's workspace."""

from flask import render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from sites.admin import bp
from sites.admin.forms import ConfirmForm
from sites.admin.helpers import group_for_edit
from sites.authz import editable_groups
from sites.extensions import db
from sites.models import Article, Document, Group, Meeting


@bp.get("/")
@login_required
def dashboard():
    """The groups the current user may edit."""
    groups = db.session.scalars(select(Group).where(Group.archived.is_(False))
                                .order_by(Group.position)).all()
    return render_template("admin/dashboard.html", groups=editable_groups(current_user, groups))


@bp.get("/groupes/<slug>/")
@login_required
def workspace(slug: str):
    """Everything a group has published or drafted, with buttons to add more."""
    group = group_for_edit(slug)
    articles = db.session.scalars(select(Article).where(Article.group_id == group.id)
                                  .order_by(Article.updated_at.desc())).all()
    documents = db.session.scalars(select(Document).where(Document.group_id == group.id)
                                   .order_by(Document.updated_at.desc())).all()
    meetings = db.session.scalars(select(Meeting).where(Meeting.group_id == group.id)
                                  .order_by(Meeting.starts_at.desc())).all()
    return render_template("admin/workspace.html", group=group, articles=articles,
                           documents=documents, meetings=meetings, confirm=ConfirmForm())
