"""What each rule type of the IATI Rulesets SPEC tests, on values already selected by XPath.

Each function gets node lists (or booleans) and returns the failures as (node, detail) pairs;
an empty list means the rule holds. Both ruleset engines (iati.rulesets, iati.codegen) call
these, so the two can only differ in how they evaluate XPath, never in what a rule means.

The `*_holds` functions say, from the nodes' string values alone, whether the rule of the
same name holds (returns PASS): the generated engine tests them first and builds the nodes
only for a failure. Each shares its per-value test with its rule.
"""

from __future__ import annotations

import math
import re
from datetime import date
from functools import lru_cache
from typing import Any

from iati.xpath import Env, string_value, text_number

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
CURRENCY_HOLDERS = ("value", "forecast", "loan-status")
ONE_OR_ALL_MODES = ("lang", "currency", "sector", "recipient-country|recipient-region")
Failures = list[tuple[Any, str]]
PASS: Failures = []


@lru_cache(maxsize=16384)
def parse_date(text: str) -> date | None:
    """The calendar date of an xsd:date or xsd:dateTime value (None when unreadable)."""
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


def first_date(nodes: list | None, today: date) -> tuple[date | None, Any]:
    """The date of the first node (today for None, i.e. NOW), with that node."""
    if nodes is None:
        return today, None
    if not nodes:
        return None, None
    return parse_date(string_value(nodes[0])), nodes[0]


def first_value_date(values: list[str] | tuple[str, ...] | None, today: date) -> date | None:
    """first_date's date, from the nodes' string values."""
    if values is None:
        return today
    return parse_date(values[0]) if values else None


def _in_order(low: date | None, high: date | None) -> bool:
    return low is None or high is None or low <= high


def _within_a_year(first: date | None, last: date | None) -> bool:
    return first is None or last is None or (last - first).days <= 365


def _between(value: date | None, first: date | None, last: date | None) -> bool:
    return value is None or first is None or last is None or first <= value <= last


def _regex_fails(text: str, pattern: re.Pattern, must_match: bool) -> bool:
    return bool(text) and (pattern.search(text) is not None) != must_match


def _unknown_org_prefix(text: str, org_prefixes: frozenset[str]) -> bool:
    return "-".join(text.split("-")[:2]) not in org_prefixes


def _out_of_range(text: str, low: float | None, high: float | None) -> bool:
    value = text_number(text)
    return not ((low is None or low <= value) and (high is None or value <= high))


def _spaced(text: str) -> bool:
    return text != text.strip()


def _rounded_sum(values: Any) -> float:
    return round(sum(map(text_number, values)), 4)


def atleast_one(selections: list[list], element: Any) -> Failures:
    return PASS if any(selections) else [(element, "")]


def no_more_than_one(nodes: list) -> Failures:
    return [(nodes[1], f"{len(nodes)} trouvés")] if len(nodes) > 1 else PASS


def only_one_of(nodes: list, excluded: list[list], element: Any) -> Failures:
    count = len(nodes)
    for found in excluded:
        if (found and count != 0) or (not found and count != 1):
            return [(element, "")]
    return PASS


def one_or_all(mode: str, element: Any, env: Env, all_holds: bool | None = None) -> Failures:
    """`one` was not found: every element must satisfy `all` (a keyword, or an XPath)."""
    if mode == "lang":
        bad = [n for n in env.descendants(element, "narrative") if n.get(XML_LANG) is None]
    elif mode == "currency":
        bad = sorted((n for tag in CURRENCY_HOLDERS for n in env.descendants(element, tag)
                      if n.get("currency") is None), key=lambda n: n.sourceline or 0)
    elif mode == "sector":
        bad = [t for t in env.children(element, "transaction") if not env.children(t, "sector")]
    elif mode == "recipient-country|recipient-region":
        bad = [t for t in env.children(element, "transaction")
               if not env.children(t, "recipient-country")
               and not env.children(t, "recipient-region")]
    else:
        bad = [] if all_holds else [element]
    return [(bad[0], f"{len(bad)} élément(s) concerné(s)")] if bad else PASS


def dependent(selections: list[list], element: Any) -> Failures:
    present = [bool(s) for s in selections]
    return [(element, "")] if any(present) and not all(present) else PASS


def total(nodes: list, target: float, strict: bool, element: Any) -> Failures:
    """sum (absent values pass) and strict_sum (they do not), rounded to 4 decimals."""
    if not nodes and not strict:
        return PASS
    value = _rounded_sum(string_value(n) for n in nodes)
    if value == target:
        return PASS
    shown = int(value) if math.isfinite(value) and value == int(value) else value
    return [(nodes[0] if nodes else element, f"somme = {shown}")]


