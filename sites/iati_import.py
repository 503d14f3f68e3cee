"""Import an IATI activity file into the portal's database: all or nothing.

The file is validated first (`iati.validate`, as the official IATI Validator does): only a
critical finding (not XML, a DTD, not IATI, wrong version, XSD) refuses it; errors and warnings
are reported and the file is kept whole. It is then read in a stream (`iati.reader`), and each
activity is matched by its identifier: an existing activity is updated (its children replaced),
a new one created, so importing the same file twice never duplicates anything. Everything
happens in one database transaction, committed at the end, or rolled back on any failure (and
always for a dry run). A quality report (`iati.quality`) says what the file lacks.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Numeric, String, inspect, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import selectinload

from iati.findings import CRITICAL, SEVERITIES, Finding
from iati.model import Activity
from iati.quality import QualityCounter, QualityReport
from iati.reader import ORGANISATIONS, read_activities
from iati.validate import validate_file
from iati.xmlsafe import XmlError
from sites.audit import record
from sites.extensions import db
from sites.iati_mapping import apply_model
from sites.models import Group, IatiActivity

log = logging.getLogger("ptfops.iati")

BATCH = 200  # activities per database round trip
#: Text columns an over-long value may be shortened in (names and titles); any other
#: over-long value (an identifier, a code, a URL) refuses the file.
_SHORTENED = ("title_", "name_")
_CHILDREN = ("descriptions", "participating_orgs", "sectors", "locations", "budgets",
             "transactions", "document_links")


class ImportRefusedError(Exception):
    """The file is refused and nothing was stored; `message` (French) names where."""

    def __init__(self, message: str, line: int | None = None,
                 findings: list[Finding] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.findings = findings or []


@dataclass
class ImportSummary:
    """What an import stored (or, for a dry run, would store), and what the file lacks."""

    filename: str = ""
    group: str = ""
    dry_run: bool = False
    activities: int = 0
    created: int = 0
    updated: int = 0
    locations: int = 0
    transactions: int = 0
    budgets: int = 0
    shortened_texts: int = 0
    quality: QualityReport = field(default_factory=QualityReport)
    findings: list[Finding] = field(default_factory=list)  # the validation's

    def severity_counts(self) -> dict[str, int]:
        """Validation findings per severity."""
        return {s: sum(1 for f in self.findings if f.severity == s) for s in SEVERITIES}

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape (`ptfops iati import --json`)."""
        return {
            "file": self.filename, "group": self.group or None, "dry_run": self.dry_run,
            "activities": self.activities, "created": self.created, "updated": self.updated,
            "locations": self.locations, "transactions": self.transactions,
            "budgets": self.budgets, "shortened_texts": self.shortened_texts,
            "quality": [f.to_dict() for f in self.quality.findings],
            "validation": self.severity_counts(),
            "validation_findings": [f.to_dict() for f in self.findings],
        }

    def describe(self) -> str:
        """A one-line French summary (audit log, command line)."""
        verb = "à importer" if self.dry_run else "importées"
        group = f", groupe {self.group}" if self.group else ""
        return (f"{self.filename} : {self.activities} activités {verb} ({self.created} "
                f"nouvelles, {self.updated} mises à jour), {self.locations} lieux, "
                f"{self.transactions} transactions{group}")


@dataclass(frozen=True)
class _Limit:
    """What a column holds at most: `length` characters, or `digits` before the point."""

    key: str
    length: int = 0
    digits: int = 0
    may_shorten: bool = False

    @property
    def bound(self) -> Decimal | None:
        """Numbers must stay below this (None for text)."""
        return Decimal(10) ** self.digits if self.digits else None


@cache
def _limits(model: type) -> tuple[_Limit, ...]:
    """The limits of the model's text and decimal columns."""
    out = []
    for column in inspect(model).columns:
        key, kind = column.key, column.type
        numeric = getattr(kind, "impl", kind)
        if isinstance(kind, String) and kind.length:
            out.append(_Limit(key, length=kind.length,
                              may_shorten=key.startswith(_SHORTENED) or "_name_" in key))
        elif isinstance(numeric, Numeric) and numeric.precision:
            out.append(_Limit(key, digits=numeric.precision - (numeric.scale or 0)))
    return tuple(out)


def _fit(row: IatiActivity) -> int:
    """Shorten over-long names and titles of `row` and its children; refuse other overflows.

    Returns how many texts were shortened. (PostgreSQL refuses what does not fit its columns,
    SQLite does not: checked here, both backends behave the same.)
    """
    shortened = 0
    objects = [row, *(child for name in _CHILDREN for child in getattr(row, name))]
    where = f"activité « {row.identifier[:200]} »"
    for obj in objects:
        for limit in _limits(type(obj)):
            value = getattr(obj, limit.key)
            if limit.bound is not None:
                if value is not None and abs(Decimal(value)) >= limit.bound:
                    raise ImportRefusedError(
                        f"{where} : le nombre {value} ({limit.key}) est trop grand pour être "
                        f"enregistré ({limit.digits} chiffres avant la virgule au plus) ; rien "
                        "n'a été importé")
                continue
            if not isinstance(value, str) or len(value) <= limit.length:
                continue
            if not limit.may_shorten:
                raise ImportRefusedError(
                    f"{where} : la valeur de {limit.key} est trop longue ({len(value)} "
                    f"caractères, {limit.length} au plus) ; rien n'a été importé")
            setattr(obj, limit.key, value[:limit.length - 1] + "…")
            shortened += 1
    return shortened


