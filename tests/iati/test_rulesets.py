"""The IATI Rulesets engine: every rule type of the SPEC, on small XML snippets."""

from __future__ import annotations

import json
from datetime import date

import pytest
from lxml import etree

from iati.rulesets import (
    IdSets,
    Ruleset,
    RulesetError,
    load_ruleset,
    our_ruleset,
    relative_context,
)
from iati.xpath import Env

pytestmark = pytest.mark.usefixtures("standard")  # the official files, or a clear failure

ACT = "/iati-activities/iati-activity"
TODAY = date(2024, 6, 15)


def run(rule: str, case: dict, body: str, *, context: str = ACT, attrs: str = "",
        ids: IdSets | None = None, today: date = TODAY) -> list[tuple[str, int]]:
    """(id, line) of the findings of one case on one activity."""
    case = {**case, "ruleInfo": {"id": "X", "severity": "error", "message": "m"}}
    ruleset = Ruleset({context: {rule: {"cases": [case]}}})
    xml = f'<iati-activities version="2.03">\n<iati-activity {attrs}>\n{body}\n' \
          f'</iati-activity>\n</iati-activities>'
    root = etree.fromstring(xml.encode())
    unit = root[0]
    findings = ruleset.check(unit, "iati-activities", f"{ACT}[1]", Env(), today,
                             ids or IdSets(frozenset({"XM-DAC"})))
    return [(f.id, f.line) for f in findings]


def test_atleast_one_needs_one_of_the_paths():
    case = {"paths": ["activity-date[@type = '1']", "activity-date[@type = '2']"]}
    assert run("atleast_one", case, '<activity-date type="2"/>') == []
    assert run("atleast_one", case, '<activity-date type="3"/>') == [("X", 2)]


def test_no_more_than_one_points_at_the_second_element():
    case = {"paths": ["default-aid-type[not(@vocabulary) or @vocabulary = '1']"]}
    body = '<default-aid-type code="A01"/>\n<default-aid-type code="A02" vocabulary="1"/>'
    assert run("no_more_than_one", case, body) == [("X", 4)]
    assert run("no_more_than_one", case, '<default-aid-type code="A01"/>') == []


def test_only_one_of_excludes_and_requires():
    case = {"excluded": ["recipient-region"], "paths": ["recipient-country"]}
    assert run("only_one_of", case, '<recipient-country code="ML"/>') == []
    assert run("only_one_of", case, "") == [("X", 2)]
    assert run("only_one_of", case,
               '<recipient-region code="289"/><recipient-country code="ML"/>') == [("X", 2)]


def test_one_or_all_lang_names_the_first_narrative_without_a_language():
    case = {"one": "@xml:lang", "all": "lang"}
    body = '<title>\n<narrative xml:lang="fr">a</narrative>\n<narrative>b</narrative>\n</title>'
    assert run("one_or_all", case, body) == [("X", 5)]
    assert run("one_or_all", case, body, attrs='xml:lang="fr"') == []


def test_one_or_all_currency_checks_every_value():
    case = {"one": "@default-currency", "all": "currency"}
    body = '<budget>\n<value currency="XOF">1</value>\n</budget>\n<transaction>\n<value>2</value>' \
           '\n</transaction>'
    assert run("one_or_all", case, body) == [("X", 7)]
    assert run("one_or_all", case, body, attrs='default-currency="XOF"') == []


def test_one_or_all_sector_needs_a_sector_in_every_transaction():
    case = {"one": "sector", "all": "sector"}
    body = '<transaction><sector code="1"/></transaction>\n<transaction/>'
    assert run("one_or_all", case, body) == [("X", 4)]
    assert run("one_or_all", case, '<sector code="1"/>\n<transaction/>') == []


def test_one_or_all_with_another_condition_evaluates_it():
    case = {"one": "@hierarchy", "all": "count(related-activity) > 0"}
    assert run("one_or_all", case, "") == [("X", 2)]
    assert run("one_or_all", case, '<related-activity ref="a" type="1"/>') == []


def test_dependent_paths_come_together_or_not_at_all():
    case = {"paths": ["planned-disbursement", "budget"]}
    assert run("dependent", case, "") == []
    assert run("dependent", case, "<budget/>") == [("X", 2)]
    assert run("dependent", case, "<budget/><planned-disbursement/>") == []


