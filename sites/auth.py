"""Logging in and out, and changing one's password."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from sites.audit import record
from sites.extensions import db, limiter
from sites.i18n import safe_next
from sites.models import User
from sites.models.base import utcnow
from sites.passwords import hash_password, verify_password

bp = Blueprint("auth", __name__)
log = logging.getLogger("ptfops.auth")


class LoginForm(FlaskForm):
    """E-mail and password."""

    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    remember = BooleanField(_l("Stay signed in on this computer"))


class PasswordForm(FlaskForm):
    """Current password, then the new one twice."""

    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=12, max=200)],
                        description=_l("At least 12 characters. A short sentence is easy to "
                                       "remember and hard to guess."))
    confirm = PasswordField(_l("New password again"),
                            validators=[EqualTo("new", message=_l("The two passwords differ."))])


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/connexion", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    """Sign in with e-mail and password."""
    if current_user.is_authenticated:
        return redirect(url_for("admin.dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.scalar(select(User).where(func.lower(User.email) == email))
        if user is not None and user.active and verify_password(user.password_hash,
                                                                form.password.data):
            login_user(user, remember=form.remember.data)
            user.last_login_at = utcnow()
            record("auth.login", user, "signed in")
            db.session.commit()
            return redirect(safe_next(request.args.get("next"), url_for("admin.dashboard")))
        if user is None:
            verify_password(None, form.password.data)  # same work for unknown addresses
        log.warning("failed login for %r from %s", email, request.remote_addr)
        flash(_("Wrong e-mail address or password."), "error")
    return render_template("auth/login.html", form=form)


@bp.post("/deconnexion")
@login_required
def logout():
    """Sign out (a POST, protected by CSRF)."""
    record("auth.logout", current_user, "signed out")
    db.session.commit()
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("main.home"))


@bp.route("/compte/mot-de-passe", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password; other sessions are signed out."""
    form = PasswordForm()
    if form.validate_on_submit():
        if not verify_password(current_user.password_hash, form.current.data):
            form.current.errors.append(_("This is not your current password."))
        else:
            current_user.password_hash = hash_password(form.new.data)
            current_user.session_version += 1
            record("user.password", current_user, "changed own password")
            db.session.commit()
            login_user(current_user)
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("admin.dashboard"))
    return render_template("auth/password.html", form=form)
