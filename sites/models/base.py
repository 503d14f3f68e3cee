"""Shared column helpers."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """The datetime in UTC: naive ones (SQLite) are UTC, aware ones (PostgreSQL) converted."""
    if value is None:
        return value
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    return value.replace(tzinfo=UTC)
