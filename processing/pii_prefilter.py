"""The cheap first pass of the pii stage: which regions of a text presidio must analyse.

One compiled regular expression holds the SHAPE of every enabled entity (a pattern each of
its matches contains, starting in the match's first word: "@" for an e-mail address, seven
digits for a phone number, ...). A text with no shape anywhere holds no PII and never
reaches presidio; otherwise each shape occurrence opens a region of whole
whitespace-separated words around it, `before` words back and `after` words on, overlapping
regions merge, and each region is analysed for the entities whose shape it holds.

Why a region gives the spans full analysis gives (docs/architecture.md, "Measure, then
decide"). With `after` ≥ the most words one recognizer candidate spans and `before` ≥ the
context window in tokens (each word is at least one token):

- a result has a shape starting in its first word, and the scan either finds a shape
  starting there or has consumed that position inside an earlier shape, whose region
  reaches at least as far on both sides; so the result lies inside a region, with the
  tokens its context is read from;
- a region starts and ends at whitespace, and context tokens split at whitespace too, so
  the tokens inside a region are the tokens of the full text, and no regex lookaround sees
  a different neighbour there than at the start or end of a string;
- the recognizers' scans consume text only with candidates that hold a shape (or consume
  none when they refuse one), so a candidate cut by a region boundary would have its own
  region covering it, merged with this one.

`tests/processing/test_pii.py` checks the claim document by document on a generated mixed
set. This module does not import presidio.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

__all__ = ["Prefilter"]

Shape = tuple[str, str]  # (first character as a pattern, the rest)

# From a character inside a word: the rest of that word and up to N more, read forwards in
# the text or backwards in the reversed text.
_WORDS_ON = "\\S*(?:\\s+\\S+){0,%d}"


class Prefilter:
    """Regions of a text that can hold a match of the given shapes (entity -> alternatives)."""

    def __init__(
        self,
        shapes: Mapping[str, Sequence[Shape]],
        *,
        before: int,
        after: int,
        implied_by: Mapping[str, str] | None = None,
        merge_gap: int = 0,
    ) -> None:
        """`implied_by[e] = f`: an occurrence of e's shape starts with one of f's, so when f
        is scanned for, e need not be. Regions closer than `merge_gap` characters merge
        (fewer, larger calls to presidio; the spans are the same)."""
        if not shapes:
            raise ValueError("a pre-filter needs at least one shape")
        implied = implied_by or {}
        tails: dict[str, list[str]] = {}
        for entity, alternatives in shapes.items():
            if implied.get(entity) in shapes:
                continue
            for lead, tail in alternatives:
                if tail not in tails.setdefault(lead, []):
                    tails[lead].append(tail)
        # One group per first character: the engine then skips to those characters.
        self.pattern = "|".join(
            f"{lead}(?:{'|'.join(rest)})" for lead, rest in tails.items()
        )
        self._scan = re.compile(self.pattern)
        self._each = {
            entity: re.compile("|".join(f"{lead}{tail}" for lead, tail in alternatives))
            for entity, alternatives in shapes.items()
        }
        self._back = re.compile(_WORDS_ON % before)
        self._on = re.compile(_WORDS_ON % after)
        self.merge_gap = merge_gap

    def any(self, text: str) -> bool:
        return self._scan.search(text) is not None

    def entities(self, region: str) -> list[str]:
        """The entities whose shape occurs in `region`, the only ones it can hold."""
        return [entity for entity, shape in self._each.items() if shape.search(region)]

    def regions(self, text: str) -> list[tuple[int, int]]:
        """Disjoint [start, end) regions, in order; empty when no shape occurs."""
        regions: list[tuple[int, int]] = []
        reversed_text = ""
        n = len(text)
        for hit in self._scan.finditer(text):
            hit_start, hit_end = hit.span()
            if regions and hit_start < regions[-1][1]:
                # Inside the last region: only its end can move.
                end = self._on.match(text, hit_end).end()
                regions[-1] = (regions[-1][0], max(end, regions[-1][1]))
                continue
            # Shapes start and end with a non-space, so both ends are inside words.
            reversed_text = reversed_text or text[::-1]
            start = n - self._back.match(reversed_text, n - hit_start).end()
            end = self._on.match(text, hit_end).end()
            if regions and start <= regions[-1][1] + self.merge_gap:
                regions[-1] = (regions[-1][0], max(end, regions[-1][1]))
            else:
                regions.append((start, end))
        return regions
