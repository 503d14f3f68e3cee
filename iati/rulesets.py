"""An engine for the IATI Rulesets format (rule types of the Rulesets SPEC, JS edition).

A ruleset maps a context XPath to rule types, each with cases. Rules run activity by activity
(or organisation by organisation): every context is rewritten relative to that unit, so the
work grows linearly with the file and each unit's memory can be released after it is checked.
XPaths are compiled once, when the ruleset is loaded (see iati.xpath).

Semantics follow the SPEC; where the JavaScript validator's behaviour is ambiguous we keep
XPath's own rules (an empty node-set is false) and document it in docs/iati-validation.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from lxml import etree

from iati import checks
from iati.codegen import compile_context, compile_driver
from iati.findings import ERROR, SEVERITIES, Finding
from iati.xpath import (
    Attr,
    Env,
    Expr,
    Needs,
    Text,
    XPathError,
    compile_xpath,
    required_children,
    string_value,
    to_number,
)

ACTIVITIES, ORGANISATIONS = "iati-activities", "iati-organisations"
_IDENTIFIER = re.compile(r"[A-Za-z_][\w.\-]*\Z")
UNITS = {ACTIVITIES: "iati-activity", ORGANISATIONS: "iati-organisation"}
OUR_RULESET = Path(__file__).resolve().parent / "rules" / "ptfops-2.03.json"

RULE_NAMES = {
    "atleast_one", "no_more_than_one", "only_one_of", "one_or_all", "dependent", "sum",
    "strict_sum", "date_order", "date_now", "time_limit", "between_dates", "regex_matches",
    "regex_no_matches", "startswith", "unique", "if_then", "loop", "range", "no_spaces",
}
_CAMEL = {"atLeastOne": "atleast_one", "noMoreThanOne": "no_more_than_one",
          "onlyOneOf": "only_one_of", "oneOrAll": "one_or_all", "strictSum": "strict_sum",
          "dateOrder": "date_order", "dateNow": "date_now", "timeLimit": "time_limit",
          "betweenDates": "between_dates", "regexMatches": "regex_matches",
          "regexNoMatches": "regex_no_matches", "startsWith": "startswith",
          "ifThen": "if_then", "noSpaces": "no_spaces"}


class RulesetError(ValueError):
    """A ruleset file that cannot be used (bad JSON, unknown rule, invalid XPath)."""


@dataclass(frozen=True)
class IdSets:
    """Identifier lists the rules may consult (SPEC `idSets`)."""

    org_id_prefixes: frozenset[str] = frozenset()  # ORG-ID-PREFIX: org-id.guide list codes
    org_ids: frozenset[str] = frozenset()          # ORG-ID: publishers known to the Registry


class Context:
    """What a rule sees: the context element, the unit (activity) and its location."""

    __slots__ = ("element", "env", "today", "ids", "unit_path", "unit")

    def __init__(self, element: etree._Element, env: Env, today: date, ids: IdSets,
                 unit_path: str, unit: etree._Element) -> None:
        self.element, self.env, self.today, self.ids = element, env, today, ids
        self.unit_path, self.unit = unit_path, unit


@dataclass
class Case:
    """One compiled case of one rule type."""

    rule: str
    raw: dict[str, Any]
    info: dict[str, Any]
    run: Callable[[Context], Iterable[tuple[Any, str]]] = field(repr=False)
    condition: Expr | None = None
    id_condition: str | None = None
    id_paths: list[Expr] = field(default_factory=list)
    needs: Needs = None  # child tags one of which must exist for this case to fail

    @property
    def id(self) -> str:
        return str(self.info.get("id") or self.rule)

    @property
    def severity(self) -> str:
        severity = str(self.info.get("severity") or ERROR).lower()
        return severity if severity in SEVERITIES else ERROR


# --- the reference engine: each rule type as a function ctx -> [(node, detail)] -------------

def _xpaths(case: dict[str, Any], key: str) -> list[Expr]:
    value = case.get(key, [])
    if isinstance(value, str):
        value = [value]
    return [compile_xpath(v) for v in value]


def _xpath(case: dict[str, Any], key: str) -> Expr:
    if key not in case:
        raise RulesetError(f"case without {key!r}: {case}")
    return compile_xpath(case[key])


def _number(value: Any) -> float:
    return to_number(str(value)) if not isinstance(value, float) else value


def _selector(case: dict[str, Any], key: str) -> Callable[[Context], list]:
    """All nodes the `key` XPaths select, in order."""
    paths = _xpaths(case, key)
    if len(paths) == 1:
        only = paths[0]
        return lambda ctx: only.nodes(ctx.element, ctx.env)
    return lambda ctx: [n for p in paths for n in p.nodes(ctx.element, ctx.env)]


def _each(case: dict[str, Any], key: str) -> Callable[[Context], list[list]]:
    """One node list per XPath of `key`."""
    paths = _xpaths(case, key)
    return lambda ctx: [p.nodes(ctx.element, ctx.env) for p in paths]


def _date_source(case: dict[str, Any], key: str) -> Callable[[Context], list | None]:
    if case.get(key) == "NOW":
        return lambda ctx: None
    expr = _xpath(case, key)
    return lambda ctx: expr.nodes(ctx.element, ctx.env)


def _regex_of(case: dict[str, Any]) -> re.Pattern:
    try:
        return re.compile(case["regex"])
    except (KeyError, re.error) as exc:
        raise RulesetError(f"invalid regex in case {case}: {exc}") from exc


def _one_or_all(case: dict) -> Callable:
    one = _xpath(case, "one")
    mode = case.get("all", "")
    holds = None if mode in checks.ONE_OR_ALL_MODES else _xpath(case, "all")

    def run(ctx: Context) -> checks.Failures:
        if one.boolean(ctx.element, ctx.env):
            return checks.PASS
        all_holds = None if holds is None else holds.boolean(ctx.element, ctx.env)
        return checks.one_or_all(mode, ctx.element, ctx.env, all_holds)
    return run


def _if_then(case: dict) -> Callable:
    when, then = _xpath(case, "if"), _xpath(case, "then")
    paths = _selector(case, "paths")

    def run(ctx: Context) -> checks.Failures:
        if not when.boolean(ctx.element, ctx.env) or then.boolean(ctx.element, ctx.env):
            return checks.PASS
        return checks.if_then(paths(ctx), ctx.element)
    return run


def _startswith(case: dict) -> Callable:
    nodes = _selector(case, "paths")
    prefix = case.get("prefix", [])
    prefix = [prefix] if isinstance(prefix, str) else prefix
    prefixes = None if prefix == ["ORG-ID-PREFIX"] else _selector({"p": prefix}, "p")
    separator = case.get("separator", "")
    return lambda ctx: checks.startswith(
        nodes(ctx), None if prefixes is None else prefixes(ctx), separator,
        ctx.ids.org_id_prefixes)


Runner = Callable[[Context], checks.Failures]


def _atleast_one(c: dict) -> Runner:
    each = _each(c, "paths")
    return lambda ctx: checks.atleast_one(each(ctx), ctx.element)


def _no_more_than_one(c: dict) -> Runner:
    nodes = _selector(c, "paths")
    return lambda ctx: checks.no_more_than_one(nodes(ctx))


def _only_one_of(c: dict) -> Runner:
    nodes, excluded = _selector(c, "paths"), _each(c, "excluded")
    return lambda ctx: checks.only_one_of(nodes(ctx), excluded(ctx), ctx.element)


def _dependent(c: dict) -> Runner:
    each = _each(c, "paths")
    return lambda ctx: checks.dependent(each(ctx), ctx.element)


def _total(c: dict, strict: bool) -> Runner:
    nodes, target = _selector(c, "paths"), _number(c.get("sum", 0))
    return lambda ctx: checks.total(nodes(ctx), target, strict, ctx.element)


def _date_order(c: dict) -> Runner:
    less, more = _date_source(c, "less"), _date_source(c, "more")
    return lambda ctx: checks.date_order(less(ctx), more(ctx), ctx.today)


def _date_now(c: dict) -> Runner:
    when = _date_source(c, "date")
    return lambda ctx: checks.date_now(when(ctx), ctx.today)


def _time_limit(c: dict) -> Runner:
    start, end = _date_source(c, "start"), _date_source(c, "end")
    return lambda ctx: checks.time_limit(start(ctx), end(ctx), ctx.today)


def _between_dates(c: dict) -> Runner:
    when, start, end = (_date_source(c, k) for k in ("date", "start", "end"))
    return lambda ctx: checks.between_dates(when(ctx), start(ctx), end(ctx), ctx.today)


def _regex(c: dict, must_match: bool) -> Runner:
    nodes, pattern = _selector(c, "paths"), _regex_of(c)
    return lambda ctx: checks.regex(nodes(ctx), pattern, must_match)


def _unique(c: dict) -> Runner:
    nodes = _selector(c, "paths")
    return lambda ctx: checks.unique(nodes(ctx))


def _range(c: dict) -> Runner:
    nodes = _selector(c, "paths")
    low = _number(c["min"]) if "min" in c else None
    high = _number(c["max"]) if "max" in c else None
    return lambda ctx: checks.in_range(nodes(ctx), low, high)


def _no_spaces(c: dict) -> Runner:
    nodes = _selector(c, "paths")
    return lambda ctx: checks.no_spaces(nodes(ctx))


_BUILDERS: dict[str, Callable[[dict], Runner]] = {
    "atleast_one": _atleast_one,
    "no_more_than_one": _no_more_than_one,
    "only_one_of": _only_one_of,
    "one_or_all": _one_or_all,
    "dependent": _dependent,
    "sum": lambda c: _total(c, strict=False),
    "strict_sum": lambda c: _total(c, strict=True),
    "date_order": _date_order,
    "date_now": _date_now,
    "time_limit": _time_limit,
    "between_dates": _between_dates,
    "regex_matches": lambda c: _regex(c, must_match=True),
    "regex_no_matches": lambda c: _regex(c, must_match=False),
    "startswith": _startswith,
    "unique": _unique,
    "if_then": _if_then,
    "range": _range,
    "no_spaces": _no_spaces,
}


def rule_name(name: str) -> str:
    """The snake_case rule name (the SPEC accepts camelCase too)."""
    name = _CAMEL.get(name, name)
    if name not in RULE_NAMES:
        raise RulesetError(f"unknown rule type {name!r}")
    return name


def _compile_case(rule: str, case: dict[str, Any]) -> Case:
    if not isinstance(case, dict):
        raise RulesetError(f"a {rule} case must be an object, not {case!r}")
    try:
        run = _BUILDERS[rule](case)
        condition = compile_xpath(case["condition"]) if "condition" in case else None
        id_paths = _xpaths(case, "paths") if "idCondition" in case else []
    except XPathError as exc:
        raise RulesetError(f"invalid XPath in a {rule} case: {exc}") from exc
    id_condition = case.get("idCondition")
    if id_condition not in (None, "NOT_EXISTING_ORG_ID", "NOT_EXISTING_ORG_ID_PREFIX"):
        raise RulesetError(f"unknown idCondition {id_condition!r}")
    info = case.get("ruleInfo") or {}
    return Case(rule, case, info, run, condition, id_condition, id_paths, _case_needs(rule, case))


_NEEDS_PATHS = {"no_more_than_one", "range", "regex_matches", "regex_no_matches", "no_spaces",
                "unique", "startswith", "dependent", "sum"}
_NEEDS_KEY = {"if_then": "if", "date_now": "date", "between_dates": "date",
              "time_limit": "start"}


def _case_needs(rule: str, case: dict[str, Any]) -> Needs:
    """Child tags without which the case cannot fail (None: always evaluate)."""
    if "condition" in case:
        needs = required_children(case["condition"])
        if needs is not None:
            return needs
    if rule in _NEEDS_PATHS:
        paths = case.get("paths", [])
        paths = [paths] if isinstance(paths, str) else paths
        found = [required_children(p) for p in paths]
        if not found or any(n is None for n in found):
            return None
        return frozenset().union(*found)
    if rule in _NEEDS_KEY and isinstance(case.get(_NEEDS_KEY[rule]), str):
        return required_children(case[_NEEDS_KEY[rule]])
    if rule == "date_order":
        side = case.get("less") if case.get("less") != "NOW" else case.get("more")
        return required_children(side) if isinstance(side, str) and side != "NOW" else None
    return None


def _substitute(value: Any, token: str) -> Any:
    if isinstance(value, str):
        return value.replace("$1", token)
    if isinstance(value, list):
        return [_substitute(v, token) for v in value]
    return value


@dataclass
class Loop:
    """A `loop` rule: its cases run once per distinct value selected by `foreach`."""

    foreach: Expr
    subs: list[str]
    cases: list[tuple[str, dict[str, Any]]]
    needs: Needs = None
    _compiled: dict[tuple[int, str], Case] = field(default_factory=dict)

    def expand(self, ctx: Context) -> Iterator[Case]:
        values: list[str] = []
        for node in self.foreach.nodes(ctx.element, ctx.env):
            text = string_value(node)
            if text not in values:
                values.append(text)
        for value in values:
            if "'" in value and '"' in value:
                continue  # cannot be quoted into an XPath: the codelist check reports it
            for number, (rule, raw) in enumerate(self.cases):
                key = (number, value)
                case = self._compiled.get(key)
                if case is None:
                    sub = dict(raw)
                    for name in self.subs:
                        if name in sub:
                            sub[name] = _substitute(sub[name], value)
                    case = _compile_case(rule, sub)
                    if len(self._compiled) < 10000:  # bounded: values come from the file
                        self._compiled[key] = case
                yield case


@dataclass
class ContextRules:
    """The cases that apply to one context, as a path relative to the unit."""

    source: str
    kind: str | None            # iati-activities, iati-organisations, or None for both
    select: Expr | None         # None: the unit itself
    items: list[Case | Loop]
    base: int = 0               # number of the first item in the ruleset's item list
    fast: Callable | None = field(default=None, repr=False)  # generated check(elements, …)
    needs: Needs = None         # children of the unit without which `select` is empty


def _split_union(xpath: str) -> list[str]:
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(xpath):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(xpath[start:i].strip())
            start = i + 1
    parts.append(xpath[start:].strip())
    return parts


def relative_context(context: str) -> list[tuple[str | None, str | None]]:
    """(file kind, path relative to the unit) for each branch of a context XPath."""
    branches = []
    for part in _split_union(context):
        for kind, unit in UNITS.items():
            prefix = f"/{kind}/{unit}"
            if part == prefix:
                branches.append((kind, None))
                break
            if part.startswith(prefix) and part[len(prefix)] in "/[":
                rest = part[len(prefix):]
                rel = f"self::{unit}{rest}" if rest.startswith("[") else rest[1:]
                branches.append((kind, rel))
                break
        else:
            if not part.startswith("//"):
                raise RulesetError(f"unsupported context {part!r}: use /{ACTIVITIES}/"
                                   f"{UNITS[ACTIVITIES]}…, /{ORGANISATIONS}/…, or //…")
            branches.append((None, f"descendant-or-self::{part[2:]}"))
    return branches


class Ruleset:
    """A compiled ruleset; `check(unit, …)` yields the findings of one activity/organisation."""

    def __init__(self, data: dict[str, Any], name: str = "ruleset", fast: bool = True) -> None:
        """Compile `data`; `fast` generates Python code per context (see iati.codegen)."""
        if not isinstance(data, dict):
            raise RulesetError(f"{name}: a ruleset is a JSON object of contexts")
        self.name = name
        self.source_data = data
        self.contexts: list[ContextRules] = []
        self.items: list[Case | Loop] = []
        self._by_kind: dict[str, list[ContextRules]] = {}
        self._drivers: dict[str, Callable | None] = {}
        for context, rules in data.items():
            if not isinstance(rules, dict):
                raise RulesetError(f"{name}: context {context!r} must map rule names to cases")
            items = self._compile_rules(rules, name)
            base = len(self.items)
            self.items.extend(items)
            fast_check = compile_context(items, base, context)[0] if fast and items else None
            for kind, rel in relative_context(context):
                select = compile_xpath(rel) if rel else None
                self.contexts.append(ContextRules(context, kind, select, items, base, fast_check,
                                                  required_children(rel) if rel else None))

    def _contexts_of(self, kind: str) -> list[ContextRules]:
        """The contexts that apply to a file kind (cached)."""
        found = [c for c in self.contexts if c.kind is None or c.kind == kind]
        self._by_kind[kind] = found
        return found

    def descendant_tags(self, kind: str) -> frozenset[str]:
        """Tags of the `//name` contexts of `kind`: descendants every unit is searched for."""
        tags = set()
        for context in self._by_kind.get(kind) or self._contexts_of(kind):
            source = context.select.source if context.select is not None else ""
            for axis in ("descendant-or-self::", "descendant::"):
                name = source.removeprefix(axis)
                if name != source and _IDENTIFIER.match(name):
                    tags.add(name)
        return frozenset(tags)

    def _driver_of(self, kind: str) -> Callable | None:
        """One generated function running every context of `kind` on a unit (cached); None
        when a context has no generated check (the loop in `check` runs them)."""
        if kind not in self._drivers:
            contexts = self._by_kind.get(kind) or self._contexts_of(kind)
            self._drivers[kind] = compile_driver(
                [(c.needs, c.select, c.fast) for c in contexts], self.name) \
                if contexts and all(c.fast is not None for c in contexts) else None
        return self._drivers[kind]

    @staticmethod
    def _compile_rules(rules: dict[str, Any], name: str) -> list[Case | Loop]:
        items: list[Case | Loop] = []
        for raw_name, body in rules.items():
            rule = rule_name(raw_name)
            cases = body.get("cases") if isinstance(body, dict) else None
            if not isinstance(cases, list):
                raise RulesetError(f"{name}: {raw_name} needs a list of cases")
            for case in cases:
                if rule == "loop":
                    items.append(_compile_loop(case))
                else:
                    items.append(_compile_case(rule, case))
        return items

    def cases(self) -> Iterator[Case]:
        """Every case, loops' inner cases included (unsubstituted)."""
        for context in self.contexts:
            for item in context.items:
                if isinstance(item, Loop):
                    for rule, raw in item.cases:
                        yield _compile_case(rule, raw)
                else:
                    yield item

    def messages(self) -> dict[str, str]:
        """Rule id -> message, as written in this ruleset."""
        return {case.id: str(case.info.get("message", "")) for case in self.cases()
                if case.info.get("id")}

    def check(self, unit: etree._Element, kind: str, unit_path: str, env: Env,
              today: date, ids: IdSets, messages: dict[str, str] | None = None) -> list[Finding]:
        """Run every applicable case on one unit (an iati-activity or iati-organisation).

        `messages` (rule id -> text) replaces this ruleset's messages, e.g. with French ones.
        """
        findings: list[Finding] = []
        org_ids, org_prefixes = ids.org_ids, ids.org_id_prefixes
        items = self.items

        def context(element: etree._Element) -> Context:
            return Context(element, env, today, ids, unit_path, unit)

        def emit(number: int, failures: checks.Failures) -> None:
            findings.extend(_findings(items[number], failures, unit, unit_path, env, messages))

        def ref(number: int, element: etree._Element) -> None:
            findings.extend(_run_case(items[number], context(element), messages))

        def loop(number: int, element: etree._Element) -> None:
            ctx = context(element)
            present = env.index(element).keys()
            for case in items[number].expand(ctx):
                if case.needs is None or not present.isdisjoint(case.needs):
                    findings.extend(_run_case(case, ctx, messages))

        driver = self._drivers.get(kind) if kind in self._drivers else self._driver_of(kind)
        if driver is not None:
            driver(unit, env, today, org_ids, org_prefixes, emit, ref, loop)
            return findings
        present_in_unit = env.index(unit).keys()
        for rules in self._by_kind.get(kind) or self._contexts_of(kind):
            if rules.needs is not None and present_in_unit.isdisjoint(rules.needs):
                continue
            elements = (unit,) if rules.select is None else rules.select.nodes(unit, env)
            if rules.fast is not None:
                rules.fast(elements, env, today, org_ids, org_prefixes, emit, ref, loop)
                continue
            for element in elements:
                present = env.index(element).keys()
                for offset, item in enumerate(rules.items):
                    if item.needs is not None and present.isdisjoint(item.needs):
                        continue  # none of the children it needs: the rule cannot fail
                    if isinstance(item, Loop):
                        loop(rules.base + offset, element)
                    else:
                        ref(rules.base + offset, element)
        return findings


