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
