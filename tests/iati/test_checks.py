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


_TEXTS = [[], [""], ["a"], [" a"], ["a", "a"], ["a", "b "], ["100"], ["60", "40"], ["33.33333"] * 3,
          ["-5"], ["101"], ["abc"], ["1e2"], ["XM-DAC-7"], ["XM-DAC-7-1", "XX-1"],
          ["2024-02-29", "2030-01-01"], ["2026-01-01T10:00:00Z"], ["29/02/2024"]]
_PATTERN = re.compile("^[A-Z]{2}-")
_TODAY = date(2025, 6, 1)


def _dates(values: list[str] | None) -> list[Attr] | None:
    return None if values is None else _attrs(*values)


def test_the_value_level_rules_agree_with_the_node_level_rules():
    prefixes = frozenset({"XM-DAC"})
    for texts in _TEXTS:
        nodes = _attrs(*texts)
        pairs = [
            (checks.regex_holds(texts, _PATTERN, True), checks.regex(nodes, _PATTERN, True)),
            (checks.regex_holds(texts, _PATTERN, False), checks.regex(nodes, _PATTERN, False)),
            (checks.no_spaces_holds(texts), checks.no_spaces(nodes)),
            (checks.unique_holds(texts), checks.unique(nodes)),
            (checks.in_range_holds(texts, 0.0, 100.0), checks.in_range(nodes, 0.0, 100.0)),
            (checks.in_range_holds(texts, None, 50.0), checks.in_range(nodes, None, 50.0)),
            (checks.total_holds(texts, 100.0, True), checks.total(nodes, 100.0, True, None)),
            (checks.total_holds(texts, 100.0, False), checks.total(nodes, 100.0, False, None)),
            (checks.startswith_holds(texts, None, "", prefixes),
             checks.startswith(nodes, None, "", prefixes)),
            (checks.startswith_holds(texts, ["XM-DAC-7"], "-", prefixes),
             checks.startswith(nodes, _attrs("XM-DAC-7"), "-", prefixes)),
            (checks.startswith_holds(texts, [], "", prefixes),
             checks.startswith(nodes, [], "", prefixes)),
            (checks.date_now_holds(texts, _TODAY), checks.date_now(nodes, _TODAY)),
        ]
        for holds, failures in pairs:
            assert holds == (failures == []), texts
        for other in (None, [], ["2024-03-01"], ["2020-01-01"], ["bad"]):
            assert checks.date_order_holds(texts, other, _TODAY) == (
                checks.date_order(nodes, _dates(other), _TODAY) == []), (texts, other)
            assert checks.date_order_holds(other, texts, _TODAY) == (
                checks.date_order(_dates(other), nodes, _TODAY) == []), (texts, other)
            if other is not None:
                assert checks.time_limit_holds(other, texts, _TODAY) == (
                    checks.time_limit(_dates(other), nodes, _TODAY) == []), (texts, other)
                assert checks.between_dates_holds(texts, other, ["2026-01-01"], _TODAY) == (
                    checks.between_dates(nodes, _dates(other), _attrs("2026-01-01"),
                                         _TODAY) == []), (texts, other)
