"""The rule semantics shared by both engines, on plain values."""

from __future__ import annotations

import re
from datetime import date

from lxml import etree

from iati import checks
from iati.xpath import Attr


def _attrs(*values: str) -> list[Attr]:
    owner = etree.Element("x")
    return [Attr(owner, "v", value) for value in values]


def test_dates_read_the_calendar_day_of_dates_and_datetimes():
    assert checks.parse_date("2024-02-29") == date(2024, 2, 29)
    assert checks.parse_date("2024-02-29T23:00:00-05:00") == date(2024, 2, 29)
    assert checks.parse_date("29/02/2024") is None


def test_a_sum_is_rounded_to_four_decimals():
    assert checks.total(_attrs("33.33333", "33.33333", "33.33334"), 100.0, True, None) == []
    [(_, detail)] = checks.total(_attrs("50", "49.5"), 100.0, True, None)
    assert detail == "somme = 99.5"


def test_a_year_is_365_days_even_across_a_leap_day():
    start, end = _attrs("2023-03-01"), _attrs("2024-02-29")
    assert checks.time_limit(start, end, date(2025, 1, 1)) == []
    assert checks.time_limit(_attrs("2023-02-28"), end, date(2025, 1, 1)) != []


def test_an_empty_text_passes_a_regex():
    assert checks.regex(_attrs("", "ok"), re.compile("^[a-z]+$"), True) == []


def test_id_conditions_apply_only_with_known_identifiers():
    assert not checks.id_condition_skips("NOT_EXISTING_ORG_ID", ["A-B"], frozenset())
    assert checks.id_condition_skips("NOT_EXISTING_ORG_ID", ["A-B"], frozenset({"A-B"}))
    assert checks.id_condition_skips("NOT_EXISTING_ORG_ID_PREFIX", ["A-B-1"],
                                     frozenset({"A-B"}))
