"""The map: its GeoJSON parsed back, the filters, the region bubbles, the page without
JavaScript, Leaflet served by the portal, and the boundaries upload with its choropleth."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from iati.geo import region_capitals
from iati.model import Location
from sites.activity_map import tile_source
from sites.extensions import db
from sites.iati_mapping import town_named
from sites.models import IatiActivity, IatiLocation
from tests.test_activities import listed
from tests.test_iati_files import make_activity, store

A1, A2, A3, A4, A5 = (f"XM-PTF-MALI-MAP-{n}" for n in range(1, 6))
#: Mali's extent (lon, lat), a little wider than Natural Earth's outline.
WEST, SOUTH, EAST, NORTH = -12.4, 10.0, 4.4, 25.1
#: The properties every activity feature carries, and only those: what the public may see.
ACTIVITY_PROPERTIES = {
    "identifier", "title", "partner", "sector", "sector_codes", "status", "status_label",
    "group", "committed", "disbursed", "currency", "committed_label", "url", "place", "region",
    "region_name", "exactness", "geonames_id", "point_source"}


@pytest.fixture
def portfolio(app):
    """Five activities: an exact point (Kita), an approximate one (Sikasso, in euros), a name
    without a point (Ségou), two places known by their GeoNames ids only (Gao and Mopti),
    and one activity with no place at all."""
    exact = make_activity(A1, "gt-education", ("FR-3", "AFD"), "11220", "Kita",
                          commitment="1000000", disbursement="400000")
    exact.locations[0].exactness = "1"
    euros = make_activity(A2, "gt-sante", ("XM-DAC-41122", "UNICEF"), "12220", "Sikasso",
                          status="3", start=date(2019, 1, 1), end=date(2021, 6, 30),
                          commitment="1000", disbursement="1000", currency="EUR",
                          paid=date(2020, 2, 1))
    named = make_activity(A3, "gt-education", ("XM-DAC-44000", "Banque mondiale"), "11320",
                          start=date(2024, 1, 1), end=date(2027, 12, 31), commitment="2000",
                          disbursement="500", currency="USD", paid=date(2024, 9, 1))
    named.locations = [Location(ref=f"{A3}-L1", name={"fr": "Ségou"}, exactness="2")]
    by_id = make_activity(A4, "gt-eau-assainissement", ("FR-3", "AFD"), "14031",
                          commitment="10000000", disbursement="5000000")
    by_id.locations = [Location(ref=f"{A4}-L{n}", name={"fr": town},
                                location_ids=[("G1", town_named(town).geonames_id)])
                       for n, town in enumerate(("Gao", "Mopti"), start=1)]
    nowhere = make_activity(A5, "gt-sante", ("XM-DAC-41122", "UNICEF"), "12220")
    nowhere.locations = []
    store(app, exact, euros, named, by_id, nowhere)


def geojson(client, path: str) -> dict[str, Any]:
    """A GeoJSON answer of the API, parsed back (and its media type checked)."""
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.mimetype == "application/geo+json"
    return json.loads(response.get_data(as_text=True))


def by_identifier(collection: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Features grouped by their activity's identifier."""
    found: dict[str, list[dict[str, Any]]] = {}
    for feature in collection["features"]:
        found.setdefault(feature["properties"]["identifier"], []).append(feature)
    return found


def assert_feature_collection(collection: dict[str, Any], *geometries: str) -> None:
    """A GeoJSON FeatureCollection (RFC 7946) whose features have these geometry types."""
    assert collection["type"] == "FeatureCollection"
    assert isinstance(collection["features"], list)
    for feature in collection["features"]:
        assert feature["type"] == "Feature"
        assert isinstance(feature["properties"], dict)
        assert feature["geometry"]["type"] in geometries


# --- /api/activites.geojson ----------------------------------------------------------------


