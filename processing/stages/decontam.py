"""Benchmark decontamination: how much of each registered evaluation set a document quotes.

GPT-3 (Brown et al. 2020, appendix C) and Gopher (Rae et al. 2021) test training documents
for 13-gram overlap with the evaluation sets, after normalising both (lowercase, punctuation
removed, whitespace tokens; `processing.ngrams`). Per document and per set this stage writes:

- `decontam.<set>.hits`: how many of the document's n-gram positions occur in the set;
- `decontam.<set>.longest`: the longest overlap in tokens, i.e. the longest run of
  consecutive matching n-grams (r of them cover r + n - 1 tokens); 0 when nothing matched;
- `decontam_hits` and `decontam_longest`: the same as maps set -> value, which policy
  conditions read (`attr.decontam_hits.exists(s, attr.decontam_hits[s] > 0)`).

The sets are given as options: each an index built once by the catalog (`govcat decontam
add`), a sorted array of n-gram hashes, named by the sha256 the catalog recorded. An index
whose bytes no longer hash to that is refused. Documents are measured a batch at a time: one
pass of numpy over the batch's bytes and one sorted lookup per set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from common.atomic import bytes_sha256
from common.storage import as_path
from processing.ngrams import NgramError, NgramSet, ngram_hashes, overlaps, token_hashes
from processing.stage import BatchStage, ProcessLocal, StageError, StageOptionError, register
from processing.types import AttributeValue, Document

STAGE_NAME = "decontam_v1"
SET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")


class DecontamIndexError(StageError):
    """An evaluation set's index is missing, altered, or not an index."""


_SETS: ProcessLocal[tuple[str, str, int], NgramSet] = ProcessLocal()


def load_index(path: str, sha256: str, n: int) -> NgramSet:
    """The n-gram set at `path`, once per process, checked against its recorded sha256."""
    return _SETS.get((path, sha256, n), lambda: _read_index(path, sha256, n))


def _read_index(path: str, sha256: str, n: int) -> NgramSet:
    file = as_path(path)  # a local file or an object on the data root's store
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise DecontamIndexError(f"{path}: cannot read the n-gram index ({exc.strerror})") \
            from None
    digest = bytes_sha256(data)
    if digest != sha256:
        raise DecontamIndexError(
            f"{path}: the n-gram index changed since it was registered (sha256 {digest[:12]}…, "
            f"recorded {sha256[:12]}…); register the set again")
    try:
        return NgramSet.from_bytes(data, n)
    except NgramError as exc:
        raise DecontamIndexError(f"{path}: {exc}") from None


def _checked_sets(sets: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    out = []
    seen: set[str] = set()
    for item in sets:
        try:
            spec = {"name": str(item["name"]), "path": str(item["path"]),
                    "sha256": str(item["sha256"]), "n": int(item["n"])}
        except (KeyError, TypeError, ValueError) as exc:
            raise StageOptionError(
                f"stage {STAGE_NAME}: each set needs name, path, sha256 and n ({exc})") from None
        if not SET_NAME.match(spec["name"]):
            raise StageOptionError(f"stage {STAGE_NAME}: set name {spec['name']!r} must be "
                                   "lower-case letters, digits, '-' or '_'")
        if spec["name"] in seen:
            raise StageOptionError(f"stage {STAGE_NAME}: set {spec['name']!r} given twice")
        if spec["n"] < 1:
            raise StageOptionError(f"stage {STAGE_NAME}: set {spec['name']!r}: n must be >= 1")
        seen.add(spec["name"])
        out.append(spec)
    return tuple(out)


@register
class DecontamStage(BatchStage):
    """N-gram overlap of each document with every registered evaluation set."""

    name = STAGE_NAME
    version = "1"
    description = "benchmark decontamination: 13-gram hits and longest overlap per eval set"
    attributes = ("decontam_hits", "decontam_longest")
    batch_size = 512

    def __init__(self, *, sets: Sequence[Mapping[str, Any]] = (),
                 batch_size: int | None = None) -> None:
        super().__init__()
        self.sets = _checked_sets(sets)
        if batch_size is not None:
            if batch_size < 1:
                raise StageOptionError(f"stage {STAGE_NAME}: batch_size must be >= 1")
            self.batch_size = batch_size
        # Per-set columns follow the two maps, in the order the sets were given, so every
        # shard of a run has the same columns.
        self.attributes = (*DecontamStage.attributes,
                           *(f"decontam.{s['name']}.{what}" for s in self.sets
                             for what in ("hits", "longest")))

    def measure_batch(self, docs: list[Document]) -> list[dict[str, AttributeValue]]:
        out: list[dict[str, AttributeValue]] = [
            {"decontam_hits": {}, "decontam_longest": {}} for _ in docs]
        if not self.sets:
            return out
        tok = token_hashes([d.text for d in docs])
        grams: dict[int, tuple] = {}
        for spec in self.sets:
            ngram_set = load_index(spec["path"], spec["sha256"], spec["n"])
            n = spec["n"]
            if n not in grams:
                grams[n] = ngram_hashes(tok, n)
            result = overlaps(tok, ngram_set, grams=grams[n])
            found = result.hits.tolist()
            name = spec["name"]
            for i, (hits, longest) in enumerate(zip(found, result.longest.tolist(),
                                                    strict=True)):
                values = out[i]
                values["decontam_hits"][name] = hits  # type: ignore[index]
                values["decontam_longest"][name] = longest  # type: ignore[index]
                values[f"decontam.{name}.hits"] = hits
                values[f"decontam.{name}.longest"] = longest
            self.stats.counters[f"docs_overlapping:{name}"] += sum(1 for h in found if h)
        return out
