"""RSS and Atom feeds of news, and meetings as iCalendar."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator
from flask import Blueprint, Response, abort, current_app, request, url_for
from flask_babel import gettext as _
from icalendar import Calendar, Event, vText

from sites.cache import public_page
from sites.extensions import db
from sites.models import Article, Group
from sites.models.base import as_utc, utcnow
from sites.queries import live_group, public_articles, public_meetings
from sites.sanitize import plain_text

bp = Blueprint("feeds", __name__)
FEED_SIZE = 30


def _base_url() -> str:
    return current_app.config["SITE_URL"].rstrip("/") or request.host_url.rstrip("/")


def _absolute(endpoint: str, **values: object) -> str:
    return _base_url() + url_for(endpoint, **values)


def _feed(articles: list[Article], title: str, page_url: str, self_url: str) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id(page_url)
    fg.title(title)
    fg.link(href=self_url, rel="self")
    fg.link(href=page_url, rel="alternate")  # last: feedgen makes it the RSS channel link
    fg.language("fr")
    fg.description(title)
    fg.subtitle(title)
    fg.updated(max((as_utc(a.updated_at) for a in articles), default=utcnow()))
    for article in reversed(articles):
        url = _absolute("news.show", slug=article.slug)
        entry = fg.add_entry()
        entry.id(url)
        entry.guid(url, permalink=True)
        entry.title(article.title)
        entry.link(href=url)
        entry.summary(article.summary or plain_text(article.body_html)[:300] or article.title)
        entry.published(as_utc(article.publish_at or article.created_at))
        entry.updated(as_utc(article.updated_at))
        if article.group:
            entry.category(term=article.group.slug, label=article.group.short_name)
        entry.author(name=article.group.short_name if article.group else "Pool Technique des PTF")
    return fg


def _respond(fg: FeedGenerator, kind: str) -> Response:
    if kind == "rss":
        return Response(fg.rss_str(pretty=True), mimetype="application/rss+xml")
    return Response(fg.atom_str(pretty=True), mimetype="application/atom+xml")


@bp.get("/flux/actualites.<any(rss, atom):kind>")
@public_page
def all_news(kind: str):
    """News from every group."""
    articles = db.session.scalars(public_articles().limit(FEED_SIZE)).all()
    fg = _feed(list(articles), _("News from the technical and financial partners"),
               _absolute("news.index"), _absolute("feeds.all_news", kind=kind))
    return _respond(fg, kind)


@bp.get("/groupes/<slug>/flux.<any(rss, atom):kind>")
@public_page
def group_news(slug: str, kind: str):
    """News of one platform."""
    group = live_group(slug) or abort(404)
    articles = db.session.scalars(public_articles(group).limit(FEED_SIZE)).all()
    fg = _feed(list(articles), f"{group.short_name} – {_('News')}",
               _absolute("groups.platform", slug=slug),
               _absolute("feeds.group_news", slug=slug, kind=kind))
    return _respond(fg, kind)


def meetings_calendar(group: Group, host: str) -> Calendar:
    """A calendar of the group's published meetings (past year and future)."""
    cal = Calendar()
    cal.add("prodid", "-//ptfops//Pool Technique des PTF//FR")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"{group.short_name} – réunions")
    cal.add("x-wr-timezone", "Africa/Bamako")
    cal.add("refresh-interval", timedelta(hours=6), parameters={"VALUE": "DURATION"})
    since = utcnow() - timedelta(days=365)
    for meeting in db.session.scalars(public_meetings(group, upcoming=False)):
        if as_utc(meeting.ends_at) < since:
            continue
        event = Event()
        event.add("uid", f"meeting-{meeting.id}@{host}")
        event.add("summary", meeting.title)
        event.add("dtstart", as_utc(meeting.starts_at))
        event.add("dtend", as_utc(meeting.ends_at))
        event.add("dtstamp", as_utc(meeting.updated_at))
        event.add("last-modified", as_utc(meeting.updated_at))
        event.add("sequence", meeting.sequence)
        event.add("status", "CANCELLED" if meeting.cancelled else "CONFIRMED")
        if meeting.location:
            event["location"] = vText(meeting.location)
        if meeting.description:
            event.add("description", plain_text(meeting.description))
        event.add("url", _absolute("groups.meetings", slug=group.slug))
        cal.add_component(event)
    return cal


@bp.get("/groupes/<slug>/reunions.ics")
@public_page
def group_calendar(slug: str):
    """The platform's meetings, subscribable from Outlook or Thunderbird."""
    group = live_group(slug) or abort(404)
    host = urlsplit(_base_url()).hostname or "ptfops"  # stable UIDs: PTFOPS_SITE_URL wins
    response = Response(meetings_calendar(group, host).to_ical(),
                        content_type="text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = f'inline; filename="{slug}-reunions.ics"'
    return response
