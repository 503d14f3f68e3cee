"""Planning meetings (exported to the platform's calendar)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from sites.admin import bp
from sites.admin.forms import ConfirmForm, MeetingForm
from sites.admin.helpers import (
    BAMAKO,
    apply_publication,
    check_can_edit,
    group_for_edit,
    local_time,
    state_label,
)
from sites.audit import record
from sites.extensions import db
from sites.models import Group, Meeting, PublishState


def _editor(form: MeetingForm, meeting: Meeting, group: Group, is_new: bool):
    if form.validate_on_submit():
        meeting.title = form.title.data.strip()
        meeting.location = (form.location.data or "").strip()
        meeting.description = (form.description.data or "").strip()
        meeting.starts_at = datetime.combine(form.day.data, form.start.data,
                                             BAMAKO).astimezone(UTC)
        meeting.ends_at = datetime.combine(form.day.data, form.end.data, BAMAKO).astimezone(UTC)
        meeting.cancelled = form.cancelled.data
        meeting.group = group
        apply_publication(meeting, form)
        if not is_new:
            meeting.sequence = (meeting.sequence or 0) + 1
        db.session.add(meeting)
        db.session.flush()
        record("meeting.create" if is_new else "meeting.update", meeting,
               f"{meeting.title} {meeting.starts_at:%Y-%m-%d %H:%M} [{meeting.state}]")
        db.session.commit()
        flash(_("The meeting is saved (%(state)s).", state=state_label(meeting)), "success")
        return redirect(url_for("admin.workspace", slug=group.slug))
    return render_template("admin/meeting_form.html", form=form, group=group, meeting=meeting,
                           is_new=is_new)


@bp.route("/groupes/<slug>/reunions/nouvelle", methods=["GET", "POST"])
@login_required
def meeting_new(slug: str):
    """Plan a meeting of a group."""
    group = group_for_edit(slug)
    return _editor(MeetingForm(), Meeting(status=PublishState.DRAFT), group, is_new=True)


@bp.route("/reunions/<int:meeting_id>", methods=["GET", "POST"])
@login_required
def meeting_edit(meeting_id: int):
    """Change or cancel a meeting."""
    meeting = db.session.get(Meeting, meeting_id) or abort(404)
    check_can_edit(meeting)
    form = MeetingForm(obj=meeting) if request.method == "GET" else MeetingForm()
    if request.method == "GET":
        start, end = local_time(meeting.starts_at), local_time(meeting.ends_at)
        form.day.data, form.start.data, form.end.data = start.date(), start.time(), end.time()
        form.status.data = meeting.status.value
        form.publish_at.data = local_time(meeting.publish_at)
    return _editor(form, meeting, meeting.group, is_new=False)


@bp.post("/reunions/<int:meeting_id>/retirer")
@login_required
def meeting_remove(meeting_id: int):
    """Archive a meeting."""
    meeting = db.session.get(Meeting, meeting_id) or abort(404)
    check_can_edit(meeting)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    meeting.status = PublishState.ARCHIVED
    record("meeting.remove", meeting, meeting.title)
    db.session.commit()
    flash(_("The meeting is archived."), "success")
    return redirect(url_for("admin.workspace", slug=meeting.group.slug))
