"""Personal data: where it is in a document (presidio-analyzer), and redaction as a separate step.

The stage only measures (DESIGN.md "Measure, then decide"). It writes

- `pii_counts`: entity type -> number of spans, with a 0 for every type it looked for, so "no
  e-mail address found" is distinguishable from "e-mail addresses were not looked for";
- `pii_spans`: `[{"type", "start", "end", "score"}]`, sorted by start, offsets in characters
  (Python string indices) of the document text, never overlapping
  (`processing.pii_spans.resolve_overlaps`).

A policy then keeps, drops or redacts per entity type; `redact()` applies a redact decision
from the stored spans, without running the analyzer again.

Two versions, both registered, so what a run recorded stays what it ran:

- `pii_v2` (the pipeline's): govcat's recognizers on presidio's engine
  (`processing.pii_recognizers`, `pii_banking`, `pii_phones`: every card issuer range with
  Luhn, international phone numbers and the national formats of the `jurisdictions`, IBANs
  in any case and grouping, no phone numbers or IPs in years, ranges, dates, quantities and
  dotted numbers; context words among the 8 tokens before a match, with no NLP pipeline),
  behind a cheap first pass (`processing.pii_prefilter`): one compiled scan for the shapes
  any enabled recognizer could match decides which regions presidio analyses, with exactly
  the spans a full analysis gives. With URL or a NER entity enabled there is no shape to
  scan for and whole documents are analysed.
- `pii_v1`: presidio's own pattern recognizers and context rule on whole documents, on a
  blank spaCy pipeline.

Entities: EMAIL_ADDRESS, PHONE_NUMBER, IP_ADDRESS, CREDIT_CARD, IBAN_CODE, US_SSN and
URL_WITH_CREDENTIALS by default; URL on request; PERSON and LOCATION only with `spacy_model`,
an installed spaCy model with NER (none is on PyPI, so by default the stage runs without NER and
`PII_ENGINE_INFO["ner"]` says so). Recognizers are pattern-based and run on every document
whatever its language; their context words (which raise scores) are English. Spans under
`min_score` are discarded before overlaps are resolved, so a weak candidate never hides
another.

The analyzer is built once per process on first use (about 0.6 s with spaCy) and never
touches the network (see `processing.pii_offline`). A document longer than `CHUNK_CHARS` is
analysed in chunks cut at line breaks, as spaCy refuses texts over a million characters; the
pre-filter cuts its regions inside those chunks, so both pii_v2 paths see the same pieces.
"""

from __future__ import annotations

import importlib.metadata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from processing import pii_jurisdictions
from processing.pii_jurisdictions import DEFAULT_JURISDICTIONS
from processing.pii_spans import (
    DEFAULT_PLACEHOLDER,
    ENTITY_PRIORITY,
    OVERLAP_RULE,
    PiiSpan,
    RedactionError,
    redact,
    resolve_overlaps,
)
from processing.stage import ProcessLocal, Stage, StageOptionError, register, require
from processing.types import AttributeValue, Document

__all__ = [
    "CHUNK_CHARS",
    "DEFAULT_ENTITIES",
    "DEFAULT_JURISDICTIONS",
    "DEFAULT_MIN_SCORE",
    "DEFAULT_PLACEHOLDER",
    "ENTITY_PRIORITY",
    "NER_ENTITIES",
    "SUPPORTED_ENTITIES",
    "PiiSpan",
    "PiiStage",
    "PresidioPiiStage",
    "RedactionError",
    "engine_info",
    "find_pii",
    "phone_regions",
    "redact",
    "resolve_overlaps",
]

STAGE_NAME = "pii_v2"
PRESIDIO_STAGE_NAME = "pii_v1"
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
# Presidio's base scores: 0.4 keeps phone numbers (0.4), IPs (0.6), dashed SSNs (0.5) and every
# validated match (1.0), and drops its "weak" SSN shapes (0.05-0.3) unless context words nearby
# raise them (+0.35).
DEFAULT_MIN_SCORE = 0.4
CHUNK_CHARS = 100_000
# Pre-filter regions closer than this merge: one call to presidio costs about as much as
# analysing this many characters more.
MERGE_GAP = 200


def phone_regions(jurisdictions: Sequence[str], *, stage: str = STAGE_NAME) -> tuple[str, ...]:
    """The phone regions of `jurisdictions` (`processing.pii_jurisdictions`)."""
    try:
        return pii_jurisdictions.phone_regions(jurisdictions)
    except pii_jurisdictions.JurisdictionError as exc:
        raise StageOptionError(f"stage {stage}: {exc}") from None


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
    recognizers: str  # "govcat" (pii_v2) or "presidio" (pii_v1)
    phone_regions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Engine:
    analyzer: Any
    prefilter: Any  # processing.pii_prefilter.Prefilter, or None: analyse whole chunks


_ANALYZERS: ProcessLocal[_EngineKey, _Engine] = ProcessLocal()


