"""Issue 2 end to end: a focal point publishes in Chromium, the public sees it everywhere."""

from __future__ import annotations

import shutil
import struct
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from icalendar import Calendar
from playwright.sync_api import expect

from sites.demo import minimal_pdf
from tests.e2e.conftest import REPO, Portal

pytestmark = pytest.mark.e2e

GROUP = "gt-sante"
NEWS_TITLE = "Campagne de vaccination dans la région de Ségou"
NEWS_SUMMARY = "Les partenaires appuient la campagne de vaccination contre la rougeole."
NEWS_BODY = ("La campagne commence lundi dans les sept cercles de la région.\n\n"
             "Le groupe suivra les résultats à sa prochaine réunion.")
ATTACHMENT_TITLE = "Plan de la campagne de vaccination"
DOC_TITLE = "Compte rendu de la revue sectorielle santé"
MEETING_TITLE = "Réunion de suivi de la campagne de vaccination"
MEETING_PLACE = "Salle de réunion du ministère de la Santé, Koulouba"
PAGE_WEIGHT_LIMIT = 150 * 1024


def _publish(page: Any) -> None:
    """Choose "publish" in the form's publication radio buttons."""
    page.check("input[name=status][value=published]")


def _back_in_workspace(page: Any, title: str) -> None:
    """The save led back to the group's workspace, which lists `title` as published."""
    expect(page).to_have_url(f"/admin/groupes/{GROUP}/")
    expect(page.locator(".flash-success")).to_be_visible()
    row = page.locator("table.list tr", has_text=title)
    expect(row).to_have_count(1)
    expect(row.locator(".state-published")).to_be_visible()


def _download(page: Any, tmp_path: Path) -> tuple[str, bytes]:
    """Click the document page's download button; (file name, bytes) received."""
    with page.expect_download() as info:
        page.click("a[download]")
    download = info.value
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    return download.suggested_filename, target.read_bytes()


def _feed_titles_and_links(session: Any, url: str) -> dict[str, str]:
    """The entries of a feed fetched with the browser's cookies: {title: link}."""
    response = session.context.request.get(url)
    assert response.status == 200, url
    parsed = feedparser.parse(response.body())
    assert not parsed.bozo, f"{url}: {parsed.bozo_exception}"
    return {entry.title: entry.link for entry in parsed.entries}


