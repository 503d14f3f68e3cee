"""Administrative boundaries for the map: an uploaded GeoJSON of Mali's regions or cercles.

An administrator uploads the file (`sites/admin/map_boundaries.py`); it is checked here (JSON,
a FeatureCollection of polygons in WGS84 longitude/latitude over Mali, each feature naming its
region by an ISO 3166-2:ML code or a region name), reduced to what the map needs and kept in
the instance folder as `map/boundaries.geojson`, written to a temporary file then renamed so a
reader never sees half a file. Nothing is stored when a check fails.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from flask import current_app
from flask_babel import gettext as _

from iati.geo import find_town, normalize, region_code, regions
from sites.models.base import utcnow

FILENAME = "boundaries.geojson"
#: Mali with a margin (lon, lat): coordinates outside are another projection or swapped axes.
MALI_BOUNDS = (-13.0, 9.0, 5.0, 26.0)
DECIMALS = 5  # about one metre: plenty for a region's outline
MAX_REPORTED = 5  # features named in one error message
#: Property names that usually carry a region (checked first), then those naming the feature.
REGION_KEYS = ("adm1", "admin1", "region", "iso", "code")
NAME_KEYS = ("adm2_fr", "adm2_en", "adm2", "cercle", "name_2", "nom", "name", "shapename",
             "admin2name", "adm1_fr", "adm1_en", "name_1")


class BoundaryError(Exception):
    """The uploaded file cannot be used; the message (in the UI language) says why."""


@dataclass
class Boundaries:
    """What is stored: the features (region code, names, geometry) and a summary."""

    collection: dict[str, Any]

    @property
    def features(self) -> list[dict[str, Any]]:
        """The stored features."""
        return self.collection["features"]

    @property
    def level(self) -> str:
        """"region" (one feature per region) or "cercle" (several per region)."""
        return self.collection["properties"]["level"]

    @property
    def region_codes(self) -> list[str]:
        """The regions the file covers, in the standard's order."""
        found = {f["properties"]["region"] for f in self.features}
        return [code for code in regions() if code in found]


def max_bytes() -> int:
    """The largest boundaries file accepted (PTFOPS_MAP_BOUNDARIES_MAX_MB)."""
    return int(current_app.config["MAP_BOUNDARIES_MAX_MB"]) * 1024 * 1024


def path() -> Path:
    """Where the boundaries are kept: the instance folder's map/boundaries.geojson."""
    return Path(current_app.instance_path) / "map" / FILENAME


# --- reading and checking an upload ---------------------------------------------------------


def read_upload(stream: IO[bytes], limit: int) -> dict[str, Any]:
    """The JSON object of an upload of at most `limit` bytes (BoundaryError otherwise)."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise BoundaryError(_("The file is larger than %(size)s MB.",
                              size=limit // (1024 * 1024) or 1))
    if not data.strip():
        raise BoundaryError(_("The file is empty."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BoundaryError(_("The file is not UTF-8 text (byte %(pos)s).",
                              pos=exc.start + 1)) from exc
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise BoundaryError(_("The file is not valid JSON (line %(line)s, column %(col)s).",
                              line=exc.lineno, col=exc.colno)) from exc
    except (ValueError, RecursionError) as exc:
        raise BoundaryError(_("The file is not valid JSON.")) from exc
    if not isinstance(document, dict):
        raise BoundaryError(_("The file is not a GeoJSON FeatureCollection."))
    return document


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number in GeoJSON")


def _position(value: Any) -> tuple[float, float] | None:
    """(lon, lat) of a GeoJSON position, or None when it is not one."""
    if not isinstance(value, list) or not 2 <= len(value) <= 3:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
               for v in value):
        return None
    return float(value[0]), float(value[1])


def _ring(value: Any, number: int) -> list[list[float]]:
    """A closed linear ring, rounded; BoundaryError when it is not one."""
    if not isinstance(value, list) or len(value) < 4:
        raise BoundaryError(_("Feature %(num)s: a polygon ring needs at least 4 positions.",
                              num=number))
    ring = []
    west, south, east, north = MALI_BOUNDS
    for item in value:
        position = _position(item)
        if position is None:
            raise BoundaryError(_("Feature %(num)s: a position is not [longitude, latitude].",
                                  num=number))
        lon, lat = position
        if not (west <= lon <= east and south <= lat <= north):
            raise BoundaryError(_(
                "Feature %(num)s: the point [%(lon)s, %(lat)s] is outside Mali. The file must "
                "be in WGS84 longitude/latitude (EPSG:4326), longitude first.",
                num=number, lon=round(lon, 4), lat=round(lat, 4)))
        ring.append([round(lon, DECIMALS), round(lat, DECIMALS)])
    if ring[0] != ring[-1]:
        raise BoundaryError(_("Feature %(num)s: a polygon ring is not closed.", num=number))
    return ring


def _geometry(geometry: Any, number: int) -> dict[str, Any]:
    """A Polygon or MultiPolygon, checked and rounded."""
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if kind not in ("Polygon", "MultiPolygon"):
        raise BoundaryError(_("Feature %(num)s is a %(kind)s: only polygons (Polygon, "
                              "MultiPolygon) can be region or cercle boundaries.",
                              num=number, kind=kind or _("feature without geometry")))
    polygons = [coordinates] if kind == "Polygon" else coordinates
    if not isinstance(polygons, list) or not polygons or not all(
            isinstance(p, list) and p for p in polygons):
        raise BoundaryError(_("Feature %(num)s: the coordinates of the %(kind)s are not valid.",
                              num=number, kind=kind))
    rounded = [[_ring(ring, number) for ring in polygon] for polygon in polygons]
    return {"type": kind, "coordinates": rounded[0] if kind == "Polygon" else rounded}


def _strings(properties: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    """String values of the properties whose name contains one of `keys`, in `keys` order."""
    found = []
    for key in keys:
        for name, value in properties.items():
            if key in normalize(str(name)).replace(" ", "_") and isinstance(value, str | int):
                found.append(str(value))
    return found


def _region_of(properties: dict[str, Any]) -> str:
    """The region a feature's properties name: a likely region property first, then any
    property, then (for cercles named after their main town) the town's region."""
    candidates = _strings(properties, REGION_KEYS) + [
        str(v) for v in properties.values() if isinstance(v, str)]
    for value in candidates:
        code = region_code(value)
        if code:
            return code
    for value in _strings(properties, NAME_KEYS):
        town = find_town(value)
        if town is not None and town.region:
            return town.region
    return ""


