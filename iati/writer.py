"""A streaming IATI 2.03 writer over the plain data classes of `iati.model`.

Files are written with lxml's incremental `etree.xmlfile`: the root element is opened once and
each activity (or organisation) is built as one small element tree, written, and dropped, so
memory stays constant whatever the number of activities. Children come in the order the 2.03
schema requires (iati-activities-schema.xsd, iati-organisations-schema.xsd).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import BinaryIO

from lxml import etree

from iati.model import (
    Activity,
    Budget,
    DocumentLink,
    Location,
    Narrative,
    Organisation,
    OrgRef,
    Sector,
    Transaction,
    Value,
)

VERSION = "2.03"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
WGS84 = "http://www.opengis.net/def/crs/EPSG/0/4326"
CHUNK_BYTES = 64 * 1024


def iso_datetime(value: datetime) -> str:
    """xsd:dateTime in UTC with a Z (naive datetimes are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def decimal_text(value: Decimal | int | float) -> str:
    """A number as xsd:decimal text, without exponent or trailing zeros."""
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "") else text
    return str(value)


# --- building blocks ---------------------------------------------------------------------


def _sub(parent: etree._Element, tag: str, **attrs: str | None) -> etree._Element:
    """A child element; attributes given as None or "" are left out."""
    element = etree.SubElement(parent, tag)
    for name, value in attrs.items():
        if value not in (None, ""):
            element.set(name.rstrip("_").replace("_", "-"), str(value))
    return element


def _narratives(parent: etree._Element, texts: Narrative, default_lang: str) -> None:
    """One <narrative> per language; xml:lang only where it differs from the default."""
    for lang, text in texts.items():
        if not text:
            continue
        narrative = etree.SubElement(parent, "narrative")
        if lang and lang != default_lang:
            narrative.set(XML_LANG, lang)
        narrative.text = text


def _text_element(parent: etree._Element, tag: str, texts: Narrative, default_lang: str,
                  **attrs: str | None) -> etree._Element | None:
    if not any(texts.values()):
        return None
    element = _sub(parent, tag, **attrs)
    _narratives(element, texts, default_lang)
    return element


def _org(parent: etree._Element, tag: str, org: OrgRef, default_lang: str,
         **attrs: str | None) -> None:
    element = _sub(parent, tag, ref=org.ref, type=org.type, **attrs)
    _narratives(element, org.name, default_lang)


def _reporting_org(parent: etree._Element, org: OrgRef, default_lang: str) -> None:
    _org(parent, "reporting-org", org, default_lang,
         secondary_reporter="1" if org.secondary_reporter else None)


def _value(parent: etree._Element, value: Value, fallback_date: date) -> None:
    element = _sub(parent, "value", currency=value.currency,
                   value_date=(value.value_date or fallback_date).isoformat())
    element.text = decimal_text(value.amount)


def _period(parent: etree._Element, start: date, end: date) -> None:
    _sub(parent, "period-start", iso_date=start.isoformat())
    _sub(parent, "period-end", iso_date=end.isoformat())


def _sector(parent: etree._Element, sector: Sector, default_lang: str) -> None:
    percentage = None if sector.percentage is None else decimal_text(sector.percentage)
    element = _sub(parent, "sector", vocabulary=sector.vocabulary,
                   vocabulary_uri=sector.vocabulary_uri, code=sector.code,
                   percentage=percentage)
    _narratives(element, sector.name, default_lang)


