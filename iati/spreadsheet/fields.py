"""Read and change, column by column, the `iati.model` objects a row stands for.

`get(sheet, item, key)` is what the export writes in the column `key`; `put(sheet, item, key,
value)` changes the object (None clears an optional field). Only what a column shows is
touched: other participating organisations, sectors of other vocabularies, descriptions of
other types… stay as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from iati.model import (
    Activity,
    ActivityDate,
    Budget,
    Description,
    Location,
    OrgRef,
    ParticipatingOrg,
    RecipientCountry,
    Sector,
    Transaction,
)
from iati.spreadsheet.columns import ACTIVITIES, BUDGETS, LOCATIONS, TRANSACTIONS

DATE_KEYS = {"planned_start": "1", "actual_start": "2", "planned_end": "3", "actual_end": "4"}
ROLE_KEYS = {"funder": "1", "implementer": "4"}
#: Portal fields of a location (not IATI): kept beside the model, in a dict per location.
PORTAL_KEYS = ("region", "cercle")


def _set_text(texts: dict[str, str], lang: str, value: str | None) -> None:
    if value:
        texts[lang] = value
    else:
        texts.pop(lang, None)


def _general(activity: Activity, create: bool) -> Description | None:
    found = next((d for d in activity.descriptions if d.type == "1"), None)
    if found is None and create:
        found = Description("1")
        activity.descriptions.insert(0, found)
    return found


def _participant(activity: Activity, role: str, create: bool) -> ParticipatingOrg | None:
    found = next((p for p in activity.participating_orgs if p.role == role), None)
    if found is None and create:
        found = ParticipatingOrg(role=role)
        activity.participating_orgs.append(found)
    return found


def _org_get(org: OrgRef | None, part: str) -> str:
    if org is None:
        return ""
    if part == "name":
        return org.name.get("fr", "")
    return org.ref if part == "ref" else org.type


def _org_put(org: OrgRef, part: str, value: str | None) -> None:
    if part == "name":
        _set_text(org.name, "fr", value)
    elif part == "ref":
        org.ref = value or ""
    else:
        org.type = value or ""


def _is_empty(org: OrgRef) -> bool:
    return not (org.ref or org.type or org.name)


# --- Activities --------------------------------------------------------------------------


def _activity_get(activity: Activity, key: str) -> Any:
    if key in ("title_fr", "title_en"):
        return activity.title.get(key[-2:], "")
    if key in ("description_fr", "description_en"):
        found = _general(activity, False)
        return found.text.get(key[-2:], "") if found else ""
    if key in DATE_KEYS:
        return activity.date_of(DATE_KEYS[key])
    if key == "sectors":
        return tuple((s.code, s.percentage) for s in activity.sectors if s.vocabulary == "1")
    if key == "recipient_country":
        return activity.recipient_countries[0].code if activity.recipient_countries else ""
    if key == "aid_type":
        return next((c for v, c in activity.default_aid_type if v == "1"), "")
    prefix, _, part = key.partition("_")
    if prefix in ROLE_KEYS:
        return _org_get(_participant(activity, ROLE_KEYS[prefix], False), part)
    if prefix == "reporting":
        return _org_get(activity.reporting_org, part)
    simple = {"finance_type": "default_finance_type", "flow_type": "default_flow_type",
              "tied_status": "default_tied_status"}
    return getattr(activity, simple.get(key, key))


def _activity_put(activity: Activity, key: str, value: Any) -> None:
    if key in ("title_fr", "title_en"):
        _set_text(activity.title, key[-2:], value)
    elif key in ("description_fr", "description_en"):
        found = _general(activity, value is not None)
        if found is not None:
            _set_text(found.text, key[-2:], value)
            if not found.text:
                activity.descriptions.remove(found)
    elif key in DATE_KEYS:
        kind = DATE_KEYS[key]
        activity.dates = [d for d in activity.dates if d.type != kind]
        if value is not None:
            activity.dates.append(ActivityDate(kind, value))
            activity.dates.sort(key=lambda d: d.type)
    elif key == "sectors":
        others = [s for s in activity.sectors if s.vocabulary != "1"]
        activity.sectors = [Sector(code, "1", share) for code, share in value or ()] + others
    elif key == "recipient_country":
        if value is None:
            activity.recipient_countries = activity.recipient_countries[1:]
        elif activity.recipient_countries:
            activity.recipient_countries[0].code = value
        else:
            activity.recipient_countries = [RecipientCountry(value, Decimal(100))]
    elif key == "aid_type":
        others = [(v, c) for v, c in activity.default_aid_type if v != "1"]
        activity.default_aid_type = ([("1", value)] if value else []) + others
    else:
        prefix, _, part = key.partition("_")
        if prefix in ROLE_KEYS:
            org = _participant(activity, ROLE_KEYS[prefix], value is not None)
            if org is not None:
                _org_put(org, part, value)
                if _is_empty(org):
                    activity.participating_orgs.remove(org)
        elif prefix == "reporting":
            _org_put(activity.reporting_org, part, value)
        else:
            simple = {"finance_type": "default_finance_type", "flow_type": "default_flow_type",
                      "tied_status": "default_tied_status"}
            setattr(activity, simple.get(key, key), value or "")


# --- Locations ---------------------------------------------------------------------------


def _location_get(location: Location, key: str) -> Any:
    if key in ("name", "description"):
        return getattr(location, key).get("fr", "")
    if key == "geonames_id":
        return location.geonames_id
    return getattr(location, key)


def _location_put(location: Location, key: str, value: Any) -> None:
    if key in ("name", "description"):
        _set_text(getattr(location, key), "fr", value)
    elif key == "geonames_id":
        ids = [(v, c) for v, c in location.location_ids if v != "G1"]
        location.location_ids = ([("G1", value)] if value else []) + ids
        location.administratives = [a for a in location.administratives if a.vocabulary != "G1"]
    elif key in ("latitude", "longitude"):
        setattr(location, key, value)
    else:
        setattr(location, key, value or "")


# --- Budgets and transactions ------------------------------------------------------------


def _value_get(item: Budget | Transaction, key: str) -> Any:
    if key == "amount":
        return item.value.amount
    if key == "currency":
        return item.value.currency
    return item.value.value_date


def _value_put(item: Budget | Transaction, key: str, value: Any) -> None:
    if key == "amount":
        item.value.amount = value
    elif key == "currency":
        item.value.currency = value or ""
    else:
        item.value.value_date = value


def _budget_get(budget: Budget, key: str) -> Any:
    if key in ("amount", "currency", "value_date"):
        return _value_get(budget, key)
    return getattr(budget, key)


def _budget_put(budget: Budget, key: str, value: Any) -> None:
    if key in ("amount", "currency", "value_date"):
        _value_put(budget, key, value)
    else:
        setattr(budget, key, value if key in ("period_start", "period_end") else value or "")


def _transaction_get(transaction: Transaction, key: str) -> Any:
    if key in ("amount", "currency", "value_date"):
        return _value_get(transaction, key)
    if key == "description":
        return transaction.description.get("fr", "")
    prefix, _, part = key.partition("_")
    if prefix in ("provider", "receiver"):
        return _org_get(getattr(transaction, f"{prefix}_org"), part)
    return getattr(transaction, key)


def _transaction_put(transaction: Transaction, key: str, value: Any) -> None:
    if key in ("amount", "currency", "value_date"):
        _value_put(transaction, key, value)
        return
    if key == "description":
        _set_text(transaction.description, "fr", value)
        return
    prefix, _, part = key.partition("_")
    if prefix in ("provider", "receiver"):
        org = getattr(transaction, f"{prefix}_org") or OrgRef()
        _org_put(org, part, value)
        setattr(transaction, f"{prefix}_org", None if _is_empty(org) else org)
    elif key == "transaction_date":
        transaction.transaction_date = value
    else:
        setattr(transaction, key, value or "")


_GET: dict[str, Callable[[Any, str], Any]] = {
    ACTIVITIES: _activity_get, LOCATIONS: _location_get, BUDGETS: _budget_get,
    TRANSACTIONS: _transaction_get}
_PUT: dict[str, Callable[[Any, str, Any], None]] = {
    ACTIVITIES: _activity_put, LOCATIONS: _location_put, BUDGETS: _budget_put,
    TRANSACTIONS: _transaction_put}


def get(sheet: str, item: Any, key: str) -> Any:
    """The value of column `key` of `sheet` for `item` (an activity, location, budget…)."""
    return _GET[sheet](item, key)


def put(sheet: str, item: Any, key: str, value: Any) -> None:
    """Set column `key` of `item` to `value` (None clears it)."""
    _PUT[sheet](item, key, value)


def items(sheet: str, activity: Activity) -> list[Any]:
    """The activity's rows of a child sheet (its locations, budgets or transactions)."""
    return {LOCATIONS: activity.locations, BUDGETS: activity.budgets,
            TRANSACTIONS: activity.transactions}[sheet]


def same(old: Any, new: Any) -> bool:
    """Whether two cell values are equal as data (1500000 == 1500000.00, "" == None)."""
    if old in (None, "", ()) and new in (None, "", ()):
        return True
    if isinstance(old, float | int | Decimal) and isinstance(new, float | int | Decimal):
        if isinstance(old, float) or isinstance(new, float):
            return abs(float(old) - float(new)) < 1e-9
        return Decimal(old) == Decimal(new)
    if isinstance(old, tuple) and isinstance(new, tuple):
        return len(old) == len(new) and all(
            a[0] == b[0] and same(a[1], b[1]) for a, b in zip(old, new, strict=True))
    return bool(old == new)
