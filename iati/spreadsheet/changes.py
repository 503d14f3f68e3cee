"""Apply the rows read from a spreadsheet to an activity: what changes, what is refused.

A row changes only the cells that are filled: a blank cell leaves the field as it was, "-"
clears it. Rows of the child sheets are found by their number (N°) in the activity as it
was exported; a row without a number adds one; « Supprimer : oui » removes one.
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from iati.model import Activity, Budget, Location, Transaction, Value
from iati.spreadsheet import fields
from iati.spreadsheet.cells import CLEAR
from iati.spreadsheet.columns import ACTIVITIES, BUDGETS, CHILD_SHEETS, LOCATIONS, SHEETS, Sheet
from iati.spreadsheet.problems import ERROR, WARNING, Problem

KEYS = ("identifier", "number", "delete")


@dataclass
class SheetRow:
    """One filled row of a sheet: its place in the file and its non-blank cells, typed."""

    sheet: str
    row: int
    identifier: str
    number: int | None = None
    delete: bool = False
    values: dict[str, Any] = field(default_factory=dict)
    letters: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """False when a cell of the row could not be read: the row is not applied."""
        return not any(p.is_error for p in self.problems)

    def problem(self, key: str, message: str, severity: str = ERROR) -> Problem:
        """A problem located at this row, in the column filling `key`."""
        header = self.headers.get(key) or SHEETS[self.sheet].column(key).header
        return Problem(message, self.sheet, self.row, header, self.letters.get(key, ""),
                       severity)


@dataclass
class Applied:
    """An activity after the rows of an upload: created or changed, and what went wrong.

    `portal` holds, for each location in order, the portal's own fields (region, cercle).
    """

    identifier: str
    activity: Activity
    portal: list[dict[str, str]]
    created: bool
    changes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        """The problems that refuse the activity."""
        return [p for p in self.problems if p.is_error]

    @property
    def changed(self) -> bool:
        """True when something would be stored (a new activity, or a changed field)."""
        return self.created or bool(self.changes)


def _one_year_after(start: date) -> date:
    try:
        return start.replace(year=start.year + 1)
    except ValueError:  # 29 February
        return start.replace(year=start.year + 1, day=28)


def _value(value: Any) -> Any:
    return None if value is CLEAR else value


class _Run:
    """The work on one activity."""

    def __init__(self, result: Applied) -> None:
        self.result = result
        self.touched: list[tuple[SheetRow, Budget | Transaction]] = []

    @property
    def activity(self) -> Activity:
        return self.result.activity

    def refuse(self, row: SheetRow, key: str, message: str, severity: str = ERROR) -> None:
        self.result.problems.append(row.problem(key, message, severity))

    def missing(self, sheet: Sheet, row: SheetRow, what: str) -> bool:
        """Refuse each required column left blank in a row that creates something."""
        absent = [c for c in sheet.columns if c.required and c.key != "identifier"
                  and row.values.get(c.key) in (None, CLEAR)]
        for column in absent:
            self.refuse(row, column.key, f"obligatoire pour {what}")
        return bool(absent)

    # --- the activity itself ---

    def activity_row(self, row: SheetRow) -> None:
        sheet = SHEETS[ACTIVITIES]
        if self.result.created and self.missing(sheet, row, "une nouvelle activité"):
            return
        changed = []
        for key, value in row.values.items():
            if key == "identifier":
                continue
            old = fields.get(ACTIVITIES, self.activity, key)
            if fields.same(old, _value(value)):
                continue
            fields.put(ACTIVITIES, self.activity, key, _value(value))
            changed.append(key)
            self.result.changes.append(sheet.column(key).header)
        if any(k in fields.DATE_KEYS for k in changed) or self.result.created:
            self.check_dates(row)

    def check_dates(self, row: SheetRow) -> None:
        of = self.activity.date_of
        for start, end, key, text in (("1", "3", "planned_end", "prévue"),
                                      ("2", "4", "actual_end", "effective")):
            if of(start) and of(end) and of(end) < of(start):
                self.refuse(row, key, f"la fin {text} ({of(end):%d/%m/%Y}) est avant le début "
                                      f"({of(start):%d/%m/%Y})")
        if not of("1") and not of("2"):
            self.refuse(row, "planned_start", "une activité doit avoir une date de début "
                                              "(prévue ou effective)")
        for kind, key in (("2", "actual_start"), ("4", "actual_end")):
            if of(kind) and of(kind) > date.today():
                self.refuse(row, key, "une date effective ne peut pas être dans le futur : "
                                      "utilisez la date prévue", WARNING)

    # --- locations, budgets, transactions ---

    def child_rows(self, sheet: Sheet, rows: list[SheetRow]) -> None:
        existing = fields.items(sheet.name, self.activity)
        count = len(existing)
        seen: dict[int, int] = {}
        deleted: set[int] = set()
        for row in rows:
            if row.number is None:
                self.add(sheet, row, existing)
                continue
            if self.result.created:  # numbers from another portal's export: all new here
                if row.number in seen:
                    self.refuse(row, "number", f"le n° {row.number} est déjà pris ligne "
                                               f"{seen[row.number]}")
                    continue
                seen[row.number] = row.row
                self.add(sheet, row, existing)
                continue
            if row.number > count:
                self.refuse(row, "number", f"l'activité n'a pas de {sheet.item} n° {row.number} "
                                           f"({count} en tout) : laissez « N° » vide pour en "
                                           "ajouter")
                continue
            if row.number in seen:
                done = sheet.done("modifié")
                self.refuse(row, "number", f"{sheet.label(row.number)} est déjà {done} ligne "
                                           f"{seen[row.number]}")
                continue
            seen[row.number] = row.row
            if row.delete:
                deleted.add(row.number - 1)
                self.result.changes.append(f"{sheet.label(row.number)} {sheet.done('supprimé')}")
                continue
            self.change(sheet, row, existing[row.number - 1], row.number - 1)
        for index in sorted(deleted, reverse=True):
            del existing[index]
            if sheet.name == LOCATIONS:
                del self.result.portal[index]

    def add(self, sheet: Sheet, row: SheetRow, existing: list[Any]) -> None:
        if row.delete:
            self.refuse(row, "delete", "indiquez dans « N° » le numéro de la ligne à supprimer")
            return
        article = "une nouvelle" if sheet.feminine else "un nouveau"
        if self.missing(sheet, row, f"{article} {sheet.item}"):
            return
        values = {k: _value(v) for k, v in row.values.items() if k not in KEYS}
        item: Any
        if sheet.name == LOCATIONS:
            item = Location()
        elif sheet.name == BUDGETS:
            item = Budget(values["period_start"], values["period_end"], Value(values["amount"]))
        else:
            item = Transaction(values["type"], values["transaction_date"],
                               Value(values["amount"]))
        portal = {}
        for key, value in values.items():
            if key in fields.PORTAL_KEYS:
                portal[key] = value or ""
            else:
                fields.put(sheet.name, item, key, value)
        if isinstance(item, Budget | Transaction) and item.value.value_date is None:
            item.value.value_date = (item.period_start if isinstance(item, Budget)
                                     else item.transaction_date)
        existing.append(item)
        if sheet.name == LOCATIONS:
            self.result.portal.append(portal)
        self.check_item(sheet, row, item)
        self.result.changes.append(f"{sheet.label(None)} (ligne {row.row})")

    def change(self, sheet: Sheet, row: SheetRow, item: Any, index: int) -> None:
        changed = []
        for key, value in row.values.items():
            if key in KEYS:
                continue
            if key in fields.PORTAL_KEYS:
                portal = self.result.portal[index]
                if not fields.same(portal.get(key, ""), _value(value)):
                    portal[key] = _value(value) or ""
                    changed.append(key)
                continue
            if fields.same(fields.get(sheet.name, item, key), _value(value)):
                continue
            fields.put(sheet.name, item, key, _value(value))
            changed.append(key)
        if "geonames_id" in changed and "region" not in changed:
            self.result.portal[index]["region"] = ""  # found again from the new GeoNames id
        if changed:
            self.check_item(sheet, row, item)
            headers = ", ".join(sheet.column(k).header for k in changed)
            self.result.changes.append(f"{sheet.label(index + 1)} : {headers}")

    def check_item(self, sheet: Sheet, row: SheetRow, item: Any) -> None:
        if isinstance(item, Budget):
            start, end = item.period_start, item.period_end
            if end < start:
                self.refuse(row, "period_end", f"la fin de période ({end:%d/%m/%Y}) est avant "
                                               f"son début ({start:%d/%m/%Y})")
            elif end >= _one_year_after(start):
                self.refuse(row, "period_end", "une période de budget dure un an au plus "
                                               "(règle IATI) : coupez-la en plusieurs budgets")
        if isinstance(item, Location) and (item.latitude is None) != (item.longitude is None):
            key = "latitude" if item.latitude is None else "longitude"
            self.refuse(row, key, "donnez la latitude et la longitude ensemble")
        if isinstance(item, Transaction) and item.transaction_date > date.today():
            self.refuse(row, "transaction_date", "la date est dans le futur : une transaction "
                                                 "se déclare une fois faite", WARNING)
        if isinstance(item, Budget | Transaction):
            self.touched.append((row, item))

    def check_currencies(self) -> None:
        if self.activity.default_currency:
            return
        for row, item in self.touched:
            if not item.value.currency:
                self.refuse(row, "currency", "indiquez la devise : l'activité n'a pas de "
                                             "devise par défaut")



def apply_rows(identifier: str, rows: list[SheetRow], current: Activity | None = None,
               portal: list[dict[str, str]] | None = None,
               blank: Activity | None = None) -> Applied:
    """The activity `identifier` once `rows` are applied to `current` (None: a new one).

    `portal` holds the portal fields of the current locations; `blank` is the starting
    point of a new activity (defaults such as the reporting organisation). Nothing given is
    modified: the result holds copies.
    """
    created = current is None
    activity = deepcopy(current if current is not None else blank or Activity(identifier))
    activity.identifier = identifier
    extras = [dict(p) for p in (portal or [])][:len(activity.locations)]
    extras += [{} for _ in range(len(activity.locations) - len(extras))]
    result = Applied(identifier, activity, extras, created,
                     problems=[p for r in rows for p in r.problems])
    run = _Run(result)
    head = [r for r in rows if r.sheet == ACTIVITIES]
    if created and not head:
        result.problems.append(rows[0].problem(
            "identifier", f"l'activité « {identifier} » n'existe pas : ajoutez-la d'abord dans "
                          "la feuille « Activités »"))
        return result
    if created and not all(r.valid for r in head):
        return result  # nothing to build the new activity on: its row's errors say why
    for row in head:
        if row.valid:
            run.activity_row(row)
    for name in CHILD_SHEETS:
        run.child_rows(SHEETS[name], [r for r in rows if r.sheet == name and r.valid])
    run.check_currencies()
    return result
