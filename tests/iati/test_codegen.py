"""The generated engine agrees with the reference engine, and literals cannot inject code."""

from __future__ import annotations

from datetime import date

import pytest
from lxml import etree

from iati.codegen import generate
from iati.rulesets import IdSets, Ruleset, load_ruleset, our_ruleset
from iati.validate import validate_file
from iati.xpath import Env
from tests.iati.conftest import FIXTURES, OFFICIAL_RULESET, activity_xml, needs_shared
from tests.iati.test_validate import FIXTURE_TABLE

pytestmark = pytest.mark.usefixtures("standard")  # the official files, or a clear failure
ACT = "/iati-activities/iati-activity"


def _findings(report):
    return sorted((f.id, f.severity, f.line, f.xpath, f.message) for f in report.findings)


@needs_shared
@pytest.mark.parametrize("name", sorted(FIXTURE_TABLE))
def test_generated_and_reference_engines_find_the_same(name):
    for data in (our_ruleset().source_data, load_ruleset(OFFICIAL_RULESET).source_data):
        fast = validate_file(FIXTURES / name, ruleset=Ruleset(data, fast=True))
        reference = validate_file(FIXTURES / name, ruleset=Ruleset(data, fast=False))
        assert _findings(fast) == _findings(reference)


def test_almost_every_case_of_our_ruleset_is_generated():
    ours = our_ruleset()
    left = [ours.items[i].id for c in ours.contexts for i in generate(c.items, c.base)[2]]
    assert sorted(set(left)) == ["11.3.1", "8.11.1"]  # `..` steps: the reference engine


class _CountingEnv(Env):
    """Counts how often the activity's sectors are looked up."""

    __slots__ = ("lookups",)

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    def children(self, el, tag):
        if tag == "sector" and el.tag == "iati-activity":
            self.lookups += 1
        return super().children(el, tag)


def test_shared_paths_are_computed_once_per_element():
    unit = etree.fromstring(activity_xml(
        sectors='<sector vocabulary="1" code="14030" percentage="60"/>'
                '<sector vocabulary="1" code="14031" percentage="40"/>'))[0]
    counts = {}
    for fast in (True, False):
        env = _CountingEnv()
        Ruleset(our_ruleset().source_data, fast=fast).check(
            unit, "iati-activities", ACT, env, date(2024, 1, 1), IdSets())
        counts[fast] = env.lookups
    assert counts[True] < counts[False]


@pytest.mark.parametrize("literal", ["x') or __import__('os').system('false') or ('",
                                     'a"b', "back\\slash", "multi\nline"])
def test_ruleset_literals_reach_the_code_as_data_only(literal):
    quote = '"' if "'" in literal else "'"
    case = {"condition": f"@code = {quote}{literal}{quote}", "paths": ["narrative"],
            "ruleInfo": {"id": "X", "severity": "error", "message": "m"}}
    ruleset = Ruleset({ACT: {"atleast_one": {"cases": [case]}}})
    unit = etree.SubElement(etree.Element("iati-activities"), "iati-activity", code=literal)
    findings = ruleset.check(unit, "iati-activities", ACT, Env(), date(2024, 1, 1), IdSets())
    assert [f.id for f in findings] == ["X"]
    unit.set("code", "other")
    assert ruleset.check(unit, "iati-activities", ACT, Env(), date(2024, 1, 1), IdSets()) == []


def _case(cid: str, **fields: object) -> dict:
    return {**fields, "ruleInfo": {"id": cid, "severity": "error", "message": cid}}


# Each case takes one of the generated engine's shortcuts: rules tested on values before any
# node is built, comparisons of paths on their values, conditions split at `and`, existence
# of child paths, attributes read once for several tests, shared beginnings of paths.
_SHORTCUTS = {ACT: {
    "date_now": {"cases": [_case("d1", date="transaction/transaction-date/@iso-date"),
                           _case("d2", date="activity-date[@type = '2']/@iso-date")]},
    "date_order": {"cases": [
        _case("o1", less="activity-date[@type = '1']/@iso-date",
              more="activity-date[@type = '3']/@iso-date"),
        _case("o2", less="activity-date[@type = '3']/@iso-date", more="NOW")]},
    "time_limit": {"cases": [_case("t1", start="budget/period-start/@iso-date",
                                   end="budget/period-end/@iso-date")]},
    "between_dates": {"cases": [_case("b1", date="transaction/transaction-date/@iso-date",
                                      start="activity-date[@type = '1']/@iso-date",
                                      end="activity-date[@type = '3']/@iso-date")]},
    "regex_matches": {"cases": [_case("r1", paths=["participating-org/@ref"],
                                      regex="^[A-Z]{2}-")]},
    "no_spaces": {"cases": [_case("s1", paths=["iati-identifier", "title/narrative/text()"])]},
    "unique": {"cases": [_case("u1", paths=["iati-identifier", "other-identifier/@ref"])]},
    "startswith": {"cases": [
        _case("w1", paths=["iati-identifier"], prefix=["reporting-org/@ref"], separator="-"),
        _case("w2", paths=["participating-org/@ref"], prefix="ORG-ID-PREFIX")]},
    "range": {"cases": [_case("g1", paths=["sector/@percentage"], min=0, max=100)]},
    "strict_sum": {"cases": [_case(
        "m1", paths=["sector[not(@vocabulary) or @vocabulary = '' or @vocabulary = '1']"
                     "/@percentage"], sum=100)]},
    "if_then": {"cases": [
        _case("i1", **{"if": "count(sector[not(@vocabulary) or @vocabulary = '1']) = 1",
                       "then": "sector[not(@vocabulary) or @vocabulary = '1']/@percentage"
                               " = 100"}),
        _case("i2", **{"if": "sector and not(transaction/sector)", "then": "false()"}),
        _case("i3", **{"if": "transaction/value > 1000 and 5 < transaction/value",
                       "then": "transaction/value = '7' or transaction/value < 100"}),
        _case("i4", **{"if": "not(recipient-region or other-identifier)",
                       "then": "transaction[sector or recipient-country]"}),
        _case("i5", **{"if": "transaction[value/@currency = 'EUR' and @ref > 2]",
                       "then": "not(reporting-org)"}),
        _case("i6", **{"if": "@default-currency = 'EUR' or @default-currency = 'XOF'",
                       "then": "activity-date[@type = '1'] and budget/value <= 10"}),
    ]},
    "atleast_one": {"cases": [_case("a1", paths=["result/indicator/period", "transaction/sector"],
                                    condition="boolean(transaction) and not(sector)")]},
}}

