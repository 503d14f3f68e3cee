"""The validation pipeline, in the official IATI Validator's order.

well-formed XML (0.1.1) -> IATI file and version (0.2.1, 0.6.1) -> XSD (0.3.1, critical)
-> codelists (9.x) -> ruleset (rule ids of the ruleset) and unique activity identifiers (1.1.2).
A critical finding stops the pipeline: the file is refused. Findings come back sorted by line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path

from lxml import etree

from iati.codelists import codelist_checker, org_id_prefixes
from iati.findings import CRITICAL, ERROR, Finding, is_blocking, is_refused, sort_key
from iati.lines import LIBXML_LINE_LIMIT, LineMap, LineOf, plain_line
from iati.parallel import Forked, Shares, UnitJob, run_units, split_points, split_processes
from iati.rulesets import UNITS, IdSets, Ruleset, node_xpath, our_ruleset
from iati.schema import check_schema
from iati.standard import Standard, get_standard
from iati.version import check_version, file_kind
from iati.xmlsafe import UnitStream, XmlError, XmlSecurityError, may_stream, parse_bytes

NOT_XML_ID = "0.1.1"
DOCTYPE_ID = "ptfops-doctype"
DUPLICATE_ID = "1.1.2"
SHARE_FROM = 8 << 20  # bytes: smaller files are checked by the process that parses them


@dataclass
class Report:
    """What validation found, and whether the file may be published."""

    findings: list[Finding] = field(default_factory=list)
    kind: str | None = None       # iati-activities / iati-organisations
    version: str | None = None
    units: int = 0                # activities or organisations checked

    @property
    def refused(self) -> bool:
        """A critical finding: publication is refused."""
        return is_refused(self.findings)

    @property
    def has_errors(self) -> bool:
        """A critical or error finding (the command line exits 1)."""
        return is_blocking(self.findings)


def validate_file(path: str | Path, **options: object) -> Report:
    """Validate an IATI XML file (see validate_tree for the options)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return _unreadable(XmlError(f"lecture impossible de {path} : {exc.strerror}"))
    return validate_bytes(data, **options)


def validate_bytes(data: bytes, **options: object) -> Report:
    """Validate IATI XML given as bytes (an upload)."""
    processes = split_processes(options.get("workers"))  # type: ignore[arg-type]
    if processes > 1 and len(data) >= SHARE_FROM and may_stream(data):
        report = _validate_shared(data, processes, options)
        if report is not None:
            return report
    try:
        tree = parse_bytes(data)
    except XmlError as exc:
        return _unreadable(exc)
    return validate_tree(tree, source=data, **options)


def _units_in_order(units: list[etree._Element], root: list[etree._Element | None]) -> bool:
    """Whether these newly closed units are children of one IATI root, of its unit kind, in
    the order the checks number them (`root` holds that root once seen)."""
    for unit in units:
        if root[0] is None:
            parent = unit.getparent()
            kind = file_kind(parent) if parent is not None else None
            if kind is None or parent.getparent() is not None:
                return False
            root[0] = parent
        if unit.getparent() is not root[0] or unit.tag != UNITS[file_kind(root[0])]:
            return False
    return True


def _check_share(data: bytes, stops: list[int], share: int,
                 options: dict[str, object]) -> tuple[tuple[int, int], list[Finding]] | None:
    """In a worker: parse `data` up to stops[share], check the units closed since the
    previous stop. ((first, end) unit numbers, findings), or None for a file not as
    expected (the parent then decides)."""
    root: list[etree._Element | None] = [None]
    complete, first = 0, 0
    stream = UnitStream(data, tuple(UNITS.values()), stops)
    for fed, units in stream:
        if not _units_in_order(units, root):
            return None
        complete += len(units)
        if share and fed == stops[share - 1]:
            first = complete
        if fed == stops[share]:
            break
    if root[0] is None or is_refused(check_version(root[0])):
        return None
    job = _unit_job(root[0], file_kind(root[0]), data, **options)  # type: ignore[arg-type]
    return (first, complete), job.check(first, complete)


def _validate_shared(data: bytes, processes: int, options: dict[str, object]) -> Report | None:
    """validate_bytes with workers forked before the parse, each checking a share of the
    activities on its own partial tree (see iati.parallel). The same report as the ordinary
    path; None (every worker stopped) for a file that is not well-formed, not IATI or
    unusual: the caller then takes the ordinary path, which reports it."""
    stops = split_points(len(data), processes)
    if not stops:
        return None
    options = {**options, "today": options.get("today") or date.today()}  # one day for all
    try:  # what the workers need, loaded once before they are forked
        standard = options.get("standard") or get_standard()
        if options.get("ruleset") is None:
            our_ruleset()
        codelist_checker(standard)  # type: ignore[arg-type]
        org_id_prefixes(standard)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - the ordinary path raises it again, where it belongs
        return None
    workers = [Forked(partial(_check_share, data, stops, share, options))
               for share in range(len(stops))]
    root: list[etree._Element | None] = [None]
    complete, counts, usable = 0, [], True
    try:
        stream = UnitStream(data, tuple(UNITS.values()), stops)
        for fed, units in stream:
            usable = usable and _units_in_order(units, root)
            complete += len(units)
            if fed in stops:
                counts.append(complete)
        tree = stream.close()
    except Exception:  # noqa: BLE001 - the ordinary path parses again and reports it
        for worker in workers:
            worker.stop()
        return None
    if not usable or len(counts) != len(stops):
        for worker in workers:
            worker.stop()
        return _validate(tree, source=data, **options)  # type: ignore[arg-type]
    ranges: list[tuple[int, int] | None] = list(zip([0, *counts], counts, strict=False))
    shares = Shares(workers, ranges, counts[-1])
    try:
        return _validate(tree, source=data, shares=shares, **options)  # type: ignore[arg-type]
    except BaseException:
        shares.stop()  # a worker blocked on sending its findings would otherwise wait forever
        raise


