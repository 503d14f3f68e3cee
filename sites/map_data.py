"""What the map shows, as GeoJSON: activity locations, region bubbles and the choropleth.

Everything follows the activity list's filters (`sites.activities.Filters`), so the map and the
list always show the same activities. Coordinates are WGS84 in GeoJSON's [longitude, latitude]
order. A location with no point is placed from its GeoNames id, else by geocoding its name
(`iati.geo`); a region's bubble stands at its capital. Amounts are in CFA francs (XOF) at the
list's fixed rates; a region's amounts are the list's "By region" totals (an activity's money
shared equally among its regions).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import url_for
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from iati.geo import Place, geocode, region_capitals, regions, towns
from sites.activities import (
    COMMITMENT,
    DISBURSEMENT,
    STATUSES,
    Filters,
    _xof_value,
    code_name,
    totals,
    xof,
)
from sites.boundaries import load as load_boundaries
from sites.extensions import db
from sites.models import IatiActivity, IatiLocation, IatiTransaction

TOP_PER_REGION = 10  # activities named in a region's popup


def collection(features: list[dict[str, Any]], **members: Any) -> dict[str, Any]:
    """A GeoJSON FeatureCollection (extra top-level members allowed by RFC 7946)."""
    return {"type": "FeatureCollection", **members, "features": features}


def _point_feature(lon: float, lat: float, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point",
                                            "coordinates": [round(lon, 6), round(lat, 6)]},
            "properties": properties}


def money(filters: Filters) -> dict[int, tuple[float, float]]:
    """activity id -> (commitments, disbursements) in XOF, over the filtered activities."""
    ids = filters.apply(select(IatiActivity.id))
    rows = db.session.execute(
        select(IatiTransaction.activity_id, IatiTransaction.type, func.sum(_xof_value()))
        .join(IatiActivity, IatiActivity.id == IatiTransaction.activity_id)
        .where(IatiTransaction.activity_id.in_(ids),
               IatiTransaction.type.in_((COMMITMENT, DISBURSEMENT)))
        .group_by(IatiTransaction.activity_id, IatiTransaction.type)).all()
    found: dict[int, list[float]] = {}
    for activity_id, kind, amount in rows:
        found.setdefault(activity_id, [0.0, 0.0])[kind == DISBURSEMENT] += float(amount or 0)
    return {key: (value[0], value[1]) for key, value in found.items()}


# --- one feature per location -----------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """Where a location is drawn, its region, and where the point came from."""

    longitude: float
    latitude: float
    region: str
    source: str  # "stored" (the location's own point), "geonames" (its id), "geocoded" (name)


def locate(location: IatiLocation) -> Point | None:
    """The point of a stored location: its own, its GeoNames town's, or its geocoded name's."""
    if location.latitude is not None and location.longitude is not None and (
            -90 <= location.latitude <= 90 and -180 <= location.longitude <= 180):
        return Point(location.longitude, location.latitude, location.region, "stored")
    town = towns().get(location.geonames_id) if location.geonames_id else None
    if town is not None:
        return Point(town.longitude, town.latitude, location.region or town.region, "geonames")
    for name in (location.name_fr, location.name_en):
        place: Place | None = geocode(name) if name else None
        if place is not None:
            return Point(place.longitude, place.latitude, location.region or place.region,
                         "geocoded")
    return None


def _activities(filters: Filters) -> Iterator[IatiActivity]:
    query = filters.apply(select(IatiActivity)).options(
        selectinload(IatiActivity.participating_orgs), selectinload(IatiActivity.sectors),
        selectinload(IatiActivity.locations), selectinload(IatiActivity.group)).order_by(
        IatiActivity.identifier)
    yield from db.session.scalars(query)


def activity_features(filters: Filters, lang: str) -> dict[str, Any]:
    """One Point feature per located place of each filtered activity."""
    amounts = money(filters)
    features = []
    for activity in _activities(filters):
        committed, disbursed = amounts.get(activity.id, (0.0, 0.0))
        common = {
            "identifier": activity.identifier,
            "title": activity.title(lang),
            "partner": ", ".join(dict.fromkeys(
                p.name(lang) for p in activity.participating_orgs if p.role == "1")),
            "sector": "; ".join(
                f"{s.code} – {code_name('Sector', s.code, lang) or s.code}"
                for s in activity.sectors if s.vocabulary in ("1", "2")),
            "sector_codes": [s.code for s in activity.sectors if s.vocabulary in ("1", "2")],
            "status": activity.status,
            "status_label": str(STATUSES.get(activity.status, activity.status)),
            "group": activity.group.slug if activity.group else "",
            "committed": round(committed, 2),
            "disbursed": round(disbursed, 2),
            "currency": "XOF",
            "committed_label": xof(committed),
            "url": url_for("activities.show", identifier=activity.identifier),
        }
        for location in activity.locations:
            point = locate(location)
            if point is None or (filters.region and point.region != filters.region):
                continue
            features.append(_point_feature(point.longitude, point.latitude, {
                **common,
                "place": location.name(lang) or "",
                "region": point.region,
                "region_name": regions().get(point.region, ""),
                "exactness": location.exactness,
                "geonames_id": location.geonames_id,
                "point_source": point.source,
            }))
    return collection(features)


# --- one figure per region ------------------------------------------------------------------


@dataclass
class RegionSummary:
    """A region's activities and money under the filters."""

    code: str
    name: str
    activities: int
    committed: float
    disbursed: float
    top: list[dict[str, Any]]