def _location(parent: etree._Element, location: Location, default_lang: str) -> None:
    element = _sub(parent, "location", ref=location.ref)
    if location.reach:
        _sub(element, "location-reach", code=location.reach)
    for vocabulary, code in location.location_ids:
        _sub(element, "location-id", vocabulary=vocabulary, code=code)
    _text_element(element, "name", location.name, default_lang)
    _text_element(element, "description", location.description, default_lang)
    for area in location.administratives:
        _sub(element, "administrative", vocabulary=area.vocabulary,
             level=None if area.level is None else str(area.level), code=area.code)
    if location.latitude is not None and location.longitude is not None:
        point = _sub(element, "point", srsName=WGS84)
        etree.SubElement(point, "pos").text = f"{location.latitude!r} {location.longitude!r}"
    if location.exactness:
        _sub(element, "exactness", code=location.exactness)
    if location.location_class:
        _sub(element, "location-class", code=location.location_class)
    if location.feature_designation:
        _sub(element, "feature-designation", code=location.feature_designation)


def _budget(parent: etree._Element, tag: str, budget: Budget, with_type: bool) -> None:
    element = _sub(parent, tag, type=budget.type if with_type else None, status=budget.status)
    _period(element, budget.period_start, budget.period_end)
    _value(element, budget.value, budget.period_start)


def _transaction(parent: etree._Element, transaction: Transaction, default_lang: str) -> None:
    element = _sub(parent, "transaction", ref=transaction.ref)
    _sub(element, "transaction-type", code=transaction.type)
    _sub(element, "transaction-date", iso_date=transaction.transaction_date.isoformat())
    _value(element, transaction.value, transaction.transaction_date)
    _text_element(element, "description", transaction.description, default_lang)
    if transaction.provider_org is not None:
        _org(element, "provider-org", transaction.provider_org, default_lang)
    if transaction.receiver_org is not None:
        _org(element, "receiver-org", transaction.receiver_org, default_lang)
    for sector in transaction.sectors:
        _sector(element, sector, default_lang)
    if transaction.recipient_country:
        _sub(element, "recipient-country", code=transaction.recipient_country)


def _document_link(parent: etree._Element, link: DocumentLink, default_lang: str) -> None:
    element = _sub(parent, "document-link", url=link.url, format=link.format)
    title = _sub(element, "title")
    _narratives(title, link.title, default_lang)
    for code in link.categories:
        _sub(element, "category", code=code)
    for code in link.languages:
        _sub(element, "language", code=code)
    if link.document_date is not None:
        _sub(element, "document-date", iso_date=link.document_date.isoformat())


# --- one unit ----------------------------------------------------------------------------


def activity_element(activity: Activity) -> etree._Element:
    """One <iati-activity>, its children in schema order."""
    lang = activity.default_lang
    root = etree.Element("iati-activity")
    if activity.last_updated is not None:
        root.set("last-updated-datetime", iso_datetime(activity.last_updated))
    if lang:
        root.set(XML_LANG, lang)
    if activity.default_currency:
        root.set("default-currency", activity.default_currency)
    if activity.hierarchy:
        root.set("hierarchy", activity.hierarchy)
    etree.SubElement(root, "iati-identifier").text = activity.identifier
    _reporting_org(root, activity.reporting_org, lang)
    title = etree.SubElement(root, "title")
    _narratives(title, activity.title, lang)
    for description in activity.descriptions:
        _text_element(root, "description", description.text, lang, type=description.type)
    for org in activity.participating_orgs:
        _org(root, "participating-org", org, lang, role=org.role, activity_id=org.activity_id)
    if activity.status:
        _sub(root, "activity-status", code=activity.status)
    for milestone in activity.dates:
        _sub(root, "activity-date", type=milestone.type, iso_date=milestone.iso_date.isoformat())
    for country in activity.recipient_countries:
        _sub(root, "recipient-country", code=country.code,
             percentage=None if country.percentage is None else decimal_text(country.percentage))
    for region in activity.recipient_regions:
        _sub(root, "recipient-region", code=region.code, vocabulary=region.vocabulary,
             percentage=None if region.percentage is None else decimal_text(region.percentage))
    for location in activity.locations:
        _location(root, location, lang)
    for sector in activity.sectors:
        _sector(root, sector, lang)
    if activity.collaboration_type:
        _sub(root, "collaboration-type", code=activity.collaboration_type)
    if activity.default_flow_type:
        _sub(root, "default-flow-type", code=activity.default_flow_type)
    if activity.default_finance_type:
        _sub(root, "default-finance-type", code=activity.default_finance_type)
    for vocabulary, code in activity.default_aid_type:
        _sub(root, "default-aid-type", code=code, vocabulary=vocabulary)
    if activity.default_tied_status:
        _sub(root, "default-tied-status", code=activity.default_tied_status)
    for budget in activity.budgets:
        _budget(root, "budget", budget, with_type=True)
    for transaction in activity.transactions:
        _transaction(root, transaction, lang)
    for link in activity.document_links:
        _document_link(root, link, lang)
    return root