def _unreadable(exc: XmlError) -> Report:
    rule = DOCTYPE_ID if isinstance(exc, XmlSecurityError) else NOT_XML_ID
    return Report([Finding(rule, CRITICAL, exc.message, "", exc.line)])


def validate_tree(tree: etree._ElementTree, *, ruleset: Ruleset | None = None,
                  extra_rulesets: Iterable[Ruleset] = (), today: date | None = None,
                  known_org_ids: Iterable[str] = (), standard: Standard | None = None,
                  source: bytes | None = None, workers: int | None = None) -> Report:
    """Run the pipeline on a parsed tree (parse it with iati.xmlsafe).

    `source`, the bytes the tree was parsed from, makes lines past 65535 exact. `workers`:
    processes checking the activities (None: one per CPU for large files, see parallel.py).
    """
    return _validate(tree, ruleset=ruleset, extra_rulesets=extra_rulesets, today=today,
                     known_org_ids=known_org_ids, standard=standard, source=source,
                     workers=workers)


def _unit_job(root: etree._Element, kind: str, source: bytes | None, *,
              ruleset: Ruleset | None = None, extra_rulesets: Iterable[Ruleset] = (),
              today: date | None = None, known_org_ids: Iterable[str] = (),
              standard: Standard | None = None, workers: int | None = None) -> UnitJob:
    """What checking the units of `root` needs (rulesets, codelists, lines)."""
    standard = standard or get_standard()
    line_of: LineOf = plain_line
    if source is not None and source.count(b"\n") >= LIBXML_LINE_LIMIT:
        line_of = LineMap(source, root, UNITS[kind]).line
    ours = ruleset or our_ruleset()
    return UnitJob(root, kind, [ours, *extra_rulesets], ours.messages(), today or date.today(),
                   IdSets(org_id_prefixes(standard), frozenset(known_org_ids)),
                   codelist_checker(standard), line_of)


def _validate(tree: etree._ElementTree, *, ruleset: Ruleset | None = None,
              extra_rulesets: Iterable[Ruleset] = (), today: date | None = None,
              known_org_ids: Iterable[str] = (), standard: Standard | None = None,
              source: bytes | None = None, workers: int | None = None,
              shares: Shares | None = None) -> Report:
    """validate_tree, possibly with workers already checking shares of the units."""
    standard = standard or get_standard()
    root = tree.getroot()
    kind = file_kind(root)
    report = Report(kind=kind, version=root.get("version"))
    report.findings.extend(check_version(root))
    if report.refused:
        if shares is not None:  # workers found the same and sent nothing to use
            shares.stop()
        return report
    job = _unit_job(root, kind, source, ruleset=ruleset, extra_rulesets=extra_rulesets,
                    today=today, known_org_ids=known_org_ids, standard=standard)
    line_of = job.line_of
    units = job.units()
    report.units = len(units)

    def schema_step() -> bool:
        """The XSD step; False when the file is refused."""
        report.findings.extend(check_schema(tree, kind, standard, line_of))
        return not report.refused

    found = run_units(job, len(units), schema_step, workers, shares)
    if found is not None:
        report.findings.extend(job.codelists.check_root(root, kind))
        report.findings.extend(found)
        report.findings.extend(_duplicates(job, units))
    report.findings = _dedupe(report.findings)
    report.findings.sort(key=sort_key)
    return report


def _duplicates(job: UnitJob, units: list[etree._Element]) -> list[Finding]:
    """1.1.2: each activity identifier must be unique in the file."""
    if job.kind != "iati-activities":
        return []
    out: list[Finding] = []
    seen: dict[str, etree._Element] = {}  # the first element with that text
    for number, unit in enumerate(units, 1):
        element = _first_child(unit, "iati-identifier")
        if element is None:
            continue
        text = element.text or ""
        if text not in seen:
            seen[text] = element  # its line is only looked up for a duplicate
            continue
        first = job.line_of(seen[text])
        out.append(Finding(DUPLICATE_ID, ERROR,
                           f"l'identifiant d'activité « {text} » est déjà utilisé"
                           f"{f' ligne {first}' if first else ''} : il doit être unique",
                           node_xpath(element, unit, job.unit_path(number)),
                           job.line_of(element)))
    return out


def _first_child(element: etree._Element, tag: str) -> etree._Element | None:
    """The first child named `tag` (a loop stopping there: iterchildren(tag) costs several
    microseconds a call)."""
    for child in element:
        if child.tag == tag:
            return child
    return None


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple] = set()
    out = []
    for finding in findings:
        key = (finding.id, finding.severity, finding.line, finding.xpath)
        if key not in seen:
            seen.add(key)
            out.append(finding)
    return out
