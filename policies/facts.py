"""The facts a policy condition may use: names, types, and the stage from which each is known.

Facts are passed to the engine as a flat mapping keyed by dotted path, exactly as a condition
names them: ``{"source.status": "approved", "consent.now": {"GPTBot": True}, ...}``. That is
the shape of an index row, and it lets the engine memoise on the handful of paths a rule reads.
`from_nested` converts a nested dict when that is what a caller has.

Types are CEL's: string, int, double, bool, timestamp, list(string), map(string, bool),
map(string, int). A fact is visible from its stage on: `attr.lang` in langid and every later
stage, never in admission. Processing attributes (`attr.*`) are an open set: the catalog
declares the ones its stages write with `FactSchema.with_attrs`.

Choices worth knowing when writing conditions:

- `consent.collection[agent]` / `consent.now[agent]` are *allowed* booleans for this
  document's URL (robots.txt per RFC 9309 for that agent, at collection time and now),
  for every agent the policy lists. `consent_facts` builds them and the summary facts.
- Nullable facts (`doc.url`, `doc.host`, `doc.collected_at`, licence strings) may be given as
  None; the engine substitutes the documented stand-in ("" or 1970-01-01T00:00:00Z).
- `policy.*` facts come from the policy itself; callers never pass them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from policies.errors import PolicyError, UnknownName
from policies.model import STAGES

SCALAR_TYPES = ("string", "int", "double", "bool")
TYPES = (*SCALAR_TYPES, "timestamp", "list(string)", "map(string, bool)", "map(string, int)",
         "map(string, double)")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

TOS_VERDICTS = (
    "unrestricted", "conditional", "no-ai", "no-scraping", "no-scraping-and-ai",
    "non-commercial-only", "unknown",
)
LICENSE_USES = ("commercial", "non-commercial", "academic-only", "unspecified")


@dataclass(frozen=True, slots=True)
class Fact:
    path: str
    type: str
    stage: str  # first stage that sees it
    description: str
    nullable: bool = False

    @property
    def namespace(self) -> str:
        return self.path.split(".", 1)[0]

    @property
    def missing_value(self) -> Any:
        """What a None becomes for a nullable fact."""
        return {"string": "", "timestamp": EPOCH, "list(string)": []}.get(self.type)


def _f(path: str, type_: str, description: str, stage: str = "admission", nullable: bool = False):
    return Fact(path, type_, stage, description, nullable)


_BASE: tuple[Fact, ...] = (
    # -- the source the document came from (identical for all of its documents)
    _f("source.slug", "string", "catalog slug of the source"),
    _f("source.kind", "string", "web, books, code, forum, jsonl, parquet ..."),
    _f("source.status", "string", "review status: approved, pending, rejected, retired"),
    _f("source.tos_verdict", "string", "terms-of-service verdict: " + ", ".join(TOS_VERDICTS)),
    _f("source.declared_license", "string", "SPDX expression the source declares", nullable=True),
    _f("source.personal_data", "string", "declared personal data: yes, no, unknown"),
    _f("source.jurisdiction", "string", "where the source is established, e.g. EU, US"),
    _f("source.robots_handling", "string", "how collection treated robots.txt: "
       "respected, ignored, not-applicable, unknown"),
    # -- the document (index row)
    _f("doc.id", "string", "stable document id <source-slug>/<hash>"),
    _f("doc.url", "string", "URL, '' when the document has none", nullable=True),
    _f("doc.host", "string", "host name, '' when none", nullable=True),
    _f("doc.collected_at", "timestamp", "when it was fetched or dumped; 1970-01-01 when unknown",
       nullable=True),
    # -- licence, as concluded by the catalog from evidence, classified by the taxonomy
    _f("license.concluded", "string", "SPDX expression supported by evidence, '' when none",
       nullable=True),
    _f("license.declared", "string", "SPDX expression the document declares, '' when none",
       nullable=True),
    _f("license.use", "string", "most restrictive use class: " + ", ".join(LICENSE_USES)),
    _f("license.attribution", "bool", "attribution required"),
    _f("license.share_alike", "bool", "share-alike required"),
    _f("license.no_derivatives", "bool", "no derivatives allowed"),
    _f("license.open", "bool", "every licence in the expression is an open licence"),
    _f("license.known", "bool", "the concluded licence is known to the taxonomy"),
    _f("license.conflict", "bool", "detectors or declarations disagree"),
    # -- robots.txt consent for this document's URL, per agent listed by the policy
    _f("consent.collection", "map(string, bool)", "agent -> allowed at collection time"),
    _f("consent.now", "map(string, bool)", "agent -> allowed by the newest robots.txt"),
    _f("consent.any_blocked_collection", "bool", "some listed agent was disallowed then"),
    _f("consent.any_blocked_now", "bool", "some listed agent is disallowed now"),
    _f("consent.opted_out_after_collection", "bool", "blocked now, but allowed at collection"),
    _f("consent.known", "bool", "a robots.txt (collection-time or newer) was evaluated"),
    # -- machine-readable rights reservations (TDMRep, noai, Content-Signal, ai.txt)
    _f("reservation.reserved", "bool", "rights reserved for text-and-data mining / AI"),
    _f("reservation.uses", "list(string)", "what is reserved: tdm, ai-train, noai, noimageai ..."),
    # -- opt-out requests recorded in the catalog
    _f("optout.matched", "bool", "an opt-out request covers this document"),
    _f("optout.request_ids", "list(string)", "ids of the matching opt-out requests"),
    # -- the policy itself (filled in by the engine)
    _f("policy.intended_use", "string", "research or commercial"),
    _f("policy.jurisdiction", "string", "jurisdiction the policy is written for"),
)

# Processing attributes. Quality signals follow the Gopher / C4 / FineWeb definitions in
# docs/architecture.md.
_ATTRS: tuple[tuple[str, str, str, str], ...] = (
    ("langid", "lang", "string", "detected language (ISO 639-1, fastText lid.176)"),
    ("langid", "lang_score", "double", "confidence of the detected language, 0..1"),
    ("quality", "gopher_word_count", "int", "non-symbol words"),
    ("quality", "gopher_mean_word_length", "double", "mean word length"),
    ("quality", "gopher_symbol_word_ratio_hash", "double", "'#' per word"),
    ("quality", "gopher_symbol_word_ratio_ellipsis", "double", "ellipses per word"),
    ("quality", "gopher_bullet_lines_ratio", "double", "lines starting with a bullet"),
    ("quality", "gopher_ellipsis_lines_ratio", "double", "lines ending with an ellipsis"),
    ("quality", "gopher_alpha_words_ratio", "double", "words with an alphabetic character"),
    ("quality", "gopher_stop_words", "int", "distinct stop words of the, be, to, of, and, that, "
     "have, with"),
    ("quality", "gopher_rep_dup_para_frac", "double", "duplicate paragraphs, by count"),
    ("quality", "gopher_rep_dup_para_char_frac", "double", "duplicate paragraphs, by characters"),
    ("quality", "gopher_rep_dup_line_frac", "double", "duplicate lines, by count"),
    ("quality", "gopher_rep_dup_line_char_frac", "double", "duplicate lines, by characters"),
    *(("quality", f"gopher_rep_top_{n}gram", "double", f"top {n}-gram character share")
      for n in (2, 3, 4)),
    *(("quality", f"gopher_rep_dup_{n}gram", "double",
       f"duplicated {n}-gram character share") for n in range(5, 11)),
    ("quality", "c4_kept_sentences", "int", "sentences left after C4 line filtering"),
    ("quality", "c4_has_lorem_ipsum", "bool", "contains 'lorem ipsum'"),
    ("quality", "c4_has_curly_bracket", "bool", "contains '{'"),
    ("quality", "c4_lines", "int", "non-empty lines before C4 line filtering"),
    ("quality", "c4_kept_lines", "int", "lines C4 line filtering keeps"),
    ("quality", "c4_filtered_length", "int", "characters left after C4 line filtering"),
    *(("quality", f"c4_lines_dropped_{why}", "int", f"lines C4 drops: {why.replace('_', ' ')}")
      for why in ("javascript", "policy", "no_terminal_punct", "too_few_words", "long_word")),
    ("quality", "fineweb_line_punct_ratio", "double", "lines ending in punctuation"),
    ("quality", "fineweb_short_line_ratio", "double", "lines of at most 30 characters"),
    ("quality", "fineweb_dup_line_char_frac", "double", "characters in duplicated lines"),
    ("quality", "fineweb_newline_per_word", "double", "newlines per word"),
    ("dedup", "cluster_id", "string", "near-duplicate cluster id (own id when unique)"),
    ("dedup", "cluster_keep", "bool", "this document is the member its cluster keeps"),
    ("dedup", "cluster_size", "int", "documents in the cluster (1 when unique)"),
    ("pii", "pii_counts", "map(string, int)", "entity type -> spans found"),
    # Content filters, measured in the quality task (docs/content-filters.md).
    ("quality", "badwords_count", "int", "bad-words matches over all lists"),
    ("quality", "badwords_lists", "map(string, int)", "bad-words list -> matches"),
    ("quality", "badwords_langs", "map(string, int)", "language of a list -> matches"),
    ("quality", "toxicity", "double", "probability the text is offensive (English model), 0..1"),
    ("quality", "decontam_hits", "map(string, int)",
     "evaluation set -> the document's 13-gram positions found in it"),
    ("quality", "decontam_longest", "map(string, int)",
     "evaluation set -> longest overlap in tokens (0: none)"),
    ("quality", "fasttext_labels", "map(string, double)",
     "fastText classifier label -> probability ({} without a model)"),
    ("quality", "fasttext_top_score", "double", "the fastText classifier's top probability"),
)
_NULLABLE_ATTRS: tuple[tuple[str, str, str, str], ...] = (
    ("quality", "fasttext_top", "string", "the fastText classifier's top label, '' when none"),
)

_ATTR_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class FactSchema:
    """The declared facts. Immutable and hashable, so compiled environments can be cached."""

    facts: tuple[Fact, ...]

    @cached_property
    def _by_path(self) -> dict[str, Fact]:
        return {f.path: f for f in self.facts}

    def get(self, path: str) -> Fact | None:
        return self._by_path.get(path)

    def __contains__(self, path: str) -> bool:
        return path in self._by_path

    def visible(self, stage: str) -> tuple[Fact, ...]:
        """Facts a condition of `stage` may use."""
        if stage not in STAGES:
            raise UnknownName("stage", stage, STAGES)
        upto = STAGES.index(stage)
        return tuple(f for f in self.facts if STAGES.index(f.stage) <= upto)

    def with_attrs(self, attrs: Mapping[str, str], *, stage: str = "quality") -> FactSchema:
        """A schema that also declares `attr.<name>` of a scalar type, visible from `stage`.

        Re-declaring an existing attribute with the same type is allowed (idempotent);
        with another type it is an error, since conditions were checked against the old one.
        """
        if stage not in STAGES or stage == "admission":
            raise UnknownName("processing stage", stage, STAGES[1:])
        added = list(self.facts)
        for name, type_ in attrs.items():
            name = name.removeprefix("attr.")
            if not _ATTR_NAME.match(name):
                raise PolicyError(f"attribute name {name!r} must match {_ATTR_NAME.pattern}")
            if type_ not in SCALAR_TYPES:
                raise PolicyError(
                    f"attribute attr.{name}: type {type_!r} is not one of {', '.join(SCALAR_TYPES)}"
                )
            old = self.get(f"attr.{name}")
            if old is not None:
                if old.type != type_:
                    raise PolicyError(f"attribute attr.{name} is already declared as {old.type}")
                continue
            added.append(Fact(f"attr.{name}", type_, stage, "declared by the catalog"))
        return replace(self, facts=tuple(added))


DEFAULT_SCHEMA = FactSchema(
    _BASE + tuple(Fact(f"attr.{name}", t, stage, d) for stage, name, t, d in _ATTRS)
    + tuple(Fact(f"attr.{name}", t, stage, d, True) for stage, name, t, d in _NULLABLE_ATTRS)
)


def consent_facts(
    agents: Iterable[str],
    *,
    collection: Mapping[str, bool] | None,
    now: Mapping[str, bool] | None,
) -> dict[str, Any]:
    """The consent.* facts for one document from per-agent robots verdicts for its URL.

    `collection` / `now` map agent -> allowed (None: no robots.txt evaluated for that time).
    An agent missing from a given map is taken as allowed: RFC 9309 resolves an unnamed agent
    through the `*` group, so the caller's verdict for `*` should already be in the map if it
    blocks. Every listed agent gets an entry, so `consent.now["GPTBot"]` never fails.
    """
    agents = tuple(agents)
    coll = {a: bool(collection.get(a, True)) for a in agents} if collection is not None else {}
    cur = {a: bool(now.get(a, True)) for a in agents} if now is not None else {}
    blocked_then = not all(coll.values())
    blocked_now = not all(cur.values())
    return {
        "consent.collection": coll or {a: True for a in agents},
        "consent.now": cur or {a: True for a in agents},
        "consent.any_blocked_collection": blocked_then,
        "consent.any_blocked_now": blocked_now,
        "consent.opted_out_after_collection": blocked_now and collection is not None
        and not blocked_then,
        "consent.known": collection is not None or now is not None,
    }


def from_nested(
    nested: Mapping[str, Any], stage: str = "pii", schema: FactSchema = DEFAULT_SCHEMA
) -> dict[str, Any]:
    """Flatten ``{"source": {"status": ...}}`` into ``{"source.status": ...}`` along declared
    paths only, so map-typed facts (`consent.now`) stay maps. Absent paths are left out."""
    out: dict[str, Any] = {}
    for fact in schema.visible(stage):
        node: Any = nested
        for part in fact.path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                break
            node = node[part]
        else:
            out[fact.path] = node
    return out


def example_value(fact: Fact, agents: Iterable[str] = ("*",)) -> Any:
    """A value of the fact's type, for checking conditions and building test rows."""
    return {
        "string": "",
        "int": 0,
        "double": 0.0,
        "bool": False,
        "timestamp": EPOCH,
        "list(string)": [],
        "map(string, bool)": {a: True for a in agents},
        "map(string, int)": {},
        "map(string, double)": {},
    }[fact.type]


def example_facts(
    stage: str, agents: Iterable[str] = ("*",), schema: FactSchema = DEFAULT_SCHEMA
) -> dict[str, Any]:
    """A complete, well-typed fact row for `stage` (policy.* excluded: the engine adds them)."""
    agents = tuple(agents)
    return {
        f.path: example_value(f, agents)
        for f in schema.visible(stage)
        if f.namespace != "policy"
    }


def coerce_attribute(path: str, value: Any, schema: FactSchema = DEFAULT_SCHEMA) -> Any:
    """An attribute as read from an attribute shard, as the fact `path` declares it.

    Attribute shards store ints and floats as Arrow numbers and maps as JSON text (see
    processing/pipeline.py); conditions need the declared CEL type.
    """
    fact = schema.get(path)
    if value is None or fact is None:
        return value
    if fact.type == "double":
        return float(value)
    if fact.type == "int":
        return int(value)
    if fact.type.startswith("map(") and isinstance(value, str):
        import json

        return json.loads(value)
    return value