def organisation_element(organisation: Organisation) -> etree._Element:
    """One <iati-organisation>, its children in schema order."""
    lang = organisation.default_lang
    root = etree.Element("iati-organisation")
    if organisation.last_updated is not None:
        root.set("last-updated-datetime", iso_datetime(organisation.last_updated))
    if lang:
        root.set(XML_LANG, lang)
    if organisation.default_currency:
        root.set("default-currency", organisation.default_currency)
    etree.SubElement(root, "organisation-identifier").text = organisation.identifier
    name = etree.SubElement(root, "name")
    _narratives(name, organisation.name, lang)
    _reporting_org(root, organisation.reporting_org, lang)
    for budget in organisation.total_budgets:
        _budget(root, "total-budget", budget, with_type=False)
    for link in organisation.document_links:
        _document_link(root, link, lang)
    return root


# --- whole files, streamed ---------------------------------------------------------------


class _Chunks:
    """A write-only sink that hands its bytes over in chunks."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> None:
        self.parts.append(bytes(data))
        self.size += len(data)

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        self.size = 0
        return data


def _iter_file(root_tag: str, units: Iterable[object], build, generated: datetime,
               chunk_bytes: int) -> Iterator[bytes]:
    sink = _Chunks()
    attrs = {"version": VERSION, "generated-datetime": iso_datetime(generated)}
    with etree.xmlfile(sink, encoding="UTF-8") as xf:
        xf.write_declaration()
        with xf.element(root_tag, attrs):
            for unit in units:
                element = build(unit)
                etree.indent(element, space=" ", level=1)
                xf.write("\n ")
                xf.write(element)
                del element
                if sink.size >= chunk_bytes:
                    xf.flush()
                    yield sink.take()
            xf.write("\n")
    sink.write(b"\n")
    yield sink.take()


def iter_activities(activities: Iterable[Activity], generated_datetime: datetime,
                    chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """An <iati-activities> file as chunks of bytes, built lazily from `activities`."""
    return _iter_file("iati-activities", activities, activity_element, generated_datetime,
                      chunk_bytes)


def iter_organisations(organisations: Iterable[Organisation], generated_datetime: datetime,
                       chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """An <iati-organisations> file as chunks of bytes."""
    return _iter_file("iati-organisations", organisations, organisation_element,
                      generated_datetime, chunk_bytes)


def write_activities(stream: BinaryIO, activities: Iterable[Activity],
                     generated_datetime: datetime, chunk_bytes: int = CHUNK_BYTES) -> int:
    """Write an IATI 2.03 activity file to `stream`; return the number of bytes written."""
    written = 0
    for chunk in iter_activities(activities, generated_datetime, chunk_bytes):
        stream.write(chunk)
        written += len(chunk)
    return written


def write_organisations(stream: BinaryIO, organisations: Iterable[Organisation],
                        generated_datetime: datetime, chunk_bytes: int = CHUNK_BYTES) -> int:
    """Write an IATI 2.03 organisation file to `stream`; return the number of bytes written."""
    written = 0
    for chunk in iter_organisations(organisations, generated_datetime, chunk_bytes):
        stream.write(chunk)
        written += len(chunk)
    return written
