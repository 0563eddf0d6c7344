"""Hashed word n-grams in bulk, for benchmark decontamination (docs/content-filters.md).

Normalisation, as GPT-3 (Brown et al. 2020, appendix C) and Gopher (Rae et al. 2021) describe
their 13-gram overlap test: lowercase (`str.lower`), punctuation (Unicode P*) deleted — so
"don't" is one token "dont" — and tokens split on whitespace (what `str.split()` separates).
Unlike dedup's normalisation (processing/dedup/shingles.py) digits and accents are kept.

Hashing runs over a whole batch of texts at once, with numpy, never a Python loop over
n-grams: the normalised texts are joined into one byte string, every token gets a 64-bit
polynomial hash of its bytes from one prefix sum, and every n-gram a 64-bit hash of its
tokens' hashes from n vectorised passes (Horner's rule), each mixed by splitmix64. The hashes
depend only on the text, never on the process, so an index built once is valid everywhere.
Two different n-grams share a hash with probability about 2^-64 per pair.

`NgramSet` is an evaluation set's sorted unique n-gram hashes; `overlaps` gives, per
document, the number of n-gram positions found in a set and the longest run of consecutive
found positions, as a token count (a run of r found n-grams covers r + n - 1 tokens).
"""

from __future__ import annotations

import io
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

NORMALISATION = "gpt3-lower-nopunct-ws"  # recorded with every index, so a change is visible
DEFAULT_N = 13

_U64 = np.uint64
_BYTE_BASE = 0x100000001B3  # FNV-1a prime: odd, so invertible modulo 2^64
_BYTE_BASE_INV = pow(_BYTE_BASE, -1, 1 << 64)
_TOKEN_BASE = 0x9E3779B97F4A7C15  # golden-ratio constant: odd, well-mixed bits


class NgramError(ValueError):
    """An n-gram set or parameter that cannot be used."""


@cache
def _translation() -> dict[int, str | None]:
    # Built once per process: punctuation goes, every whitespace or control character
    # becomes a plain space (so the joined bytes have one separator, 0x20).
    table: dict[int, str | None] = {}
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        category = unicodedata.category(ch)
        if category[0] == "P":
            table[cp] = None
        elif ch != " " and (ch.isspace() or category == "Cc"):
            table[cp] = " "
    return table


def normalize(text: str) -> str:
    """The text as the overlap test sees it: lowercase, no punctuation, single spaces."""
    return " ".join(text.lower().translate(_translation()).split())


def tokens(text: str) -> list[str]:
    return normalize(text).split()


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise (uint64 arithmetic wraps modulo 2^64)."""
    x = x ^ (x >> _U64(30))
    x = x * _U64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> _U64(27))
    x = x * _U64(0x94D049BB133111EB)
    return x ^ (x >> _U64(31))


class _Powers:
    """BASE^k and BASE^-k modulo 2^64 for k up to the longest batch seen, grown on demand."""

    def __init__(self) -> None:
        self.up = np.ones(1, dtype=_U64)
        self.down = np.ones(1, dtype=_U64)

    def get(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.up) < n:
            size = max(n, 2 * len(self.up))
            one = np.ones(1, dtype=_U64)
            with np.errstate(over="ignore"):
                self.up = np.concatenate(
                    [one, np.cumprod(np.full(size - 1, _BYTE_BASE, dtype=_U64), dtype=_U64)])
                self.down = np.concatenate(
                    [one, np.cumprod(np.full(size - 1, _BYTE_BASE_INV, dtype=_U64), dtype=_U64)])
        return self.up[:n], self.down[:n]


_POWERS = _Powers()


@dataclass(frozen=True, slots=True)
class TokenHashes:
    """The token hashes of a batch of texts, end to end, and how many tokens each text has."""

    hashes: np.ndarray  # uint64, one per token
    counts: np.ndarray  # int64, tokens per text

    @property
    def doc_of_token(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.counts)), self.counts)


def token_hashes(texts: Sequence[str], *, normalised: bool = False) -> TokenHashes:
    """Hash every token of every text in one pass over their joined bytes."""
    norm = list(texts) if normalised else [normalize(t) for t in texts]
    counts = np.fromiter((s.count(" ") + 1 if s else 0 for s in norm), dtype=np.int64,
                         count=len(norm))
    blob = " ".join(s for s in norm if s).encode("utf-8")
    if not blob:
        return TokenHashes(np.zeros(0, dtype=_U64), counts)
    data = np.frombuffer(blob, dtype=np.uint8)
    space = data == 32
    # Tokens are maximal runs of non-space bytes; the joined text has single spaces only.
    bounds = np.flatnonzero(space)
    starts = np.concatenate([[0], bounds + 1])
    ends = np.concatenate([bounds, [len(data)]])
    up, down = _POWERS.get(len(data))
    with np.errstate(over="ignore"):
        prefix = np.cumsum(data.astype(_U64) * up, dtype=_U64)
        before = np.where(starts > 0, prefix[np.maximum(starts - 1, 0)], _U64(0))
        sums = (prefix[ends - 1] - before) * down[starts]
        lengths = (ends - starts).astype(_U64)
        hashes = _mix(sums ^ (lengths * _U64(_TOKEN_BASE)))
    return TokenHashes(hashes, counts)


def ngram_hashes(tok: TokenHashes, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hash, text index, start position) of every n-gram that lies inside one text, in
    order; positions count tokens from the start of the batch."""
    if n < 1:
        raise NgramError(f"n-gram length must be >= 1, got {n}")
    h = tok.hashes
    m = len(h) - n + 1
    if m <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return np.zeros(0, dtype=_U64), empty, empty
    with np.errstate(over="ignore"):
        acc = h[:m].copy()
        for j in range(1, n):
            acc = acc * _U64(_TOKEN_BASE) + h[j:j + m]
        acc = _mix(acc ^ _U64(n))
    doc = tok.doc_of_token
    pos = np.flatnonzero(doc[:m] == doc[n - 1:])
    return acc[pos], doc[pos], pos


