"""Personal data: where it is in a document (presidio-analyzer), and redaction as a separate step.

The stage only measures (DESIGN.md "Measure, then decide"). It writes

- `pii_counts`: entity type -> number of spans, with a 0 for every type it looked for, so "no
  e-mail address found" is distinguishable from "e-mail addresses were not looked for";
- `pii_spans`: `[{"type", "start", "end", "score"}]`, sorted by start, offsets in characters
  (Python string indices) of the document text, never overlapping.

A policy then keeps, drops or redacts per entity type; `redact()` applies a redact decision with
presidio-anonymizer's replace operator, from the stored spans, without running the analyzer again.

Entities: EMAIL_ADDRESS, PHONE_NUMBER, IP_ADDRESS, CREDIT_CARD, IBAN_CODE, US_SSN and
URL_WITH_CREDENTIALS by default; URL on request; PERSON and LOCATION only with `spacy_model`,
an installed spaCy model with NER (none is on PyPI, so by default the stage runs without NER and
`PII_ENGINE_INFO["ner"]` says so). Recognizers are pattern-based and run on every document
whatever its language; their context words (which raise scores) are English.

Overlaps. Recognizers disagree on the same characters: PHONE_NUMBER also matches IPv4 addresses
and SSN-shaped numbers, URL matches the domain of an e-mail address, an e-mail address sits
inside a URL with credentials. `resolve_overlaps` keeps one span per overlapping group, choosing
greedily by, in order: higher score, longer span, the type listed first in `ENTITY_PRIORITY`
(the more specific), earlier start. A span that overlaps a kept span is dropped whole, never
trimmed. Spans under `min_score` are discarded before overlaps are resolved, so a weak
candidate never hides another.

The analyzer is built once per process on first use (about 0.6 s) and never touches the
network (see `processing.pii_offline`). A document longer than `CHUNK_CHARS` is analysed in
chunks cut at line breaks, as spaCy refuses texts over a million characters.
"""

from __future__ import annotations

import importlib.metadata
from bisect import bisect_left
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from processing.stage import (
    ProcessLocal,
    Stage,
    StageError,
    StageOptionError,
    register,
    require,
)
from processing.types import AttributeValue, Document

__all__ = [
    "CHUNK_CHARS",
    "DEFAULT_ENTITIES",
    "DEFAULT_MIN_SCORE",
    "DEFAULT_PLACEHOLDER",
    "ENTITY_PRIORITY",
    "NER_ENTITIES",
    "SUPPORTED_ENTITIES",
    "PiiSpan",
    "PiiStage",
    "RedactionError",
    "engine_info",
    "find_pii",
    "redact",
    "resolve_overlaps",
]

STAGE_NAME = "pii_v1"
DEFAULT_ENTITIES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "IP_ADDRESS",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "URL_WITH_CREDENTIALS",
)
NER_ENTITIES = ("PERSON", "LOCATION")
OPTIONAL_ENTITIES = ("URL",)
SUPPORTED_ENTITIES = (*DEFAULT_ENTITIES, *OPTIONAL_ENTITIES, *NER_ENTITIES)
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
# Presidio's base scores: 0.4 keeps phone numbers (0.4), IPs (0.6), dashed SSNs (0.5) and every
# validated match (1.0), and drops its "weak" SSN shapes (0.05-0.3) unless context words nearby
# raise them (+0.35).
DEFAULT_MIN_SCORE = 0.4
DEFAULT_PLACEHOLDER = "|||{type}|||"
CHUNK_CHARS = 100_000
OVERLAP_RULE = "one span per overlapping group: higher score, then longer, then ENTITY_PRIORITY"

_PRIORITY = {name: rank for rank, name in enumerate(ENTITY_PRIORITY)}


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


