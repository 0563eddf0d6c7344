"""64-bit keys the dedup index sorts, and the vectorised lookups over them.

Band keys: the `rows` uint32 values of a band folded into 64 bits (MurmurHash3's fmix64
mixing). datasketch's MinHashLSH keys buckets by the band's bytes; a 64-bit fold can collide
where bytes differ, so every match is confirmed on the signatures themselves before it counts.
Content hashes are looked up by their first 8 bytes and document ids by a BLAKE2b key, both
confirmed on the full value too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

_F1 = np.uint64(0xFF51AFD7ED558CCD)
_F2 = np.uint64(0xC4CEB9FE1A85EC53)
_S = np.uint64(33)


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> _S)
    h = h * _F1
    h = h ^ (h >> _S)
    h = h * _F2
    return h ^ (h >> _S)


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per band (n × bands, uint64); equal bands give equal keys."""
    n = signatures.shape[0]
    out = np.empty((n, bands), dtype=np.uint64)
    for band in range(bands):
        h = np.full(n, band + 1, dtype=np.uint64)
        for col in range(band * rows, (band + 1) * rows):
            h = _fmix64(h ^ signatures[:, col].astype(np.uint64))
        out[:, band] = h
    return out


def hash_prefix(hashes: np.ndarray) -> np.ndarray:
    """The first 8 bytes of each content hash as a uint64 (big-endian), for sorting."""
    return np.ascontiguousarray(hashes[:, :8]).view(">u8").ravel().astype(np.uint64)


def id_keys(ids: Sequence[str]) -> np.ndarray:
    """A 64-bit key per document id (BLAKE2b), to find ids without holding the strings."""
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(i.encode(), digest_size=8).digest(), "big") for i in ids),
        dtype=np.uint64,
        count=len(ids),
    )


def range_pairs(sorted_keys: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (query index, position in sorted_keys) with an equal key, vectorised."""
    lo = np.searchsorted(sorted_keys, queries, side="left")
    hi = np.searchsorted(sorted_keys, queries, side="right")
    counts = hi - lo
    q = np.repeat(np.arange(len(queries)), counts)
    if not len(q):
        return q.astype(np.int64), q.astype(np.int64)
    first = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return q.astype(np.int64), (first + np.arange(len(q))).astype(np.int64)


def concat_pairs(qs: list[np.ndarray], rs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The (query, row) pairs found per segment, as one pair of int64 arrays."""
    if not qs:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(qs).astype(np.int64), np.concatenate(rs).astype(np.int64)