# ----------------------------------------------------------------------------- sets


@dataclass(frozen=True)
class NgramSet:
    """The sorted unique n-gram hashes of an evaluation set, with its n."""

    n: int
    hashes: np.ndarray  # sorted, unique, uint64
    examples: int = 0
    skipped_short: int = 0  # examples with fewer than n tokens: they cannot match

    def __len__(self) -> int:
        return len(self.hashes)

    def contains(self, queries: np.ndarray) -> np.ndarray:
        """A boolean per query hash: is it in the set?"""
        if not len(self.hashes) or not len(queries):
            return np.zeros(len(queries), dtype=bool)
        idx = np.searchsorted(self.hashes, queries)
        idx[idx == len(self.hashes)] = 0
        return self.hashes[idx] == queries

    def to_bytes(self) -> bytes:
        """The set as an .npy file (the hashes only; the catalog keeps n and the counts)."""
        sink = io.BytesIO()
        np.save(sink, self.hashes, allow_pickle=False)
        return sink.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, n: int) -> NgramSet:
        try:
            hashes = np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise NgramError(f"not an n-gram index ({exc})") from None
        if hashes.dtype != _U64 or hashes.ndim != 1:
            raise NgramError(f"not an n-gram index (dtype {hashes.dtype}, {hashes.ndim} dims)")
        return cls(n=n, hashes=hashes)


def build_set(passages: Sequence[str], n: int = DEFAULT_N, *, batch: int = 4096) -> NgramSet:
    """The n-gram set of evaluation passages (one passage per example), built in batches."""
    if n < 1:
        raise NgramError(f"n-gram length must be >= 1, got {n}")
    parts = []
    short = 0
    for start in range(0, len(passages), batch):
        tok = token_hashes(passages[start:start + batch])
        short += int(np.count_nonzero(tok.counts < n))
        hashes, _, _ = ngram_hashes(tok, n)
        parts.append(np.unique(hashes))
    merged = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=_U64)
    return NgramSet(n=n, hashes=merged, examples=len(passages), skipped_short=short)


@dataclass(frozen=True, slots=True)
class Overlap:
    """Per text of a batch: n-gram positions found in the set, and the longest overlap in
    tokens (0 when nothing was found)."""

    hits: np.ndarray  # int64
    longest: np.ndarray  # int64


def overlaps(tok: TokenHashes, ngram_set: NgramSet, *,
             grams: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> Overlap:
    """Hits and longest overlap of every text of a batch against one set.

    `grams`, when given, is `ngram_hashes(tok, ngram_set.n)`, so that several sets of one n
    hash the batch once.
    """
    n = ngram_set.n
    docs = len(tok.counts)
    hashes, doc, pos = grams if grams is not None else ngram_hashes(tok, n)
    found = ngram_set.contains(hashes)
    hits = np.bincount(doc[found], minlength=docs).astype(np.int64)
    longest = np.zeros(docs, dtype=np.int64)
    p = pos[found]
    if len(p):
        d = doc[found]
        breaks = np.flatnonzero((np.diff(p) != 1) | (d[1:] != d[:-1])) + 1
        run_starts = np.concatenate([[0], breaks])
        run_lengths = np.diff(np.concatenate([run_starts, [len(p)]]))
        np.maximum.at(longest, d[run_starts], run_lengths + n - 1)
    return Overlap(hits=hits, longest=longest)


__all__ = [
    "DEFAULT_N",
    "NORMALISATION",
    "NgramError",
    "NgramSet",
    "Overlap",
    "TokenHashes",
    "build_set",
    "ngram_hashes",
    "normalize",
    "overlaps",
    "token_hashes",
    "tokens",
]