def _compile_loop(case: dict[str, Any]) -> Loop:
    if not isinstance(case, dict) or "foreach" not in case or "do" not in case:
        raise RulesetError(f"a loop case needs foreach and do: {case!r}")
    inner: list[tuple[str, dict[str, Any]]] = []
    for raw_name, body in case["do"].items():
        rule = rule_name(raw_name)
        if rule == "loop":
            raise RulesetError("loops cannot be nested")
        for sub in body.get("cases", []):
            _compile_case(rule, sub)  # fail early on a broken template
            inner.append((rule, sub))
    try:
        foreach = compile_xpath(case["foreach"])
    except XPathError as exc:
        raise RulesetError(str(exc)) from exc
    return Loop(foreach, list(case.get("subs", [])), inner, required_children(case["foreach"]))


def _run_case(case: Case, ctx: Context, messages: dict[str, str] | None) -> list[Finding]:
    """The reference engine on one case: condition, idCondition, then the rule."""
    el, env = ctx.element, ctx.env
    if case.condition is not None and not case.condition.boolean(el, env):
        return _NONE
    if case.id_condition is not None and ctx.ids.org_ids:
        texts = [string_value(n) for p in case.id_paths for n in p.nodes(el, env)]
        if checks.id_condition_skips(case.id_condition, texts, ctx.ids.org_ids):
            return _NONE
    try:
        failures = case.run(ctx)
    except XPathError as exc:
        raise RulesetError(f"rule {case.id}: {exc}") from exc
    if not failures:
        return _NONE
    return _findings(case, failures, ctx.unit, ctx.unit_path, env, messages)


