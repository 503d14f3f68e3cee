"""Aid activity pages: the filtered list with totals, and one activity."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from flask import Blueprint, abort, render_template, request
from flask_babel import format_currency, format_date, format_decimal, get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, case, distinct, func, literal, or_, select
from sqlalchemy.orm import selectinload

from iati.geo import regions
from iati.standard import StandardMissingError, get_standard
from iati.xmlsafe import XmlError, parse_file
from sites.cache import public_page
from sites.extensions import db
from sites.models import (
    Group,
    IatiActivity,
    IatiLocation,
    IatiParticipatingOrg,
    IatiSector,
    IatiTransaction,
)
from sites.pagination import paginate

bp = Blueprint("activities", __name__, url_prefix="/activites")

STATUSES = {"1": _l("Pipeline"), "2": _l("Implementation"), "3": _l("Completed"),
            "4": _l("Post-completion"), "5": _l("Cancelled"), "6": _l("Suspended")}
ROLES = {"1": _l("Funding"), "2": _l("Accountable"), "3": _l("Extending"),
         "4": _l("Implementing")}
TRANSACTION_TYPES = {"1": _l("Incoming funds"), "2": _l("Commitment"), "3": _l("Disbursement"),
                     "4": _l("Expenditure"), "11": _l("Incoming commitment")}
DATE_TYPES = {"planned_start": _l("Planned start"), "actual_start": _l("Actual start"),
              "planned_end": _l("Planned end"), "actual_end": _l("Actual end")}
BUDGET_STATUSES = {"1": _l("Indicative"), "2": _l("Committed")}
#: Fixed conversion rates to CFA francs (XOF) for totals: the euro peg, a reference dollar rate.
RATES_TO_XOF = {"XOF": Decimal("1"), "EUR": Decimal("655.957"), "USD": Decimal("600")}
COMMITMENT, DISBURSEMENT = "2", "3"
UNSPECIFIED, OTHERS = "", "*"


XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@cache
def _codelist_names(name: str) -> dict[str, dict[str, str]]:
    """code -> {language: name} of an official codelist ({} when it cannot be read)."""
    try:
        path = get_standard().codelist(name)
        root = parse_file(path).getroot() if path.is_file() else None
    except (StandardMissingError, XmlError, OSError):
        return {}
    names: dict[str, dict[str, str]] = {}
    for item in [] if root is None else root.iter("codelist-item"):
        code = (item.findtext("code") or "").strip()
        names[code] = {n.get(XML_LANG, "en"): (n.text or "").strip()
                       for n in item.findall("name/narrative")}
    return names


def code_name(codelist: str, code: str, lang: str) -> str:
    """The official name of a code in `lang` (else English), or "" when unknown."""
    names = _codelist_names(codelist).get(code, {})
    return names.get(lang) or names.get("en", "")


@dataclass
class Filters:
    """The list's filters, read from the query string (French parameter names)."""

    partenaire: str = ""
    secteur: str = ""
    region: str = ""
    statut: str = ""
    annee: str = ""
    groupe: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Filters:
        """Filters from request arguments; an unusable year is ignored."""
        values = {name: (args.get(name) or "").strip()[:100] for name in asdict(cls())}
        if not (values["annee"].isdigit() and len(values["annee"]) == 4):
            values["annee"] = ""
        return cls(**values)

    def apply(self, query: Select[Any]) -> Select[Any]:
        """`query` (over IatiActivity) restricted to the activities that match."""
        if self.partenaire:
            query = query.where(IatiActivity.id.in_(
                select(IatiParticipatingOrg.activity_id).where(
                    IatiParticipatingOrg.role == "1", _partner_key() == self.partenaire)))
        if self.secteur:
            query = query.where(IatiActivity.id.in_(
                select(IatiSector.activity_id).where(IatiSector.code == self.secteur)))
        if self.region:
            query = query.where(IatiActivity.id.in_(
                select(IatiLocation.activity_id).where(IatiLocation.region == self.region)))
        if self.statut:
            query = query.where(IatiActivity.status == self.statut)
        if self.annee:
            year = int(self.annee)
            query = query.where(IatiActivity.start_date <= date(year, 12, 31),
                                or_(IatiActivity.end_date.is_(None),
                                    IatiActivity.end_date >= date(year, 1, 1)))
        if self.groupe:
            query = query.where(IatiActivity.group_id.in_(
                select(Group.id).where(Group.slug == self.groupe)))
        return query

    def args(self) -> dict[str, str]:
        """The filters that are set, for links that keep them."""
        return {k: v for k, v in asdict(self).items() if v}


def _partner_key() -> Any:
    """A funding organisation's key: its ref, else its French name."""
    return func.coalesce(func.nullif(IatiParticipatingOrg.ref, ""),
                         IatiParticipatingOrg.name_fr)


# --- totals ----------------------------------------------------------------------------------