def region_summaries(filters: Filters, lang: str) -> list[RegionSummary]:
    """The regions where filtered activities take place, in the standard's order."""
    ids = filters.apply(select(IatiActivity.id))
    pairs = db.session.execute(
        select(IatiLocation.region, IatiLocation.activity_id)
        .where(IatiLocation.activity_id.in_(ids), IatiLocation.region != "").distinct()).all()
    if filters.region:
        pairs = [(region, activity) for region, activity in pairs if region == filters.region]
    by_region: dict[str, set[int]] = {}
    for region, activity_id in pairs:
        by_region.setdefault(region, set()).add(activity_id)
    money_by_region = {t.key: t for t in totals(filters, lang)["region"]}
    amounts = money(filters)
    named = {row.id: row for row in db.session.execute(
        select(IatiActivity.id, IatiActivity.identifier, IatiActivity.title_fr,
               IatiActivity.title_en).where(IatiActivity.id.in_(ids)))}
    summaries = []
    for code, name in regions().items():
        members = by_region.get(code)
        if not members:
            continue
        ranked = sorted(members, key=lambda i: (-amounts.get(i, (0.0, 0.0))[0],
                                                named[i].identifier))
        top = []
        for activity_id in ranked[:TOP_PER_REGION]:
            row = named[activity_id]
            title = (row.title_en or row.title_fr) if lang == "en" else (
                row.title_fr or row.title_en)
            top.append({"identifier": row.identifier, "title": title or row.identifier,
                        "url": url_for("activities.show", identifier=row.identifier)})
        figures = money_by_region.get(code)
        summaries.append(RegionSummary(
            code, name, len(members), figures.commitments if figures else 0.0,
            figures.disbursements if figures else 0.0, top))
    return summaries


def _region_properties(summary: RegionSummary | None, code: str, filters: Filters
                       ) -> dict[str, Any]:
    committed = summary.committed if summary else 0.0
    return {
        "region": code,
        "region_name": regions().get(code, ""),
        "activities": summary.activities if summary else 0,
        "committed": round(committed, 2),
        "disbursed": round(summary.disbursed if summary else 0.0, 2),
        "currency": "XOF",
        "committed_label": xof(committed),
        "url": url_for("activities.index", **{**filters.args(), "region": code}),
    }


def region_features(filters: Filters, lang: str) -> dict[str, Any]:
    """One Point feature per region with activities, at the region's capital."""
    capitals = region_capitals()
    features = []
    for summary in region_summaries(filters, lang):
        capital = capitals.get(summary.code)
        if capital is None:
            continue
        features.append(_point_feature(capital.longitude, capital.latitude, {
            **_region_properties(summary, summary.code, filters), "capital": capital.name,
            "top": summary.top}))
    return collection(features)


def boundary_features(filters: Filters, lang: str) -> dict[str, Any]:
    """The uploaded boundaries with each region's figures (the choropleth's data); an empty
    collection when no boundaries were uploaded."""
    stored = load_boundaries()
    if stored is None:
        return collection([])
    summaries = {s.code: s for s in region_summaries(filters, lang)}
    features = []
    for feature in stored.features:
        code = feature["properties"]["region"]
        features.append({"type": "Feature", "geometry": feature["geometry"], "properties": {
            **_region_properties(summaries.get(code), code, filters),
            "name": feature["properties"].get("name") or regions().get(code, "")}})
    return collection(features, properties={"level": stored.level})
