"""Accounts management (administrators only)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from sites.accounts import AccountError, create_user, set_active
from sites.admin import bp
from sites.admin.forms import ConfirmForm, UserForm
from sites.authz import admin_required
from sites.extensions import db
from sites.models import Group, User


@bp.get("/utilisateurs")
@admin_required
def users():
    """Every account with its role and groups."""
    accounts = db.session.scalars(select(User).order_by(User.name)).all()
    return render_template("admin/users.html", accounts=accounts, confirm=ConfirmForm())


@bp.route("/utilisateurs/nouveau", methods=["GET", "POST"])
@admin_required
def user_new():
    """Create an account; its first password is shown once."""
    form = UserForm()
    groups = db.session.scalars(select(Group).where(Group.archived.is_(False))
                                .order_by(Group.position)).all()
    form.group.choices = [("", "—")] + [(g.slug, g.short_name) for g in groups]
    if form.validate_on_submit():
        try:
            user, password = create_user(
                email=form.email.data, name=form.name.data,
                organisation=form.organisation.data or "", role=form.role.data,
                group_slug=form.group.data or None, actor=current_user.email)
        except AccountError as exc:
            form.email.errors.append(str(exc))
        else:
            db.session.commit()
            return render_template("admin/user_created.html", account=user, password=password)
    return render_template("admin/user_form.html", form=form)


@bp.post("/utilisateurs/<int:user_id>/<any(desactiver, activer):action>")
@admin_required
def user_toggle(user_id: int, action: str):
    """Disable (signs out everywhere) or re-enable an account."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    user = db.session.get(User, user_id) or abort(404)
    if user.id == current_user.id:
        flash(_("You cannot disable your own account."), "error")
        return redirect(url_for("admin.users"))
    set_active(user, action == "activer", actor=current_user.email)
    db.session.commit()
    flash(_("The account of %(name)s is updated.", name=user.name), "success")
    return redirect(url_for("admin.users"))
