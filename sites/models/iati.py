"""Aid activities in the IATI 2.03 sense, as the portal stores them (mapped by sites.iati_mapping).

Texts are kept in French and English (`*_fr`, `*_en`); codes are the standard's codelist values.
The columns the activity list filters on are indexed: partner (participating org ref and role),
sector code, region, status, the activity's period (year) and the owning group.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sites.extensions import db
from sites.models.base import utcnow
from sites.models.groups import Group

_CHILD = {"cascade": "all, delete-orphan", "passive_deletes": True}


class Amount(TypeDecorator):
    """An exact decimal: NUMERIC on PostgreSQL; on SQLite (no decimal type) read as a float
    and turned back into the shortest Decimal that prints the same."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 24, scale: int = 6) -> None:
        super().__init__(precision=precision, scale=scale)

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Numeric(self.impl.precision, self.impl.scale,
                                                   asdecimal=False))
        return dialect.type_descriptor(Numeric(self.impl.precision, self.impl.scale))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is not None and dialect.name == "sqlite":
            return float(value)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(repr(float(value)))


def _code(length: int = 10) -> Mapped[str]:
    return mapped_column(String(length), default="")


class IatiActivity(db.Model):
    """One activity: identification, organisations, status, dates, defaults, owning group."""

    __tablename__ = "iati_activities"
    id: Mapped[int] = mapped_column(primary_key=True)
    identifier: Mapped[str] = mapped_column(String(200), unique=True)
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("groups.id", ondelete="SET NULL"), index=True)
    reporting_org_ref: Mapped[str] = _code(100)
    reporting_org_type: Mapped[str] = _code()
    reporting_org_name_fr: Mapped[str] = mapped_column(String(300), default="")
    reporting_org_name_en: Mapped[str] = mapped_column(String(300), default="")
    reporting_org_secondary: Mapped[bool] = mapped_column(default=False)
    title_fr: Mapped[str] = mapped_column(String(500), default="")
    title_en: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(2), default="", index=True)
    planned_start: Mapped[date | None] = mapped_column(Date)
    actual_start: Mapped[date | None] = mapped_column(Date)
    planned_end: Mapped[date | None] = mapped_column(Date)
    actual_end: Mapped[date | None] = mapped_column(Date)
    # The period the activity runs (actual date, else planned): what the year filter reads.
    start_date: Mapped[date | None] = mapped_column(Date, index=True)
    end_date: Mapped[date | None] = mapped_column(Date, index=True)
    default_currency: Mapped[str] = _code(3)
    default_lang: Mapped[str] = mapped_column(String(10), default="fr")
    hierarchy: Mapped[str] = _code(4)
    collaboration_type: Mapped[str] = _code()
    default_flow_type: Mapped[str] = _code()
    default_finance_type: Mapped[str] = _code()
    default_tied_status: Mapped[str] = _code()
    # [[vocabulary, code], …]; [{"code", "percentage"}], [{"code", "vocabulary", "percentage"}]
    default_aid_types: Mapped[list[Any]] = mapped_column(JSON, default=list)
    recipient_countries: Mapped[list[Any]] = mapped_column(JSON, default=list)
    recipient_regions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    last_updated: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 onupdate=utcnow)

    group: Mapped[Group | None] = relationship()
    descriptions: Mapped[list[IatiDescription]] = relationship(
        back_populates="activity", order_by="IatiDescription.position", **_CHILD)
    participating_orgs: Mapped[list[IatiParticipatingOrg]] = relationship(
        back_populates="activity", order_by="IatiParticipatingOrg.position", **_CHILD)
    sectors: Mapped[list[IatiSector]] = relationship(
        back_populates="activity", order_by="IatiSector.position", **_CHILD)
    locations: Mapped[list[IatiLocation]] = relationship(
        back_populates="activity", order_by="IatiLocation.position", **_CHILD)
    budgets: Mapped[list[IatiBudget]] = relationship(
        back_populates="activity", order_by="IatiBudget.position", **_CHILD)
    transactions: Mapped[list[IatiTransaction]] = relationship(
        back_populates="activity", order_by="IatiTransaction.position", **_CHILD)
    document_links: Mapped[list[IatiDocumentLink]] = relationship(
        back_populates="activity", order_by="IatiDocumentLink.position", **_CHILD)

    def title(self, lang: str) -> str:
        """The title in `lang`, else in the other language, else the identifier."""
        first, second = (self.title_en, self.title_fr) if lang == "en" else (
            self.title_fr, self.title_en)
        return first or second or self.identifier


class _Child:
    """Columns shared by the rows that belong to one activity."""

    position: Mapped[int] = mapped_column(Integer, default=0)


def _activity_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("iati_activities.id", ondelete="CASCADE"), index=True)


class IatiDescription(_Child, db.Model):
    """A description of one type (1 general, 2 objectives, 3 target groups, 4 other)."""

    __tablename__ = "iati_descriptions"
    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = _activity_fk()
    type: Mapped[str] = mapped_column(String(2), default="1")
    text_fr: Mapped[str] = mapped_column(Text, default="")
    text_en: Mapped[str] = mapped_column(Text, default="")
    activity: Mapped[IatiActivity] = relationship(back_populates="descriptions")