_VARIANTS = [  # the sectors, and the small activity's fields (tests/iati/conftest.py)
    {},
    {"sectors": '<sector vocabulary="1" code="11110" percentage="60"/>'
                '<sector code="11120" percentage="50"/><sector vocabulary="2" code="111"/>',
     "identifier": "XM-DAC-7-1"},
    {"sectors": '<sector vocabulary="1" code="11110" percentage=" 100"/>',
     "start": "2031-01-01", "paid": "2030-01-01"},
    {"sectors": '<sector vocabulary="1" code="11110" percentage="abc"/>',
     "identifier": " XM-DAC-7-PTF-1", "budget_end": "2023-06-01"},
    {"sectors": "", "identifier": "OTHER-1"},
]
_EXTRA = [  # added at the end of the activity
    "",
    '<other-identifier ref="XM-DAC-7-1" type="B1"/><other-identifier ref=" x" type="A1"/>',
    '<activity-date type="1" iso-date="2025-01-01"/><activity-date type="3" iso-date="2024-01-01"/>'
    '<budget><period-start iso-date="2020-01-01"/><period-end iso-date="2022-01-01"/>'
    '<value currency="EUR">5</value></budget>',
    '<transaction ref="3"><transaction-type code="3"/>'
    '<transaction-date iso-date="2040-05-01"/><value currency="EUR">2000</value>'
    '<sector code="11110"/><recipient-country code="ML"/></transaction>',
    '<transaction ref="1"><transaction-type code="3"/><transaction-date iso-date="x"/>'
    '<value>7</value></transaction><activity-date type="3" iso-date="2030-01-01"/>'
    '<participating-org ref="bad ref" role="1"/><result type="1"><indicator measure="1">'
    '<period><period-start iso-date="2020-01-01"/></period></indicator></result>',
]


def test_the_generated_shortcuts_find_what_the_reference_engine_finds():
    fast, reference = Ruleset(_SHORTCUTS), Ruleset(_SHORTCUTS, fast=False)
    assert [i for c in fast.contexts for i in generate(c.items, c.base)[2]] == []
    ids = IdSets(org_id_prefixes=frozenset({"XM-DAC"}))
    seen: set[str] = set()
    for variant in _VARIANTS:
        for extra in _EXTRA:
            data = activity_xml(**variant).replace(
                b"</iati-activity>", extra.encode() + b"</iati-activity>")
            unit = etree.fromstring(data)[0]
            found = [sorted((f.id, f.xpath, f.message) for f in ruleset.check(
                unit, "iati-activities", ACT, Env(), date(2025, 6, 1), ids))
                for ruleset in (fast, reference)]
            assert found[0] == found[1], (variant, extra)
            seen.update(finding[0] for finding in found[0])
    cases = {case["ruleInfo"]["id"] for rule in _SHORTCUTS[ACT].values() for case in rule["cases"]}
    assert seen == cases  # every case failed somewhere: its shortcut's findings were compared


def test_numbers_without_a_python_literal_reach_the_code_as_constants():
    # A 400-digit number is infinite as a float: `inf` is no Python literal.
    huge = "9" * 400
    rules = {ACT: {
        "range": {"cases": [_case("big", paths=["sector/@percentage"], min=0, max=huge)]},
        "if_then": {"cases": [
            _case("cmp", **{"if": "true()", "then": f"sector/@percentage < {huge}"}),
            _case("attr", **{"if": "true()", "then": f"sector[@percentage = {huge}]"})]},
    }}
    fast, reference = Ruleset(rules), Ruleset(rules, fast=False)
    assert [i for c in fast.contexts for i in generate(c.items, c.base)[2]] == []
    unit = etree.fromstring(activity_xml())[0]
    found = [sorted(f.id for f in ruleset.check(unit, "iati-activities", ACT, Env(),
                                                date(2025, 6, 1), IdSets()))
             for ruleset in (fast, reference)]
    assert found[0] == found[1] and "attr" in found[0]
