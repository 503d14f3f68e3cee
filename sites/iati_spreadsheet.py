"""The aid-activity spreadsheet against the database: template, dry run, and apply.

The dry run reads the upload (`iati.spreadsheet`), matches each activity by its IATI
identifier and says what would be created, updated (with the changed fields) or refused (with
errors named by sheet, row and column). Focal points may only create or change activities of
the groups they edit. The apply step runs the dry run again and, only if no row is refused,
stores everything in one transaction, audit-logged: an import is all or nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from iati import spreadsheet as sheets
from iati.geo import towns
from iati.model import Activity, RecipientCountry
from iati.spreadsheet import ACTIVITIES, Applied, Problem, SheetRow, SpreadsheetError
from sites.audit import record
from sites.authz import can_edit_group, editable_groups
from sites.extensions import db
from sites.iati_files import activities_query
from sites.iati_mapping import apply_model, from_model, publisher, to_model
from sites.models import Group, IatiActivity, MembershipRole, User
from sites.models.base import utcnow

log = logging.getLogger("ptfops.iati")

CREATE, UPDATE, UNCHANGED, REFUSE = "create", "update", "unchanged", "refuse"
_LOOKUP_BATCH = 500  # identifiers per database query


def _place(problem: Problem) -> tuple[int, int, int, str]:
    """Where a problem is in the file: sheet (template order), row, column."""
    order = list(sheets.SHEETS)
    sheet = order.index(problem.sheet) if problem.sheet in order else -1
    return sheet, problem.row or 0, len(problem.letter), problem.letter


@dataclass
class Outcome:
    """What the upload does to one activity."""

    identifier: str
    action: str
    title: str = ""
    group: Group | None = None
    changes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    applied: Applied | None = None
    row: IatiActivity | None = None


@dataclass
class DryRun:
    """The whole upload: file-level problems, then one outcome per activity."""

    filename: str
    problems: list[Problem] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    stored: bool = False

    def _all(self, errors: bool) -> list[Problem]:
        found = self.problems + [p for o in self.outcomes for p in o.problems]
        return sorted((p for p in found if p.is_error is errors), key=_place)

    @property
    def errors(self) -> list[Problem]:
        """Every error, of the file and of its activities, in the file's order: any one
        refuses the import."""
        return self._all(True)

    @property
    def warnings(self) -> list[Problem]:
        """What is shown without refusing anything."""
        return self._all(False)

    @property
    def ok(self) -> bool:
        """True when nothing is refused: the import may be applied."""
        return not self.errors

    def having(self, action: str) -> list[Outcome]:
        """The outcomes of one kind (create, update, unchanged, refuse)."""
        return [o for o in self.outcomes if o.action == action]

    @property
    def changes_anything(self) -> bool:
        """True when applying would store something."""
        return any(o.action in (CREATE, UPDATE) for o in self.outcomes)


# --- the template ------------------------------------------------------------------------


def portal_fields(row: IatiActivity) -> list[dict[str, str]]:
    """The portal's own fields of each location (region, cercle), in order."""
    return [{"region": loc.region, "cercle": loc.cercle} for loc in row.locations]


def template(user: User, fmt: str, filled: bool, group: Group | None = None) -> bytes:
    """The template as XLSX ("xlsx") or a ZIP of CSV files ("zip").

    Filled: with the activities of `group`, else of every group `user` edits (all activities
    for an administrator).
    """
    activities: list[Activity] = []
    portal: dict[str, list[dict[str, str]]] = {}
    if filled:
        query = activities_query(group)
        if group is None and not user.is_admin:
            ids = [g.id for g in editable_groups(user, list(db.session.scalars(select(Group))))]
            query = query.where(IatiActivity.group_id.in_(ids))
        for row in db.session.scalars(query):
            activities.append(to_model(row))
            portal[row.identifier] = portal_fields(row)
    if fmt == "xlsx":
        return sheets.write_xlsx(activities, portal)
    return sheets.write_csv_zip(activities, portal)


# --- the dry run -------------------------------------------------------------------------


def _existing(identifiers: list[str]) -> dict[str, IatiActivity]:
    found: dict[str, IatiActivity] = {}
    for start in range(0, len(identifiers), _LOOKUP_BATCH):
        batch = identifiers[start:start + _LOOKUP_BATCH]
        query = activities_query().where(IatiActivity.identifier.in_(batch))
        found.update((row.identifier, row) for row in db.session.scalars(query))
    return found


def _blank() -> Activity:
    """Where a new activity starts: the portal as (secondary) reporter, Mali as recipient."""
    return Activity("", reporting_org=replace(publisher(), secondary_reporter=True),
                    recipient_countries=[RecipientCountry("ML", Decimal(100))],
                    default_lang="fr")