def test_sum_ignores_absent_values_and_strict_sum_does_not():
    case = {"paths": ["sector/@percentage"], "sum": 100}
    assert run("sum", case, "") == []
    assert run("strict_sum", case, "") == [("X", 2)]
    body = '<sector percentage="33.33"/><sector percentage="33.33"/><sector percentage="33.34"/>'
    assert run("strict_sum", case, body) == []
    assert run("strict_sum", case, '<sector percentage="60"/>\n<sector percentage="50"/>') \
        == [("X", 3)]


def test_date_order_compares_the_first_dates_and_accepts_equal_ones():
    case = {"less": "activity-date[@type = '1']/@iso-date",
            "more": "activity-date[@type = '3']/@iso-date"}
    later = '<activity-date type="1" iso-date="2020-05-01"/>' \
            '\n<activity-date type="3" iso-date="2020-04-30"/>'
    assert run("date_order", case, later) == [("X", 3)]
    equal = later.replace("2020-04-30", "2020-05-01")
    assert run("date_order", case, equal) == []
    assert run("date_order", case, '<activity-date type="1" iso-date="2020-05-01"/>') == []


def test_date_order_against_now_uses_today():
    case = {"less": "activity-date[@type = '2']/@iso-date", "more": "NOW"}
    assert run("date_order", case, '<activity-date type="2" iso-date="2024-06-16"/>') \
        == [("X", 3)]
    assert run("date_order", case, '<activity-date type="2" iso-date="2024-06-15"/>') == []


def test_date_now_flags_only_dates_after_today():
    case = {"date": "@last-updated-datetime"}
    assert run("date_now", case, "", attrs='last-updated-datetime="2024-06-16T00:00:00Z"') \
        == [("X", 2)]
    assert run("date_now", case, "", attrs='last-updated-datetime="2024-06-15T23:59:00Z"') == []
    assert run("date_now", case, "", attrs='last-updated-datetime="not a date"') == []


def test_time_limit_allows_a_year_and_no_more():
    case = {"start": "period-start/@iso-date", "end": "period-end/@iso-date"}
    budget = '<budget>\n<period-start iso-date="2023-01-01"/>\n<period-end iso-date="{}"/>' \
             '\n</budget>'
    assert run("time_limit", case, budget.format("2024-01-01"), context=f"{ACT}/budget") == []
    assert run("time_limit", case, budget.format("2024-01-02"), context=f"{ACT}/budget") \
        == [("X", 5)]


def test_between_dates_keeps_a_date_inside_its_period():
    case = {"date": "value/@value-date", "start": "period-start/@iso-date",
            "end": "period-end/@iso-date"}
    budget = '<budget><period-start iso-date="2023-01-01"/><period-end iso-date="2023-12-31"/>' \
             '\n<value value-date="{}">1</value></budget>'
    context = f"{ACT}/budget"
    assert run("between_dates", case, budget.format("2023-06-01"), context=context) == []
    assert run("between_dates", case, budget.format("2024-01-01"), context=context) \
        == [("X", 4)]


def test_regex_matches_and_no_matches():
    case = {"paths": ["iati-identifier"], "regex": "^[^/&|?]+$"}
    assert run("regex_matches", case, "<iati-identifier>A-1</iati-identifier>") == []
    assert run("regex_matches", case, "<iati-identifier>A&amp;1</iati-identifier>") \
        == [("X", 3)]
    assert run("regex_matches", case, "<iati-identifier></iati-identifier>") == []
    forbid = {"paths": ["iati-identifier"], "regex": "\\s"}
    assert run("regex_no_matches", forbid, "<iati-identifier>A 1</iati-identifier>") \
        == [("X", 3)]


def test_startswith_needs_a_prefix_and_its_separator():
    case = {"paths": ["iati-identifier"], "prefix": ["reporting-org/@ref"], "separator": "-"}
    body = '<iati-identifier>{}</iati-identifier>\n<reporting-org ref="XM-DAC-7"/>'
    assert run("startswith", case, body.format("XM-DAC-7-1")) == []
    assert run("startswith", case, body.format("XM-DAC-71")) == [("X", 3)]


