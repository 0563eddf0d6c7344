"""Datetimes in the catalog are UTC. SQLite hands them back naive; these make them aware."""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(value: datetime | None) -> datetime | None:
    """The same instant as an aware UTC datetime; a naive value is taken as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC, as stored in audit events and printed by `--json`."""
    utc = as_utc(value)
    return utc.isoformat() if utc is not None else None
