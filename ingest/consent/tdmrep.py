"""W3C TDMRep: text-and-data-mining reservations from tdmrep.json, HTTP headers and HTML.

Followed: TDM Reservation Protocol, Final Community Group Report (W3C TDMRep CG,
https://www.w3.org/community/reports/tdmrep/CG-FINAL-tdmrep-20240510/).

- `/.well-known/tdmrep.json` is an array of rules `{location, tdm-reservation, tdm-policy}`
  with `tdm-reservation` 0 or 1 and `tdm-policy` an optional URL ("TDM File on the Origin
  Server"). A file that breaks this shape raises TdmRepError naming the rule at fault.
- `location` is a path pattern with the special characters of robots.txt (`*` any
  characters, a final `$` the end of the path), percent-encoding handled as robots.txt does;
  the report borrows both from the robots.txt draft, so the same matcher serves. A location
  written as an absolute URL is read by its path.
- Which rule applies: the report says "The most specific match found MUST be used. The
  most specific match is the first in sequence." So, unlike robots.txt, the first rule in
  file order whose location matches decides, not the longest one.
- Precedence between the three techniques: the HTTP header overrides the file, and the
  HTML `<meta>` overrides the header (file < header < meta).
  Within one source, several values (repeated headers or tags) reserve if any says 1: the
  reading that does not mine content a publisher may have reserved.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from ingest.consent.paths import PathPattern, request_path
from ingest.types import ConsentSignal

TdmSource = Literal["tdmrep.json", "http-header", "html-meta"]


class TdmRepError(ValueError):
    """A tdmrep.json file that is not an array of valid TDMRep rules."""


@dataclass(frozen=True, slots=True)
class TdmRule:
    location: str
    reserved: bool
    policy: str | None
    index: int  # position in the file, 0-based


@dataclass(frozen=True, slots=True)
class TdmDecision:
    reserved: bool
    policy: str | None
    source: TdmSource | None  # None: nothing declared a reservation either way
    location: str | None = None  # the tdmrep.json rule that decided, when it did


NOT_DECLARED = TdmDecision(reserved=False, policy=None, source=None)


def parse_tdmrep_json(text: str, *, name: str = "tdmrep.json") -> list[TdmRule]:
    """The rules of a tdmrep.json, in file order; `name` is used in error messages."""
    try:
        data: Any = json.loads(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as exc:
        raise TdmRepError(f"{name}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, list):
        raise TdmRepError(f"{name}: expected an array of rules, got {type(data).__name__}")
    rules: list[TdmRule] = []
    for index, item in enumerate(data):
        where = f"{name}: rule {index}"
        if not isinstance(item, dict):
            raise TdmRepError(f"{where}: expected an object, got {type(item).__name__}")
        location = item.get("location")
        if not isinstance(location, str) or not location.strip():
            raise TdmRepError(f"{where}: 'location' must be a non-empty string")
        reservation = item.get("tdm-reservation")
        if isinstance(reservation, bool) or reservation not in (0, 1):
            raise TdmRepError(f"{where}: 'tdm-reservation' must be 0 or 1, got {reservation!r}")
        policy = item.get("tdm-policy")
        if policy is not None and not isinstance(policy, str):
            raise TdmRepError(f"{where}: 'tdm-policy' must be a URL string")
        rules.append(TdmRule(location.strip(), reservation == 1, policy or None, index))
    return rules


@lru_cache(maxsize=4096)
def _location_pattern(location: str) -> PathPattern:
    if location.startswith(("http://", "https://")):
        authority_and_path = location.split("://", 1)[1]
        slash = authority_and_path.find("/")
        location = authority_and_path[slash:] if slash >= 0 else "/"
    return PathPattern(location)


def rule_for_url(rules: Sequence[TdmRule], url: str) -> TdmRule | None:
    """The first rule whose location matches `url`, or None when none does."""
    path = request_path(url)
    return next((r for r in rules if _location_pattern(r.location).matches(path)), None)


def tdm_for_url(rules: Sequence[TdmRule], url: str) -> TdmDecision | None:
    """What tdmrep.json declares for `url`, or None when no rule covers it."""
    rule = rule_for_url(rules, url)
    if rule is None:
        return None
    return TdmDecision(rule.reserved, rule.policy, "tdmrep.json", rule.location)


def declared_tdm(
    signals: Iterable[ConsentSignal], source: Literal["http-header", "html-meta"]
) -> TdmDecision | None:
    """What header (or meta) signals declare; None when no valid tdm-reservation is among them.

    Signals of other kinds, and reservation values other than "0"/"1", are ignored.
    """
    suffix = "header" if source == "http-header" else "meta"
    values = [s.value.strip() for s in signals if s.kind == f"tdm-reservation-{suffix}"]
    values = [v for v in values if v in ("0", "1")]
    if not values:
        return None
    policies = [s.value.strip() for s in signals if s.kind == f"tdm-policy-{suffix}"]
    policy = next((p for p in policies if p), None)
    return TdmDecision("1" in values, policy, source)


def resolve_tdm(
    *,
    file_rules: Sequence[TdmRule] | None,
    header_signals: Sequence[ConsentSignal],
    meta_signals: Sequence[ConsentSignal],
    url: str,
) -> TdmDecision:
    """The TDM decision for `url`: HTML meta over HTTP header over tdmrep.json.

    Each source's policy URL travels with its own reservation; a lower source's policy is
    not borrowed by a higher one.
    """
    for decision in (
        declared_tdm(meta_signals, "html-meta"),
        declared_tdm(header_signals, "http-header"),
        tdm_for_url(file_rules, url) if file_rules else None,
    ):
        if decision is not None:
            return decision
    return NOT_DECLARED
