"""RSS and Atom feeds, parsed back with feedparser; meetings as iCalendar, parsed with icalendar."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from icalendar import Calendar
from sqlalchemy import select, text

from sites.extensions import db
from sites.models import Article, Group, Meeting, PublishState
from sites.models.base import utcnow

SITE = "http://portail.test"
NOW = utcnow().replace(microsecond=0)


def _group(slug: str) -> Group:
    return db.session.scalars(select(Group).where(Group.slug == slug)).one()


def _article(app, slug: str, title: str, group: str | None = "gt-sante",
             status: PublishState = PublishState.PUBLISHED, when: datetime | None = None) -> None:
    with app.app_context():
        db.session.add(Article(slug=slug, title=title, summary=f"Résumé {title}",
                               body_html="<p>Texte</p>",
                               group=_group(group) if group else None, status=status,
                               publish_at=when or NOW - timedelta(hours=1)))
        db.session.commit()


def _meeting(app, title: str, start: datetime, group: str = "gt-sante", cancelled: bool = False,
             status: PublishState = PublishState.PUBLISHED, location: str = "") -> int:
    with app.app_context():
        meeting = Meeting(title=title, group=_group(group), starts_at=start,
                          ends_at=start + timedelta(hours=2), cancelled=cancelled,
                          location=location, description="Ordre du jour : <b>suivi</b>",
                          status=status, publish_at=NOW - timedelta(days=1))
        db.session.add(meeting)
        db.session.commit()
        return meeting.id


@pytest.fixture
def news(app) -> None:
    """Published news of two groups and the portal, plus hidden items."""
    _article(app, "sante-1", "Vaccination à Kayes", when=NOW - timedelta(days=2))
    _article(app, "sante-2", "Revue sectorielle santé", when=NOW - timedelta(days=1))
    _article(app, "education-1", "Rentrée scolaire", group="gt-education",
             when=NOW - timedelta(hours=5))
    _article(app, "portail-1", "Lancement du portail", group=None, when=NOW - timedelta(days=3))
    _article(app, "brouillon", "Brouillon santé", status=PublishState.DRAFT)
    _article(app, "archive", "Ancienne nouvelle", status=PublishState.ARCHIVED)
    _article(app, "futur", "Annonce future", when=NOW + timedelta(days=2))


def _parse(client, url: str, content_type: str):
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == content_type
    feed = feedparser.parse(response.data)
    assert not feed.bozo, feed.get("bozo_exception")
    return feed


@pytest.mark.parametrize(("kind", "content_type", "version"), [
    ("rss", "application/rss+xml", "rss20"),
    ("atom", "application/atom+xml", "atom10"),
])
def test_portal_feed_lists_published_news_of_every_group_newest_first(
        client, news, kind, content_type, version):
    feed = _parse(client, f"/flux/actualites.{kind}", content_type)
    assert feed.version == version
    assert [e.title for e in feed.entries] == [
        "Rentrée scolaire", "Revue sectorielle santé", "Vaccination à Kayes",
        "Lancement du portail"]
    assert [e.link for e in feed.entries] == [
        f"{SITE}/actualites/education-1", f"{SITE}/actualites/sante-2",
        f"{SITE}/actualites/sante-1", f"{SITE}/actualites/portail-1"]
    published = [datetime.fromtimestamp(calendar.timegm(e.published_parsed), UTC)
                 for e in feed.entries]
    assert published == [NOW - timedelta(hours=5), NOW - timedelta(days=1),
                         NOW - timedelta(days=2), NOW - timedelta(days=3)]
    assert feed.entries[0].summary == "Résumé Rentrée scolaire"
    assert feed.feed.link == f"{SITE}/actualites/"
    links = {link.rel: link.href for link in feed.feed.links}
    assert links["self"] == f"{SITE}/flux/actualites.{kind}"


@pytest.mark.parametrize(("kind", "content_type"), [
    ("rss", "application/rss+xml"), ("atom", "application/atom+xml")])
def test_group_feed_lists_only_that_groups_published_news(client, news, kind, content_type):
    feed = _parse(client, f"/groupes/gt-sante/flux.{kind}", content_type)
    assert [e.title for e in feed.entries] == ["Revue sectorielle santé", "Vaccination à Kayes"]
    assert [e.link for e in feed.entries] == [f"{SITE}/actualites/sante-2",
                                              f"{SITE}/actualites/sante-1"]
    assert feed.feed.link == f"{SITE}/groupes/gt-sante/"
    links = {link.rel: link.href for link in feed.feed.links}
    assert links["self"] == f"{SITE}/groupes/gt-sante/flux.{kind}"
    assert "GT Santé" in feed.feed.title
    assert {t.get("label") or t.term for e in feed.entries for t in e.tags} == {"GT Santé"}
    other = _parse(client, f"/groupes/gt-education/flux.{kind}", content_type)
    assert [e.title for e in other.entries] == ["Rentrée scolaire"]


def test_feeds_of_unknown_or_archived_groups_answer_404(app, client):
    with app.app_context():
        _group("gt-genre").archived = True
        db.session.commit()
    for url in ("/groupes/gt-genre/flux.rss", "/groupes/gt-genre/flux.atom",
                "/groupes/gt-genre/reunions.ics", "/groupes/gt-inconnu/flux.rss",
                "/groupes/gt-inconnu/reunions.ics", "/flux/actualites.json"):
        assert client.get(url).status_code == 404, url


def test_empty_feed_is_still_a_valid_feed(client):
    feed = _parse(client, "/groupes/gt-justice/flux.atom", "application/atom+xml")
    assert feed.entries == []


def _calendar(client, slug: str = "gt-sante") -> tuple[Calendar, str]:
    response = client.get(f"/groupes/{slug}/reunions.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert response.mimetype_params.get("charset") == "utf-8"
    return Calendar.from_ical(response.data), response.get_data(as_text=True)


def _use_non_utc_session_timezone(app, db_backend: str) -> None:
    """On PostgreSQL, make the server hand back datetimes in another time zone."""
    if db_backend != "postgresql":
        return
    with app.app_context():
        name = db.engine.url.database
        with db.engine.connect() as conn:
            conn.execute(text(f"ALTER DATABASE \"{name}\" SET timezone TO 'Europe/Paris'"))
            conn.commit()
        db.engine.dispose()


def test_calendar_has_one_utc_event_per_published_meeting(app, client, db_backend):
    start = (NOW + timedelta(days=5)).replace(hour=9, minute=30, second=0)
    kept = _meeting(app, "Réunion mensuelle", start, location="Salle 2, Pool Technique, Bamako")
    cancelled = _meeting(app, "Réunion reportée", start + timedelta(days=7), cancelled=True)
    _meeting(app, "Réunion en préparation", start, status=PublishState.DRAFT)
    _meeting(app, "Réunion retirée", start, status=PublishState.ARCHIVED)
    _meeting(app, "Réunion éducation", start, group="gt-education")
    _use_non_utc_session_timezone(app, db_backend)
    cal, raw = _calendar(client)
    assert cal["VERSION"] == "2.0"
    events = {str(e["SUMMARY"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {"Réunion mensuelle", "Réunion reportée"}
    event = events["Réunion mensuelle"]
    assert str(event["UID"]) == f"meeting-{kept}@portail.test"
    assert event.decoded("DTSTART") == start
    assert event.decoded("DTSTART").utcoffset() == timedelta(0)
    assert event.decoded("DTEND") == start + timedelta(hours=2)
    assert str(event["LOCATION"]) == "Salle 2, Pool Technique, Bamako"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["DESCRIPTION"]) == "Ordre du jour : suivi"
    assert str(event["URL"]) == f"{SITE}/groupes/gt-sante/reunions"
    assert str(events["Réunion reportée"]["STATUS"]) == "CANCELLED"
    assert str(events["Réunion reportée"]["UID"]) == f"meeting-{cancelled}@portail.test"
    assert f"DTSTART:{start:%Y%m%dT%H%M%S}Z" in raw
    assert f"DTEND:{start + timedelta(hours=2):%Y%m%dT%H%M%S}Z" in raw
    assert "TZID" not in raw


def test_calendar_keeps_the_past_year_and_drops_older_meetings(app, client):
    _meeting(app, "Réunion du mois dernier", NOW - timedelta(days=30))
    _meeting(app, "Réunion d'il y a deux ans", NOW - timedelta(days=730))
    cal, _ = _calendar(client)
    assert [str(e["SUMMARY"]) for e in cal.walk("VEVENT")] == ["Réunion du mois dernier"]


def test_calendar_is_served_inline_under_the_groups_name(client):
    response = client.get("/groupes/gt-sante/reunions.ics")
    assert response.headers["Content-Disposition"] == 'inline; filename="gt-sante-reunions.ics"'
    cal = Calendar.from_ical(response.data)
    assert cal.walk("VEVENT") == []
    assert "GT Santé" in str(cal["X-WR-CALNAME"])
