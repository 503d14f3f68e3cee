"""The activity pages: filters that really filter, totals that add up, one activity's page."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from iati.model import Location, ParticipatingOrg, Sector
from sites.iati_mapping import town_named
from tests.test_iati_files import make_activity, store

A1, A2, A3, A4 = ("XM-PTF-MALI-AFD-EDU-1", "XM-PTF-MALI-UNICEF-SAN-2", "XM-PTF-MALI-BM-EDU-3",
                  "XM-PTF-MALI-EAU-4")
EUR, USD = Decimal("655.957"), Decimal("600")


def _place(town: str) -> Location:
    found = town_named(town)
    return Location(name={"fr": found.name}, latitude=found.latitude, longitude=found.longitude,
                    location_ids=[("G1", found.geonames_id)])


@pytest.fixture
def portfolio(app):
    """Four activities whose amounts, places, sectors and partners are known."""
    shared = make_activity(A4, "gt-eau-assainissement", ("FR-3", "AFD"), "14031", "Ségou",
                           start=date(2023, 1, 1), end=date(2026, 12, 31),
                           commitment="10000000", disbursement="5000000", paid=date(2025, 3, 1))
    shared.participating_orgs.insert(1, ParticipatingOrg("XM-DAC-7", "10", {"fr": "Pays-Bas"},
                                                         role="1"))
    shared.sectors = [Sector("14031", "1", Decimal(60)), Sector("14032", "1", Decimal(40))]
    shared.locations.append(_place("Gao"))
    store(app,
          make_activity(A1, "gt-education", ("FR-3", "AFD"), "11220", "Kita",
                        start=date(2022, 1, 1), end=date(2025, 12, 31), commitment="1000000",
                        disbursement="400000", paid=date(2023, 5, 1)),
          make_activity(A2, "gt-sante", ("XM-DAC-41122", "UNICEF"), "12220", "Sikasso",
                        status="3", start=date(2019, 1, 1), end=date(2021, 6, 30),
                        commitment="1000", disbursement="1000", currency="EUR",
                        paid=date(2020, 2, 1)),
          make_activity(A3, "gt-education", ("XM-DAC-44000", "Banque mondiale"), "11320",
                        "Mopti", start=date(2024, 1, 1), end=date(2027, 12, 31),
                        commitment="2000", disbursement="500", currency="USD",
                        paid=date(2024, 9, 1)),
          shared)


def listed(client, query: str = "") -> set[str]:
    """Identifiers of the activities the list shows."""
    page = client.get(f"/activites/{query}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    listing = html.split('<ul class="activities">', 1)[1].split("</ul>", 1)[0]
    return set(re.findall(r'href="/activites/([^"?]+)"', listing))


def breakdown(client, query: str, name: str) -> dict[str, tuple[float, float]]:
    """key -> (commitments, disbursements) of one totals table."""
    html = client.get(f"/activites/{query}").get_data(as_text=True)
    table = html.split(f'id="par-{name}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<tr data-key="([^"]*)">.*?data-amount="([-\d.]+)".*?'
                      r'data-amount="([-\d.]+)"', table, re.S)
    return {key: (float(c), float(d)) for key, c, d in rows}


@pytest.mark.parametrize(("query", "expected"), [
    ("", {A1, A2, A3, A4}),
    ("?partenaire=FR-3", {A1, A4}),
    ("?partenaire=XM-DAC-7", {A4}),
    ("?secteur=11220", {A1}),
    ("?secteur=14032", {A4}),
    ("?region=ML-7", {A4}),
    ("?region=ML-3", {A2}),
    ("?statut=3", {A2}),
    ("?annee=2020", {A2}),
    ("?annee=2024", {A1, A3, A4}),
    ("?groupe=gt-education", {A1, A3}),
    ("?groupe=gt-education&annee=2022", {A1}),
    ("?region=ML-BKO", set()),
    ("?annee=deux-mille", {A1, A2, A3, A4}),
])
def test_each_filter_lists_exactly_the_matching_activities(client, portfolio, query, expected):
    assert listed(client, query) == expected


def test_totals_convert_currencies_and_add_up_in_every_breakdown(client, portfolio):
    commitments = 1_000_000 + 1000 * EUR + 2000 * USD + 10_000_000
    disbursements = 400_000 + 1000 * EUR + 500 * USD + 5_000_000
    for name in ("sector", "region", "partner"):
        table = breakdown(client, "", name)
        assert sum(c for c, _ in table.values()) == pytest.approx(float(commitments))
        assert sum(d for _, d in table.values()) == pytest.approx(float(disbursements))
    sectors = breakdown(client, "", "sector")
    assert sectors["14031"] == pytest.approx((6_000_000, 3_000_000))
    assert sectors["14032"] == pytest.approx((4_000_000, 2_000_000))
    assert sectors["12220"] == pytest.approx((float(1000 * EUR), float(1000 * EUR)))
    regions = breakdown(client, "", "region")
    assert regions["ML-4"] == regions["ML-7"] == pytest.approx((5_000_000, 2_500_000))
    partners = breakdown(client, "", "partner")
    assert partners["FR-3"] == pytest.approx((6_000_000, 2_900_000))
    assert partners["XM-DAC-7"] == pytest.approx((5_000_000, 2_500_000))


def test_totals_follow_the_filters_and_a_year_counts_that_years_transactions(client, portfolio):
    education = breakdown(client, "?groupe=gt-education", "sector")
    assert set(education) == {"11220", "11320"}
    assert education["11320"] == pytest.approx((float(2000 * USD), float(500 * USD)))
    in_2025 = breakdown(client, "?annee=2025", "partner")
    assert sum(c for c, _ in in_2025.values()) == 0
    assert in_2025["FR-3"] == pytest.approx((0, 2_500_000))


def test_the_summary_shows_the_count_and_the_totals_in_millions_of_fcfa(client, portfolio):
    html = client.get("/activites/?statut=3").get_data(as_text=True)
    assert "1 activité" in html
    assert '<strong class="total-commitments">0,7\u00a0M\u00a0FCFA</strong>' in html


def test_an_activity_page_shows_its_organisations_places_sectors_and_money(client, portfolio):
    response = client.get(f"/activites/{A4}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f"Activité {A4}" in html
    for shown in ("AFD", "Pays-Bas", "Ségou", "Gao", "14031", "14032",
                  "Approvisionnement en eau potable", "Engagement", "Décaissement",
                  "gt-eau-assainissement", "10,0\u00a0M\u00a0FCFA"):
        assert shown in html, shown
    assert response.headers["ETag"]


def test_an_activity_page_in_english_uses_english_labels_and_titles(client, portfolio):
    client.get("/langue/en?next=/activites/")
    html = client.get(f"/activites/{A1}").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert f"Activity {A1}" in html
    assert "Commitment" in html and "Engagement" not in html
    listing = client.get("/activites/").get_data(as_text=True)
    assert "By sector" in listing and "Aid activities" in listing


def test_an_unknown_activity_is_a_404(client, portfolio):
    assert client.get("/activites/XM-PTF-MALI-NOPE").status_code == 404
    assert client.get("/activites/XM-PTF-MALI-AFD-EDU-1/extra").status_code == 404


def test_the_list_works_with_no_activity_at_all(client):
    html = client.get("/activites/").get_data(as_text=True)
    assert "Aucune activité ne correspond à ces filtres." in html
    assert "0 activité" in html