def test_the_geojson_is_a_feature_collection_of_points_in_longitude_latitude_order(
        client, portfolio):
    collection = geojson(client, "/api/activites.geojson")
    assert_feature_collection(collection, "Point")
    for feature in collection["features"]:
        lon, lat = feature["geometry"]["coordinates"]
        assert WEST <= lon <= EAST and SOUTH <= lat <= NORTH, feature["properties"]["place"]
    kita = town_named("Kita")
    [feature] = by_identifier(collection)[A1]
    assert feature["geometry"]["coordinates"] == [kita.longitude, kita.latitude]
    assert feature["geometry"]["coordinates"][0] == pytest.approx(-9.49, abs=0.01)


def test_each_place_is_one_feature_with_the_activitys_public_properties(client, portfolio):
    features = by_identifier(geojson(client, "/api/activites.geojson"))
    assert set(features) == {A1, A2, A3, A4}
    assert len(features[A4]) == 2
    [sikasso] = features[A2]
    assert set(sikasso["properties"]) == ACTIVITY_PROPERTIES
    props = sikasso["properties"]
    assert props["partner"] == "UNICEF"
    assert props["sector_codes"] == ["12220"]
    assert (props["region"], props["region_name"], props["status"]) == ("ML-3", "Sikasso", "3")
    assert props["committed"] == pytest.approx(655957.0)  # 1,000 EUR at the fixed peg
    assert props["exactness"] == "2"
    assert props["url"] == f"/activites/{A2}"
    assert client.get(props["url"]).status_code == 200


def test_a_place_without_a_point_is_located_by_its_geonames_id_or_its_geocoded_name(
        client, portfolio):
    features = by_identifier(geojson(client, "/api/activites.geojson"))
    [segou] = features[A3]
    town = town_named("Ségou")
    assert segou["geometry"]["coordinates"] == [town.longitude, town.latitude]
    assert (segou["properties"]["point_source"], segou["properties"]["region"]) == (
        "geocoded", "ML-4")
    places = {f["properties"]["place"]: f for f in features[A4]}
    assert set(places) == {"Gao", "Mopti"}
    assert {f["properties"]["point_source"] for f in places.values()} == {"geonames"}
    gao = town_named("Gao")
    assert places["Gao"]["geometry"]["coordinates"] == [gao.longitude, gao.latitude]
    assert features[A1][0]["properties"]["point_source"] == "stored"


@pytest.mark.parametrize(("query", "expected"), [
    ("", {A1, A2, A3, A4}),
    ("?partenaire=FR-3", {A1, A4}),
    ("?secteur=12220", {A2}),
    ("?region=ML-4", {A3}),
    ("?region=ML-7", {A4}),
    ("?statut=3", {A2}),
    ("?annee=2020", {A2}),
    ("?annee=2024", {A1, A3, A4}),
    ("?groupe=gt-education", {A1, A3}),
    ("?partenaire=FR-3&region=ML-1", {A1}),
    ("?statut=5", set()),
])
def test_the_filters_really_filter_and_match_the_activity_list(client, portfolio, query,
                                                                expected):
    features = by_identifier(geojson(client, f"/api/activites.geojson{query}"))
    assert set(features) == expected
    assert set(features) == listed(client, query) - {A5}  # A5 has no place to show


def test_a_region_filter_keeps_only_that_regions_places(client, portfolio):
    features = geojson(client, "/api/activites.geojson?region=ML-7")["features"]
    assert [f["properties"]["place"] for f in features] == ["Gao"]


