"""A streaming reader of IATI activity files (2.03, also 2.01/2.02) into `iati.model` classes.

The file is read with lxml's `iterparse` under the same settings as `iati.xmlsafe` (no entity
expansion, no DTD, no network, libxml2's size limits kept): each `<iati-activity>` is turned
into an `Activity` once its end tag is read, then cleared and dropped, so memory stays flat
whatever the file's size. A DOCTYPE (DTD, entities, billion laughs) is refused before any
activity is read; nothing is ever resolved or fetched.

Every field of the model is kept. Narratives are keyed by their `xml:lang`, else by the
activity's default language (`iati-activity/@xml:lang`). Bad input (malformed XML, a DTD, a
file that is not an IATI activity file, an unsupported version, an unreadable date or amount)
raises an `XmlError` whose French `message` names the line.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import BinaryIO

from lxml import etree

from iati.model import (
    Activity,
    ActivityDate,
    Administrative,
    Budget,
    Description,
    DocumentLink,
    Location,
    Narrative,
    OrgRef,
    ParticipatingOrg,
    RecipientCountry,
    RecipientRegion,
    Sector,
    Transaction,
    Value,
)
from iati.version import ACCEPTED_VERSIONS, STANDARD_VERSION
from iati.xmlsafe import PARSER_OPTIONS, XmlError, XmlSecurityError, XmlSyntaxError

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ACTIVITIES = "iati-activities"
ORGANISATIONS = "iati-organisations"
HEAD_BYTES = 65536
_DOCTYPE = re.compile(rb"<!DOCTYPE|<\x00!\x00D\x00O\x00C\x00T\x00Y\x00P\x00E|"
                      rb"\x00<\x00!\x00D\x00O\x00C\x00T\x00Y\x00P\x00E")
_ENTITY_WORDS = ("entity", "entité", "amplification")

Source = str | Path | bytes | BinaryIO


class IatiFileError(XmlError):
    """Well-formed XML that is not a readable IATI activity file."""


class _Head:
    """A binary stream that keeps its first bytes (to tell a DTD error from a syntax error)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.head = b""

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if len(self.head) < HEAD_BYTES:
            self.head += data[:HEAD_BYTES - len(self.head)]
        return data


def _doctype_error(line: int | None) -> XmlSecurityError:
    return XmlSecurityError(
        f"ligne {line or 1} : le fichier déclare un DOCTYPE (DTD ou entités) : refusé, rien "
        "n'a été résolu ni téléchargé ; un fichier IATI n'en contient jamais", line or 1)


def _check_root(root: etree._Element) -> None:
    """Refuse anything but an IATI 2.0x activity file, naming the root's line."""
    line = root.sourceline
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise _doctype_error(line)
    tag = root.tag if isinstance(root.tag, str) else "?"
    if tag == ORGANISATIONS:
        raise IatiFileError(
            f"ligne {line} : c'est un fichier d'organisations IATI (<iati-organisations>), pas "
            "un fichier d'activités (<iati-activities>) : il ne peut pas être importé ici", line)
    if tag != ACTIVITIES:
        raise IatiFileError(
            f"ligne {line} : ce n'est pas un fichier d'activités IATI : l'élément racine est "
            f"<{tag}>, <iati-activities> attendu", line)
    version = (root.get("version") or "").strip()
    if not version:
        raise IatiFileError(
            f"ligne {line} : la version de la norme IATI n'est pas indiquée (attribut version "
            "de <iati-activities>)", line)
    if version not in ACCEPTED_VERSIONS:
        old = " n'est plus prise en charge" if version.startswith("1.") else " inconnue"
        raise IatiFileError(
            f"ligne {line} : version « {version} » de la norme IATI{old} (acceptées : "
            f"{', '.join(ACCEPTED_VERSIONS)} ; publiez en {STANDARD_VERSION})", line)


def _stream(source: Source) -> tuple[_Head, BinaryIO | None]:
    """The source as a readable stream, and the file to close afterwards (if we opened it)."""
    if isinstance(source, bytes):
        return _Head(io.BytesIO(source)), None
    if isinstance(source, str | Path):
        try:
            handle = open(source, "rb")  # noqa: SIM115 - closed by read_activities
        except OSError as exc:
            raise XmlSyntaxError(f"lecture impossible de {source} : {exc.strerror}") from exc
        return _Head(handle), handle
    return _Head(source), None


