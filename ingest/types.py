"""What connectors yield: plain records, no database, so they run unchanged in any worker.

A connector reads raw files of one kind and yields a stream of `Item`s:

- `RawDocument`   one document with its text, provenance and the signals found on the way;
- `Skipped`       a record deliberately not turned into a document (counted by reason);
- `Quarantined`   a record that could not be read (file, location, reason), never silently lost;
- `RobotsFound`   a robots.txt (or other well-known consent file) seen inside the input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

SignalKind = Literal[
    "x-robots-tag",  # HTTP header X-Robots-Tag (noai, noimageai, ...)
    "meta-robots",  # <meta name="robots" content="...">
    "tdm-reservation-header",  # HTTP header tdm-reservation: 0|1
    "tdm-policy-header",  # HTTP header tdm-policy: URL
    "tdm-reservation-meta",  # <meta name="tdm-reservation" content="0|1">
    "tdm-policy-meta",  # <meta name="tdm-policy" content="URL">
    "content-signal",  # Content-Signal line (robots.txt) or header
]


@dataclass(slots=True, frozen=True)
class ConsentSignal:
    """One machine-readable rights signal, verbatim, with where it was found."""

    kind: SignalKind
    value: str
    where: str  # "http-header" | "html" | a URL


@dataclass(slots=True, frozen=True)
class LicenseFinding:
    """A licence statement found in the input, before any conclusion is drawn.

    `expression` is what the detector read (an SPDX id or expression when it could map one,
    else a `LicenseRef-...`); `raw` is the text or URL it read it from.
    """

    detector: str  # "cc-link", "spdx-header", "package-metadata", "gutenberg-header", ...
    expression: str
    location: str  # URL, file path, or "header"/"metadata" field name
    raw: str = ""
    score: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RawDocument:
    """One document as read from the input.

    `native_id` is the identity the source gives it (WARC-Record-ID, `repo@commit:path`,
    a post id, a book id); the catalog derives the stable document id from it.
    """

    native_id: str
    text: str
    url: str | None = None
    host: str | None = None
    collected_at: datetime | None = None  # when it was fetched/dumped (WARC-Date, dump date)
    created_at: datetime | None = None  # when the author made it (post date, release date)
    title: str | None = None
    language: str | None = None  # as declared by the source, not detected
    metadata: dict[str, Any] = field(default_factory=dict)
    signals: list[ConsentSignal] = field(default_factory=list)
    licenses: list[LicenseFinding] = field(default_factory=list)
    # Where it was read, as in `Quarantined`: a document the catalog cannot store (a NUL in
    # its URL, a lone surrogate in its text) is quarantined there instead.
    file: str = ""
    location: str = ""


@dataclass(slots=True, frozen=True)
class Skipped:
    """A record read fine but not a document (request, revisit, binary file...)."""

    reason: str
    file: str
    location: str = ""


@dataclass(slots=True, frozen=True)
class Quarantined:
    """A record that could not be read. Counted and listed, never dropped silently."""

    reason: str  # short machine reason: "truncated-gzip", "invalid-utf8", "xml-entity", ...
    file: str
    location: str  # byte offset, record number, line number or path inside the input
    detail: str = ""


@dataclass(slots=True, frozen=True)
class RobotsFound:
    """A robots.txt / tdmrep.json / ai.txt response met inside the input (e.g. in a crawl)."""

    host: str
    kind: Literal["robots.txt", "tdmrep.json", "ai.txt"]
    fetched_at: datetime | None
    status: int
    content: str
    url: str


Item = RawDocument | Skipped | Quarantined | RobotsFound