class IatiParticipatingOrg(_Child, db.Model):
    """An organisation taking part: role 1 funding, 2 accountable, 3 extending, 4 implementing."""

    __tablename__ = "iati_participating_orgs"
    __table_args__ = (Index("ix_iati_participating_orgs_role_ref", "role", "ref"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = _activity_fk()
    role: Mapped[str] = mapped_column(String(2))
    ref: Mapped[str] = _code(100)
    type: Mapped[str] = _code()
    name_fr: Mapped[str] = mapped_column(String(300), default="")
    name_en: Mapped[str] = mapped_column(String(300), default="")
    org_activity_id: Mapped[str] = _code(200)
    activity: Mapped[IatiActivity] = relationship(back_populates="participating_orgs")

    def name(self, lang: str) -> str:
        """The name in `lang`, else the other language, else the ref."""
        first, second = (self.name_en, self.name_fr) if lang == "en" else (
            self.name_fr, self.name_en)
        return first or second or self.ref


class IatiSector(_Child, db.Model):
    """A sector (vocabulary 1: DAC 5-digit purpose code) and its share of the activity."""

    __tablename__ = "iati_sectors"
    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = _activity_fk()
    vocabulary: Mapped[str] = mapped_column(String(4), default="1")
    code: Mapped[str] = mapped_column(String(40), index=True)
    percentage: Mapped[Decimal | None] = mapped_column(Amount(7, 4))
    vocabulary_uri: Mapped[str] = mapped_column(String(300), default="")
    name_fr: Mapped[str] = mapped_column(String(300), default="")
    name_en: Mapped[str] = mapped_column(String(300), default="")
    activity: Mapped[IatiActivity] = relationship(back_populates="sectors")


class IatiLocation(_Child, db.Model):
    """Where the activity happens: a WGS84 point, the Mali region (ISO 3166-2:ML) and cercle,
    the GeoNames id, exactness, location class and reach."""

    __tablename__ = "iati_locations"
    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = _activity_fk()
    ref: Mapped[str] = _code(200)
    name_fr: Mapped[str] = mapped_column(String(300), default="")
    name_en: Mapped[str] = mapped_column(String(300), default="")
    description_fr: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    region: Mapped[str] = mapped_column(String(10), default="", index=True)
    cercle: Mapped[str] = mapped_column(String(100), default="")
    geonames_id: Mapped[str] = mapped_column(String(20), default="", index=True)
    exactness: Mapped[str] = _code(2)
    location_class: Mapped[str] = _code(2)
    reach: Mapped[str] = _code(2)
    feature_designation: Mapped[str] = _code()
    # Identifiers and administrative areas besides the GeoNames id:
    # [[vocabulary, code], …] and [{"vocabulary", "code", "level"}, …]
    other_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    administratives: Mapped[list[Any]] = mapped_column(JSON, default=list)
    activity: Mapped[IatiActivity] = relationship(back_populates="locations")

    def name(self, lang: str) -> str:
        """The place name in `lang`, else the other language."""
        return (self.name_en or self.name_fr) if lang == "en" else (self.name_fr or self.name_en)


class IatiBudget(_Child, db.Model):
    """A budget for a period (type 1 original, 2 revised; status 1 indicative, 2 committed)."""

    __tablename__ = "iati_budgets"
    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = _activity_fk()
    type: Mapped[str] = mapped_column(String(2), default="1")
    status: Mapped[str] = mapped_column(String(2), default="1")
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Amount())
    currency: Mapped[str] = _code(3)
    value_date: Mapped[date | None] = mapped_column(Date)
    activity: Mapped[IatiActivity] = relationship(back_populates="budgets")


class IatiTransaction(_Child, db.Model):
    """A transaction (2 commitment, 3 disbursement, 4 expenditure…) in its currency."""

    __tablename__ = "iati_transactions"
    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = _activity_fk()
    ref: Mapped[str] = _code(200)
    type: Mapped[str] = mapped_column(String(2), index=True)
    transaction_date: Mapped[date] = mapped_column(Date, index=True)
    amount: Mapped[Decimal] = mapped_column(Amount())
    currency: Mapped[str] = _code(3)
    value_date: Mapped[date | None] = mapped_column(Date)
    description_fr: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    provider_org_ref: Mapped[str | None] = mapped_column(String(100))
    provider_org_type: Mapped[str] = _code()
    provider_org_name_fr: Mapped[str] = mapped_column(String(300), default="")
    provider_org_name_en: Mapped[str] = mapped_column(String(300), default="")
    receiver_org_ref: Mapped[str | None] = mapped_column(String(100))
    receiver_org_type: Mapped[str] = _code()
    receiver_org_name_fr: Mapped[str] = mapped_column(String(300), default="")
    receiver_org_name_en: Mapped[str] = mapped_column(String(300), default="")
    # [{"code", "vocabulary", "percentage", "vocabulary_uri", "name"}, …]
    sectors: Mapped[list[Any]] = mapped_column(JSON, default=list)
    recipient_country: Mapped[str] = _code(2)
    activity: Mapped[IatiActivity] = relationship(back_populates="transactions")


class IatiDocumentLink(_Child, db.Model):
    """A link to a document about the activity."""

    __tablename__ = "iati_document_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = _activity_fk()
    url: Mapped[str] = mapped_column(String(1000))
    format: Mapped[str] = mapped_column(String(100), default="text/html")
    title_fr: Mapped[str] = mapped_column(String(500), default="")
    title_en: Mapped[str] = mapped_column(String(500), default="")
    categories: Mapped[list[Any]] = mapped_column(JSON, default=list)
    languages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    document_date: Mapped[date | None] = mapped_column(Date)
    activity: Mapped[IatiActivity] = relationship(back_populates="document_links")


IATI_TABLES = (IatiActivity, IatiDescription, IatiParticipatingOrg, IatiSector, IatiLocation,
               IatiBudget, IatiTransaction, IatiDocumentLink)
