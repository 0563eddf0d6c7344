"""The dedup index kept between releases: signatures of released documents, in a directory.

A new crawl is deduplicated against what was already released by looking its band keys up in
this index. Layout of the directory (one writer at a time):

    manifest.json           format, version, signature parameters, datasketch version, and
                            the list of segments (name, docs, bytes, sha256 of each file)
    seg-000001.parquet      id (string), id_key (uint64), collected_at (timestamp[us, UTC],
                            null = unknown), content_sha256 (fixed_size_binary[32], nullable)
    seg-000001.sig.npy      signatures, n × num_perm uint32 (memory-mapped when opened)

`add` keeps new rows in memory; `save` writes them as a new segment (temp files, fsync,
rename) and then replaces the manifest atomically, which is the commit point: files of a
segment that no manifest names (a save that died) are ignored and overwritten later.

In memory an opened index holds, per document, its band keys sorted per band (bands × 12
bytes), its collected time, content-hash prefix and id key (8 bytes each) and its content hash
(32 bytes); signatures stay memory-mapped and ids stay on disk until a match needs them. The
band keys are recomputed from the signatures on open, so the same signatures can be rebanded.

Band keys: the `rows` uint32 values of a band folded into 64 bits (MurmurHash3's fmix64
mixing). datasketch's MinHashLSH keys buckets by the band's bytes; a 64-bit fold can collide
where bytes differ, so every match is confirmed on the signatures themselves before it counts.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from processing.dedup.errors import DedupIndexError, DedupInputError
from processing.dedup.minhash import is_empty
from processing.dedup.params import DedupParams

FORMAT = "govcat-dedup-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"

NEVER = np.iinfo(np.int64).max
"""collected_at of a document whose collection time is unknown: sorts after every time."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
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


@dataclass(slots=True)
class _Tables:
    """One segment's lookups: band keys, content-hash prefixes and id keys, sorted."""

    band_sorted: list[np.ndarray]
    band_rows: list[np.ndarray]
    hash_sorted: np.ndarray
    hash_rows: np.ndarray


@dataclass(slots=True)
class _Segment:
    signatures: np.ndarray  # n × num_perm uint32, memory-mapped once saved
    collected: np.ndarray  # int64 micros, NEVER when unknown
    hashes: np.ndarray  # n × 32 uint8
    hash_known: np.ndarray  # bool
    id_key: np.ndarray  # uint64
    ids: pa.Array | None  # pending rows keep their ids; saved ones read them on demand
    entry: dict[str, Any] | None = None  # its manifest entry, once saved
    path: Path | None = None
    tables: _Tables | None = None
    id_table: tuple[np.ndarray, np.ndarray] | None = None  # apart: `add` needs only this

    def __len__(self) -> int:
        return len(self.collected)

    def get_tables(self, params: DedupParams) -> _Tables:
        if self.tables is None:
            self.tables = self._build_tables(params)
        return self.tables

    def _build_tables(self, params: DedupParams) -> _Tables:
        n = len(self)
        row_type = np.uint32 if n < 2**32 else np.int64
        keys = np.empty((n, params.bands), dtype=np.uint64)
        usable = np.empty(n, dtype=bool)
        step = 1 << 16
        for c0 in range(0, n, step):
            sig = np.asarray(self.signatures[c0 : c0 + step])
            keys[c0 : c0 + len(sig)] = band_keys(sig, params.bands, params.rows)
            usable[c0 : c0 + len(sig)] = ~is_empty(sig)
        candidates = np.flatnonzero(usable).astype(row_type)
        band_sorted, band_rows = [], []
        for band in range(params.bands):
            column = keys[candidates, band]
            order = np.argsort(column, kind="stable")
            band_sorted.append(column[order])
            band_rows.append(candidates[order])
        hash_rows = np.flatnonzero(self.hash_known).astype(row_type)
        prefixes = hash_prefix(self.hashes[hash_rows])
        order = np.argsort(prefixes, kind="stable")
        return _Tables(
            band_sorted=band_sorted,
            band_rows=band_rows,
            hash_sorted=prefixes[order],
            hash_rows=hash_rows[order],
        )

    def get_id_table(self) -> tuple[np.ndarray, np.ndarray]:
        """Id keys sorted, and the row of each."""
        if self.id_table is None:
            order = np.argsort(self.id_key, kind="stable")
            self.id_table = (self.id_key[order], order)
        return self.id_table

    def read_ids(self) -> pa.Array:
        if self.ids is not None:
            return self.ids
        assert self.path is not None and self.entry is not None
        table = pq.read_table(self.path / f"{self.entry['name']}.parquet", columns=["id"])
        return table.column("id").combine_chunks()

    @staticmethod
    def concat(parts: list[_Segment]) -> _Segment:
        if len(parts) == 1:
            return parts[0]
        return _Segment(
            signatures=np.concatenate([p.signatures for p in parts]),
            collected=np.concatenate([p.collected for p in parts]),
            hashes=np.concatenate([p.hashes for p in parts]),
            hash_known=np.concatenate([p.hash_known for p in parts]),
            id_key=np.concatenate([p.id_key for p in parts]),
            ids=pa.concat_arrays([p.read_ids() for p in parts]),
        )