def test_the_geojson_is_cached_like_a_public_page_and_changes_with_the_data(app, client,
                                                                           portfolio):
    first = client.get("/api/activites.geojson")
    assert first.headers["X-Accel-Expires"]
    assert client.get("/api/activites.geojson",
                      headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    with app.app_context():
        location = db.session.scalar(select(IatiLocation).join(IatiActivity).where(
            IatiActivity.identifier == A1))
        location.latitude = 13.5
        db.session.commit()
    again = client.get("/api/activites.geojson",
                       headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200
    [feature] = by_identifier(json.loads(again.get_data(as_text=True)))[A1]
    assert feature["geometry"]["coordinates"][1] == 13.5


# --- region bubbles -------------------------------------------------------------------------


def test_region_bubbles_stand_at_the_capitals_with_the_lists_region_totals(client, portfolio):
    collection = geojson(client, "/api/regions.geojson")
    assert_feature_collection(collection, "Point")
    regions = {f["properties"]["region"]: f for f in collection["features"]}
    assert set(regions) == {"ML-1", "ML-3", "ML-4", "ML-5", "ML-7"}
    kayes = region_capitals()["ML-1"]
    assert regions["ML-1"]["geometry"]["coordinates"] == [kayes.longitude, kayes.latitude]
    assert regions["ML-1"]["properties"]["capital"] == "Kayes"  # not Kita, the place
    committed = {code: f["properties"]["committed"] for code, f in regions.items()}
    assert committed == pytest.approx({"ML-1": 1_000_000, "ML-3": 655_957, "ML-4": 1_200_000,
                                       "ML-5": 5_000_000, "ML-7": 5_000_000})
    assert {code: f["properties"]["activities"] for code, f in regions.items()} == dict.fromkeys(
        regions, 1)
    gao = regions["ML-7"]["properties"]
    assert [a["identifier"] for a in gao["top"]] == [A4]
    assert gao["url"] == "/activites/?region=ML-7"


def test_region_bubbles_follow_the_filters(client, portfolio):
    regions = geojson(client, "/api/regions.geojson?partenaire=FR-3&region=ML-5")["features"]
    assert [f["properties"]["region"] for f in regions] == ["ML-5"]
    assert regions[0]["properties"]["url"] == "/activites/?partenaire=FR-3&region=ML-5"
    assert geojson(client, "/api/regions.geojson?statut=5")["features"] == []


# --- the page -------------------------------------------------------------------------------


def test_the_map_page_works_without_javascript_with_the_filters_and_a_list_of_results(
        client, portfolio):
    page = client.get("/carte/?groupe=gt-education")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in ("partenaire", "secteur", "region", "statut", "annee", "groupe"):
        assert f'name="{name}"' in html
    assert 'data-points-url="/api/activites.geojson?groupe=gt-education"' in html
    assert 'data-regions-url="/api/regions.geojson?groupe=gt-education"' in html
    assert "data-boundaries-url" not in html and "data-tile-url" not in html
    table = html.split('class="list money map-regions"', 1)[1].split("</table>", 1)[0]
    assert 'data-region="ML-1"' in table and 'data-region="ML-4"' in table
    assert 'data-region="ML-3"' not in table
    listing = html.split('class="activities map-activities"', 1)[1].split("</ul>", 1)[0]
    assert f'href="/activites/{A1}"' in listing and f'href="/activites/{A3}"' in listing
    assert f'href="/activites/{A2}"' not in listing
    assert "Carte des activités d’aide" in html


def test_the_map_page_loads_only_scripts_and_styles_of_the_portal(client, portfolio):
    html = client.get("/carte/").get_data(as_text=True)
    scripts = [part.split("</script>", 1)[0] for part in html.split("<script")[1:]]
    assert scripts and all('src="/' in s and s.rstrip().endswith(">") for s in scripts)
    assert '<script src="/carte/leaflet/leaflet.js?v=1.9.3" defer></script>' in html
    assert 'href="/carte/leaflet/leaflet.css?v=1.9.3"' in html
    assert "//unpkg" not in html and "cdn" not in html.lower()
    assert "img-src 'self' data:;" in client.get("/carte/").headers["Content-Security-Policy"]


def test_the_main_menu_and_the_activity_list_link_to_the_map(client, portfolio):
    home = client.get("/").get_data(as_text=True)
    menu = home.split('id="menu"', 1)[1].split("</nav>", 1)[0]
    assert 'href="/carte/"' in menu
    listing = client.get("/activites/?secteur=11220").get_data(as_text=True)
    assert 'href="/carte/?secteur=11220"' in listing


def test_leaflet_is_served_by_the_portal_from_the_xstatic_package(client):
    script = client.get("/carte/leaflet/leaflet.js")
    assert script.status_code == 200
    assert script.mimetype in ("text/javascript", "application/javascript")
    assert b"Leaflet 1.9.3" in script.data[:200]
    assert client.get("/carte/leaflet/leaflet.css").mimetype == "text/css"
    assert client.get("/carte/leaflet/images/layers.png").mimetype == "image/png"
    for missing in ("leaflet-src.js", "../__init__.py", "images/../../__init__.py", "x.js"):
        assert client.get(f"/carte/leaflet/{missing}").status_code == 404, missing


def test_mali_outline_is_served_for_a_map_without_tiles(client):
    outline = json.loads(client.get("/static/map/countries.geojson").data)
    assert_feature_collection(outline, "Polygon", "MultiPolygon")
    [mali] = [f for f in outline["features"] if f["properties"]["mali"]]
    rings = mali["geometry"]["coordinates"]
    points = [p for ring in (rings if mali["geometry"]["type"] == "Polygon"
                             else [r for poly in rings for r in poly]) for p in ring]
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    assert min(lons) == pytest.approx(-12.2, abs=0.2) and max(lons) == pytest.approx(4.2, abs=0.2)
    assert min(lats) == pytest.approx(10.2, abs=0.2) and max(lats) == pytest.approx(25.0, abs=0.2)


def test_a_tile_server_is_off_by_default_and_allowed_by_the_csp_once_configured(app, client):
    app.config.update(MAP_TILE_URL="https://{s}.tiles.example.org/{z}/{x}/{y}.png",
                      MAP_TILE_ATTRIBUTION="© Tiles & co")
    page = client.get("/carte/")
    html = page.get_data(as_text=True)
    assert 'data-tile-url="https://{s}.tiles.example.org/{z}/{x}/{y}.png"' in html
    assert 'data-tile-attribution="© Tiles &amp; co"' in html
    assert "img-src 'self' data: https://*.tiles.example.org;" in page.headers[
        "Content-Security-Policy"]
    revalidated = client.get("/carte/", headers={"If-None-Match": page.headers["ETag"]})
    assert revalidated.status_code == 304  # a browser keeps the 304's headers: same CSP
    assert "https://*.tiles.example.org" in revalidated.headers["Content-Security-Policy"]
    assert "tiles.example.org" not in client.get("/activites/").headers[
        "Content-Security-Policy"]
    app.config.update(MAP_TILE_URL="javascript:alert(1)//{z}")
    html = client.get("/carte/").get_data(as_text=True)
    assert "data-tile-url" not in html


@pytest.mark.parametrize(("url", "source"), [
    ("https://tile.example.org/{z}/{x}/{y}.png", "https://tile.example.org"),
    ("http://{s}.tile.example.org:8080/{z}/{x}/{y}.png", "http://*.tile.example.org:8080"),
    ("//tile.example.org/{z}/{x}/{y}.png", ""),
    ("https://{s}.example.org'; script-src *;/{z}", ""),
    ("data:image/png;base64,AAAA", ""),
])
def test_only_an_http_tile_url_gives_a_csp_source(url, source):
    assert tile_source(url) == source


# --- boundaries and the choropleth ----------------------------------------------------------


def square(lon: float, lat: float, size: float = 0.5) -> list[list[list[float]]]:
    """A closed square polygon ring around (lon, lat)."""
    return [[[lon - size, lat - size], [lon + size, lat - size], [lon + size, lat + size],
             [lon - size, lat + size], [lon - size, lat - size]]]


def region_file(**overrides: Any) -> dict[str, Any]:
    """A boundaries FeatureCollection: one square per region at its capital, named by
    ISO code, French name or the capital's English name."""
    properties = {"ML-1": {"code": "ML-1"}, "ML-4": {"ADM1_FR": "Ségou"},
                  "ML-6": {"shapeName": "Timbuktu"}, "ML-7": {"region": "gao", "pop": 12},
                  "ML-BKO": {"NAME": "District de Bamako"}}
    features = []
    for code, props in properties.items():
        capital = region_capitals()[code]
        features.append({"type": "Feature", "properties": props, "geometry": {
            "type": "Polygon", "coordinates": square(capital.longitude, capital.latitude,
                                                     0.1 if code == "ML-BKO" else 0.5)}})
    return {"type": "FeatureCollection", "features": features, **overrides}


def upload(client, content: bytes | dict[str, Any], filename: str = "limites.geojson"):
    """POST a boundaries file as the signed-in client."""
    data = json.dumps(content).encode() if isinstance(content, dict) else content
    return client.post("/admin/carte/limites", data={"file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def stored(app) -> Path:
    return Path(app.instance_path) / "map" / "boundaries.geojson"


@pytest.fixture
def admin(client, auth, make_user):
    """The client, signed in as an administrator."""
    auth.login(make_user("admin"))
    return client


def test_an_administrator_uploads_region_boundaries_and_the_map_gets_its_choropleth(
        app, admin, portfolio):
    response = upload(admin, region_file())
    assert response.status_code == 302
    assert stored(app).is_file()
    assert not list(stored(app).parent.glob("*.tmp"))
    assert "5 entités sur 5 régions" in admin.get(response.headers["Location"]).get_data(
        as_text=True)
    admin.post("/deconnexion")
    assert 'data-boundaries-url="/api/limites.geojson"' in admin.get("/carte/").get_data(
        as_text=True)
    collection = geojson(admin, "/api/limites.geojson")
    assert_feature_collection(collection, "Polygon")
    assert collection["properties"] == {"level": "region"}
    regions = {f["properties"]["region"]: f["properties"] for f in collection["features"]}
    assert set(regions) == {"ML-1", "ML-4", "ML-6", "ML-7", "ML-BKO"}
    assert regions["ML-6"]["name"] == "Timbuktu"
    assert {code: p["committed"] for code, p in regions.items()} == pytest.approx(
        {"ML-1": 1_000_000, "ML-4": 1_200_000, "ML-6": 0, "ML-7": 5_000_000, "ML-BKO": 0})
    assert regions["ML-7"]["activities"] == 1 and regions["ML-6"]["activities"] == 0
    filtered = geojson(admin, "/api/limites.geojson?partenaire=FR-3")
    assert {f["properties"]["region"]: f["properties"]["committed"]
            for f in filtered["features"]}["ML-4"] == 0


def test_a_cercle_file_is_stored_as_cercles_coloured_by_their_region(app, admin, portfolio):
    niono, markala = town_named("Niono"), town_named("Markala")
    cercles = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"ADM2_FR": "Niono", "ADM1_FR": "Ségou"},
         "geometry": {"type": "MultiPolygon",
                      "coordinates": [square(niono.longitude, niono.latitude, 0.2)]}},
        {"type": "Feature", "properties": {"cercle": "Markala"},  # region from the town
         "geometry": {"type": "Polygon",
                      "coordinates": square(markala.longitude, markala.latitude, 0.2)}}]}
    assert upload(admin, cercles).status_code == 302
    collection = geojson(admin, "/api/limites.geojson")
    assert collection["properties"] == {"level": "cercle"}
    assert [(f["properties"]["name"], f["properties"]["region"], f["properties"]["committed"])
            for f in collection["features"]] == [("Niono", "ML-4", pytest.approx(1_200_000)),
                                                 ("Markala", "ML-4", pytest.approx(1_200_000))]


