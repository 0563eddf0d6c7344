"""Parsing dates given on the command line."""

from __future__ import annotations

from datetime import datetime

from catalog.errors import InvalidInput
from catalog.timeutil import as_utc


def parse_when(value: str, *, option: str) -> datetime:
    """YYYY-MM-DD or an ISO 8601 time; naive values are taken as UTC."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{option} {value!r}: expected YYYY-MM-DD or an ISO 8601 time") from None
    return as_utc(when)