class _Scope:
    """The groups, and what the user may do with them."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.groups = {g.slug: g for g in db.session.scalars(select(Group))}
        self.editable = editable_groups(user, [g for g in self.groups.values()
                                               if not g.archived])

    def may_edit(self, group: Group | None) -> bool:
        return can_edit_group(self.user, group) if group is not None else self.user.is_admin

    def target(self, applied: Applied, rows: list[SheetRow], current: IatiActivity | None,
               problems: list[Problem]) -> Group | None:
        """The group the activity will belong to; problems name the cell when it may not."""
        head = next((r for r in rows if r.sheet == ACTIVITIES), None)
        first = head or rows[0]
        if current is not None and not self.may_edit(current.group):
            owner = current.group.short_name if current.group else _("the whole portal")
            problems.append(first.problem("identifier", _(
                "you may not change this activity: it belongs to %(group)s", group=owner)))
            return None
        slug = applied.activity.group
        if slug:
            group = self.groups.get(slug)
            moved = current is None or current.group is not group
            if group is None or (group.archived and moved):
                problems.append((head or first).problem("group", _(
                    "unknown group « %(slug)s »: write the short name of a group, as in its "
                    "address on the portal (for example gt-sante)", slug=slug)))
                return None
            if not self.may_edit(group):
                problems.append((head or first).problem("group", _(
                    "you are not a focal point of the group « %(slug)s »", slug=slug)))
                return None
            return group
        if current is not None and current.group is not None and not self.user.is_admin:
            problems.append((head or first).problem("group", _(
                "only an administrator may take an activity out of its group")))
            return None
        if current is not None or self.user.is_admin:
            return None
        own = [m.group for m in self.user.memberships
               if m.role == MembershipRole.FOCAL and m.group in self.editable]
        if len(own) == 1 or len(self.editable) == 1:  # the group one is the focal point of
            return own[0] if len(own) == 1 else self.editable[0]
        problems.append(first.problem("group", _(
            "write the group of this new activity (one of: %(groups)s)",
            groups=", ".join(g.slug for g in self.editable) or "-")))
        return None


def _outcome(identifier: str, rows: list[SheetRow], current: IatiActivity | None,
             scope: _Scope, blank: Activity) -> Outcome:
    applied = sheets.apply_rows(identifier, rows, to_model(current) if current else None,
                                portal_fields(current) if current else None, blank)
    problems = list(applied.problems)
    group = scope.target(applied, rows, current, problems)
    applied.activity.group = group.slug if group else ""
    title = applied.activity.title.get("fr") or applied.activity.title.get("en") or ""
    if any(p.is_error for p in problems):
        action = REFUSE
    elif applied.created:
        action = CREATE
    else:
        action = UPDATE if applied.changes else UNCHANGED
    return Outcome(identifier, action, title, group, list(applied.changes), problems, applied,
                   current)


def dry_run(data: bytes, filename: str, user: User) -> DryRun:
    """What the upload would do, activity by activity; nothing is stored."""
    run = DryRun(filename)
    try:
        upload = sheets.read(data, filename)
    except SpreadsheetError as exc:
        run.problems.append(exc.problem)
        return run
    run.problems = list(upload.problems)
    grouped = upload.by_activity()
    if not grouped and not upload.errors:
        run.problems.append(Problem(_("the file has no activity, location, budget or "
                                      "transaction row: nothing to import")))
    existing = _existing(list(grouped))
    scope, blank = _Scope(user), _blank()
    with db.session.no_autoflush:
        for identifier, rows in grouped.items():
            run.outcomes.append(_outcome(identifier, rows, existing.get(identifier), scope,
                                         blank))
    return run


# --- the apply step ----------------------------------------------------------------------


def _place_locations(row: IatiActivity, portal: list[dict[str, str]]) -> None:
    """Set what only the portal keeps (region, cercle) and the point of known towns."""
    for location, extra in zip(row.locations, portal, strict=False):
        if extra.get("region"):
            location.region = extra["region"]
        location.cercle = extra.get("cercle", "")
        town = towns().get(location.geonames_id) if location.geonames_id else None
        if town is not None:
            if location.latitude is None and location.longitude is None:
                location.latitude, location.longitude = town.latitude, town.longitude
            location.region = location.region or town.region


def _summary(run: DryRun) -> str:
    return _("%(file)s: %(created)s created, %(updated)s updated, %(unchanged)s unchanged",
             file=run.filename, created=len(run.having(CREATE)),
             updated=len(run.having(UPDATE)), unchanged=len(run.having(UNCHANGED)))


def _store(outcomes: Iterable[Outcome]) -> list[tuple[str, IatiActivity, Outcome]]:
    stored = []
    now = utcnow()
    for outcome in outcomes:
        assert outcome.applied is not None
        activity = outcome.applied.activity
        activity.last_updated = now
        if outcome.action == CREATE:
            row = from_model(activity, outcome.group)
            db.session.add(row)
        else:
            assert outcome.row is not None
            row = apply_model(outcome.row, activity, outcome.group)
        _place_locations(row, outcome.applied.portal)
        stored.append((outcome.action, row, outcome))
    return stored


def apply(data: bytes, filename: str, user: User) -> DryRun:
    """Store the upload if no row is refused, in one transaction; else store nothing.

    The dry run is made again first: the database may have changed since it was shown.
    """
    run = dry_run(data, filename, user)
    if not run.ok or not run.changes_anything:
        return run
    todo = [o for o in run.outcomes if o.action in (CREATE, UPDATE)]
    try:
        with db.session.no_autoflush:
            stored = _store(todo)
        db.session.flush()
        for action, row, outcome in stored:
            detail = "" if action == CREATE else ": " + "; ".join(outcome.changes)
            record(f"iati.spreadsheet.{action}", row, f"{row.identifier}{detail}"[:2000])
        record("iati.spreadsheet.import", None, _summary(run))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("spreadsheet import of %s by %s failed", filename, user.email)
        run.problems.append(Problem(_("the database refused the changes: nothing was stored. "
                                      "Try again, or warn the administrator.")))
        return run
    run.stored = True
    log.info("spreadsheet import by %s: %s", user.email, _summary(run))
    return run


__all__ = ["CREATE", "REFUSE", "UNCHANGED", "UPDATE", "DryRun", "Outcome", "apply", "dry_run",
           "portal_fields", "template"]