def _with_feature(**feature: Any) -> dict[str, Any]:
    document = region_file()
    document["features"][1] = {"type": "Feature", **feature}
    return document


BAD_UPLOADS = [
    ("not JSON", b'{"type": "FeatureCollection", "features": [', "n’est pas du JSON valide "
     "(ligne 1, colonne 44)"),
    ("NaN", b'{"type": "FeatureCollection", "features": [], "x": NaN}',
     "n’est pas du JSON valide"),
    ("deep nesting", b"[" * 200_000, "n’est pas du JSON valide"),
    ("Latin-1", "{\"name\": \"Ségou\"}".encode("latin-1"), "n’est pas un texte UTF-8"),
    ("a list", b"[1, 2]", "n’est pas une FeatureCollection GeoJSON"),
    ("a Feature", json.dumps({"type": "Feature"}).encode(),
     "n’est pas une FeatureCollection GeoJSON"),
    ("no feature", {"type": "FeatureCollection", "features": []}, "aucune entité"),
    ("a point", _with_feature(properties={"code": "ML-4"},
                              geometry={"type": "Point", "coordinates": [-6.26, 13.44]}),
     "L’entité 2 est de type Point : seuls des polygones"),
    ("no geometry", _with_feature(properties={"code": "ML-4"}, geometry=None),
     "L’entité 2 est de type entité sans géométrie"),
    ("latitude first", _with_feature(properties={"code": "ML-4"}, geometry={
        "type": "Polygon", "coordinates": [[[13.0, -6.0], [14.0, -6.0], [14.0, -7.0],
                                            [13.0, -6.0]]]}),
     "Entité 2 : le point [13.0, -6.0] est hors du Mali"),
    ("open ring", _with_feature(properties={"code": "ML-4"}, geometry={
        "type": "Polygon", "coordinates": [[[-6.0, 13.0], [-5.0, 13.0], [-5.0, 14.0],
                                            [-6.0, 14.0]]]}),
     "Entité 2 : un contour de polygone n’est pas fermé"),
    ("a string coordinate", _with_feature(properties={"code": "ML-4"}, geometry={
        "type": "Polygon", "coordinates": [[["-6", 13.0], [-5.0, 13.0], [-5.0, 14.0],
                                            ["-6", 13.0]]]}),
     "Entité 2 : une position n’est pas de la forme [longitude, latitude]"),
    ("unknown regions", _with_feature(properties={"name": "Atlantis"},
                                      geometry={"type": "Polygon",
                                                "coordinates": square(-6.0, 13.5)}),
     "Aucune région du Mali trouvée pour l’entité ou les entités 2 (Atlantis)"),
    ("a projected CRS", region_file(crs={"type": "name", "properties": {
        "name": "urn:ogc:def:crs:EPSG::32630"}}), "autre système de coordonnées"),
]