def _label(properties: dict[str, Any]) -> str:
    names = _strings(properties, NAME_KEYS)
    return names[0][:200] if names else ""


def check(document: dict[str, Any], filename: str = "") -> Boundaries:
    """The boundaries a parsed GeoJSON document holds (BoundaryError when unusable)."""
    if document.get("type") != "FeatureCollection" or not isinstance(
            document.get("features"), list):
        raise BoundaryError(_("The file is not a GeoJSON FeatureCollection."))
    crs = document.get("crs")
    if crs is not None and "4326" not in json.dumps(crs) and "CRS84" not in json.dumps(crs):
        raise BoundaryError(_("The file uses another coordinate system: export it in WGS84 "
                              "longitude/latitude (EPSG:4326)."))
    if not document["features"]:
        raise BoundaryError(_("The file has no feature."))
    features, unknown = [], []
    for number, feature in enumerate(document["features"], start=1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise BoundaryError(_("Feature %(num)s is not a GeoJSON Feature.", num=number))
        geometry = _geometry(feature.get("geometry"), number)
        properties = feature.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        code = _region_of(properties)
        if not code:
            unknown.append(f"{number} ({_label(properties) or '—'})")
            continue
        features.append({"type": "Feature", "geometry": geometry, "properties": {
            "region": code, "region_name": regions()[code],
            "name": _label(properties) or regions()[code]}})
    if unknown:
        more = len(unknown) - MAX_REPORTED
        listed = ", ".join(unknown[:MAX_REPORTED]) + (f" (+{more})" if more > 0 else "")
        raise BoundaryError(_(
            "No Mali region found for feature(s) %(features)s: each feature needs a property "
            "with an ISO 3166-2:ML code (ML-1 … ML-10, ML-BKO) or a region name.",
            features=listed))
    codes = [f["properties"]["region"] for f in features]
    level = "cercle" if len(set(codes)) < len(codes) else "region"
    return Boundaries({"type": "FeatureCollection", "properties": {
        "level": level, "filename": filename[:200], "uploaded_at": utcnow().isoformat(
            timespec="seconds"), "regions": len(set(codes))}, "features": features})


# --- storing and loading --------------------------------------------------------------------


def store(boundaries: Boundaries) -> Path:
    """Write the boundaries to the instance folder (temporary file, then rename)."""
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".boundaries-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(boundaries.collection, out, ensure_ascii=False, separators=(",", ":"))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def remove() -> bool:
    """Delete the stored boundaries; whether there were any."""
    try:
        path().unlink()
    except FileNotFoundError:
        return False
    return True


def load() -> Boundaries | None:
    """The stored boundaries, or None when there are none (or the file is unreadable)."""
    try:
        with path().open(encoding="utf-8") as stored:
            collection = json.load(stored)
    except (OSError, ValueError):
        return None
    if not isinstance(collection, dict) or not isinstance(collection.get("features"), list):
        return None
    return Boundaries(collection)