def test_startswith_org_id_prefix_uses_the_registration_agency_list():
    case = {"paths": ["reporting-org/@ref"], "prefix": ["ORG-ID-PREFIX"]}
    assert run("startswith", case, '<reporting-org ref="XM-DAC-7"/>') == []
    assert run("startswith", case, '<reporting-org ref="AA-AAA-7"/>') == [("X", 3)]


def test_an_id_condition_skips_identifiers_known_to_the_registry():
    case = {"paths": ["reporting-org/@ref"], "prefix": ["ORG-ID-PREFIX"],
            "idCondition": "NOT_EXISTING_ORG_ID"}
    body = '<reporting-org ref="AA-AAA-7"/>'
    assert run("startswith", case, body) == [("X", 3)]
    known = IdSets(frozenset({"XM-DAC"}), frozenset({"AA-AAA-7"}))
    assert run("startswith", case, body, ids=known) == []
    prefix = {"paths": ["iati-identifier"], "regex": "^[^&]+$",
              "idCondition": "NOT_EXISTING_ORG_ID_PREFIX"}
    bad = "<iati-identifier>AA-AAA-7-&amp;</iati-identifier>"
    assert run("regex_matches", prefix, bad) == [("X", 3)]
    assert run("regex_matches", prefix, bad, ids=known) == []


def test_unique_texts():
    case = {"paths": ["iati-identifier", "reporting-org/@ref"]}
    body = '<iati-identifier>XM-DAC-7</iati-identifier>\n<reporting-org ref="XM-DAC-7"/>'
    assert run("unique", case, body) == [("X", 4)]
    assert run("unique", case, body.replace("<iati-identifier>XM-DAC-7",
                                            "<iati-identifier>XM-DAC-7-1")) == []


def test_if_then_uses_xpath_truth_values():
    case = {"if": "count(sector) > 0", "then": "count(transaction/sector) < 1",
            "paths": ["transaction/sector"]}
    assert run("if_then", case, '<sector code="1"/>') == []
    assert run("if_then", case, '<sector code="1"/>\n<transaction><sector code="2"/>'
                                "</transaction>") == [("X", 4)]
    empty_if = {"if": "transaction[recipient-country]", "then": "false()"}
    assert run("if_then", empty_if, "<transaction/>") == []


def test_range_checks_bounds_and_numbers():
    case = {"paths": ["sector/@percentage"], "min": 0, "max": 100}
    assert run("range", case, '<sector percentage="0"/><sector percentage="100"/>') == []
    assert run("range", case, '<sector percentage="100.01"/>') == [("X", 3)]
    assert run("range", case, '<sector percentage="-1"/>') == [("X", 3)]
    assert run("range", {"paths": ["sector/@percentage"], "min": 10},
               '<sector percentage="1e3"/>') == [("X", 3)]


def test_no_spaces_around_identifiers():
    case = {"paths": ["iati-identifier"]}
    assert run("no_spaces", case, "<iati-identifier>A-1</iati-identifier>") == []
    assert run("no_spaces", case, "<iati-identifier>A-1 </iati-identifier>") == [("X", 3)]
    assert run("no_spaces", case, "<iati-identifier>\nA-1</iati-identifier>") == [("X", 3)]


def test_a_condition_gates_the_case():
    case = {"condition": "@vocabulary = '99'", "paths": ["narrative"]}
    context = f"{ACT}/policy-marker"
    assert run("atleast_one", case, '<policy-marker vocabulary="1"/>', context=context) == []
    assert run("atleast_one", case, '<policy-marker vocabulary="99"/>', context=context) \
        == [("X", 3)]