def _xof_value() -> Any:
    """A transaction's amount in XOF at the fixed rates (NULL for another currency)."""
    currency = func.coalesce(func.nullif(IatiTransaction.currency, ""),
                             IatiActivity.default_currency)
    rate = case(*[(currency == code, literal(float(value))) for code, value in
                  RATES_TO_XOF.items()], else_=None)
    return IatiTransaction.amount * rate


@dataclass
class Totals:
    """Commitments and disbursements (XOF) of one breakdown key."""

    key: str
    label: str
    commitments: float = 0.0
    disbursements: float = 0.0


def _money_rows(ids: Any, year: str, share: Any = None, key: Any = None,
                extra: Any = None) -> list[Any]:
    """(key, transaction type, sum in XOF × share) over the filtered activities (and over the
    transactions of `year` when one is given)."""
    value = _xof_value() * (share if share is not None else literal(1.0))
    columns = [key if key is not None else literal(UNSPECIFIED), IatiTransaction.type,
               func.sum(value)]
    query = (select(*columns)
             .select_from(IatiTransaction)
             .join(IatiActivity, IatiActivity.id == IatiTransaction.activity_id)
             .where(IatiActivity.id.in_(select(ids.c.id)),
                    IatiTransaction.type.in_((COMMITMENT, DISBURSEMENT))))
    if year:
        query = query.where(IatiTransaction.transaction_date.between(
            date(int(year), 1, 1), date(int(year), 12, 31)))
    if extra is not None:
        query = extra(query)
    return db.session.execute(query.group_by(columns[0], IatiTransaction.type)).all()


def _collect(rows: list[Any], labels: dict[str, str], overall: Totals,
             limit: int = 12) -> list[Totals]:
    """Totals per key, biggest commitments first: the first `limit` keys, the others together,
    then what no key covers ('not specified'), so that the rows add up to `overall`."""
    found: dict[str, Totals] = {}
    for key, kind, amount in rows:
        totals = found.setdefault(key, Totals(key, labels.get(key, key)))
        if kind == COMMITMENT:
            totals.commitments += float(amount or 0)
        else:
            totals.disbursements += float(amount or 0)
    rest = Totals(UNSPECIFIED, str(_l("Not specified")),
                  overall.commitments - sum(t.commitments for t in found.values()),
                  overall.disbursements - sum(t.disbursements for t in found.values()))
    result = sorted(found.values(), key=lambda t: (-t.commitments, t.label))
    if len(result) > limit + 1:
        others = result[limit:]
        result = [*result[:limit], Totals(OTHERS, str(_l("Others (%(num)s)", num=len(others))),
                                          sum(t.commitments for t in others),
                                          sum(t.disbursements for t in others))]
    if abs(rest.commitments) >= 0.5 or abs(rest.disbursements) >= 0.5:
        result.append(rest)
    return result


def _share_by(column: Any, model: Any, *conditions: Any) -> Any:
    """Distinct (activity, key) pairs with 1/n share each, n the activity's number of keys."""
    pairs = select(model.activity_id.label("activity_id"), column.label("key")).where(
        *conditions).distinct().subquery()
    counts = select(pairs.c.activity_id, func.count().label("n")).group_by(
        pairs.c.activity_id).subquery()
    return pairs, counts


def totals(filters: Filters, lang: str) -> dict[str, Any]:
    """Overall totals and the breakdowns by sector, region and partner."""
    ids = filters.apply(select(IatiActivity.id)).subquery()
    overall_totals = Totals("all", "")
    for _, kind, amount in _money_rows(ids, filters.annee):
        if kind == COMMITMENT:
            overall_totals.commitments += float(amount or 0)
        else:
            overall_totals.disbursements += float(amount or 0)
    # Sectors: the DAC purpose codes, each with its percentage of the activity.
    sector_share = func.coalesce(IatiSector.percentage, literal(100.0)) / literal(100.0)
    by_sector = _money_rows(ids, filters.annee, sector_share, IatiSector.code, lambda q: q.join(
        IatiSector, and_(IatiSector.activity_id == IatiActivity.id,
                         IatiSector.vocabulary.in_(("1", "2")))))
    sector_labels = {code: code_name("Sector", code, lang) or code_name(
        "SectorCategory", code, lang) or code for code, _, _ in by_sector}
    # Regions and partners: an activity's amounts shared equally among its regions / funders.
    breakdowns = {}
    for name, column, model, conditions in (
            ("region", IatiLocation.region, IatiLocation, (IatiLocation.region != "",)),
            ("partner", _partner_key(), IatiParticipatingOrg,
             (IatiParticipatingOrg.role == "1",))):
        pairs, counts = _share_by(column, model, *conditions)
        share = literal(1.0) / counts.c.n
        breakdowns[name] = _money_rows(
            ids, filters.annee, share, pairs.c.key,
            lambda q, p=pairs, c=counts: q.join(p, p.c.activity_id == IatiActivity.id)
            .join(c, c.c.activity_id == IatiActivity.id))
    return {
        "overall": overall_totals,
        "sector": _collect(by_sector, sector_labels, overall_totals),
        "region": _collect(breakdowns["region"], regions(), overall_totals),
        "partner": _collect(breakdowns["partner"], partner_names(lang), overall_totals),
    }


