"""Planning, changing and cancelling meetings from /admin, seen through the .ics calendar."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from sites.extensions import db
from sites.models import AuditEvent, Meeting, PublishState
from sites.models.base import as_utc

NEW = "/admin/groupes/gt-sante/reunions/nouvelle"
ICS = "/groupes/gt-sante/reunions.ics"


@pytest.fixture
def focal(make_user, auth):
    """A focal point of gt-sante, signed in."""
    account = make_user("focal", "gt-sante")
    auth.login(account)
    return account


@pytest.fixture
def public(app):
    """An anonymous visitor."""
    return app.test_client()


@pytest.fixture
def server_in_tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run the server process on a clock far from Bamako (UTC+9), to catch local-time bugs."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _day() -> date:
    return date.today() + timedelta(days=20)


def _form(**fields: object) -> dict[str, object]:
    return {"title": "Réunion mensuelle du GT Santé", "day": _day().isoformat(),
            "start": "09:30", "end": "11:00", "location": "Salle du Pool Technique",
            "description": "Suivi des engagements.", "status": "published", **fields}


def _only_meeting(app) -> Meeting:
    with app.app_context():
        meetings = db.session.scalars(select(Meeting)).all()
        assert len(meetings) == 1
        db.session.expunge(meetings[0])
        return meetings[0]


def _events(public) -> list:
    response = public.get(ICS)
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    return Calendar.from_ical(response.data).walk("VEVENT")


def test_times_typed_in_bamako_time_are_stored_in_utc(app, client, focal, public,
                                                      server_in_tokyo):
    assert client.post(NEW, data=_form()).status_code == 302
    meeting = _only_meeting(app)
    day = _day()
    assert as_utc(meeting.starts_at) == datetime(day.year, day.month, day.day, 9, 30, tzinfo=UTC)
    assert as_utc(meeting.ends_at) == datetime(day.year, day.month, day.day, 11, 0, tzinfo=UTC)
    [event] = _events(public)
    assert event.decoded("dtstart") == datetime(day.year, day.month, day.day, 9, 30,
                                                tzinfo=UTC)
    assert str(event["summary"]) == "Réunion mensuelle du GT Santé"
    assert str(event["location"]) == "Salle du Pool Technique"
    form = client.get(f"/admin/reunions/{meeting.id}").get_data(as_text=True)
    assert 'value="09:30"' in form and 'value="11:00"' in form


def test_a_meeting_ending_before_it_starts_is_refused(app, client, focal):
    response = client.post(NEW, data=_form(start="14:00", end="10:00"))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'class="error"' in page
    client.get("/langue/en")
    english = client.post(NEW, data=_form(start="14:00", end="14:00")).get_data(as_text=True)
    assert "The end time must be after the start time." in english
    with app.app_context():
        assert db.session.scalars(select(Meeting)).all() == []


def test_a_draft_meeting_is_not_in_the_calendar(app, client, focal, public):
    client.post(NEW, data=_form(status="draft"))
    assert _only_meeting(app).state == "draft"
    assert _events(public) == []
    assert "Réunion mensuelle" not in public.get("/groupes/gt-sante/reunions").get_data(True)


def test_a_published_meeting_is_listed_on_the_platform(app, client, focal, public):
    client.post(NEW, data=_form())
    assert "Réunion mensuelle du GT Santé" in public.get("/groupes/gt-sante/").get_data(True)
    assert "Réunion mensuelle du GT Santé" in public.get(
        "/groupes/gt-sante/reunions").get_data(True)


def test_editing_increments_the_sequence_and_cancelling_shows_in_the_calendar(
        app, client, focal, public):
    client.post(NEW, data=_form())
    meeting = _only_meeting(app)
    [event] = _events(public)
    assert event.decoded("sequence") == 0 and str(event["status"]) == "CONFIRMED"
    assert client.post(f"/admin/reunions/{meeting.id}",
                       data=_form(start="10:00", end="12:00")).status_code == 302
    [event] = _events(public)
    assert event.decoded("sequence") == 1
    assert event.decoded("dtstart").hour == 10
    assert str(event["uid"]).startswith(f"meeting-{meeting.id}@")
    assert client.post(f"/admin/reunions/{meeting.id}",
                       data=_form(start="10:00", end="12:00", cancelled="y")).status_code == 302
    assert _only_meeting(app).cancelled is True
    [event] = _events(public)
    assert str(event["status"]) == "CANCELLED" and event.decoded("sequence") == 2
    assert str(event["uid"]).startswith(f"meeting-{meeting.id}@")


def test_archiving_removes_the_meeting_from_the_calendar(app, client, focal, public):
    client.post(NEW, data=_form())
    meeting = _only_meeting(app)
    assert client.post(f"/admin/reunions/{meeting.id}/retirer").status_code == 302
    assert _only_meeting(app).status == PublishState.ARCHIVED
    assert _events(public) == []


def test_a_focal_point_cannot_plan_for_another_group(app, client, make_user, auth):
    auth.login(make_user("focal", "gt-education"))
    assert client.post(NEW, data=_form()).status_code == 403
    with app.app_context():
        assert db.session.scalars(select(Meeting)).all() == []


def test_every_meeting_action_is_written_to_the_audit_log(app, client, focal):
    client.post(NEW, data=_form())
    meeting = _only_meeting(app)
    client.post(f"/admin/reunions/{meeting.id}", data=_form(cancelled="y"))
    client.post(f"/admin/reunions/{meeting.id}/retirer")
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action.like("meeting.%")).order_by(AuditEvent.id)).all()
        rows = [(e.action, e.user_id, e.actor, e.object_type, e.object_id) for e in events]
        first_summary = events[0].summary
    assert rows == [(action, focal.id, focal.email, "meeting", str(meeting.id))
                    for action in ("meeting.create", "meeting.update", "meeting.remove")]
    assert f"{_day():%Y-%m-%d} 09:30" in first_summary