def read_activities(source: Source) -> Iterator[Activity]:
    """The activities of an IATI activity file (path, bytes or binary stream), one by one."""
    stream, opened = _stream(source)
    root: etree._Element | None = None
    try:
        events = etree.iterparse(stream, events=("start", "end"), **PARSER_OPTIONS)
        for event, element in events:
            if root is None:
                root = element
                _check_root(root)
                continue
            if event != "end" or element.tag != "iati-activity" or element.getparent() is not root:
                continue
            yield _activity(element, root.get(XML_LANG, ""))
            element.clear(keep_tail=True)
            while element.getprevious() is not None:  # drop what was already read
                del root[0]
        if root is None:
            raise XmlSyntaxError("le fichier est vide")
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or None
        text = str(exc)
        if _DOCTYPE.search(stream.head) or any(w in text.lower() for w in _ENTITY_WORDS):
            raise _doctype_error(line) from exc
        if not stream.head.strip():
            raise XmlSyntaxError("le fichier est vide") from exc
        raise XmlSyntaxError(f"ligne {line} : XML mal formé : {text}", line) from exc
    finally:
        if opened is not None:
            opened.close()


# --- values --------------------------------------------------------------------------------


def _where(element: etree._Element, attribute: str = "") -> str:
    name = f"{element.tag}/@{attribute}" if attribute else f"<{element.tag}>"
    return f"ligne {element.sourceline} : {name}"


def _date(element: etree._Element, attribute: str = "iso-date",
          required: bool = True) -> date | None:
    text = (element.get(attribute) or "").strip()
    if not text:
        if required:
            raise IatiFileError(f"{_where(element, attribute)} : date absente",
                                element.sourceline)
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise IatiFileError(f"{_where(element, attribute)} : date illisible « {text} » "
                            "(AAAA-MM-JJ attendu)", element.sourceline) from None


def _datetime(element: etree._Element, attribute: str) -> datetime | None:
    text = (element.get(attribute) or "").strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise IatiFileError(f"{_where(element, attribute)} : date et heure illisibles "
                            f"« {text} »", element.sourceline) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _decimal(element: etree._Element, text: str | None, attribute: str = "") -> Decimal:
    raw = (text or "").strip().replace(" ", "")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise IatiFileError(f"{_where(element, attribute)} : nombre illisible « {raw} »",
                            element.sourceline) from None
    if not value.is_finite():
        raise IatiFileError(f"{_where(element, attribute)} : nombre illisible « {raw} »",
                            element.sourceline)
    return value


def _percentage(element: etree._Element) -> Decimal | None:
    text = element.get("percentage")
    return None if text is None or not text.strip() else _decimal(element, text, "percentage")


def _code(element: etree._Element | None, attribute: str = "code") -> str:
    return "" if element is None else (element.get(attribute) or "").strip()


def _child_code(parent: etree._Element, tag: str) -> str:
    return _code(parent.find(tag))


def _narratives(element: etree._Element | None, default_lang: str) -> Narrative:
    """{language: text} of the element's narratives (several in one language are joined)."""
    texts: Narrative = {}
    if element is None:
        return texts
    for narrative in element.iterchildren("narrative"):
        text = (narrative.text or "").strip()
        if not text:
            continue
        lang = (narrative.get(XML_LANG) or default_lang).strip().lower()
        texts[lang] = f"{texts[lang]}\n{text}" if lang in texts else text
    return texts


def _org(element: etree._Element, lang: str) -> OrgRef:
    return OrgRef(ref=(element.get("ref") or "").strip(), type=_code(element, "type"),
                  name=_narratives(element, lang))


def _value(parent: etree._Element) -> Value:
    element = parent.find("value")
    if element is None:
        raise IatiFileError(f"{_where(parent)} : élément <value> absent", parent.sourceline)
    return Value(_decimal(element, element.text), (element.get("currency") or "").strip(),
                 _date(element, "value-date", required=False))


def _sector(element: etree._Element, lang: str) -> Sector:
    return Sector(code=_code(element), vocabulary=_code(element, "vocabulary") or "1",
                  percentage=_percentage(element),
                  vocabulary_uri=(element.get("vocabulary-uri") or "").strip(),
                  name=_narratives(element, lang))


# --- parts of an activity ------------------------------------------------------------------


def _point(element: etree._Element | None) -> tuple[float | None, float | None]:
    """(latitude, longitude) of <point><pos>lat lon</pos></point>; (None, None) if unusable."""
    pos = None if element is None else element.findtext("pos")
    parts = (pos or "").replace(",", " ").split()
    if len(parts) != 2:
        return None, None
    try:
        latitude, longitude = float(parts[0]), float(parts[1])
    except ValueError:
        return None, None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None, None
    return latitude, longitude