# --- choices for the filters -----------------------------------------------------------------


def partner_names(lang: str) -> dict[str, str]:
    """Funding organisations: key -> name."""
    rows = db.session.execute(select(_partner_key(), IatiParticipatingOrg.name_fr,
                                     IatiParticipatingOrg.name_en)
                              .where(IatiParticipatingOrg.role == "1").distinct()).all()
    names: dict[str, str] = {}
    for key, fr, en in rows:
        names.setdefault(key, (en or fr) if lang == "en" else (fr or en) or key)
    return names


def _choices(lang: str) -> dict[str, Any]:
    sectors = db.session.scalars(select(distinct(IatiSector.code)).where(
        IatiSector.vocabulary.in_(("1", "2")))).all()
    years = db.session.execute(select(func.min(IatiActivity.start_date),
                                      func.max(IatiActivity.end_date))).one()
    first, last = (_year(years[0]), _year(years[1]))
    groups = db.session.scalars(select(Group).where(
        Group.archived.is_(False), Group.id.in_(select(IatiActivity.group_id)))
        .order_by(Group.position)).all()
    partners = partner_names(lang)
    return {
        "partners": sorted(partners.items(), key=lambda item: item[1].lower()),
        "sectors": sorted(((c, code_name("Sector", c, lang) or c) for c in sectors),
                          key=lambda item: item[0]),
        "regions": list(regions().items()),
        "statuses": list(STATUSES.items()),
        "years": list(range(last, first - 1, -1)) if first and last else [],
        "groups": groups,
    }


def _year(value: Any) -> int | None:
    if value is None:
        return None
    return int(str(value)[:4])


# --- display helpers -------------------------------------------------------------------------


def xof(amount: float | Decimal | None) -> str:
    """A total in millions of CFA francs, one decimal."""
    return f"{format_decimal(float(amount or 0) / 1e6, format='#,##0.0')}\u00a0M\u00a0FCFA"


def money(amount: Decimal, currency: str) -> str:
    """An amount in its own currency."""
    return format_currency(amount, currency or "XOF") if currency else format_decimal(amount)


def day(value: date | None) -> str:
    """A date in the visitor's language."""
    return format_date(value, "medium") if value else ""


def _helpers(lang: str) -> dict[str, Any]:
    return {"xof": xof, "money": money, "day": day, "code_name": code_name, "STATUSES": STATUSES,
            "ROLES": ROLES, "TRANSACTION_TYPES": TRANSACTION_TYPES, "DATE_TYPES": DATE_TYPES,
            "BUDGET_STATUSES": BUDGET_STATUSES, "REGIONS": regions(), "ui_lang": lang,
            "RATES": RATES_TO_XOF}


def _commitments(ids: list[int]) -> dict[int, float]:
    if not ids:
        return {}
    rows = db.session.execute(
        select(IatiTransaction.activity_id, func.sum(_xof_value()))
        .join(IatiActivity, IatiActivity.id == IatiTransaction.activity_id)
        .where(IatiTransaction.activity_id.in_(ids), IatiTransaction.type == COMMITMENT)
        .group_by(IatiTransaction.activity_id)).all()
    return {activity_id: float(total or 0) for activity_id, total in rows}


# --- views -----------------------------------------------------------------------------------


@bp.get("/")
@public_page
def index():
    """Activities filtered by partner, sector, region, status, year and group, with totals."""
    lang = str(get_locale() or "fr")
    filters = Filters.from_args(request.args)
    query = filters.apply(select(IatiActivity)).options(
        selectinload(IatiActivity.participating_orgs), selectinload(IatiActivity.locations),
        selectinload(IatiActivity.group)).order_by(
        IatiActivity.start_date.desc(), IatiActivity.identifier)
    paged = paginate(query)
    return render_template("activities/index.html", paged=paged, filters=filters,
                           totals=totals(filters, lang), choices=_choices(lang),
                           commitments=_commitments([a.id for a in paged.items]),
                           **_helpers(lang))


@bp.get("/<path:identifier>")
@public_page
def show(identifier: str):
    """One activity: organisations, sectors, places, budgets, transactions and documents."""
    lang = str(get_locale() or "fr")
    activity = db.session.scalar(select(IatiActivity).where(
        IatiActivity.identifier == identifier))
    if activity is None:
        abort(404)
    committed = _commitments([activity.id]).get(activity.id, 0.0)
    return render_template("activities/show.html", activity=activity, committed=committed,
                           **_helpers(lang))