def _engine(key: _EngineKey, stage: str) -> _Engine:
    return _ANALYZERS.get(key, lambda: _build_engine(key, stage))


def _build_engine(key: _EngineKey, stage: str) -> _Engine:
    require("presidio_analyzer", stage=stage, package="presidio-analyzer")
    from processing import pii_offline

    try:
        analyzer = pii_offline.build_analyzer(
            key.entities,
            key.spacy_model,
            recognizers=key.recognizers,
            phone_regions=key.phone_regions,
        )
    except pii_offline.NerModelError as exc:
        raise StageOptionError(f"stage {stage}: {exc}") from None
    prefilter = None
    if key.recognizers == "govcat":
        from processing import pii_recognizers as rec
        from processing.pii_prefilter import Prefilter

        if all(entity in rec.SHAPES for entity in key.entities):
            prefilter = Prefilter(
                {e: rec.SHAPES[e] for e in key.entities},
                before=rec.CONTEXT_TOKENS + 1,
                after=rec.MAX_MATCH_WORDS,
                implied_by=rec.SHAPE_IMPLIED_BY,
                merge_gap=MERGE_GAP,
            )
    return _Engine(analyzer, prefilter)


def _check_entities(
    entities: Sequence[str], spacy_model: str | None, stage: str = STAGE_NAME
) -> tuple[str, ...]:
    if isinstance(entities, str):
        raise StageOptionError(f"stage {stage}: entities must be a list, got {entities!r}")
    for entity in entities:
        if entity not in SUPPORTED_ENTITIES:
            raise StageOptionError(
                f"stage {stage}: unknown entity {entity!r}; "
                f"supported: {', '.join(SUPPORTED_ENTITIES)}"
            )
        if entity in NER_ENTITIES and spacy_model is None:
            raise StageOptionError(
                f"stage {stage}: entity {entity} needs a spaCy NER model "
                "(option spacy_model); none ships with govcat"
            )
    if not entities:
        raise StageOptionError(f"stage {stage}: entities is empty")
    return tuple(dict.fromkeys(entities))


def _spans(
    text: str,
    key: _EngineKey,
    min_score: float,
    *,
    prefilter: bool,
    stage: str,
    counters: Counter[str] | None = None,
) -> list[PiiSpan]:
    engine = _engine(key, stage)
    scan = engine.prefilter if prefilter else None
    entities = list(key.entities)
    found: list[PiiSpan] = []
    for offset, piece in _chunks(text, CHUNK_CHARS):
        if not piece.strip():
            continue
        regions = [(0, len(piece))] if scan is None else scan.regions(piece)
        if counters is not None:
            counters["regions_analysed"] += len(regions)
            counters["chars_analysed"] += sum(end - start for start, end in regions)
        for start, end in regions:
            region = piece[start:end]
            wanted = entities if scan is None else scan.entities(region)
            results = engine.analyzer.analyze(
                text=region, language="en", entities=wanted, score_threshold=min_score
            )
            at = offset + start
            found.extend(
                PiiSpan(r.entity_type, r.start + at, r.end + at, float(r.score))
                for r in results
                if r.score >= min_score
            )
    return resolve_overlaps(found)


def find_pii(
    text: str,
    *,
    entities: Sequence[str] = DEFAULT_ENTITIES,
    min_score: float = DEFAULT_MIN_SCORE,
    spacy_model: str | None = None,
    jurisdictions: Sequence[str] = DEFAULT_JURISDICTIONS,
    recognizers: str = "govcat",
    prefilter: bool = True,
) -> list[PiiSpan]:
    """The non-overlapping PII spans of `text`, sorted by start.

    `recognizers="govcat"` is pii_v2, `"presidio"` pii_v1 (which ignores `jurisdictions` and
    never pre-filters). `prefilter=False` analyses whole documents with the same recognizers:
    the same spans, slower (the reference the pre-filter is tested against).
    """
    stage = STAGE_NAME if recognizers == "govcat" else PRESIDIO_STAGE_NAME
    key = _EngineKey(
        _check_entities(entities, spacy_model, stage),
        spacy_model,
        recognizers,
        phone_regions(jurisdictions) if recognizers == "govcat" else (),
    )
    return _spans(text, key, min_score, prefilter=prefilter, stage=stage)


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
    jurisdictions: Sequence[str] | None = DEFAULT_JURISDICTIONS,
    stage: str = STAGE_NAME,
) -> dict[str, Any]:
    """What the run record keeps about a PII engine configuration (no engine is built).

    `jurisdictions` is None for pii_v1, whose phone regions are presidio's own."""
    if entities is None:
        entities = DEFAULT_ENTITIES + (NER_ENTITIES if spacy_model else ())
    entities = _check_entities(entities, spacy_model, stage)
    ner_model = None
    if spacy_model is not None:
        from processing import pii_offline

        try:
            meta = pii_offline.ner_model_meta(spacy_model)
        except pii_offline.NerModelError as exc:
            raise StageOptionError(f"stage {stage}: {exc}") from None
        ner_model = {"requested": spacy_model, **meta}
    govcat = stage == STAGE_NAME
    prefiltered = govcat and not set(entities) & {*OPTIONAL_ENTITIES, *NER_ENTITIES}
    return {
        "stage": stage,
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
        "recognizers": (
            "govcat (processing.pii_recognizers, pii_banking, pii_phones)" if govcat else "presidio"
        ),
        "nlp": spacy_model
        or ("none (context read from the text)" if govcat
            else "spacy.blank('en') tokenizer with lower-case lemmas"),
        "ner": spacy_model is not None,
        "ner_model": ner_model,
        "entities": list(entities),
        "min_score": min_score,
        "context_language": "en",
        "context": (
            "whole context words among the CONTEXT_TOKENS tokens before a match "
            "(processing.pii_recognizers)"
            if govcat
            else "presidio: context words within the 5 keywords before a match"
        ),
        "jurisdictions": list(jurisdictions) if govcat and jurisdictions else None,
        "phone_regions": (
            list(phone_regions(jurisdictions, stage=stage))
            if govcat and jurisdictions
            else "presidio default (US, GB, DE, FR, IL, IN, CA, BR)"
        ),
        "prefilter": "shape scan, regions of words around shapes" if prefiltered else None,
        "overlap_rule": OVERLAP_RULE,
        "public_suffix_list": "tldextract bundled snapshot (offline)",
    }