def _location(element: etree._Element, lang: str) -> Location:
    latitude, longitude = _point(element.find("point"))
    areas = []
    for area in element.iterchildren("administrative"):
        level = (area.get("level") or "").strip()
        areas.append(Administrative(_code(area, "vocabulary"), _code(area),
                                    int(level) if level.isdigit() else None))
    return Location(
        ref=(element.get("ref") or "").strip(),
        name=_narratives(element.find("name"), lang),
        description=_narratives(element.find("description"), lang),
        latitude=latitude, longitude=longitude,
        reach=_child_code(element, "location-reach"),
        exactness=_child_code(element, "exactness"),
        location_class=_child_code(element, "location-class"),
        feature_designation=_child_code(element, "feature-designation"),
        location_ids=[(_code(i, "vocabulary"), _code(i))
                      for i in element.iterchildren("location-id")],
        administratives=areas)


def _budget(element: etree._Element) -> Budget:
    start, end = element.find("period-start"), element.find("period-end")
    if start is None or end is None:
        raise IatiFileError(f"{_where(element)} : période (period-start, period-end) absente",
                            element.sourceline)
    return Budget(period_start=_date(start), period_end=_date(end), value=_value(element),
                  type=_code(element, "type") or "1", status=_code(element, "status") or "1")


def _transaction(element: etree._Element, lang: str) -> Transaction:
    kind, when = element.find("transaction-type"), element.find("transaction-date")
    if kind is None or when is None:
        raise IatiFileError(f"{_where(element)} : type ou date de transaction absent",
                            element.sourceline)
    provider, receiver = element.find("provider-org"), element.find("receiver-org")
    return Transaction(
        type=_code(kind), transaction_date=_date(when), value=_value(element),
        ref=(element.get("ref") or "").strip(),
        description=_narratives(element.find("description"), lang),
        provider_org=None if provider is None else _org(provider, lang),
        receiver_org=None if receiver is None else _org(receiver, lang),
        sectors=[_sector(s, lang) for s in element.iterchildren("sector")],
        recipient_country=_child_code(element, "recipient-country"))


def _document_link(element: etree._Element, lang: str) -> DocumentLink:
    when = element.find("document-date")
    return DocumentLink(
        url=(element.get("url") or "").strip(), format=_code(element, "format"),
        title=_narratives(element.find("title"), lang),
        categories=[_code(c) for c in element.iterchildren("category")],
        languages=[_code(c) for c in element.iterchildren("language")],
        document_date=None if when is None else _date(when, required=False))


def _activity(element: etree._Element, file_lang: str) -> Activity:
    """One <iati-activity> as an Activity."""
    lang = (element.get(XML_LANG) or file_lang).strip().lower()
    identifier = (element.findtext("iati-identifier") or "").strip()
    if not identifier:
        raise IatiFileError(f"ligne {element.sourceline} : activité sans <iati-identifier>",
                            element.sourceline)
    reporting = element.find("reporting-org")
    reporting_org = OrgRef() if reporting is None else _org(reporting, lang)
    if reporting is not None:
        reporting_org.secondary_reporter = reporting.get("secondary-reporter", "").strip() in (
            "1", "true")
    dates = [ActivityDate(_code(d, "type"), _date(d))
             for d in element.iterchildren("activity-date")]
    return Activity(
        identifier=identifier,
        reporting_org=reporting_org,
        title=_narratives(element.find("title"), lang),
        descriptions=[Description(_code(d, "type") or "1", _narratives(d, lang))
                      for d in element.iterchildren("description")],
        participating_orgs=[ParticipatingOrg(
            ref=(p.get("ref") or "").strip(), type=_code(p, "type"),
            name=_narratives(p, lang), role=_code(p, "role"),
            activity_id=(p.get("activity-id") or "").strip())
            for p in element.iterchildren("participating-org")],
        status=_child_code(element, "activity-status"),
        dates=dates,
        recipient_countries=[RecipientCountry(_code(c), _percentage(c))
                             for c in element.iterchildren("recipient-country")],
        recipient_regions=[RecipientRegion(_code(r), _code(r, "vocabulary") or "1",
                                           _percentage(r))
                           for r in element.iterchildren("recipient-region")],
        locations=[_location(loc, lang) for loc in element.iterchildren("location")],
        sectors=[_sector(s, lang) for s in element.iterchildren("sector")],
        budgets=[_budget(b) for b in element.iterchildren("budget")],
        transactions=[_transaction(t, lang) for t in element.iterchildren("transaction")],
        document_links=[_document_link(d, lang) for d in element.iterchildren("document-link")],
        default_currency=(element.get("default-currency") or "").strip(),
        default_lang=lang,
        last_updated=_datetime(element, "last-updated-datetime"),
        hierarchy=(element.get("hierarchy") or "").strip(),
        default_aid_type=[(_code(a, "vocabulary") or "1", _code(a))
                          for a in element.iterchildren("default-aid-type")],
        default_finance_type=_child_code(element, "default-finance-type"),
        default_flow_type=_child_code(element, "default-flow-type"),
        default_tied_status=_child_code(element, "default-tied-status"),
        collaboration_type=_child_code(element, "collaboration-type"),
    )
