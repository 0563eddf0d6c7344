"""PII spans: what a recognizer found, one span per overlapping group, and redaction.

A span is `text[start:end]` of one entity type, offsets in characters (Python string
indices). Recognizers disagree on the same characters: PHONE_NUMBER also matches IPv4
addresses and SSN-shaped numbers, URL matches the domain of an e-mail address, an e-mail
address sits inside a URL with credentials. `resolve_overlaps` keeps one span per overlapping
group, choosing greedily by, in order: higher score, longer span, the type listed first in
`ENTITY_PRIORITY` (the more specific), earlier start. A span that overlaps a kept span is
dropped whole, never trimmed.

`redact()` applies a redact decision from stored spans (a document's `pii_spans`, or the
decision log's), without running an analyzer again: the same text presidio-anonymizer's replace
operator gives for those spans.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from processing.stage import StageError

__all__ = [
    "DEFAULT_PLACEHOLDER",
    "ENTITY_PRIORITY",
    "OVERLAP_RULE",
    "PiiSpan",
    "RedactionError",
    "redact",
    "resolve_overlaps",
]

# Most specific first: the tie-break when two overlapping spans have equal score and length.
ENTITY_PRIORITY = (
    "URL_WITH_CREDENTIALS",
    "CREDIT_CARD",
    "IBAN_CODE",
    "EMAIL_ADDRESS",
    "US_SSN",
    "IP_ADDRESS",
    "PHONE_NUMBER",
    "URL",
    "PERSON",
    "LOCATION",
)
DEFAULT_PLACEHOLDER = "|||{type}|||"
OVERLAP_RULE = "one span per overlapping group: higher score, then longer, then ENTITY_PRIORITY"

_PRIORITY = {name: rank for rank, name in enumerate(ENTITY_PRIORITY)}
# Redaction serves every version of the pii stage.
_STAGE = "pii"


class RedactionError(StageError):
    """Spans or a placeholder that `redact` cannot apply to a text."""


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """One piece of personal data: `text[start:end]` is an entity of `type`."""

    type: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "start": self.start, "end": self.end, "score": self.score}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PiiSpan:
        return cls(
            type=str(data["type"]),
            start=int(data["start"]),
            end=int(data["end"]),
            score=float(data.get("score", 1.0)),
        )


def resolve_overlaps(spans: Iterable[PiiSpan]) -> list[PiiSpan]:
    """Keep one span per group of overlapping spans (rule in the module docstring), by start."""

    def preference(span: PiiSpan) -> tuple[float, int, int, int]:
        return (
            -span.score,
            span.start - span.end,
            _PRIORITY.get(span.type, len(_PRIORITY)),
            span.start,
        )

    starts: list[int] = []  # kept spans never overlap, so sorting by start sorts them fully
    kept: list[PiiSpan] = []
    for span in sorted(spans, key=preference):
        at = bisect_left(starts, span.start)
        if at > 0 and kept[at - 1].end > span.start:
            continue
        if at < len(kept) and kept[at].start < span.end:
            continue
        starts.insert(at, span.start)
        kept.insert(at, span)
    return kept


def redact(
    text: str,
    spans: Iterable[Mapping[str, Any] | PiiSpan],
    entity_types: Collection[str],
    placeholder: str = DEFAULT_PLACEHOLDER,
    *,
    doc_id: str = "<text>",
) -> str:
    """`text` with every span of a type in `entity_types` replaced by `placeholder`.

    `spans` are a document's `pii_spans` (dicts) or `PiiSpan`s; `{type}` in the placeholder
    becomes the span's entity type. Text outside the spans is returned unchanged, and adjacent
    spans each get their own placeholder.
    """
    from_entities = set(entity_types)
    chosen = sorted(
        (s if isinstance(s, PiiSpan) else _span(s, doc_id) for s in spans),
        key=lambda s: (s.start, s.end),
    )
    chosen = [s for s in chosen if s.type in from_entities]
    if not chosen:
        return text
    previous_end = 0
    for span in chosen:
        if not 0 <= span.start < span.end <= len(text):
            raise RedactionError(
                f"document {doc_id!r}: span {span.type} [{span.start}, {span.end}) is outside "
                f"the text of {len(text)} characters"
            )
        if span.start < previous_end:
            raise RedactionError(
                f"document {doc_id!r}: span {span.type} [{span.start}, {span.end}) overlaps "
                "the span before it; resolve overlaps first"
            )
        previous_end = span.end
    try:
        values = {t: placeholder.format(type=t) for t in {s.type for s in chosen}}
    except (KeyError, IndexError, ValueError) as exc:
        raise RedactionError(
            f"placeholder {placeholder!r} is not a format string with only {{type}} ({exc})"
        ) from None

    # The spans are disjoint and ordered (checked above), so applying presidio-anonymizer's
    # replace operator is a splice; importing presidio-anonymizer costs 2.5 s (it pulls in
    # presidio-analyzer and spaCy), more than a release cut spends on everything else per
    # 100k documents. tests/processing/test_pii.py checks the splice against presidio.
    parts: list[str] = []
    previous_end = 0
    for span in chosen:
        parts.append(text[previous_end:span.start])
        parts.append(values[span.type])
        previous_end = span.end
    parts.append(text[previous_end:])
    return "".join(parts)


def _span(data: Mapping[str, Any], doc_id: str) -> PiiSpan:
    try:
        return PiiSpan.from_mapping(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise RedactionError(f"document {doc_id!r}: malformed PII span {data!r} ({exc})") from None
