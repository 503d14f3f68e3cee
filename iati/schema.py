"""The XSD step: the official IATI 2.03 schemas, each error a critical 0.3.1 finding."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path

from lxml import etree

from iati.findings import CRITICAL, Finding
from iati.lines import LineOf, plain_line
from iati.standard import Standard, get_standard

SCHEMA_ID = "0.3.1"
_LINE_CAP = 65535  # libxml2 reports larger schema-error lines as 65535


class _LocalOnly(etree.Resolver):
    """Resolve schema imports inside the schemas folder only; never the network."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder.resolve()

    def resolve(self, url, pubid, context):  # noqa: ANN001, ANN201 - lxml's signature
        name = Path(str(url)).name
        candidate = (self.folder / name).resolve()
        if candidate.parent == self.folder and candidate.is_file():
            return self.resolve_filename(str(candidate), context)
        raise etree.XMLSchemaParseError(f"schema import outside {self.folder}: {url}")


XSD_NS = "http://www.w3.org/2001/XMLSchema"


@cache
def _schema(path: Path) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(_LocalOnly(path.parent))
    document = etree.parse(str(path), parser)
    try:
        return etree.XMLSchema(document)
    except etree.XMLSchemaParseError as exc:
        if "not determinist" not in str(exc) or not _make_deterministic(document):
            raise
        return etree.XMLSchema(document)


def _make_deterministic(document: etree._ElementTree) -> bool:
    """Rewrite, in memory, the one particle libxml2 >= 2.13 rejects in the 2.03 org schema.

    `documentLinkWithReceipientCountry` extends `documentLinkBase`, whose sequence ends with a
    repeated ##other wildcard, by (recipient-country*, ##other*): a foreign element could match
    either wildcard, which breaks XSD's Unique Particle Attribution rule. The same language is
    (recipient-country+, ##other*)?, which is deterministic. The official file is untouched.
    """
    sequence = document.find(
        f"{{{XSD_NS}}}complexType[@name='documentLinkWithReceipientCountry']/"
        f"{{{XSD_NS}}}complexContent/{{{XSD_NS}}}extension/{{{XSD_NS}}}sequence")
    if sequence is None or len(sequence) != 2:
        return False
    country, wildcard = sequence
    if country.get("name") != "recipient-country" or country.get("minOccurs") != "0" or \
            wildcard.tag != f"{{{XSD_NS}}}any" or wildcard.get("minOccurs") != "0":
        return False
    country.set("minOccurs", "1")
    sequence.set("minOccurs", "0")
    return True


def load_schema(kind: str, standard: Standard | None = None) -> etree.XMLSchema:
    """The compiled XSD for 'iati-activities' or 'iati-organisations' (cached)."""
    standard = standard or get_standard()
    path = standard.activity_schema if kind == "iati-activities" else standard.organisation_schema
    return _schema(path)


def _finding(error: etree._LogEntry, line: int | None) -> Finding:
    return Finding(SCHEMA_ID, CRITICAL, f"non conforme au schéma IATI : {error.message}",
                   error.path or "", line)


def check_schema(tree: etree._ElementTree, kind: str, standard: Standard | None = None,
                 line_of: LineOf = plain_line) -> list[Finding]:
    """Validate against the official XSD; one critical finding per schema error.

    libxml2 caps schema-error lines at 65535: the units past that line are validated again
    one by one so that each error is tied to its element, whose line `line_of` gives.
    """
    schema = load_schema(kind, standard)
    if schema.validate(tree):
        return []
    errors = list(schema.error_log)
    if not any(e.line >= _LINE_CAP for e in errors):
        return [_finding(e, e.line) for e in errors]
    late = _late_units(tree.getroot())
    cutoff = late[0].sourceline if late else _LINE_CAP
    findings = [_finding(e, e.line) for e in errors if e.line < cutoff]
    findings.extend(_relocate(tree.getroot(), late, schema, line_of))
    return findings


def _late_units(root: etree._Element) -> list[etree._Element]:
    """Activities/organisations that reach past line 65535."""
    units = list(root.iterchildren(etree.Element))
    late = []
    for position, unit in enumerate(units):
        following = units[position + 1].sourceline if position + 1 < len(units) else None
        if following is None or following >= _LINE_CAP - 1:
            late.append(unit)
    return late


def _relocate(root: etree._Element, late: list[etree._Element], schema: etree.XMLSchema,
              line_of: LineOf) -> list[Finding]:
    """Validate each late unit alone, its nodes renumbered 2, 3, …, and map the lines back."""
    findings = []
    for unit in late:
        shell = etree.Element(root.tag, dict(root.attrib), nsmap=root.nsmap)
        shell.sourceline = 1
        single = copy.deepcopy(unit)
        original = {1: root}
        for number, (copied, node) in enumerate(zip(single.iter(), unit.iter(), strict=True), 2):
            original[number] = node
            copied.sourceline = number
        shell.append(single)
        if not schema.validate(shell):
            findings.extend(_finding(e, line_of(original[e.line]) if e.line in original
                                     else None) for e in schema.error_log)
    return findings
