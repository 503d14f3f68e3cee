"""The validation pipeline, in the official IATI Validator's order.

well-formed XML (0.1.1) -> IATI file and version (0.2.1, 0.6.1) -> XSD (0.3.1, critical)
-> codelists (9.x) -> ruleset (rule ids of the ruleset) and unique activity identifiers (1.1.2).
A critical finding stops the pipeline: the file is refused. Findings come back sorted by line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from lxml import etree

from iati.codelists import codelist_checker, org_id_prefixes
from iati.findings import CRITICAL, ERROR, Finding, is_blocking, is_refused, sort_key
from iati.lines import LIBXML_LINE_LIMIT, LineMap, LineOf, plain_line
from iati.parallel import Batches, UnitJob, run_units, stream_limit
from iati.rulesets import UNITS, IdSets, Ruleset, node_xpath, our_ruleset
from iati.schema import check_schema
from iati.standard import Standard, get_standard
from iati.version import check_version, file_kind
from iati.xmlsafe import UnitStream, XmlError, XmlSecurityError, may_stream, parse_bytes

NOT_XML_ID = "0.1.1"
DOCTYPE_ID = "ptfops-doctype"
DUPLICATE_ID = "1.1.2"
STREAM_FROM = 1 << 20  # bytes: smaller files are parsed whole, then checked


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
    limit = stream_limit(options.get("workers"))  # type: ignore[arg-type]
    if limit > 1 and len(data) >= STREAM_FROM and may_stream(data):
        report = _validate_streamed(data, limit, options)
        if report is not None:
            return report
    try:
        tree = parse_bytes(data)
    except XmlError as exc:
        return _unreadable(exc)
    return validate_tree(tree, source=data, **options)


@dataclass
class _Stream:
    """A parse in progress: the job and processes started on its complete units."""

    job: UnitJob
    batches: Batches


def _validate_streamed(data: bytes, limit: int, options: dict[str, object]) -> Report | None:
    """Parse chunk by chunk, checking complete activities in forked processes meanwhile.

    The same report as parse_bytes + validate_tree; None (nothing started any more) for
    anything unusual (not well-formed, not IATI, a refused version, units out of place…):
    the caller then takes the ordinary path, which reports it.
    """
    stream = UnitStream(data, tuple(UNITS.values()))
    root: etree._Element | None = None
    started: _Stream | None = None
    complete = 0
    usable = True
    try:
        for fed, units in stream:
            for unit in units if usable else ():
                if root is None:
                    root = unit.getparent()
                    kind = file_kind(root) if root is not None else None
                    if kind is None or root.getparent() is not None or \
                            is_refused(check_version(root)):
                        usable = False
                        break
                    job = _unit_job(root, kind, data, **options)  # type: ignore[arg-type]
                    requested = options.get("workers")
                    started = _Stream(job, Batches(job, limit, requested))  # type: ignore[arg-type]
                if unit.getparent() is not root or unit.tag != UNITS[kind]:
                    usable = False  # a unit out of place: the ordinary path
                    break
                complete += 1
            if not usable and started is not None:
                started.batches.stop()
                started = None
            if started is not None:
                started.batches.offer(complete, fed, len(data))
        tree = stream.close()
    except Exception:  # noqa: BLE001 - the ordinary path parses again and reports it
        if started is not None:
            started.batches.stop()
        return None
    return _validate(tree, source=data, stream=started, **options)  # type: ignore[arg-type]


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
              stream: _Stream | None = None) -> Report:
    """validate_tree, possibly with units already being checked by a streamed parse."""
    standard = standard or get_standard()
    root = tree.getroot()
    kind = file_kind(root)
    report = Report(kind=kind, version=root.get("version"))
    report.findings.extend(check_version(root))
    if report.refused:
        if stream is not None:  # not reached: a streamed parse starts after this check
            stream.batches.stop()
        return report
    if stream is not None:
        job = stream.job
    else:
        job = _unit_job(root, kind, source, ruleset=ruleset, extra_rulesets=extra_rulesets,
                        today=today, known_org_ids=known_org_ids, standard=standard)
    line_of = job.line_of
    units = job.units()
    report.units = len(units)

    def schema_step() -> bool:
        """The XSD step; False when the file is refused."""
        report.findings.extend(check_schema(tree, kind, standard, line_of))
        return not report.refused

    found = run_units(job, len(units), schema_step, workers,
                      stream.batches if stream is not None else None)
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
    seen: dict[str, int | None] = {}
    for number, unit in enumerate(units, 1):
        element = next(unit.iterchildren("iati-identifier"), None)
        if element is None:
            continue
        text = element.text or ""
        if text not in seen:
            seen[text] = job.line_of(element)
            continue
        first = seen[text]
        out.append(Finding(DUPLICATE_ID, ERROR,
                           f"l'identifiant d'activité « {text} » est déjà utilisé"
                           f"{f' ligne {first}' if first else ''} : il doit être unique",
                           node_xpath(element, unit, job.unit_path(number)),
                           job.line_of(element)))
    return out


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple] = set()
    out = []
    for finding in findings:
        key = (finding.id, finding.severity, finding.line, finding.xpath)
        if key not in seen:
            seen.add(key)
            out.append(finding)
    return out