class DedupIndex:
    """Signatures of released documents, with the lookups clustering needs.

    Documents in the index are already released: clustering always keeps them over
    newcomers, whatever their collection time. Rows are numbered across segments in order.
    """

    def __init__(self, params: DedupParams) -> None:
        self.params = params
        self.path: Path | None = None
        self._segments: list[_Segment] = []

    # ---- opening and saving

    @classmethod
    def open(
        cls, path: str | os.PathLike[str] | None, params: DedupParams, *, verify: bool = False
    ) -> DedupIndex:
        """The index saved in `path`; an empty one when `path` is None or holds no manifest
        yet. `verify` re-hashes every file against the manifest."""
        index = cls(params)
        if path is None:
            return index
        root = Path(path)
        if root.exists() and not root.is_dir():
            raise DedupIndexError(f"dedup index {root}: not a directory")
        index.path = root
        manifest_path = root / MANIFEST
        if not manifest_path.exists():
            return index
        manifest = _read_manifest(manifest_path)
        stored_key = manifest.get("signature_key")
        if stored_key != params.signature_key():
            raise DedupIndexError(
                f"dedup index {root}: built with signature parameters {stored_key}, "
                f"not {params.signature_key()}; open it with those parameters or rebuild it"
            )
        for entry in manifest["segments"]:
            index._segments.append(_load_segment(root, entry, params, verify=verify))
        return index

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the rows added since the last save as one new segment, then commit the
        manifest. Saving to another directory writes every segment there."""
        if path is None and self.path is None:
            raise DedupIndexError("dedup index: no directory to save to; pass one")
        root = Path(path) if path is not None else self.path
        assert root is not None
        if root.exists() and not root.is_dir():
            raise DedupIndexError(f"dedup index {root}: not a directory")
        moving = self.path is None or root.resolve() != self.path.resolve()
        if moving and (root / MANIFEST).exists():
            raise DedupIndexError(
                f"dedup index {root}: already holds an index; open it instead of overwriting it"
            )
        root.mkdir(parents=True, exist_ok=True)
        saved = [s for s in self._segments if s.entry is not None]
        pending = [s for s in self._segments if s.entry is None]
        segments = saved + ([_Segment.concat(pending)] if pending else [])
        for number, segment in enumerate(segments, start=1):
            if segment.entry is not None and not moving:
                continue
            name = f"seg-{number:06d}"
            _write_segment(root, name, segment)
            segment.entry = _segment_entry(root, name, len(segment))
        manifest = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "signature_key": self.params.signature_key(),
            "params": self.params.to_dict(),
            "datasketch": package_version("datasketch"),
            "docs": sum(len(s) for s in segments),
            "segments": [s.entry for s in segments],
        }
        _atomic_write(root / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
        for segment in segments:
            if segment.path is None or moving:
                assert segment.entry is not None
                segment.path = root
                segment.ids = None
                segment.signatures = np.load(
                    root / f"{segment.entry['name']}.sig.npy", mmap_mode="r"
                )
        self._segments = segments
        self.path = root
        return root

    # ---- adding

    def __len__(self) -> int:
        return sum(len(s) for s in self._segments)

    def add(
        self,
        ids: Sequence[str],
        collected_at: Sequence[datetime | None] | np.ndarray,
        signatures: np.ndarray,
        content_hashes: Sequence[str | bytes | None] | None = None,
    ) -> None:
        """Add released documents. An id already in the index is an error."""
        n = len(ids)
        if len(collected_at) != n:
            raise DedupInputError(f"got {len(collected_at)} collected_at values for {n} ids")
        check_signatures(signatures, n, self.params)
        check_unique(ids)
        keys = id_keys(ids)
        present, _ = self.find_ids(ids, keys)
        if len(present):
            raise DedupInputError(
                f"document id {ids[int(present[0])]!r} is already in the dedup index"
            )
        hashes, known = hash_bytes(content_hashes, n)
        self._segments.append(
            _Segment(
                signatures=np.array(signatures, dtype=np.uint32, copy=True),
                collected=to_micros(collected_at),
                hashes=hashes,
                hash_known=known,
                id_key=keys,
                ids=pa.array(list(ids), type=pa.string()),
            )
        )

    # ---- lookups for clustering

    def band_matches(
        self, keys: np.ndarray, signatures: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(query index, row) pairs where a query shares a whole band with an indexed row.
        `keys` are the queries' band keys (q × bands), `signatures` their signatures."""
        rows = self.params.rows
        out_q: list[np.ndarray] = []
        out_r: list[np.ndarray] = []
        for start, segment in zip(self._starts(), self._segments, strict=False):
            tables = segment.get_tables(self.params)
            for band in range(self.params.bands):
                q, pos = _range_pairs(tables.band_sorted[band], keys[:, band])
                if not len(q):
                    continue
                local = tables.band_rows[band][pos].astype(np.int64)
                cols = slice(band * rows, (band + 1) * rows)
                # Equal 64-bit keys are confirmed on the band's values, as MinHashLSH compares.
                stored = np.asarray(segment.signatures[local])[:, cols]
                same = (stored == signatures[q, cols]).all(axis=1)
                out_q.append(q[same])
                out_r.append(local[same] + start)
        return _concat_pairs(out_q, out_r)

    def exact_matches(self, hashes: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query index, row) pairs with the same content hash."""
        query = np.flatnonzero(known)
        prefixes = hash_prefix(hashes[query])
        out_q: list[np.ndarray] = []
        out_r: list[np.ndarray] = []
        for start, segment in zip(self._starts(), self._segments, strict=False):
            tables = segment.get_tables(self.params)
            q, pos = _range_pairs(tables.hash_sorted, prefixes)
            local = tables.hash_rows[pos].astype(np.int64)
            q = query[q]
            same = (segment.hashes[local] == hashes[q]).all(axis=1)
            out_q.append(q[same])
            out_r.append(local[same] + start)
        return _concat_pairs(out_q, out_r)

    def find_ids(
        self, ids: Sequence[str], keys: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(query index, row) pairs where a query id is in the index."""
        keys = id_keys(ids) if keys is None and self._segments else keys
        out_q: list[np.ndarray] = []
        out_r: list[np.ndarray] = []
        for start, segment in zip(self._starts(), self._segments, strict=False):
            sorted_keys, key_rows = segment.get_id_table()
            q, pos = _range_pairs(sorted_keys, keys)
            if not len(q):
                continue
            local = key_rows[pos].astype(np.int64)
            stored = segment.read_ids().take(pa.array(local)).to_pylist()
            same = np.array([s == ids[i] for s, i in zip(stored, q.tolist(), strict=True)])
            out_q.append(q[same])
            out_r.append(local[same] + start)
        return _concat_pairs(out_q, out_r)

    def signatures_of(self, rows: np.ndarray) -> np.ndarray:
        return self._column("signatures", rows)

    def collected_of(self, rows: np.ndarray) -> np.ndarray:
        return self._column("collected", rows)

    def hashes_of(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._column("hashes", rows), self._column("hash_known", rows)

    def ids_of(self, rows: np.ndarray) -> list[str]:
        out: list[str] = [""] * len(rows)
        starts = self._starts()
        seg_of = np.searchsorted(starts, rows, side="right") - 1
        for s in np.unique(seg_of).tolist():
            where = np.flatnonzero(seg_of == s)
            local = pa.array(rows[where] - starts[s])
            values = self._segments[s].read_ids().take(local).to_pylist()
            for k, value in zip(where.tolist(), values, strict=True):
                out[k] = value
        return out

    def all_signatures(self) -> np.ndarray:
        """Every indexed signature in row order (for the datasketch reference backend)."""
        if not self._segments:
            return np.empty((0, self.params.num_perm), dtype=np.uint32)
        return np.concatenate([np.asarray(s.signatures) for s in self._segments])

    def _starts(self) -> np.ndarray:
        sizes = [len(s) for s in self._segments]
        return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)

    def _column(self, name: str, rows: np.ndarray) -> np.ndarray:
        if not self._segments:
            return np.empty(0, dtype=np.int64)
        first = getattr(self._segments[0], name)
        out = np.empty((len(rows), *first.shape[1:]), dtype=first.dtype)
        starts = self._starts()
        seg_of = np.searchsorted(starts, rows, side="right") - 1
        for s in np.unique(seg_of).tolist():
            where = seg_of == s
            out[where] = np.asarray(getattr(self._segments[s], name)[rows[where] - starts[s]])
        return out


