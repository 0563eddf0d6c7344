"""Quality signals: every Gopher, Gopher-repetition, C4 and FineWeb heuristic as an attribute.

Each signal is stored as the value it measures (a count or a ratio), not as pass/fail: the
thresholds are a policy's (the quality rules of policies/packs/*.yaml hold the published ones,
as datatrove 0.10.1 applies them), so a policy can set its own and re-cut a release without
re-scoring. The only thresholds here are those that define a measurement (which C4 lines
count, what a FineWeb short line is).

The signals follow datatrove's GopherQualityFilter, GopherRepetitionFilter, C4QualityFilter and
FineWebQualityFilter, quirks included where they change which documents pass (each family
splits lines its own way; see `processing.text`). Words come from `processing.text.split_words`,
a fast stand-in for the spaCy tokenizer datatrove uses. bench/quality_conformance.py measures
per-rule agreement with datatrove; bench/RESULTS-quality.md names every deliberate difference.

A value of None means the signal is not defined for the document (a ratio over zero words or
zero lines); a policy rule on it cannot be evaluated and fails closed, as datatrove drops such
documents.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import accumulate, chain, count, filterfalse

import numpy as np

from processing.stage import InvalidDocumentError, Stage, register
from processing.text import (
    ALNUM,
    ALPHA,
    SENTENCE_TERMINALS,
    count_sentences,
    is_symbol_word,
    line_runs,
    lines,
    nonblank_lines,
    paragraphs,
    split_words,
)
from processing.types import AttributeValue, Document

FAMILIES = ("gopher", "gopher_rep", "c4", "fineweb")

GOPHER_STOP_WORDS = frozenset(("the", "be", "to", "of", "and", "that", "have", "with"))
TOP_NGRAMS = (2, 3, 4)
DUP_NGRAMS = (5, 6, 7, 8, 9, 10)

# C4 (Raffel et al. 2020, as in the TFDS reference): what counts as a terminal mark, and which
# lines are cookie/terms boilerplate.
C4_END_PUNCTUATION = (".", "?", "!", '"', "'")
C4_POLICY_PHRASES = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)
C4_MAX_WORD_LENGTH = 1000
C4_MIN_WORDS_PER_LINE = 3
_CITATION = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]")

FINEWEB_SHORT_LINE_CHARS = 30

GOPHER_ATTRIBUTES = (
    "gopher_word_count",
    "gopher_mean_word_length",
    "gopher_symbol_word_ratio_hash",
    "gopher_symbol_word_ratio_ellipsis",
    "gopher_bullet_lines_ratio",
    "gopher_ellipsis_lines_ratio",
    "gopher_alpha_words_ratio",
    "gopher_stop_words",
)
GOPHER_REP_ATTRIBUTES = (
    "gopher_rep_dup_para_frac",
    "gopher_rep_dup_para_char_frac",
    "gopher_rep_dup_line_frac",
    "gopher_rep_dup_line_char_frac",
    *(f"gopher_rep_top_{n}gram" for n in TOP_NGRAMS),
    *(f"gopher_rep_dup_{n}gram" for n in DUP_NGRAMS),
)
C4_ATTRIBUTES = (
    "c4_lines",
    "c4_kept_lines",
    "c4_kept_sentences",
    "c4_has_lorem_ipsum",
    "c4_has_curly_bracket",
    "c4_lines_dropped_long_word",
    "c4_lines_dropped_no_terminal_punct",
    "c4_lines_dropped_too_few_words",
    "c4_lines_dropped_javascript",
    "c4_lines_dropped_policy",
    "c4_filtered_length",
)
FINEWEB_ATTRIBUTES = (
    "fineweb_line_punct_ratio",
    "fineweb_short_line_ratio",
    "fineweb_dup_line_char_frac",
    "fineweb_newline_per_word",
)
ATTRIBUTES = {
    "gopher": GOPHER_ATTRIBUTES,
    "gopher_rep": GOPHER_REP_ATTRIBUTES,
    "c4": C4_ATTRIBUTES,
    "fineweb": FINEWEB_ATTRIBUTES,
}


def _ratio(numerator: float, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _duplicates(items: list[str]) -> tuple[int, int]:
    """How many items repeat an earlier one, and how many characters those repeats hold."""
    seen: set[str] = set()
    repeats = chars = 0
    for item in items:
        if item in seen:
            repeats += 1
            chars += len(item)
        else:
            seen.add(item)
    return repeats, chars


def gopher_quality(
    text: str, words: list[str], text_lines: list[str] | None = None
) -> dict[str, AttributeValue]:
    n_words = len(words)
    # Words with a letter or digit are never symbols; only the rest need a closer look.
    content = list(filter(ALNUM.search, words))
    content += [w for w in filterfalse(ALNUM.search, words) if not is_symbol_word(w)]
    n_content = len(content)
    if text_lines is None:
        text_lines = lines(text)
    n_lines = len(text_lines)
    bullets = sum(1 for s in text_lines if s.lstrip().startswith(("•", "-")))
    ellipsis_ends = sum(1 for s in text_lines if s.rstrip().endswith(("...", "…")))
    return {
        "gopher_word_count": n_content,
        "gopher_mean_word_length": _ratio(sum(map(len, content)), n_content),
        "gopher_symbol_word_ratio_hash": _ratio(text.count("#"), n_words),
        "gopher_symbol_word_ratio_ellipsis": _ratio(text.count("...") + text.count("…"), n_words),
        "gopher_bullet_lines_ratio": _ratio(bullets, n_lines),
        "gopher_ellipsis_lines_ratio": _ratio(ellipsis_ends, n_lines),
        "gopher_alpha_words_ratio": _ratio(len(list(filter(ALPHA.search, words))), n_words),
        "gopher_stop_words": len(GOPHER_STOP_WORDS.intersection(words)),
    }


def _ngram_chars(words: list[str]) -> dict[str, int]:
    """Characters covered by n-gram repetition, per signal ("top_2" ... "dup_10").

    `top_n`: the most frequent n-gram (words joined by single spaces) times its count; the
    first seen wins a tie, as in the reference. `dup_n`: the words of every n-gram that repeats
    an earlier one, scanning left to right and jumping past each repeat so overlapping repeats
    are not counted twice.

    N-grams are numbered exactly, level by level: the n-gram at a position is the pair
    ((n-1)-gram there, word n-1 further on), and numpy renumbers those pairs densely. So
    nothing is hashed and only repeated n-grams reach Python code.
    """
    m = len(words)
    result = dict.fromkeys([f"top_{n}" for n in TOP_NGRAMS] + [f"dup_{n}" for n in DUP_NGRAMS], 0)
    if m < 2:
        return result
    offsets = [0, *accumulate(map(len, words))]
    word_ids = np.fromiter(map({}.setdefault, words, count()), dtype=np.int64, count=m)
    base = m  # every id is below m, so id * m + word_id numbers each pair uniquely
    ids = word_ids
    any_repeat = True
    for n in range(2, min(max(DUP_NGRAMS), m) + 1):
        if n > max(TOP_NGRAMS) and not any_repeat:
            break  # no repeated n-gram means no repeated longer one either
        pairs = ids[:-1] * base + word_ids[n - 1 :]
        _, first, ids, counts = np.unique(
            pairs, return_index=True, return_inverse=True, return_counts=True
        )
        if n in TOP_NGRAMS:
            top = int(counts.max())
            pos = int(first[counts == top].min())
            result[f"top_{n}"] = (offsets[pos + n] - offsets[pos] + n - 1) * top
        if n in DUP_NGRAMS:
            chars = 0
            if len(counts) < len(pairs):
                chars = _repeated_chars(ids, counts, offsets, n)
            result[f"dup_{n}"] = chars
            any_repeat = chars > 0
    return result


def _repeated_chars(ids: np.ndarray, counts: np.ndarray, offsets: list[int], n: int) -> int:
    # Only n-grams that occur more than once can be repeats, so the scan visits just those;
    # `idx` is where the scan stands (positions inside a counted repeat are skipped).
    positions = np.flatnonzero(counts[ids] > 1).tolist()
    gram_ids = ids.tolist()
    seen: set[int] = set()
    chars = 0
    idx = 0
    for pos in positions:
        if pos < idx:
            continue
        gram = gram_ids[pos]
        if gram in seen:
            chars += offsets[pos + n] - offsets[pos]
            idx = pos + n
        else:
            seen.add(gram)
    return chars


def gopher_repetition(text: str, words: list[str]) -> dict[str, AttributeValue]:
    if not text:
        return dict.fromkeys(GOPHER_REP_ATTRIBUTES)
    n_chars = len(text)
    paras = paragraphs(text)
    dup_paras, dup_para_chars = _duplicates(paras)
    runs = line_runs(text)
    dup_lines, dup_line_chars = _duplicates(runs)
    values: dict[str, AttributeValue] = {
        "gopher_rep_dup_para_frac": dup_paras / len(paras),
        "gopher_rep_dup_para_char_frac": dup_para_chars / n_chars,
        "gopher_rep_dup_line_frac": dup_lines / len(runs),
        "gopher_rep_dup_line_char_frac": dup_line_chars / n_chars,
    }
    for signal, chars in _ngram_chars(words).items():
        values[f"gopher_rep_{signal}gram"] = chars / n_chars
    return values


def c4_quality(
    text: str,
    text_lines: list[str] | None = None,
    line_words: list[list[str]] | None = None,
) -> dict[str, AttributeValue]:
    """What C4's line and document filters would do: which lines stay, and why others go.

    The reference stops at the first line with "lorem ipsum" or "{"; here every line is
    measured, those two become flags, and the kept-line counts reflect the line filters only.
    `text_lines` and `line_words` (the words of each line) may be passed in when the caller
    has them already.
    """
    dropped = Counter[str]()
    kept: list[str] = []
    sentences = 0
    has_lorem = has_curly = False
    all_lines = lines(text) if text_lines is None else text_lines
    for i, raw in enumerate(all_lines):
        line = raw.strip()
        chunks = line.split()
        if len(line) > C4_MAX_WORD_LENGTH and max(map(len, chunks)) > C4_MAX_WORD_LENGTH:
            dropped["long_word"] += 1
            continue
        cited = "[" in line and _CITATION.search(line) is not None
        if cited:
            line = _CITATION.sub("", line)
        if not line.endswith(C4_END_PUNCTUATION) or line.endswith("..."):
            dropped["no_terminal_punct"] += 1
            continue
        if len(chunks) < C4_MIN_WORDS_PER_LINE:
            dropped["too_few_words"] += 1
            continue
        lowered = line.lower()
        if "lorem ipsum" in lowered:
            has_lorem = True
        if "javascript" in lowered:
            dropped["javascript"] += 1
            continue
        if "{" in line:
            has_curly = True
        if any(phrase in lowered for phrase in C4_POLICY_PHRASES):
            dropped["policy"] += 1
            continue
        words = line_words[i] if line_words is not None and not cited else split_words(line)
        sentences += count_sentences(words)
        kept.append(line)
    return {
        "c4_lines": len(all_lines),
        "c4_kept_lines": len(kept),
        "c4_kept_sentences": sentences,
        "c4_has_lorem_ipsum": has_lorem,
        "c4_has_curly_bracket": has_curly,
        "c4_lines_dropped_long_word": dropped["long_word"],
        "c4_lines_dropped_no_terminal_punct": dropped["no_terminal_punct"],
        "c4_lines_dropped_too_few_words": dropped["too_few_words"],
        "c4_lines_dropped_javascript": dropped["javascript"],
        "c4_lines_dropped_policy": dropped["policy"],
        "c4_filtered_length": len("\n".join(kept).strip()),
    }


def fineweb_quality(text: str, words: list[str]) -> dict[str, AttributeValue]:
    kept = nonblank_lines(text)
    n_lines = len(kept)
    if not n_lines:
        return dict.fromkeys(FINEWEB_ATTRIBUTES)
    punct_ends = sum(1 for line in kept if line[-1] in SENTENCE_TERMINALS)
    short = sum(1 for line in kept if len(line) <= FINEWEB_SHORT_LINE_CHARS)
    dup_chars = _duplicates(kept)[1]
    return {
        "fineweb_line_punct_ratio": punct_ends / n_lines,
        "fineweb_short_line_ratio": short / n_lines,
        "fineweb_dup_line_char_frac": _ratio(dup_chars, len(text) - text.count("\n")),
        "fineweb_newline_per_word": _ratio(text.count("\n"), len(words)),
    }


def quality_signals(text: str, families: tuple[str, ...] = FAMILIES) -> dict[str, AttributeValue]:
    """Every signal of the given families for one text; the text is split into words once."""
    # Line boundaries are whitespace to the word splitter, so the words of the lines, put end
    # to end, are the words of the text; C4 needs them per line, the others whole.
    text_lines = lines(text)
    line_words = [split_words(line) for line in text_lines]
    words = list(chain.from_iterable(line_words))
    values: dict[str, AttributeValue] = {}
    if "gopher" in families:
        values.update(gopher_quality(text, words, text_lines))
    if "gopher_rep" in families:
        values.update(gopher_repetition(text, words))
    if "c4" in families:
        values.update(c4_quality(text, text_lines, line_words))
    if "fineweb" in families:
        values.update(fineweb_quality(text, words))
    return values


@register
class QualityStage(Stage):
    """All four families of heuristic quality signals, from one split of the text."""

    name = "quality_v1"
    description = "Gopher quality and repetition, C4 and FineWeb heuristic signals"
    families: tuple[str, ...] = FAMILIES
    attributes = tuple(a for family in FAMILIES for a in ATTRIBUTES[family])

    def measure(self, doc: Document) -> dict[str, AttributeValue]:
        if not isinstance(doc.text, str):
            raise InvalidDocumentError(doc.id, "text-not-a-string", type(doc.text).__name__)
        return quality_signals(doc.text, self.families)


@register
class GopherQualityStage(QualityStage):
    name = "gopher_quality_v1"
    description = "Gopher quality signals (Rae et al. 2021)"
    families = ("gopher",)
    attributes = GOPHER_ATTRIBUTES


@register
class GopherRepetitionStage(QualityStage):
    name = "gopher_repetition_v1"
    description = "Gopher repetition signals (Rae et al. 2021)"
    families = ("gopher_rep",)
    attributes = GOPHER_REP_ATTRIBUTES


@register
class C4QualityStage(QualityStage):
    name = "c4_quality_v1"
    description = "C4 line and document heuristics (Raffel et al. 2020)"
    families = ("c4",)
    attributes = C4_ATTRIBUTES


@register
class FineWebQualityStage(QualityStage):
    name = "fineweb_quality_v1"
    description = "FineWeb line heuristics (Penedo et al. 2024)"
    families = ("fineweb",)
    attributes = FINEWEB_ATTRIBUTES