def _findings(case: Case, failures: checks.Failures, unit: etree._Element, unit_path: str,
              env: Env, messages: dict[str, str] | None) -> list[Finding]:
    """One finding per failure, located by XPath and line, with the case's message."""
    text = (messages or {}).get(case.id) or str(
        case.info.get("message") or f"règle {case.rule} non respectée")
    return [Finding(case.id, case.severity, f"{text} ({detail})" if detail else text,
                    node_xpath(node, unit, unit_path), node_line(node, env.line_of))
            for node, detail in failures]


_NONE: list[Finding] = []


def node_line(node: Any, line_of: Callable[[Any], int | None] | None = None) -> int | None:
    """The source line of a node (an attribute's or a text's: its element's line)."""
    if isinstance(node, (Attr, Text)):
        node = node.owner
    if line_of is not None:
        return line_of(node)
    return getattr(node, "sourceline", None)


def node_xpath(node: Any, unit: etree._Element, unit_path: str) -> str:
    """An absolute XPath with positions, computed from the unit down (no sibling scans)."""
    suffix = ""
    if isinstance(node, Attr):
        name = node.name
        if name.startswith("{http://www.w3.org/XML/1998/namespace}"):
            name = "xml:" + name.split("}", 1)[1]
        suffix, node = f"/@{name}", node.owner
    elif isinstance(node, Text):
        suffix, node = "/text()", node.owner
    steps = []
    while node is not None and node is not unit:
        parent = node.getparent()
        if parent is None:
            return "/" + node.tag + suffix
        same = [c for c in parent.iterchildren(node.tag)]
        steps.append(f"{node.tag}[{same.index(node) + 1}]" if len(same) > 1 else node.tag)
        node = parent
    return unit_path + "".join(f"/{s}" for s in reversed(steps)) + suffix


def load_ruleset(path: str | Path) -> Ruleset:
    """Load and compile a ruleset JSON file; raise RulesetError with a clear message."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RulesetError(f"cannot read ruleset {path}: {exc.strerror}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RulesetError(f"{path}: not a JSON ruleset ({exc})") from exc
    return Ruleset(data, name=str(path))


def our_ruleset() -> Ruleset:
    """The project's own 2.03 ruleset (iati/rules/ptfops-2.03.json)."""
    global _OURS
    if _OURS is None:
        _OURS = load_ruleset(OUR_RULESET)
    return _OURS


_OURS: Ruleset | None = None
