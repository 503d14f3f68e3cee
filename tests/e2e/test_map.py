"""The map in headless Chromium: Leaflet from the portal, markers from the GeoJSON API,
popups that lead to the activities, the choropleth after an upload, and no other host."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from iati.geo import region_capitals
from tests.e2e.conftest import Portal, _cli, _portal_env

pytestmark = pytest.mark.e2e

ADMIN_EMAIL = "admin.carte@example.org"
ADMIN_PASSWORD = "une longue phrase de passe pour la carte"
MAP_READY = "#carte[data-ready]"


def _api(session: Any, path: str) -> dict[str, Any]:
    """A GeoJSON answer of the portal, fetched with the session's browser."""
    response = session.context.request.get(path)
    assert response.status == 200, path
    return json.loads(response.body())


def _distinct_points(collection: dict[str, Any]) -> int:
    """How many markers the places make: one per distinct position."""
    return len({tuple(f["geometry"]["coordinates"]) for f in collection["features"]})


def _click_visible(page: Any, selector: str) -> None:
    """Click the first element of `selector` whose centre lies well inside the map."""
    box = page.locator("#carte").bounding_box()
    markers = page.locator(selector)
    for index in range(markers.count()):
        shape = markers.nth(index).bounding_box()
        if shape is None:
            continue
        x, y = shape["x"] + shape["width"] / 2, shape["y"] + shape["height"] / 2
        if box["x"] + 60 < x < box["x"] + box["width"] - 60 and (
                box["y"] + 60 < y < box["y"] + box["height"] - 60):
            page.mouse.click(x, y)
            return
    pytest.fail(f"no {selector} inside the visible map")


def test_the_map_shows_region_bubbles_then_places_with_popups_leading_to_activities(
        portal: Portal, open_session: Any) -> None:
    session = open_session(viewport={"width": 1280, "height": 900})
    page = session.new_page()
    page.goto("/")
    page.click("#menu a[href='/carte/']")
    expect(page).to_have_url("/carte/")
    page.wait_for_selector(MAP_READY)

    # Zoomed out: Mali's outline and one bubble per region with activities.
    regions = _api(session, "/api/regions.geojson")
    assert len(regions["features"]) >= 8
    expect(page.locator("path.map-bubble")).to_have_count(len(regions["features"]))
    expect(page.locator("path.map-point")).to_have_count(0)
    assert page.locator("path.map-outline").count() == 8  # Mali and its seven neighbours
    assert page.locator(".leaflet-tile").count() == 0

    # A bubble's popup names the region and links to its activities.
    _click_visible(page, "path.map-bubble")
    popup = page.locator(".leaflet-popup-content")
    expect(popup.locator("h3")).to_be_visible()
    region_names = {f["properties"]["region_name"] for f in regions["features"]}
    assert popup.locator("h3").inner_text() in region_names
    assert popup.locator("a[href^='/activites/XM-']").count() >= 1
    expect(popup.locator("a[href^='/activites/?region=ML-']")).to_have_count(1)

    # Zooming in on the region replaces the bubbles by the places.
    popup.locator("button.map-zoom").click()
    points = _api(session, "/api/activites.geojson")
    expect(page.locator("path.map-point")).to_have_count(_distinct_points(points))
    expect(page.locator("path.map-bubble")).to_have_count(0)

    # A place's popup lists its activities; the link opens the activity's page.
    _click_visible(page, "path.map-point")
    link = page.locator(".leaflet-popup-content a[href^='/activites/XM-']").first
    expect(link).to_be_visible()
    title, href = link.inner_text(), link.get_attribute("href")
    assert href in {f["properties"]["url"] for f in points["features"]}
    link.click()
    expect(page).to_have_url(href)
    expect(page.locator("h1")).to_have_text(title)
    session.watch.assert_clean()
    assert any("/carte/leaflet/leaflet.js" in url for url in session.watch.requests)


def test_a_filtered_map_shows_only_that_regions_places(portal: Portal,
                                                        open_session: Any) -> None:
    session = open_session(viewport={"width": 1280, "height": 900})
    page = session.new_page()
    page.goto("/carte/")
    page.select_option("#f-region", "ML-4")
    page.click("form.filters button[type=submit]")
    expect(page).to_have_url("/carte/?partenaire=&secteur=&region=ML-4&statut=&annee=&groupe=")
    page.wait_for_selector(MAP_READY)
    points = _api(session, "/api/activites.geojson?region=ML-4")
    assert points["features"]
    assert {f["properties"]["region"] for f in points["features"]} == {"ML-4"}
    expect(page.locator("path.map-point")).to_have_count(_distinct_points(points))
    expect(page.locator("table.map-regions tbody tr")).to_have_count(1)
    session.watch.assert_clean()


def test_uploaded_boundaries_colour_the_regions_by_commitments(portal: Portal,
                                                               open_session: Any) -> None:
    _cli(_portal_env(portal.instance), "users", "add", ADMIN_EMAIL, "--name", "Admin Carte",
         "--role", "admin", "--password-stdin", stdin=ADMIN_PASSWORD + "\n")
    features = []
    for code in ("ML-1", "ML-4", "ML-7", "ML-8"):
        capital = region_capitals()[code]
        lon, lat = capital.longitude, capital.latitude
        ring = [[lon - .8, lat - .8], [lon + .8, lat - .8], [lon + .8, lat + .8],
                [lon - .8, lat + .8], [lon - .8, lat - .8]]
        features.append({"type": "Feature", "properties": {"iso": code},
                         "geometry": {"type": "Polygon", "coordinates": [ring]}})
    content = json.dumps({"type": "FeatureCollection", "features": features}).encode()

    admin = open_session(viewport={"width": 1280, "height": 900})
    page = admin.new_page()
    page.goto("/connexion")
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("form:has(input[name=password]) button[type=submit]")
    page.click(".admin-bar a[href='/admin/carte/limites']")
    page.set_input_files("#file", {"name": "regions.geojson", "mimeType": "application/geo+json",
                                   "buffer": content})
    page.click("form.editor button[type=submit]")
    expect(page.locator(".flash-success")).to_contain_text("4 entités sur 4 régions")
    admin.watch.assert_clean()

    public = open_session(viewport={"width": 1280, "height": 900})
    page = public.new_page()
    page.goto("/carte/")
    page.wait_for_selector(MAP_READY)
    expect(page.locator("path.map-boundary")).to_have_count(4)
    expect(page.locator(".map-legend")).to_contain_text("Engagements par région")
    choropleth = _api(public, "/api/limites.geojson")
    fills = {page.locator("path.map-boundary").nth(n).get_attribute("fill") for n in range(4)}
    committed = {f["properties"]["committed"] for f in choropleth["features"]}
    assert len(fills) >= min(2, len(committed))  # different amounts, different colours
    public.watch.assert_clean()