def _chunks(text: str, limit: int) -> Iterator[tuple[int, str]]:
    """(offset, piece) covering `text`, each at most `limit` long, cut after a newline if one
    is in the second half of the window, else after whitespace, else anywhere."""
    start = 0
    while len(text) - start > limit:
        window_end = start + limit
        cut = text.rfind("\n", start + limit // 2, window_end)
        if cut < 0:
            cut = max(
                text.rfind(" ", start + limit // 2, window_end),
                text.rfind("\t", start + limit // 2, window_end),
            )
        end = cut + 1 if cut >= 0 else window_end
        yield start, text[start:end]
        start = end
    yield start, text[start:]


@dataclass(frozen=True, slots=True)
class _EngineKey:
    entities: tuple[str, ...]
    spacy_model: str | None


_ANALYZERS: ProcessLocal[_EngineKey, Any] = ProcessLocal()


def _analyzer(key: _EngineKey) -> Any:
    return _ANALYZERS.get(key, lambda: _build_analyzer(key))


def _build_analyzer(key: _EngineKey) -> Any:
    require("presidio_analyzer", stage=STAGE_NAME, package="presidio-analyzer")
    from processing import pii_offline

    try:
        analyzer = pii_offline.build_analyzer(key.entities, key.spacy_model)
    except pii_offline.NerModelError as exc:
        raise StageOptionError(f"stage {STAGE_NAME}: {exc}") from None
    return analyzer


def _check_entities(entities: Sequence[str], spacy_model: str | None) -> tuple[str, ...]:
    if isinstance(entities, str):
        raise StageOptionError(f"stage {STAGE_NAME}: entities must be a list, got {entities!r}")
    for entity in entities:
        if entity not in SUPPORTED_ENTITIES:
            raise StageOptionError(
                f"stage {STAGE_NAME}: unknown entity {entity!r}; "
                f"supported: {', '.join(SUPPORTED_ENTITIES)}"
            )
        if entity in NER_ENTITIES and spacy_model is None:
            raise StageOptionError(
                f"stage {STAGE_NAME}: entity {entity} needs a spaCy NER model "
                "(option spacy_model); none ships with govcat"
            )
    if not entities:
        raise StageOptionError(f"stage {STAGE_NAME}: entities is empty")
    return tuple(dict.fromkeys(entities))


def find_pii(
    text: str,
    *,
    entities: Sequence[str] = DEFAULT_ENTITIES,
    min_score: float = DEFAULT_MIN_SCORE,
    spacy_model: str | None = None,
) -> list[PiiSpan]:
    """The non-overlapping PII spans of `text`, sorted by start."""
    key = _EngineKey(_check_entities(entities, spacy_model), spacy_model)
    analyzer = _analyzer(key)
    found: list[PiiSpan] = []
    for offset, piece in _chunks(text, CHUNK_CHARS):
        if not piece.strip():
            continue
        results = analyzer.analyze(
            text=piece, language="en", entities=list(key.entities), score_threshold=min_score
        )
        found.extend(
            PiiSpan(r.entity_type, r.start + offset, r.end + offset, float(r.score))
            for r in results
            if r.score >= min_score
        )
    return resolve_overlaps(found)


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def engine_info(
    *,
    entities: Sequence[str] | None = None,
    min_score: float = DEFAULT_MIN_SCORE,
    spacy_model: str | None = None,
) -> dict[str, Any]:
    """What the run record keeps about a PII engine configuration (no engine is built)."""
    if entities is None:
        entities = DEFAULT_ENTITIES + (NER_ENTITIES if spacy_model else ())
    entities = _check_entities(entities, spacy_model)
    ner_model = None
    if spacy_model is not None:
        from processing import pii_offline

        try:
            meta = pii_offline.ner_model_meta(spacy_model)
        except pii_offline.NerModelError as exc:
            raise StageOptionError(f"stage {STAGE_NAME}: {exc}") from None
        ner_model = {"requested": spacy_model, **meta}
    return {
        "analyzer": "presidio-analyzer",
        "versions": {
            name: _version(name)
            for name in (
                "presidio-analyzer",
                "presidio-anonymizer",
                "spacy",
                "tldextract",
                "phonenumbers",
            )
        },
        "nlp": spacy_model or "spacy.blank('en') tokenizer with lower-case lemmas",
        "ner": spacy_model is not None,
        "ner_model": ner_model,
        "entities": list(entities),
        "min_score": min_score,
        "context_language": "en",
        "overlap_rule": OVERLAP_RULE,
        "public_suffix_list": "tldextract bundled snapshot (offline)",
    }


@register
class PiiStage(Stage):
    """Finds personal data with presidio and records where it is; changes no text."""

    name = STAGE_NAME
    version = "1"
    description = "personal data spans and counts per entity type (presidio-analyzer)"
    attributes = ("pii_counts", "pii_spans")

    def __init__(
        self,
        *,
        entities: Sequence[str] | None = None,
        min_score: float = DEFAULT_MIN_SCORE,
        spacy_model: str | None = None,
    ) -> None:
        super().__init__()
        if entities is None:
            entities = DEFAULT_ENTITIES + (NER_ENTITIES if spacy_model else ())
        if not 0.0 <= min_score <= 1.0:
            raise StageOptionError(f"stage {STAGE_NAME}: min_score {min_score} is not in [0, 1]")
        self.entities = _check_entities(entities, spacy_model)
        self.min_score = float(min_score)
        self.spacy_model = spacy_model

    @property
    def engine_info(self) -> dict[str, Any]:
        return engine_info(
            entities=self.entities, min_score=self.min_score, spacy_model=self.spacy_model
        )

    def measure(self, doc: Document) -> dict[str, AttributeValue]:
        spans = find_pii(
            doc.text,
            entities=self.entities,
            min_score=self.min_score,
            spacy_model=self.spacy_model,
        )
        counts = Counter(span.type for span in spans)
        counters = self.stats.counters
        for entity, n in counts.items():
            counters[f"spans_{entity}"] += n
        if spans:
            counters["docs_with_pii"] += 1
        return {
            "pii_counts": {entity: counts.get(entity, 0) for entity in self.entities},
            "pii_spans": [span.to_dict() for span in spans],
        }


_ANONYMIZER: Any = None


def _anonymizer() -> Any:
    global _ANONYMIZER
    if _ANONYMIZER is None:
        anonymizer = require("presidio_anonymizer", stage=STAGE_NAME, package="presidio-anonymizer")
        _ANONYMIZER = anonymizer.AnonymizerEngine()
    return _ANONYMIZER


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

    entities = require(
        "presidio_anonymizer.entities", stage=STAGE_NAME, package="presidio-anonymizer"
    )
    result = _anonymizer().anonymize(
        text=text,
        analyzer_results=[
            entities.RecognizerResult(s.type, s.start, s.end, s.score) for s in chosen
        ],
        operators={
            t: entities.OperatorConfig("replace", {"new_value": v}) for t, v in values.items()
        },
        # Spans are disjoint (checked above), so presidio's conflict resolution has nothing to
        # do. Presidio would otherwise fuse "a@x.org b@y.org" into one placeholder.
        merge_entities_with_spaces=False,
    )
    return result.text


def _span(data: Mapping[str, Any], doc_id: str) -> PiiSpan:
    try:
        return PiiSpan.from_mapping(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise RedactionError(f"document {doc_id!r}: malformed PII span {data!r} ({exc})") from None


def __getattr__(name: str) -> Any:
    # Computed on first access: reading package versions is cheap, but the stage registry
    # imports this module and should not pay even that.
    if name == "PII_ENGINE_INFO":
        return engine_info()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
