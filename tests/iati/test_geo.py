"""Mali's geography: ISO 3166-2:ML regions, GeoNames towns, and geocoding of place names."""

from __future__ import annotations

import pytest

from iati import geo

#: GeoNames ids and admin1 codes of region capitals, as published by GeoNames.
SEGOU, BAMAKO, TIMBUKTU, MENAKA = "2451478", "2460596", "2449067", "2453514"


def test_the_eleven_regions_come_from_iso_3166_2_in_the_standards_order():
    assert list(geo.regions()) == [f"ML-{n}" for n in range(1, 11)] + ["ML-BKO"]
    assert geo.regions()["ML-4"] == "Ségou"
    assert geo.regions()["ML-9"] == "Ménaka"


def test_geonames_admin1_codes_are_matched_to_iso_regions_through_the_capitals_names():
    assert geo.admin1_regions() == {
        "01": "ML-BKO", "03": "ML-1", "07": "ML-2", "06": "ML-3", "05": "ML-4", "04": "ML-5",
        "08": "ML-6", "09": "ML-7", "10": "ML-8", "12070577": "ML-9", "12070575": "ML-10"}


def test_every_town_has_a_region_and_every_region_a_capital():
    towns = geo.towns()
    assert len(towns) >= 90
    assert all(town.region in geo.regions() for town in towns.values())
    capitals = geo.region_capitals()
    assert set(capitals) == set(geo.regions())
    assert capitals["ML-6"].geonames_id == TIMBUKTU
    assert capitals["ML-BKO"].geonames_id == BAMAKO


def test_a_known_town_has_its_geonames_id_coordinates_and_region():
    segou = geo.towns()[SEGOU]
    assert segou.name == "Ségou"
    assert segou.region == "ML-4"
    assert segou.latitude == pytest.approx(13.44, abs=0.01)
    assert segou.longitude == pytest.approx(-6.26, abs=0.01)


@pytest.mark.parametrize("name", ["Ségou", "segou", "SEGOU", "  Ségou ", "Ségou,", "Segu"])
def test_geocoding_ignores_accents_case_spaces_and_finds_alternate_names(name):
    place = geo.geocode(name)
    assert place is not None
    assert (place.geonames_id, place.region, place.kind) == (SEGOU, "ML-4", "town")


@pytest.mark.parametrize(("name", "geonames_id", "region"), [
    ("Cercle de Kita", "2455216", "ML-1"),
    ("commune urbaine de Ménaka", MENAKA, "ML-9"),
    ("Tombouctou", TIMBUKTU, "ML-6"),
    ("Timbuktu", TIMBUKTU, "ML-6"),
    ("Djenne", "2458589", "ML-5"),
])
def test_geocoding_finds_towns_under_their_french_or_english_names_and_level_words(
        name, geonames_id, region):
    place = geo.geocode(name)
    assert place is not None and place.kind == "town"
    assert (place.geonames_id, place.region) == (geonames_id, region)


@pytest.mark.parametrize(("name", "region"), [
    ("Région de Mopti", "ML-5"), ("region de segou", "ML-4"), ("Timbuktu region", "ML-6"),
    ("District de Bamako", "ML-BKO"), ("ML-10", "ML-10"), ("ml9", "ML-9")])
def test_a_region_name_or_code_is_geocoded_to_the_regions_capital(name, region):
    place = geo.geocode(name)
    assert place is not None
    assert (place.kind, place.region) == ("region", region)
    capital = geo.region_capitals()[region]
    assert (place.latitude, place.longitude) == (capital.latitude, capital.longitude)
    assert place.name == geo.regions()[region]


@pytest.mark.parametrize("name", ["", "   ", "Atlantis", "Paris", "ML-11", "ML-0"])
def test_an_unknown_place_is_not_geocoded(name):
    assert geo.geocode(name) is None


@pytest.mark.parametrize(("text", "code"), [
    ("ML-4", "ML-4"), ("ml-bko", "ML-BKO"), ("Ségou", "ML-4"), ("TOMBOUCTOU", "ML-6"),
    ("Taoudénit", "ML-10"), ("Taoudenni", "ML-10"), ("Région de Kayes", "ML-1"),
    ("Kita", ""), ("ML-12", ""), ("", "")])
def test_region_code_reads_iso_codes_and_region_names_only(text, code):
    assert geo.region_code(text) == code


def test_names_are_folded_to_plain_lowercase_words_for_matching():
    assert geo.normalize("  Ségou-Koura (MALI) ") == "segou koura mali"
    assert geo.normalize("Niafunké_Ville") == "niafunke ville"
    assert geo.normalize("Kalabancoro’s") == "kalabancoro s"