def _batches(activities: Iterator[Activity], size: int) -> Iterator[list[Activity]]:
    while batch := list(islice(activities, size)):
        yield batch


def _existing(identifiers: set[str]) -> dict[str, IatiActivity]:
    """The stored activities of those identifiers, children loaded (they are replaced)."""
    query = select(IatiActivity).where(IatiActivity.identifier.in_(identifiers)).options(
        *(selectinload(getattr(IatiActivity, name)) for name in _CHILDREN))
    return {row.identifier: row for row in db.session.scalars(query)}


def _refused(exc: XmlError) -> ImportRefusedError:
    return ImportRefusedError(f"fichier refusé, rien n'a été importé : {exc.message}", exc.line)


def _refuse_unreadable(path: Path) -> None:
    """Raise the reader's refusal of the file (e.g. an organisation file), if it has one."""
    try:
        next(read_activities(path), None)
    except XmlError as exc:
        raise _refused(exc) from exc


def _refuse_critical(findings: list[Finding]) -> None:
    critical = [f for f in findings if f.severity == CRITICAL]
    if not critical:
        return
    first = critical[0]
    where = f"ligne {first.line} : " if first.line else ""
    more = f" (et {len(critical) - 1} autre(s) erreur(s) critique(s))" if len(critical) > 1 else ""
    raise ImportRefusedError(f"fichier refusé, rien n'a été importé : {where}{first.message}{more}",
                        first.line, critical)


def import_file(path: str | Path, *, group: Group | None = None, dry_run: bool = False,
                editable_group_ids: Collection[int] | None = None, filename: str = "",
                actor: str | None = None, batch: int = BATCH) -> ImportSummary:
    """Validate, then store the activities of an IATI file in one transaction.

    `group` owns every activity of the file (when None, new activities have no group and
    updated ones keep theirs). `editable_group_ids`, when given (a focal point), lists the
    groups whose activities may be updated: an activity of the file already owned by another
    group (or by none) refuses the file. The session is committed at the end, or rolled back
    for a dry run and on any failure (ImportRefusedError, or a database error, re-raised).
    """
    path = Path(path)
    summary = ImportSummary(filename=filename or path.name, group=group.slug if group else "",
                            dry_run=dry_run)
    report = validate_file(path)
    summary.findings = report.findings
    if report.kind == ORGANISATIONS:  # say so first, rather than its schema errors
        _refuse_unreadable(path)
    _refuse_critical(report.findings)
    quality = QualityCounter()
    stored: dict[str, tuple[bool, int, int, int]] = {}  # identifier -> (created, counts…)
    try:
        for activities in _batches(read_activities(path), batch):
            existing = _existing({a.identifier for a in activities})
            for activity in activities:
                quality.add(activity)
                row = existing.get(activity.identifier)
                created = row is None and activity.identifier not in stored
                if row is None:
                    row = IatiActivity()
                    db.session.add(row)
                    existing[activity.identifier] = row
                elif (editable_group_ids is not None and activity.identifier not in stored
                      and row.group_id not in editable_group_ids):
                    raise ImportRefusedError(
                        f"l'activité « {activity.identifier} » appartient déjà à "
                        f"{'un autre groupe' if row.group_id else 'tout le portail'} : vous ne "
                        "pouvez pas la modifier ; rien n'a été importé")
                apply_model(row, activity, group or row.group)
                summary.shortened_texts += _fit(row)
                was_created = stored[activity.identifier][0] if (
                    activity.identifier in stored) else created
                stored[activity.identifier] = (was_created, len(activity.locations),
                                               len(activity.transactions), len(activity.budgets))
            db.session.flush()
            for row in existing.values():  # memory stays flat: flushed rows leave the session
                db.session.expunge(row)
        summary.quality = quality.finish()
        summary.activities = len(stored)
        summary.created = sum(1 for c, *_ in stored.values() if c)
        summary.updated = summary.activities - summary.created
        summary.locations = sum(v[1] for v in stored.values())
        summary.transactions = sum(v[2] for v in stored.values())
        summary.budgets = sum(v[3] for v in stored.values())
        if dry_run:
            db.session.rollback()
            return summary
        record("iati.import", group, summary.describe(), actor=actor)
        db.session.commit()
    except XmlError as exc:
        db.session.rollback()
        raise _refused(exc) from exc
    except DBAPIError as exc:  # a value the database refuses: say so, store nothing
        db.session.rollback()
        detail = " ".join(str(exc.orig).split())[:300]
        raise ImportRefusedError("la base de données a refusé une valeur du fichier, rien n'a "
                                 f"été importé : {detail}") from exc
    except BaseException:
        db.session.rollback()
        raise
    log.info("IATI import %s", summary.describe())
    return summary
