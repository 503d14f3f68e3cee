"""Institutional pages (administrators only)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from sites.admin import bp
from sites.admin.forms import PageForm
from sites.admin.helpers import (
    apply_publication,
    html_to_text,
    local_time,
    slug_taken,
    text_to_html,
)
from sites.audit import record
from sites.authz import admin_required
from sites.extensions import db
from sites.models import Page, PublishState, Structure


def _structure_choices() -> list[tuple[str, str]]:
    rows = db.session.scalars(select(Structure).order_by(Structure.position))
    return [("", "—")] + [(s.slug, s.short_name) for s in rows]


@bp.get("/pages")
@admin_required
def pages():
    """Every institutional page."""
    rows = db.session.scalars(select(Page).order_by(Page.structure_id, Page.position)).all()
    return render_template("admin/pages.html", pages=rows)


@bp.route("/pages/nouvelle", methods=["GET", "POST"])
@bp.route("/pages/<int:page_id>", methods=["GET", "POST"])
@admin_required
def page_edit(page_id: int | None = None):
    """Write or change an institutional page."""
    page = (db.session.get(Page, page_id) or abort(404)) if page_id else \
        Page(status=PublishState.DRAFT)
    form = PageForm(obj=page) if request.method == "GET" else PageForm()
    form.structure.choices = _structure_choices()
    if request.method == "GET" and page_id:
        form.body.data = html_to_text(page.body_html)
        form.status.data = page.status.value
        form.publish_at.data = local_time(page.publish_at)
        form.structure.data = page.structure.slug if page.structure else ""
    if form.validate_on_submit():
        if slug_taken(Page, form.slug.data, page.id):
            form.slug.errors.append(_("This web address is already used by another page."))
        else:
            page.title, page.slug = form.title.data.strip(), form.slug.data
            page.summary = (form.summary.data or "").strip()
            page.body_html = text_to_html(form.body.data)
            page.structure = db.session.scalar(
                select(Structure).where(Structure.slug == form.structure.data))
            apply_publication(page, form)
            db.session.add(page)
            db.session.flush()
            record("page.update" if page_id else "page.create", page, page.title)
            db.session.commit()
            flash(_("The page is saved."), "success")
            return redirect(url_for("admin.pages"))
    return render_template("admin/page_form.html", form=form, page=page)
