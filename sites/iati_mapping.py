"""Database rows <-> `iati.model` data classes, both ways; Mali's regions and towns.

The portal keeps texts in French and English; other languages of an imported narrative are
dropped. A location's Mali region (ISO 3166-2:ML) and cercle are portal fields: the IATI file
carries the point and the GeoNames id (location-id G1), from which the region is found again
(GeoNames admin1 code -> ISO 3166-2). IATI's administrative vocabulary A4 holds country codes
only (validator rule 9.117.1), so regions are not written as A4 areas.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import select

from iati.geo import Town, geocode, towns
from iati.model import (
    Activity,
    ActivityDate,
    Administrative,
    Budget,
    Description,
    DocumentLink,
    Location,
    Narrative,
    Organisation,
    OrgRef,
    ParticipatingOrg,
    RecipientCountry,
    RecipientRegion,
    Sector,
    Transaction,
    Value,
)
from sites.extensions import db
from sites.models import (
    Group,
    IatiActivity,
    IatiBudget,
    IatiDescription,
    IatiDocumentLink,
    IatiLocation,
    IatiParticipatingOrg,
    IatiSector,
    IatiTransaction,
)
from sites.models.base import as_utc

# Mali's regions (ISO 3166-2:ML) and towns (GeoNames) come from `iati.geo`.
_REGION_CODE = re.compile(r"^ML-(?:BKO|[1-9]|10)$")


def town_named(name: str) -> Town:
    """The most populous town of that name (KeyError when unknown)."""
    matches = [t for t in towns().values() if t.name == name]
    if not matches:
        raise KeyError(name)
    return matches[0]


def region_of(location: Location) -> str:
    """The ISO 3166-2:ML region of an IATI location, from its areas, its GeoNames id, or its
    name geocoded (`iati.geo`: "Ségou", "Région de Mopti")."""
    for area in location.administratives:
        if _REGION_CODE.match(area.code):
            return area.code
    town = towns().get(location.geonames_id)
    if town:
        return town.region
    places = (geocode(name) for name in location.name.values() if name)
    return next((place.region for place in places if place is not None), "")


# --- small converters ------------------------------------------------------------------------


def _fr_en(texts: Narrative, default_lang: str) -> tuple[str, str]:
    """(French, English) of a narrative; a text in another language fills the default one."""
    keyed = {(lang or default_lang): text for lang, text in texts.items() if text}
    fr, en = keyed.get("fr", ""), keyed.get("en", "")
    if not fr and not en and keyed:
        first = next(iter(keyed.values()))
        fr, en = ("", first) if default_lang == "en" else (first, "")
    return fr, en


def _texts(fr: str, en: str) -> Narrative:
    return {lang: text for lang, text in (("fr", fr), ("en", en)) if text}


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _undec(value: str | None) -> Decimal | None:
    return None if value in (None, "") else Decimal(value)


DATE_COLUMNS = {"1": "planned_start", "2": "actual_start", "3": "planned_end", "4": "actual_end"}


# --- database -> model -----------------------------------------------------------------------


def _sector_of(row: IatiSector) -> Sector:
    return Sector(row.code, row.vocabulary, row.percentage, row.vocabulary_uri,
                  _texts(row.name_fr, row.name_en))


def _location_of(row: IatiLocation) -> Location:
    ids = [(v, c) for v, c in row.other_ids]
    if row.geonames_id and ("G1", row.geonames_id) not in ids:
        ids.insert(0, ("G1", row.geonames_id))
    return Location(
        ref=row.ref, name=_texts(row.name_fr, row.name_en),
        description=_texts(row.description_fr, row.description_en),
        latitude=row.latitude, longitude=row.longitude, reach=row.reach,
        exactness=row.exactness, location_class=row.location_class,
        feature_designation=row.feature_designation, location_ids=ids,
        administratives=[Administrative(a["vocabulary"], a["code"], a.get("level"))
                         for a in row.administratives])


def _org_of(ref: str | None, type_: str, fr: str, en: str) -> OrgRef | None:
    if ref is None:
        return None
    return OrgRef(ref, type_, _texts(fr, en))


def _transaction_of(row: IatiTransaction) -> Transaction:
    return Transaction(
        type=row.type, transaction_date=row.transaction_date,
        value=Value(row.amount, row.currency, row.value_date), ref=row.ref,
        description=_texts(row.description_fr, row.description_en),
        provider_org=_org_of(row.provider_org_ref, row.provider_org_type,
                             row.provider_org_name_fr, row.provider_org_name_en),
        receiver_org=_org_of(row.receiver_org_ref, row.receiver_org_type,
                             row.receiver_org_name_fr, row.receiver_org_name_en),
        sectors=[Sector(s["code"], s.get("vocabulary", "1"), _undec(s.get("percentage")),
                        s.get("vocabulary_uri", ""), dict(s.get("name") or {}))
                 for s in row.sectors],
        recipient_country=row.recipient_country)


def to_model(row: IatiActivity) -> Activity:
    """The IATI activity a database row holds."""
    dates = [ActivityDate(kind, getattr(row, column))
             for kind, column in DATE_COLUMNS.items() if getattr(row, column) is not None]
    return Activity(
        identifier=row.identifier,
        reporting_org=OrgRef(row.reporting_org_ref, row.reporting_org_type,
                             _texts(row.reporting_org_name_fr, row.reporting_org_name_en),
                             row.reporting_org_secondary),
        title=_texts(row.title_fr, row.title_en),
        descriptions=[Description(d.type, _texts(d.text_fr, d.text_en))
                      for d in row.descriptions],
        participating_orgs=[ParticipatingOrg(p.ref, p.type, _texts(p.name_fr, p.name_en),
                                             role=p.role, activity_id=p.org_activity_id)
                            for p in row.participating_orgs],
        status=row.status,
        dates=dates,
        recipient_countries=[RecipientCountry(c["code"], _undec(c.get("percentage")))
                             for c in row.recipient_countries],
        recipient_regions=[RecipientRegion(r["code"], r.get("vocabulary", "1"),
                                           _undec(r.get("percentage")))
                           for r in row.recipient_regions],
        locations=[_location_of(loc) for loc in row.locations],
        sectors=[_sector_of(s) for s in row.sectors],
        budgets=[Budget(b.period_start, b.period_end, Value(b.amount, b.currency, b.value_date),
                        b.type, b.status) for b in row.budgets],
        transactions=[_transaction_of(t) for t in row.transactions],
        document_links=[DocumentLink(d.url, d.format, _texts(d.title_fr, d.title_en),
                                     list(d.categories), list(d.languages), d.document_date)
                        for d in row.document_links],
        default_currency=row.default_currency,
        default_lang=row.default_lang,
        last_updated=as_utc(row.last_updated or row.updated_at),
        hierarchy=row.hierarchy,
        default_aid_type=[(v, c) for v, c in row.default_aid_types],
        default_finance_type=row.default_finance_type,
        default_flow_type=row.default_flow_type,
        default_tied_status=row.default_tied_status,
        collaboration_type=row.collaboration_type,
        group=row.group.slug if row.group is not None else "",
    )


# --- model -> database -----------------------------------------------------------------------


def _location_row(location: Location, lang: str, position: int) -> IatiLocation:
    geonames_id = location.geonames_id
    name_fr, name_en = _fr_en(location.name, lang)
    description_fr, description_en = _fr_en(location.description, lang)
    return IatiLocation(
        position=position, ref=location.ref, name_fr=name_fr, name_en=name_en,
        description_fr=description_fr, description_en=description_en,
        latitude=location.latitude, longitude=location.longitude, region=region_of(location),
        geonames_id=geonames_id, exactness=location.exactness,
        location_class=location.location_class, reach=location.reach,
        feature_designation=location.feature_designation,
        other_ids=[[v, c] for v, c in location.location_ids if (v, c) != ("G1", geonames_id)],
        administratives=[{"vocabulary": a.vocabulary, "code": a.code, "level": a.level}
                         for a in location.administratives])


def _org_columns(prefix: str, org: OrgRef | None, lang: str) -> dict[str, Any]:
    if org is None:
        return {f"{prefix}_ref": None}
    fr, en = _fr_en(org.name, lang)
    return {f"{prefix}_ref": org.ref, f"{prefix}_type": org.type, f"{prefix}_name_fr": fr,
            f"{prefix}_name_en": en}


def _transaction_row(transaction: Transaction, lang: str, position: int) -> IatiTransaction:
    fr, en = _fr_en(transaction.description, lang)
    return IatiTransaction(
        position=position, ref=transaction.ref, type=transaction.type,
        transaction_date=transaction.transaction_date, amount=transaction.value.amount,
        currency=transaction.value.currency, value_date=transaction.value.value_date,
        description_fr=fr, description_en=en,
        **_org_columns("provider_org", transaction.provider_org, lang),
        **_org_columns("receiver_org", transaction.receiver_org, lang),
        sectors=[{"code": s.code, "vocabulary": s.vocabulary, "percentage": _dec(s.percentage),
                  "vocabulary_uri": s.vocabulary_uri, "name": dict(s.name)}
                 for s in transaction.sectors],
        recipient_country=transaction.recipient_country)


def _period(activity: Activity) -> tuple[date | None, date | None]:
    start = activity.date_of("2") or activity.date_of("1")
    end = activity.date_of("4") or activity.date_of("3")
    return start, end


def apply_model(row: IatiActivity, activity: Activity, group: Group | None = None) -> IatiActivity:
    """Make `row` hold `activity` (children replaced); `group` defaults to activity.group."""
    lang = activity.default_lang
    if group is None and activity.group:
        group = db.session.scalar(select(Group).where(Group.slug == activity.group))
    reporting_fr, reporting_en = _fr_en(activity.reporting_org.name, lang)
    title_fr, title_en = _fr_en(activity.title, lang)
    start, end = _period(activity)
    row.identifier = activity.identifier
    row.group = group
    row.reporting_org_ref = activity.reporting_org.ref
    row.reporting_org_type = activity.reporting_org.type
    row.reporting_org_name_fr, row.reporting_org_name_en = reporting_fr, reporting_en
    row.reporting_org_secondary = activity.reporting_org.secondary_reporter
    row.title_fr, row.title_en = title_fr, title_en
    row.status = activity.status
    for kind, column in DATE_COLUMNS.items():
        setattr(row, column, activity.date_of(kind))
    row.start_date, row.end_date = start, end
    row.default_currency = activity.default_currency
    row.default_lang = lang
    row.hierarchy = activity.hierarchy
    row.collaboration_type = activity.collaboration_type
    row.default_flow_type = activity.default_flow_type
    row.default_finance_type = activity.default_finance_type
    row.default_tied_status = activity.default_tied_status
    row.default_aid_types = [[v, c] for v, c in activity.default_aid_type]
    row.recipient_countries = [{"code": c.code, "percentage": _dec(c.percentage)}
                               for c in activity.recipient_countries]
    row.recipient_regions = [{"code": r.code, "vocabulary": r.vocabulary,
                              "percentage": _dec(r.percentage)}
                             for r in activity.recipient_regions]
    row.last_updated = activity.last_updated
    row.descriptions = [IatiDescription(position=n, type=d.type, **dict(zip(
        ("text_fr", "text_en"), _fr_en(d.text, lang), strict=True)))
        for n, d in enumerate(activity.descriptions)]
    row.participating_orgs = [IatiParticipatingOrg(
        position=n, role=p.role, ref=p.ref, type=p.type, org_activity_id=p.activity_id,
        **dict(zip(("name_fr", "name_en"), _fr_en(p.name, lang), strict=True)))
        for n, p in enumerate(activity.participating_orgs)]
    row.sectors = [IatiSector(
        position=n, vocabulary=s.vocabulary, code=s.code, percentage=s.percentage,
        vocabulary_uri=s.vocabulary_uri,
        **dict(zip(("name_fr", "name_en"), _fr_en(s.name, lang), strict=True)))
        for n, s in enumerate(activity.sectors)]
    row.locations = [_location_row(loc, lang, n) for n, loc in enumerate(activity.locations)]
    row.budgets = [IatiBudget(position=n, type=b.type, status=b.status,
                              period_start=b.period_start, period_end=b.period_end,
                              amount=b.value.amount, currency=b.value.currency,
                              value_date=b.value.value_date)
                   for n, b in enumerate(activity.budgets)]
    row.transactions = [_transaction_row(t, lang, n) for n, t in enumerate(activity.transactions)]
    row.document_links = [IatiDocumentLink(
        position=n, url=d.url, format=d.format, categories=list(d.categories),
        languages=list(d.languages), document_date=d.document_date,
        **dict(zip(("title_fr", "title_en"), _fr_en(d.title, lang), strict=True)))
        for n, d in enumerate(activity.document_links)]
    return row


def from_model(activity: Activity, group: Group | None = None) -> IatiActivity:
    """A new database row (not yet added to the session) for `activity`."""
    return apply_model(IatiActivity(), activity, group)


# --- the publisher ---------------------------------------------------------------------------


def publisher() -> OrgRef:
    """The portal as an IATI organisation (PTFOPS_IATI_PUBLISHER_REF / _NAME)."""
    config = current_app.config
    return OrgRef(config["IATI_PUBLISHER_REF"], config["IATI_PUBLISHER_TYPE"],
                  {"fr": config["IATI_PUBLISHER_NAME"],
                   "en": config["IATI_PUBLISHER_NAME_EN"]})


def publisher_organisation(last_updated: Any = None) -> Organisation:
    """The organisation file's one record: the portal's publisher."""
    org = publisher()
    return Organisation(identifier=org.ref, name=dict(org.name), reporting_org=org,
                        default_lang="fr", last_updated=as_utc(last_updated))