@register
class PiiStage(Stage):
    """Finds personal data with govcat's recognizers on presidio and records where it is;
    changes no text."""

    name = STAGE_NAME
    version = "2"
    description = (
        "personal data spans and counts per entity type (presidio-analyzer, govcat "
        "recognizers, shape pre-filter)"
    )
    attributes = ("pii_counts", "pii_spans")

    def __init__(
        self,
        *,
        entities: Sequence[str] | None = None,
        min_score: float = DEFAULT_MIN_SCORE,
        spacy_model: str | None = None,
        jurisdictions: Sequence[str] = DEFAULT_JURISDICTIONS,
    ) -> None:
        self._setup(entities, min_score, spacy_model)
        regions = phone_regions(jurisdictions, stage=self.name)
        self.jurisdictions = tuple(jurisdictions)
        self._key = _EngineKey(self.entities, spacy_model, "govcat", regions)

    def _setup(
        self, entities: Sequence[str] | None, min_score: float, spacy_model: str | None
    ) -> None:
        super().__init__()
        if entities is None:
            entities = DEFAULT_ENTITIES + (NER_ENTITIES if spacy_model else ())
        if not 0.0 <= min_score <= 1.0:
            raise StageOptionError(f"stage {self.name}: min_score {min_score} is not in [0, 1]")
        self.entities = _check_entities(entities, spacy_model, self.name)
        self.min_score = float(min_score)
        self.spacy_model = spacy_model

    @property
    def engine_info(self) -> dict[str, Any]:
        return engine_info(
            entities=self.entities,
            min_score=self.min_score,
            spacy_model=self.spacy_model,
            jurisdictions=self.jurisdictions,
        )

    def measure(self, doc: Document) -> dict[str, AttributeValue]:
        counters = self.stats.counters
        spans = _spans(
            doc.text,
            self._key,
            self.min_score,
            prefilter=True,
            stage=self.name,
            counters=counters,
        )
        counts = Counter(span.type for span in spans)
        for entity, n in counts.items():
            counters[f"spans_{entity}"] += n
        if spans:
            counters["docs_with_pii"] += 1
        return {
            "pii_counts": {entity: counts.get(entity, 0) for entity in self.entities},
            "pii_spans": [span.to_dict() for span in spans],
        }


@register
class PresidioPiiStage(PiiStage):
    """pii_v1: presidio's own pattern recognizers and context rule, on whole documents."""

    name = PRESIDIO_STAGE_NAME
    version = "1"
    description = "personal data spans and counts per entity type (presidio-analyzer)"

    def __init__(
        self,
        *,
        entities: Sequence[str] | None = None,
        min_score: float = DEFAULT_MIN_SCORE,
        spacy_model: str | None = None,
    ) -> None:
        self._setup(entities, min_score, spacy_model)
        self.jurisdictions = ()
        self._key = _EngineKey(self.entities, spacy_model, "presidio")

    @property
    def engine_info(self) -> dict[str, Any]:
        return engine_info(
            entities=self.entities,
            min_score=self.min_score,
            spacy_model=self.spacy_model,
            jurisdictions=None,
            stage=self.name,
        )


def __getattr__(name: str) -> Any:
    # Computed on first access: reading package versions is cheap, but the stage registry
    # imports this module and should not pay even that.
    if name == "PII_ENGINE_INFO":
        return engine_info()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
