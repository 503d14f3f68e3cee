"""Plain data classes for IATI 2.03 activities and organisations, as ptfops uses them.

They hold what the portal stores, publishes and imports: no XML, no database. Codes are the
standard's codelist values as strings (e.g. activity status "2", transaction type "3").
Texts in several languages are dicts from language code to text ({"fr": …, "en": …}).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

Narrative = dict[str, str]  # language code -> text


@dataclass
class OrgRef:
    """An organisation as IATI names it: ref (org-id), type code and name."""

    ref: str = ""
    type: str = ""
    name: Narrative = field(default_factory=dict)
    #: reporting-org only: the reporter republishes activities it is not responsible for.
    secondary_reporter: bool = False


@dataclass
class ParticipatingOrg(OrgRef):
    """A participating organisation with its role (1 funding, 2 accountable, 3 extending,
    4 implementing)."""

    role: str = ""
    activity_id: str = ""


@dataclass
class Description:
    """A description of a given type (1 general, 2 objectives, 3 target groups, 4 other)."""

    type: str = "1"
    text: Narrative = field(default_factory=dict)


@dataclass
class ActivityDate:
    """A dated milestone: 1 planned start, 2 actual start, 3 planned end, 4 actual end."""

    type: str
    iso_date: date


@dataclass
class Sector:
    """A sector with its vocabulary (1 DAC 5-digit, 2 DAC 3-digit…) and percentage."""

    code: str
    vocabulary: str = "1"
    percentage: Decimal | None = None
    vocabulary_uri: str = ""
    name: Narrative = field(default_factory=dict)


@dataclass
class RecipientCountry:
    """A recipient country (ISO 3166-1 alpha-2) and its share."""

    code: str
    percentage: Decimal | None = None


@dataclass
class RecipientRegion:
    """A supra-national recipient region (IATI region vocabulary) and its share."""

    code: str
    vocabulary: str = "1"
    percentage: Decimal | None = None


@dataclass
class Administrative:
    """An administrative area of a location: vocabulary (A4 ISO 3166-2, G1 GeoNames…),
    level (1 region, 2 cercle) and code."""

    vocabulary: str
    code: str
    level: int | None = None


@dataclass
class Location:
    """Where the activity happens: a point (WGS84) and/or administrative areas."""

    ref: str = ""
    name: Narrative = field(default_factory=dict)
    description: Narrative = field(default_factory=dict)
    latitude: float | None = None
    longitude: float | None = None
    reach: str = ""  # 1 activity happens here, 2 beneficiaries live here
    exactness: str = ""  # 1 exact, 2 approximate, 3 extrapolated
    location_class: str = ""  # 1 administrative region, 2 populated place, 3 structure, 4 other
    feature_designation: str = ""
    location_ids: list[tuple[str, str]] = field(default_factory=list)  # (vocabulary, code)
    administratives: list[Administrative] = field(default_factory=list)

    @property
    def geonames_id(self) -> str:
        """The GeoNames id among the location's identifiers, if any."""
        for vocabulary, code in self.location_ids:
            if vocabulary == "G1":
                return code
        for area in self.administratives:
            if area.vocabulary == "G1":
                return area.code
        return ""


@dataclass
class Value:
    """An amount in a currency, valued at a date."""

    amount: Decimal
    currency: str = ""
    value_date: date | None = None


@dataclass
class Budget:
    """A budget for a period (type 1 original, 2 revised; status 1 indicative, 2 committed)."""

    period_start: date
    period_end: date
    value: Value
    type: str = "1"
    status: str = "1"


@dataclass
class Transaction:
    """A financial transaction (type 1 incoming funds, 2 commitment, 3 disbursement,
    4 expenditure…)."""

    type: str
    transaction_date: date
    value: Value
    ref: str = ""
    description: Narrative = field(default_factory=dict)
    provider_org: OrgRef | None = None
    receiver_org: OrgRef | None = None
    sectors: list[Sector] = field(default_factory=list)
    recipient_country: str = ""


@dataclass
class DocumentLink:
    """A link to a document about the activity."""

    url: str
    format: str = "text/html"
    title: Narrative = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    document_date: date | None = None


@dataclass
class Activity:
    """One IATI activity."""

    identifier: str
    reporting_org: OrgRef = field(default_factory=OrgRef)
    title: Narrative = field(default_factory=dict)
    descriptions: list[Description] = field(default_factory=list)
    participating_orgs: list[ParticipatingOrg] = field(default_factory=list)
    status: str = ""
    dates: list[ActivityDate] = field(default_factory=list)
    recipient_countries: list[RecipientCountry] = field(default_factory=list)
    recipient_regions: list[RecipientRegion] = field(default_factory=list)
    locations: list[Location] = field(default_factory=list)
    sectors: list[Sector] = field(default_factory=list)
    budgets: list[Budget] = field(default_factory=list)
    transactions: list[Transaction] = field(default_factory=list)
    document_links: list[DocumentLink] = field(default_factory=list)
    default_currency: str = ""
    default_lang: str = "fr"
    last_updated: datetime | None = None
    hierarchy: str = ""
    default_aid_type: list[tuple[str, str]] = field(default_factory=list)  # (vocabulary, code)
    default_finance_type: str = ""
    default_flow_type: str = ""
    default_tied_status: str = ""
    collaboration_type: str = ""
    #: ptfops only (not IATI): the slug of the GT/SGT that owns the activity.
    group: str = ""

    def date_of(self, kind: str) -> date | None:
        """The date of the given type (e.g. "2" actual start), if present."""
        return next((d.iso_date for d in self.dates if d.type == kind), None)


@dataclass
class Organisation:
    """An IATI organisation file's record (the publisher)."""

    identifier: str
    name: Narrative = field(default_factory=dict)
    reporting_org: OrgRef = field(default_factory=OrgRef)
    default_currency: str = ""
    default_lang: str = "fr"
    last_updated: datetime | None = None
    total_budgets: list[Budget] = field(default_factory=list)
    document_links: list[DocumentLink] = field(default_factory=list)