@pytest.mark.parametrize(("content", "message"), [(c, m) for _, c, m in BAD_UPLOADS],
                         ids=[name for name, _, _ in BAD_UPLOADS])
def test_a_bad_boundaries_file_is_refused_in_french_and_nothing_is_stored(
        app, admin, content, message):
    response = upload(admin, content)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert not stored(app).parent.exists() or not any(stored(app).parent.iterdir())
    assert geojson(admin, "/api/limites.geojson")["features"] == []


def test_a_file_over_the_size_limit_is_refused_and_the_stored_boundaries_stay(app, admin):
    assert upload(admin, region_file()).status_code == 302
    before = stored(app).read_bytes()
    app.config["MAP_BOUNDARIES_MAX_MB"] = 1
    big = region_file(padding="x" * (1024 * 1024))
    response = upload(admin, big)
    assert response.status_code == 200
    assert "Le fichier dépasse 1 Mo." in response.get_data(as_text=True)
    assert stored(app).read_bytes() == before
    assert [p.name for p in stored(app).parent.iterdir()] == ["boundaries.geojson"]


def test_removing_the_boundaries_brings_back_the_plain_map(app, admin, portfolio):
    assert upload(admin, region_file()).status_code == 302
    before = admin.get("/api/limites.geojson")
    response = admin.post("/admin/carte/limites/supprimer")
    assert response.status_code == 302
    assert not stored(app).exists()
    admin.post("/deconnexion")
    assert "data-boundaries-url" not in admin.get("/carte/").get_data(as_text=True)
    after = admin.get("/api/limites.geojson", headers={"If-None-Match": before.headers.get(
        "ETag", "")})
    assert after.status_code == 200 and json.loads(after.data)["features"] == []


def test_an_upload_changes_the_cached_maps_etag(app, client, auth, make_user, portfolio):
    first = client.get("/api/limites.geojson")
    auth.login(make_user("admin"))
    assert upload(client, region_file()).status_code == 302
    client.post("/deconnexion")
    again = client.get("/api/limites.geojson", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200
    assert len(json.loads(again.data)["features"]) == 5


def test_only_administrators_may_upload_boundaries(app, client, auth, make_user):
    auth.login(make_user("focal", "gt-sante"))
    assert upload(client, region_file()).status_code == 403
    assert not stored(app).exists()