def check_unique(ids: Sequence[str]) -> None:
    seen: set[str] = set()
    for doc_id in ids:
        if doc_id in seen:
            raise DedupInputError(f"document id {doc_id!r} appears twice")
        seen.add(doc_id)


def _range_pairs(sorted_keys: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (query index, position in sorted_keys) with an equal key, vectorised."""
    lo = np.searchsorted(sorted_keys, queries, side="left")
    hi = np.searchsorted(sorted_keys, queries, side="right")
    counts = hi - lo
    q = np.repeat(np.arange(len(queries)), counts)
    if not len(q):
        return q.astype(np.int64), q.astype(np.int64)
    first = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return q.astype(np.int64), (first + np.arange(len(q))).astype(np.int64)


def _concat_pairs(qs: list[np.ndarray], rs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if not qs:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(qs).astype(np.int64), np.concatenate(rs).astype(np.int64)


# ---- files


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DedupIndexError(f"dedup index manifest {path}: unreadable ({exc})") from exc
    if manifest.get("format") != FORMAT or manifest.get("version") != FORMAT_VERSION:
        raise DedupIndexError(
            f"dedup index manifest {path}: not a {FORMAT} version {FORMAT_VERSION} manifest"
        )
    return manifest


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_SUFFIXES = (".parquet", ".sig.npy")


def _segment_entry(root: Path, name: str, docs: int) -> dict[str, Any]:
    files = {}
    for suffix in _SUFFIXES:
        path = root / f"{name}{suffix}"
        files[suffix] = {"bytes": path.stat().st_size, "sha256": _file_sha256(path)}
    return {"name": name, "docs": docs, "files": files}


def _load_segment(
    root: Path, entry: dict[str, Any], params: DedupParams, *, verify: bool
) -> _Segment:
    name = entry["name"]
    for suffix in _SUFFIXES:
        facts = entry["files"][suffix]
        path = root / f"{name}{suffix}"
        if not path.exists():
            raise DedupIndexError(f"dedup index {root}: segment file {path.name} is missing")
        if path.stat().st_size != facts["bytes"]:
            raise DedupIndexError(
                f"dedup index {root}: segment file {path.name} is not the size its manifest says"
            )
        if verify and _file_sha256(path) != facts["sha256"]:
            raise DedupIndexError(f"dedup index {root}: segment file {path.name} fails its sha256")
    table = pq.read_table(
        root / f"{name}.parquet", columns=["id_key", "collected_at", "content_sha256"]
    )
    signatures = np.load(root / f"{name}.sig.npy", mmap_mode="r")
    n = table.num_rows
    if signatures.shape != (n, params.num_perm) or n != entry["docs"]:
        raise DedupIndexError(f"dedup index {root}: segment {name} does not match its manifest")
    collected = table.column("collected_at").cast(pa.int64()).fill_null(NEVER).to_numpy()
    hash_column = table.column("content_sha256").combine_chunks()
    known = hash_column.is_valid().to_numpy(zero_copy_only=False)
    hashes = np.zeros((n, 32), dtype=np.uint8)
    if known.any():
        present = hash_column.filter(pa.array(known)).to_pylist()
        hashes[known] = np.frombuffer(b"".join(present), dtype=np.uint8).reshape(-1, 32)
    return _Segment(
        signatures=signatures,
        collected=np.ascontiguousarray(collected, dtype=np.int64),
        hashes=hashes,
        hash_known=known,
        id_key=table.column("id_key").to_numpy().astype(np.uint64),
        ids=None,
        entry=entry,
        path=root,
    )


def _write_segment(root: Path, name: str, segment: _Segment) -> None:
    collected = pa.array(segment.collected, pa.int64())
    unknown = pc.equal(collected, NEVER)
    collected = pc.if_else(unknown, pa.scalar(None, pa.int64()), collected)
    hashes = pa.array(
        [
            bytes(h) if k else None
            for h, k in zip(segment.hashes, segment.hash_known.tolist(), strict=True)
        ],
        pa.binary(32),
    )
    table = pa.table(
        {
            "id": segment.read_ids(),
            "id_key": pa.array(segment.id_key, pa.uint64()),
            "collected_at": collected.cast(pa.timestamp("us", tz="UTC")),
            "content_sha256": hashes,
        }
    )
    with _atomic_path(root / f"{name}.parquet") as tmp:
        pq.write_table(table, tmp, compression="zstd")
    with _atomic_path(root / f"{name}.sig.npy") as tmp, tmp.open("wb") as fh:
        np.save(fh, np.ascontiguousarray(segment.signatures, dtype=np.uint32))


class _atomic_path:
    """A temp path beside `target`, fsynced and renamed onto it when the block succeeds."""

    def __init__(self, target: Path) -> None:
        self.target = target
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(fd)
        self.tmp = Path(name)

    def __enter__(self) -> Path:
        return self.tmp

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.tmp.unlink(missing_ok=True)
            return
        with self.tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(self.tmp, self.target)
        dir_fd = os.open(self.target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _atomic_write(target: Path, data: bytes) -> None:
    with _atomic_path(target) as tmp:
        tmp.write_bytes(data)
