"""The map of aid activities (/carte/), its GeoJSON API, and Leaflet served by the portal.

The page works without JavaScript (the filters form and a list of results); with it, Leaflet
(PyPI xstatic-leaflet, served from /carte/leaflet/, never from a CDN) draws Mali's outline,
region bubbles, points and, when an administrator uploaded boundaries, a choropleth. No tile
layer is needed; a tile server is optional configuration (PTFOPS_MAP_TILE_URL).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import xstatic.pkg.leaflet as leaflet_package
from flask import Blueprint, Response, abort, current_app, render_template, request
from flask import send_from_directory as send_file_from
from flask_babel import get_locale
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from iati.geo import regions
from sites.activities import Filters, _choices, xof
from sites.boundaries import load as load_boundaries
from sites.cache import public_page
from sites.map_data import (
    activity_features,
    boundary_features,
    region_features,
    region_summaries,
)
from sites.models import IatiActivity
from sites.pagination import paginate
from sites.security import CSP

bp = Blueprint("activity_map", __name__)

LEAFLET_VERSION = leaflet_package.VERSION
LEAFLET_FILES = frozenset({"leaflet.js", "leaflet.css", "images/layers.png",
                           "images/layers-2x.png", "images/marker-icon.png",
                           "images/marker-icon-2x.png", "images/marker-shadow.png"})
LEAFLET_MAX_AGE = 7 * 24 * 3600  # the URLs carry Leaflet's version


def _lang() -> str:
    return str(get_locale() or "fr")


def tile_source(url: str) -> str:
    """The CSP source of a tile URL template: its scheme and host, a `{s}.` sub-domain as a
    wildcard ("" when the URL is not a usable http(s) template)."""
    parts = urlsplit(url)
    host = parts.netloc
    if host.startswith("{s}."):
        host = "*." + host[4:]
    if parts.scheme not in ("http", "https") or not host or any(c in host for c in "{}'; "):
        return ""
    return f"{parts.scheme}://{host}"


def _geojson(document: dict[str, Any]) -> Response:
    return Response(json.dumps(document, ensure_ascii=False, separators=(",", ":")),
                    mimetype="application/geo+json")


@bp.get("/carte/")
@public_page
def index():
    """The map, its filters and, below it, the regions and activities it shows."""
    lang = _lang()
    filters = Filters.from_args(request.args)
    paged = paginate(filters.apply(select(IatiActivity)).options(
        selectinload(IatiActivity.locations), selectinload(IatiActivity.participating_orgs))
        .order_by(IatiActivity.start_date.desc(), IatiActivity.identifier))
    tile_url = current_app.config["MAP_TILE_URL"]
    source = tile_source(tile_url) if tile_url else ""
    return render_template(
        "map/index.html", filters=filters, choices=_choices(lang), paged=paged,
        summaries=region_summaries(filters, lang), has_boundaries=load_boundaries() is not None,
        tile_url=tile_url if source else "", xof=xof, REGIONS=regions(), ui_lang=lang,
        tile_attribution=current_app.config["MAP_TILE_ATTRIBUTION"],
        leaflet_version=LEAFLET_VERSION)


@bp.after_request
def _allow_tiles(response: Response) -> Response:
    """On the map page (a 304 included, whose headers a browser keeps), let images come from
    the configured tile server: the one other host the page may load from."""
    tile_url = current_app.config["MAP_TILE_URL"]
    source = tile_source(tile_url) if tile_url else ""
    if source and request.endpoint == "activity_map.index":
        response.headers["Content-Security-Policy"] = CSP.replace(
            "img-src 'self' data:", f"img-src 'self' data: {source}")
    return response


@bp.get("/carte/leaflet/<path:filename>")
def leaflet(filename: str):
    """Leaflet's script, style sheet and images, from the xstatic-leaflet package."""
    if filename not in LEAFLET_FILES:
        abort(404)
    return send_file_from(leaflet_package.BASE_DIR, filename, max_age=LEAFLET_MAX_AGE)


@bp.get("/api/activites.geojson")
@public_page
def activities_geojson():
    """The filtered activities' places: one Point feature per location."""
    return _geojson(activity_features(Filters.from_args(request.args), _lang()))


@bp.get("/api/regions.geojson")
@public_page
def regions_geojson():
    """One Point feature per region with filtered activities, at the region's capital."""
    return _geojson(region_features(Filters.from_args(request.args), _lang()))


@bp.get("/api/limites.geojson")
@public_page
def boundaries_geojson():
    """The uploaded boundaries with each region's filtered amounts (the choropleth)."""
    return _geojson(boundary_features(Filters.from_args(request.args), _lang()))