def date_order(less: list | None, more: list | None, today: date) -> Failures:
    """None stands for NOW. Missing or unreadable dates pass."""
    low, low_node = first_date(less, today)
    high, high_node = first_date(more, today)
    if _in_order(low, high):
        return PASS
    return [(low_node if low_node is not None else high_node,
             f"{low.isoformat()} > {high.isoformat()}")]


def date_now(nodes: list, today: date) -> Failures:
    value, node = first_date(nodes, today)
    if _in_order(value, today):
        return PASS
    return [(node, f"{value.isoformat()} > {today.isoformat()}")]


def time_limit(start: list, end: list, today: date) -> Failures:
    first, _ = first_date(start, today)
    last, node = first_date(end, today)
    if _within_a_year(first, last):
        return PASS
    return [(node, f"{(last - first).days} jours")]


def between_dates(when: list, start: list, end: list, today: date) -> Failures:
    value, node = first_date(when, today)
    first, _ = first_date(start, today)
    last, _ = first_date(end, today)
    if _between(value, first, last):
        return PASS
    return [(node, f"{value.isoformat()} hors de {first.isoformat()}…{last.isoformat()}")]


def regex(nodes: list, pattern: re.Pattern, must_match: bool) -> Failures:
    for node in nodes:
        text = string_value(node)
        if _regex_fails(text, pattern, must_match):
            return [(node, f"« {text} »")]
    return PASS


def startswith(nodes: list, prefixes: list | None, separator: str,
               org_prefixes: frozenset[str]) -> Failures:
    """prefixes None: the ORG-ID-PREFIX list (first two '-'-separated parts)."""
    if prefixes is None:
        for node in nodes:
            text = string_value(node)
            if _unknown_org_prefix(text, org_prefixes):
                return [(node, f"« {text} »")]
        return PASS
    starts = [string_value(n) + separator for n in prefixes]
    for node in nodes:
        text = string_value(node)
        if not any(text.startswith(s) for s in starts):
            return [(node, f"« {text} »")]
    return PASS


def unique(nodes: list) -> Failures:
    seen: set[str] = set()
    for node in nodes:
        text = string_value(node)
        if text in seen:
            return [(node, f"« {text} »")]
        seen.add(text)
    return PASS


def if_then(paths: list, element: Any) -> Failures:
    """Called when `if` holds and `then` does not."""
    return [(paths[0] if paths else element, "")]


def in_range(nodes: list, low: float | None, high: float | None) -> Failures:
    for node in nodes:
        if _out_of_range(string_value(node), low, high):
            return [(node, f"« {string_value(node)} »")]
    return PASS


def no_spaces(nodes: list) -> Failures:
    for node in nodes:
        text = string_value(node)
        if _spaced(text):
            return [(node, f"« {text} »")]
    return PASS


def id_condition_skips(kind: str, texts: list[str], org_ids: frozenset[str]) -> bool:
    """True when the SPEC's idCondition says the case does not apply."""
    if not org_ids:
        return False
    if kind == "NOT_EXISTING_ORG_ID":
        return any(t in org_ids for t in texts)
    return any(t.startswith(f"{org}-") for t in texts for org in org_ids)


# --- the same rules on the nodes' string values (see the module's docstring) -----------------

Values = list[str] | tuple[str, ...]


def date_now_holds(values: Values, today: date) -> bool:
    return _in_order(first_value_date(values, today), today)


def date_order_holds(less: Values | None, more: Values | None, today: date) -> bool:
    return _in_order(first_value_date(less, today), first_value_date(more, today))


def time_limit_holds(start: Values, end: Values, today: date) -> bool:
    return _within_a_year(first_value_date(start, today), first_value_date(end, today))


def between_dates_holds(when: Values, start: Values, end: Values, today: date) -> bool:
    return _between(first_value_date(when, today), first_value_date(start, today),
                    first_value_date(end, today))


def regex_holds(values: Values, pattern: re.Pattern, must_match: bool) -> bool:
    return not any(_regex_fails(text, pattern, must_match) for text in values)


def startswith_holds(values: Values, prefixes: Values | None, separator: str,
                     org_prefixes: frozenset[str]) -> bool:
    if prefixes is None:
        return not any(_unknown_org_prefix(text, org_prefixes) for text in values)
    starts = tuple(prefix + separator for prefix in prefixes)
    return all(text.startswith(starts) for text in values)


def unique_holds(values: Values) -> bool:
    return len(set(values)) == len(values)


def total_holds(values: Values, target: float, strict: bool) -> bool:
    return (not values and not strict) or _rounded_sum(values) == target


def in_range_holds(values: Values, low: float | None, high: float | None) -> bool:
    return not any(_out_of_range(text, low, high) for text in values)


def no_spaces_holds(values: Values) -> bool:
    return not any(_spaced(text) for text in values)
