"""Codelist checks: every coded value must come from its official IATI 2.03 codelist.

The codes are read from the official codelist XML files (embedded and non-embedded lists alike,
as pyIATI ships them). Which attribute uses which codelist, under which vocabulary, and the
validator's rule id for it, are written in iati/rules/codelists-2.03.json (our file).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from iati.findings import ERROR, WARNING, Finding
from iati.rulesets import node_xpath
from iati.standard import Standard, get_standard
from iati.xmlsafe import parse_file
from iati.xpath import XML_NS, Attr, Env, Text

RULES_FILE = Path(__file__).resolve().parent / "rules" / "codelists-2.03.json"
WITHDRAWN_ID = "ptfops-codelist-withdrawn"


class CodelistError(RuntimeError):
    """A codelist file or the codelist rules file cannot be used."""


@dataclass(frozen=True)
class Codelist:
    """One official codelist: its codes, those marked withdrawn, and its kind.

    Embedded codelists change only with a new version of the standard, so the shipped copy is
    authoritative. Non-embedded ones (countries, sectors, currencies…) are updated between
    versions: pyIATI 0.4.1 ships a 2018 copy, so a code missing from it is only a warning.
    """

    name: str
    codes: frozenset[str]
    withdrawn: frozenset[str]
    embedded: bool


@cache
def _load_codelist(path: Path, embedded: bool) -> Codelist:
    root = parse_file(path).getroot()
    codes, withdrawn = set(), set()
    for item in root.iter("codelist-item"):
        code = (item.findtext("code") or "").strip()
        if not code:
            continue
        codes.add(code)
        if item.get("status") == "withdrawn":
            withdrawn.add(code)
    return Codelist(root.get("name", path.stem), frozenset(codes), frozenset(withdrawn),
                    embedded)


def load_codelist(name: str, standard: Standard | None = None) -> Codelist:
    """An official codelist by name (e.g. 'Sector'); raise CodelistError if absent."""
    standard = standard or get_standard()
    path = standard.codelist(name)
    if not path.is_file():
        raise CodelistError(f"codelist {name} not found in {path.parent}")
    return _load_codelist(path, name not in standard.non_embedded)


@dataclass(frozen=True)
class CodeRule:
    """One coded attribute (or text) on one element path."""

    id: str
    label: str
    codelist: Codelist
    attribute: str | None          # Clark name; None means the element's text
    when_attribute: str | None = None
    when_values: frozenset[str] = frozenset()
    when_absent: bool = False

    def applies(self, element: etree._Element) -> bool:
        if self.when_attribute is None:
            return True
        value = element.get(self.when_attribute)
        return self.when_absent if value is None else value in self.when_values


@dataclass
class _Node:
    rules: list[CodeRule] = field(default_factory=list)
    children: dict[str, _Node] = field(default_factory=dict)


def _clark(name: str) -> str:
    return f"{{{XML_NS}}}{name[4:]}" if name.startswith("xml:") else name


class CodelistChecker:
    """Compiled codelist rules for activity and organisation files."""

    def __init__(self, data: dict[str, Any], standard: Standard | None = None) -> None:
        self.standard = standard or get_standard()
        self.root_rules: dict[str, list[CodeRule]] = {}
        self.unit_rules: dict[str, _Node] = {}
        self.narrative_rule: CodeRule | None = None
        for kind in ("iati-activities", "iati-organisations"):
            section = data.get(kind, {})
            self.root_rules[kind] = [self._rule(r) for r in section.get("root", [])]
            tree = _Node()
            for raw in section.get("unit", []):
                node = tree
                for step in filter(None, raw.get("path", "").split("/")):
                    node = node.children.setdefault(step, _Node())
                node.rules.append(self._rule(raw))
            self.unit_rules[kind] = tree
        if "narrative" in data:
            self.narrative_rule = self._rule(data["narrative"])
        self._walkers = {kind: _generate_walker(tree) for kind, tree in self.unit_rules.items()}

    def _rule(self, raw: dict[str, Any]) -> CodeRule:
        try:
            when = raw.get("when", {})
            return CodeRule(
                id=raw["id"], label=raw["label"],
                codelist=load_codelist(raw["codelist"], self.standard),
                attribute=None if raw.get("text") else _clark(raw["attribute"]),
                when_attribute=when.get("attribute"),
                when_values=frozenset(when.get("values", [])),
                when_absent=bool(when.get("absent", False)))
        except KeyError as exc:
            raise CodelistError(f"codelist rule without {exc}: {raw}") from exc

    def check_root(self, root: etree._Element, kind: str) -> list[Finding]:
        """Coded attributes of the root element (the version)."""
        node = _Node(rules=self.root_rules.get(kind, []))
        return [self._finding(rule, element, value, root, f"/{kind}", lambda e: e.sourceline)
                for rule, element, value in self._walk(node, root, Env(), [])]

    def descendant_tags(self) -> tuple[str, ...]:
        """Descendants looked for in every unit (the narratives' xml:lang)."""
        return ("narrative",) if self.narrative_rule is not None else ()

    def check_unit(self, unit: etree._Element, kind: str, unit_path: str,
                   env: Env) -> list[Finding]:
        """Every coded value inside one activity or organisation."""
        out: list[Finding] = []
        bad: list[tuple[CodeRule, etree._Element, str]] = []
        self._walkers[kind](unit, env.index, bad)
        rule = self.narrative_rule
        if rule is not None:
            for element in (unit, *env.descendants(unit, "narrative")):
                value = element.get(rule.attribute)
                if value is not None and (value not in rule.codelist.codes
                                          or value in rule.codelist.withdrawn):
                    bad.append((rule, element, value))
        for rule, element, value in bad:
            out.append(self._finding(rule, element, value, unit, unit_path, env.line_of))
        return out

    def _walk(self, node: _Node, element: etree._Element, env: Env,
              bad: list[tuple[CodeRule, etree._Element, str]]) -> list:
        """Collect (rule, element, value) for each coded value that is unknown or withdrawn."""
        for rule in node.rules:
            value = element.get(rule.attribute) if rule.attribute is not None else element.text
            if value is None:
                continue
            codes = rule.codelist.codes
            if (value in codes and value not in rule.codelist.withdrawn) or \
                    not rule.applies(element):
                continue
            bad.append((rule, element, value))
        if node.children:
            index = env.index(element)
            for tag, child in node.children.items():
                found = index.get(tag)
                if found:
                    for sub in found:
                        self._walk(child, sub, env, bad)
        return bad

    @staticmethod
    def _finding(rule: CodeRule, element: etree._Element, value: str, unit: etree._Element,
                 unit_path: str, line_of: Callable[[etree._Element], int | None]) -> Finding:
        where = Text(element, value) if rule.attribute is None else \
            Attr(element, rule.attribute, value)
        xpath = node_xpath(where, unit, unit_path)
        line = line_of(element)
        codelist = rule.codelist
        if value in codelist.codes:
            return Finding(WITHDRAWN_ID, WARNING,
                           f"{rule.label} : le code « {value} » a été retiré de la liste "
                           f"{codelist.name}", xpath, line)
        if codelist.embedded:
            return Finding(rule.id, ERROR,
                           f"{rule.label} : « {value} » n'est pas un code de la liste "
                           f"{codelist.name}", xpath, line)
        return Finding(rule.id, WARNING,
                       f"{rule.label} : « {value} » est absent de la liste {codelist.name} "
                       f"livrée (copie de 2018 d'une liste non intégrée, mise à jour hors "
                       f"version) : vérifier qu'il figure dans la liste en vigueur",
                       xpath, line, advisory=True)


def _generate_walker(tree: _Node) -> Callable:
    """One Python function walking the rule tree: a few lookups per coded value.

    Generated from our rules file; names and values reach the source through repr() only.
    """
    consts: dict[str, Any] = {}
    lines = ["def walk(el0, index, bad):"]

    def const(value: Any) -> str:
        name = f"_k{len(consts)}"
        consts[name] = value
        return name

    def emit(node: _Node, var: str, depth: int) -> None:
        pad = "    " * depth
        for rule in node.rules:
            clean = const(rule.codelist.codes - rule.codelist.withdrawn)
            ref = const(rule)
            read = f"{var}.text" if rule.attribute is None else f"{var}.get({rule.attribute!r})"
            test = f"_v is not None and _v not in {clean}"
            if rule.when_attribute is not None:
                values = const(rule.when_values)
                test += (f" and ((_w := {var}.get({rule.when_attribute!r})) in {values}"
                         f" or (_w is None and {rule.when_absent!r}))")
            lines.append(f"{pad}_v = {read}")
            lines.append(f"{pad}if {test}:")
            lines.append(f"{pad}    bad.append(({ref}, {var}, _v))")
        if node.children:
            child_index = f"_i{depth}"
            lines.append(f"{pad}{child_index} = index({var})")
            for tag, child in node.children.items():
                sub = f"el{depth + 1}"
                lines.append(f"{pad}for {sub} in {child_index}.get({tag!r}, ()):")
                emit(child, sub, depth + 1)

    emit(tree, "el0", 1)
    if len(lines) == 1:
        lines.append("    pass")
    scope = dict(consts)
    exec(compile("\n".join(lines) + "\n", "<codelists>", "exec"), scope)  # noqa: S102
    return scope["walk"]


@cache
def _default_checker(path: Path, root: Path) -> CodelistChecker:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CodelistError(f"cannot read {path}: {exc}") from exc
    return CodelistChecker(data, Standard(root))


def codelist_checker(standard: Standard | None = None) -> CodelistChecker:
    """The checker built from our rules file and the official codelists (cached)."""
    return _default_checker(RULES_FILE, (standard or get_standard()).root)


def org_id_prefixes(standard: Standard | None = None) -> frozenset[str]:
    """Organisation identifier prefixes (OrganisationRegistrationAgency codelist)."""
    return load_codelist("OrganisationRegistrationAgency", standard).codes
