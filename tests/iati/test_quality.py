"""The quality report: what a file lacks, counted per problem, with French labels."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from iati.model import Location, ParticipatingOrg, Sector, Transaction, Value
from iati.quality import PROBLEMS, QualityCounter, quality_report
from iati.reader import read_activities
from tests.iati.conftest import SHARED_IATI, needs_shared
from tests.iati.test_writer import full_activity


def complete(identifier: str = "XM-PTF-MALI-AFD-CML1001"):
    """full_activity, its ministry given an org ref: nothing is missing."""
    activity = full_activity(identifier)
    activity.participating_orgs[1].ref = "ML-GOV-MEN"
    return activity


def test_a_complete_activity_has_nothing_missing():
    report = quality_report([complete()])
    assert report.findings == []
    assert (report.activities, report.locations, report.transactions) == (1, 1, 2)


def test_each_problem_is_counted_over_the_items_it_concerns():
    complete = full_activity("A-1")
    bare = replace(full_activity("A-2"), participating_orgs=[
        ParticipatingOrg("", name={"fr": "Sans ref"}, role="1"),
        ParticipatingOrg("", name={"fr": "Sans ref non plus"}, role="4")],
        locations=[Location(name={"fr": "Kita"}), Location(latitude=13.0, longitude=-9.5,
                                                          reach="1")],
        sectors=[Sector("111", "2", Decimal(100))], budgets=[], dates=[],
        document_links=[], default_currency="",
        transactions=[Transaction("3", date(2024, 1, 1), Value(Decimal(5)))])
    report = quality_report([complete, bare])
    found = {f.code: f for f in report.findings}
    assert set(found) == {"no-participating-org-ref", "no-location-point", "no-location-reach",
                          "no-location-administrative", "no-location-exactness",
                          "sector-3-digit-only", "no-budget", "no-dates", "no-start-date",
                          "no-end-date", "no-document-link", "no-currency"}
    refs = found["no-participating-org-ref"]
    # full_activity has one org without ref too: 3 of the 4 organisations lack one.
    assert (refs.count, refs.total, refs.unit) == (3, 4, "organisations participantes")
    assert refs.examples == ["A-1", "A-2"]
    assert (found["no-location-reach"].count, found["no-location-reach"].total) == (1, 3)
    assert (found["no-location-point"].count, found["no-location-point"].total) == (1, 3)
    assert (found["no-budget"].count, found["no-budget"].total) == (1, 2)
    assert (found["no-currency"].count, found["no-currency"].total) == (1, 5)
    assert found["sector-3-digit-only"].label.startswith("activités dont les secteurs")


def test_findings_follow_the_order_of_the_problem_list_and_serialise_to_json():
    bare = replace(complete(), title={}, budgets=[], transactions=[])
    report = quality_report([bare])
    codes = [f.code for f in report.findings]
    assert codes == [c for c in PROBLEMS if c in codes] == ["no-title", "no-budget",
                                                             "no-transaction"]
    data = report.to_dict()
    assert data["findings"][0] == {"code": "no-title", "label": "activités sans titre",
                                   "count": 1, "total": 1, "unit": "activités",
                                   "examples": ["XM-PTF-MALI-AFD-CML1001"]}
    assert report.findings[0].format() == "1 / 1 activités sans titre"


def test_examples_are_capped_and_not_repeated():
    counter = QualityCounter()
    for n in range(8):
        counter.add(replace(complete(f"A-{n}"), budgets=[]))
    counter.add(replace(complete("A-0"), budgets=[]))
    finding = counter.finish().get("no-budget")
    assert finding is not None and finding.count == 9
    assert finding.examples == ["A-0", "A-1", "A-2", "A-3", "A-4"]


@needs_shared
def test_the_senegal_file_lacks_org_refs_location_reach_and_5_digit_sectors():
    report = quality_report(list(read_activities(SHARED_IATI / "senegal-aims-2.03.xml")))
    found = {f.code: (f.count, f.total) for f in report.findings}
    assert found["no-participating-org-ref"] == (903, 903)
    assert found["no-location-reach"] == (471, 471)
    assert found["no-location-administrative"] == (471, 471)
    assert found["sector-3-digit-only"] == (701, 701)
    assert found["no-budget"] == (701, 701)
    assert found["no-start-date"] == (25, 701)
    assert "no-transaction" not in found and "no-location-point" not in found
