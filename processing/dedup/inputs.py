"""The caller's columns, checked and brought to the arrays clustering and the index hold.

Both `cluster` and `DedupIndex.add` take ids, collection times, signatures and content hashes
from the caller; each is checked here once, so a bad value is a `DedupInputError` naming it
rather than a numpy error deep inside.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from processing.dedup.errors import DedupInputError
from processing.dedup.params import DedupParams

NEVER = np.iinfo(np.int64).max
"""collected_at of a document whose collection time is unknown: sorts after every time."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(collected_at: Sequence[datetime | None] | np.ndarray) -> np.ndarray:
    """Collection times as int64 microseconds since the epoch (UTC); None/NaT → NEVER.
    Naive datetimes are taken as UTC."""
    if isinstance(collected_at, np.ndarray) and collected_at.dtype.kind == "M":
        micros = collected_at.astype("datetime64[us]").view(np.int64).copy()
        micros[np.isnat(collected_at)] = NEVER
        return micros
    out = np.empty(len(collected_at), dtype=np.int64)
    one = np.timedelta64(1, "us").item()
    for i, when in enumerate(collected_at):
        if when is None:
            out[i] = NEVER
        elif isinstance(when, datetime):
            aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
            out[i] = (aware - _EPOCH) // one
        else:
            raise DedupInputError(
                f"collected_at[{i}] must be a datetime or None, got {type(when).__name__}"
            )
    return out


def hash_bytes(
    content_hashes: Sequence[str | bytes | None] | None, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Content hashes (hex strings or 32 raw bytes; None = unknown) as n × 32 uint8, and a
    mask of the known ones."""
    out = np.zeros((n, 32), dtype=np.uint8)
    known = np.zeros(n, dtype=bool)
    if content_hashes is None:
        return out, known
    if len(content_hashes) != n:
        raise DedupInputError(f"got {len(content_hashes)} content hashes for {n} documents")
    for i, value in enumerate(content_hashes):
        if value is None:
            continue
        try:
            raw = bytes.fromhex(value) if isinstance(value, str) else bytes(value)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise DedupInputError(
                f"content hash {i} ({str(value)[:80]!r}) is not a sha256 "
                "(64 hex digits or 32 bytes)"
            )
        out[i] = np.frombuffer(raw, dtype=np.uint8)
        known[i] = True
    return out, known


def check_signatures(signatures: np.ndarray, n: int, params: DedupParams) -> np.ndarray:
    if not isinstance(signatures, np.ndarray) or signatures.ndim != 2:
        raise DedupInputError("signatures must be a 2-D numpy array (documents × num_perm)")
    if signatures.shape != (n, params.num_perm):
        raise DedupInputError(
            f"signatures have shape {signatures.shape}, expected ({n}, {params.num_perm})"
        )
    if signatures.dtype != np.uint32:
        raise DedupInputError(
            f"signatures must be uint32 (datasketch affine32), got {signatures.dtype}"
        )
    return signatures


def check_unique(ids: Sequence[str]) -> None:
    seen: set[str] = set()
    for doc_id in ids:
        if doc_id in seen:
            raise DedupInputError(f"document id {doc_id!r} appears twice")
        seen.add(doc_id)