def test_a_loop_runs_its_cases_once_per_distinct_value_with_substitution():
    loop = {"foreach": "recipient-region/@vocabulary", "subs": ["paths", "condition"],
            "do": {"strict_sum": {"cases": [{
                "condition": "count(recipient-region[@vocabulary = '$1']) > 1",
                "paths": ["recipient-region[@vocabulary = '$1']/@percentage"], "sum": 100,
                "ruleInfo": {"id": "L", "severity": "warning", "message": "m"}}]}}}
    ruleset = Ruleset({ACT: {"loop": {"cases": [loop]}}})
    xml = b"""<iati-activities version="2.03"><iati-activity>
<recipient-region vocabulary="1" code="289" percentage="50"/>
<recipient-region vocabulary="1" code="298" percentage="40"/>
<recipient-region vocabulary="99" code="A" percentage="100"/>
<recipient-region vocabulary="2" code="B" percentage="30"/>
<recipient-region vocabulary="2" code="C" percentage="70"/>
</iati-activity></iati-activities>"""
    unit = etree.fromstring(xml)[0]
    findings = ruleset.check(unit, "iati-activities", f"{ACT}[1]", Env(), TODAY, IdSets())
    assert [(f.id, f.severity, f.line) for f in findings] == [("L", "warning", 2)]


def test_loops_substitute_only_the_keys_named_in_subs():
    loop = {"foreach": "sector/@vocabulary", "subs": ["paths"],
            "do": {"strict_sum": {"cases": [{
                "condition": "count(sector[@vocabulary = '$1']) > 1",
                "paths": ["sector[@vocabulary = '$1']/@percentage"], "sum": 100}]}}}
    ruleset = Ruleset({ACT: {"loop": {"cases": [loop]}}})
    unit = etree.fromstring(b'<iati-activities><iati-activity><sector vocabulary="2" '
                            b'percentage="1"/><sector vocabulary="2" percentage="1"/>'
                            b'</iati-activity></iati-activities>')[0]
    assert ruleset.check(unit, "iati-activities", ACT, Env(), TODAY, IdSets()) == []


def test_camel_case_rule_names_are_accepted():
    assert run("noSpaces", {"paths": ["iati-identifier"]},
               "<iati-identifier> A</iati-identifier>") == [("X", 3)]


def test_descendant_and_union_contexts():
    case = {"paths": ["narrative/text()"]}
    body = "<title><narrative>t</narrative></title>\n<result><title><narrative/></title></result>"
    assert run("atleast_one", case, body, context="//title") == [("X", 4)]
    union = f"{ACT}/title | {ACT}/result/title"
    assert run("atleast_one", case, body, context=union) == [("X", 4)]


@pytest.mark.parametrize(("data", "message"), [
    ({ACT: {"sometimes": {"cases": []}}}, "unknown rule type"),
    ({ACT: {"atleast_one": {"cases": [{"paths": ["a["]}]}}}, "XPath"),
    ({ACT: {"atleast_one": {}}}, "list of cases"),
    ({"/rss/channel": {"atleast_one": {"cases": []}}}, "unsupported context"),
    ({ACT: {"startswith": {"cases": [{"paths": ["a"], "prefix": ["b"],
                                      "idCondition": "MAYBE"}]}}}, "idCondition"),
    ({ACT: {"loop": {"cases": [{"foreach": "a"}]}}}, "foreach and do"),
])
def test_broken_rulesets_are_refused_with_a_clear_message(data, message):
    with pytest.raises(RulesetError, match=message):
        Ruleset(data)


def test_a_ruleset_file_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text("{nope")
    with pytest.raises(RulesetError, match="not a JSON ruleset"):
        load_ruleset(path)


def test_contexts_are_rewritten_relative_to_the_unit():
    assert relative_context(f"{ACT}") == [("iati-activities", None)]
    assert relative_context(f"{ACT}/transaction | //title") == [
        ("iati-activities", "transaction"), (None, "descendant-or-self::title")]
    assert relative_context(f"{ACT}[@hierarchy = '2']") == [
        ("iati-activities", "self::iati-activity[@hierarchy = '2']")]


def test_our_ruleset_is_ours_with_french_messages_and_official_ids():
    ours = our_ruleset()
    messages = ours.messages()
    assert {"1.1.3", "6.11.1", "7.5.3", "3.4.2", "107.1.2", "11.3.1"} <= set(messages)
    assert all(message and message[0].islower() for message in messages.values())
    assert "doit" in messages["6.11.1"] and "must" not in " ".join(messages.values())
    raw = json.loads(ours_path().read_text(encoding="utf-8"))
    assert all(key.startswith(("/iati-", "//")) for key in raw)


def ours_path():
    from iati.rulesets import OUR_RULESET
    return OUR_RULESET