def test_a_focal_point_publishes_news_a_document_and_a_meeting_that_the_public_then_sees(
        portal: Portal, open_session: Any, tmp_path: Path) -> None:
    attachment_pdf = minimal_pdf("Plan de la campagne")
    document_pdf = minimal_pdf("Revue sectorielle")
    meeting_day = datetime.now(UTC).date() + timedelta(days=7)

    # The focal point signs in through the login form and opens the group's space.
    editor = open_session()
    page = editor.new_page()
    page.goto("/")
    page.click("a[href='/connexion']")
    page.fill("input[name=email]", portal.focal_email)
    page.fill("input[name=password]", portal.focal_password)
    page.click("form:has(input[name=password]) button[type=submit]")
    expect(page).to_have_url("/admin/")
    page.click(f"a[href='/admin/groupes/{GROUP}/']")
    expect(page.locator("h1")).to_contain_text("Santé")

    # A news item with an attached PDF: preview first, then publish.
    page.click(f"a[href='/admin/groupes/{GROUP}/actualites/nouvelle']")
    page.fill("#title", NEWS_TITLE)
    page.fill("#summary", NEWS_SUMMARY)
    page.fill("#body", NEWS_BODY)
    page.set_input_files("#attachment", {"name": "plan-campagne.pdf",
                                         "mimeType": "application/pdf",
                                         "buffer": attachment_pdf})
    page.fill("#attachment_title", ATTACHMENT_TITLE)
    _publish(page)
    page.click("button[value=preview]")
    preview = page.locator("section.preview")
    expect(preview.locator("h1")).to_have_text(NEWS_TITLE)
    expect(preview.locator(".lead")).to_have_text(NEWS_SUMMARY)
    expect(preview.locator("article > p:not(.lead)")).to_have_text(
        [p.strip() for p in NEWS_BODY.split("\n\n")])
    expect(page.locator("#title")).to_have_value(NEWS_TITLE)
    expect(page.locator("input[name=status][value=published]")).to_be_checked()
    # A browser never keeps a chosen file across a page load: choose it again to save.
    page.set_input_files("#attachment", {"name": "plan-campagne.pdf",
                                         "mimeType": "application/pdf",
                                         "buffer": attachment_pdf})
    page.click("button[value=save]")
    _back_in_workspace(page, NEWS_TITLE)
    expect(page.locator("table.list tr", has_text=ATTACHMENT_TITLE)).to_have_count(1)

    # A document of the library.
    page.click(f"a[href='/admin/groupes/{GROUP}/documents/nouveau']")
    page.fill("#title", DOC_TITLE)
    page.set_input_files("#file", {"name": "revue-sectorielle.pdf",
                                   "mimeType": "application/pdf", "buffer": document_pdf})
    page.fill("#description", "Conclusions et recommandations de la revue annuelle.")
    page.select_option("#doc_type", "minutes")
    page.fill("#year", str(meeting_day.year))
    _publish(page)
    page.click("form.editor button[type=submit]")
    _back_in_workspace(page, DOC_TITLE)

    # A meeting next week, 10:00-12:00 Bamako time.
    page.click(f"a[href='/admin/groupes/{GROUP}/reunions/nouvelle']")
    page.fill("#title", MEETING_TITLE)
    page.fill("#day", meeting_day.isoformat())
    page.fill("#start", "10:00")
    page.fill("#end", "12:00")
    page.fill("#location", MEETING_PLACE)
    page.fill("#description", "Bilan de la première semaine de campagne.")
    _publish(page)
    page.click("form.editor button[type=submit]")
    _back_in_workspace(page, MEETING_TITLE)
    editor.watch.assert_clean()

    # The public (not signed in) sees all three on the group's platform.
    public = open_session()
    page = public.new_page()
    page.goto(f"/groupes/{GROUP}/")
    expect(page.locator("a[href='/connexion']")).to_be_visible()
    expect(page.locator("section[aria-labelledby=h-news] .card h3 a",
                        has_text=NEWS_TITLE)).to_have_count(1)
    expect(page.locator("ul.docs a", has_text=DOC_TITLE)).to_have_count(1)
    meeting = page.locator("ul.meetings li", has_text=MEETING_TITLE)
    expect(meeting).to_have_count(1)
    expect(meeting.locator("time")).to_contain_text("10:00")
    expect(meeting).to_contain_text(MEETING_PLACE)

    # The document downloads with its bytes.
    page.click(f"ul.docs a:has-text('{DOC_TITLE}')")
    expect(page.locator("h1")).to_have_text(DOC_TITLE)
    name, body = _download(page, tmp_path)
    assert (name, body) == ("revue-sectorielle.pdf", document_pdf)

    # The news page lists its attachment, whose download gives the uploaded file back.
    page.goto(f"/groupes/{GROUP}/")
    page.click(f"section[aria-labelledby=h-news] a:has-text('{NEWS_TITLE}')")
    expect(page.locator("article h1")).to_have_text(NEWS_TITLE)
    news_url = page.url
    expect(page.locator("ul.docs a", has_text=ATTACHMENT_TITLE)).to_have_count(1)
    page.click(f"ul.docs a:has-text('{ATTACHMENT_TITLE}')")
    name, body = _download(page, tmp_path)
    assert (name, body) == ("plan-campagne.pdf", attachment_pdf)

    # Both feeds of the group and the portal-wide feed carry the news item.
    for path in (f"/groupes/{GROUP}/flux.rss", f"/groupes/{GROUP}/flux.atom",
                 "/flux/actualites.rss"):
        entries = _feed_titles_and_links(public, portal.url(path))
        assert entries.get(NEWS_TITLE) == news_url, f"{path}: {entries}"

    # The calendar carries the meeting at 10:00 Bamako time, which is 10:00 UTC.
    response = public.context.request.get(portal.url(f"/groupes/{GROUP}/reunions.ics"))
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/calendar")
    events = [event for event in Calendar.from_ical(response.body()).walk("VEVENT")
              if str(event["SUMMARY"]) == MEETING_TITLE]
    assert len(events) == 1
    event = events[0]
    assert event.decoded("DTSTART") == datetime.combine(meeting_day, time(10, 0), UTC)
    assert event.decoded("DTEND") == datetime.combine(meeting_day, time(12, 0), UTC)
    assert str(event["LOCATION"]) == MEETING_PLACE
    public.watch.assert_clean()


def _png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; fails if `data` is not a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_the_home_page_screenshot_is_a_real_picture(open_session: Any, tmp_path: Path) -> None:
    session = open_session(viewport={"width": 1280, "height": 800})
    page = session.new_page()
    page.goto("/")
    shot = tmp_path / "home.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    width, height = _png_size(data)
    assert width == 1280 and height >= 800
    # A blank or broken page compresses to a few kilobytes; the real home page does not.
    assert len(data) > 30_000, f"suspiciously small screenshot: {len(data)} bytes"
    results = REPO / "bench" / "results"
    try:
        results.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, results / "home.png")
    except OSError:
        pass  # a read-only checkout: the copy under tmp_path is enough
    session.watch.assert_clean()


def test_the_home_page_weighs_less_than_150_kb_on_a_first_visit(open_session: Any) -> None:
    session = open_session()
    finished: list[Any] = []
    session.context.on("requestfinished", lambda request: finished.append(request))
    page = session.new_page()
    page.goto("/", wait_until="networkidle")
    sizes = []
    for request in finished:
        measured = request.sizes()
        sizes.append((request.resource_type, request.url,
                      measured["responseBodySize"] + measured["responseHeadersSize"]))
    kinds = {kind for kind, _, _ in sizes}
    assert {"document", "stylesheet", "script", "image"} <= kinds, sizes
    total = sum(size for _, _, size in sizes)
    assert total < PAGE_WEIGHT_LIMIT, f"home page weighs {total} bytes: {sizes}"
    session.watch.assert_clean()


@pytest.mark.parametrize("path", ["/", f"/groupes/{GROUP}/"])
def test_pages_fit_a_phone_screen_without_horizontal_scrolling(open_session: Any,
                                                               path: str) -> None:
    session = open_session(viewport={"width": 375, "height": 740}, is_mobile=True,
                           has_touch=True, device_scale_factor=2)
    page = session.new_page()
    page.goto(path)
    widths = page.evaluate(
        "() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert widths[1] == 375
    assert widths[0] <= widths[1], f"{path} scrolls sideways: {widths}"
    session.watch.assert_clean()
