"""The files of a saved dedup index, and one segment of it in memory.

Layout of the directory (one writer at a time):

    manifest.json           format, version, signature parameters, datasketch version, and
                            the list of segments (name, docs, bytes, sha256 of each file)
    seg-000001.parquet      id (string), id_key (uint64), collected_at (timestamp[us, UTC],
                            null = unknown), content_sha256 (fixed_size_binary[32], nullable)
    seg-000001.sig.npy      signatures, n × num_perm uint32 (memory-mapped when opened)

Every file is written through `common.atomic` (temporary name, fsync, rename; one upload per
object when the directory is on a store). The manifest is written last and is the commit
point: files of a segment that no manifest names (a save that died) are ignored and
overwritten later.

In memory a segment holds, per document, its collected time, content hash and id key; its
signatures stay memory-mapped (an index on a store: from a local copy, downloaded once per
opening) and its ids stay on disk until a match needs them. The sorted
lookups (band keys per band, content-hash prefixes, id keys) are built on first use, from the
signatures, so the same signatures can be rebanded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from common.atomic import atomic_path, file_sha256, write_bytes_atomic, write_table_atomic
from common.storage import RemotePath, local_file, read_table
from processing.dedup.errors import DedupIndexError
from processing.dedup.inputs import NEVER
from processing.dedup.keys import band_keys, hash_prefix
from processing.dedup.minhash import is_empty
from processing.dedup.params import DedupParams

FORMAT = "govcat-dedup-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PARQUET, SIGNATURES = ".parquet", ".sig.npy"
_SUFFIXES = (PARQUET, SIGNATURES)


@dataclass(slots=True)
class Tables:
    """One segment's lookups: band keys and content-hash prefixes, sorted, with their rows."""

    band_sorted: list[np.ndarray]
    band_rows: list[np.ndarray]
    hash_sorted: np.ndarray
    hash_rows: np.ndarray


@dataclass(slots=True)
class Segment:
    signatures: np.ndarray  # n × num_perm uint32, memory-mapped once saved
    collected: np.ndarray  # int64 micros, NEVER when unknown
    hashes: np.ndarray  # n × 32 uint8
    hash_known: np.ndarray  # bool
    id_key: np.ndarray  # uint64
    ids: pa.Array | None  # pending rows keep their ids; saved ones read them on demand
    entry: dict[str, Any] | None = None  # its manifest entry, once saved
    path: Path | RemotePath | None = None
    tables: Tables | None = None
    id_table: tuple[np.ndarray, np.ndarray] | None = None  # apart: `add` needs only this

    def __len__(self) -> int:
        return len(self.collected)

    def get_tables(self, params: DedupParams) -> Tables:
        if self.tables is None:
            self.tables = self._build_tables(params)
        return self.tables

    def _build_tables(self, params: DedupParams) -> Tables:
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
        return Tables(
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
        table = read_table(self.path / f"{self.entry['name']}{PARQUET}", columns=["id"])
        return table.column("id").combine_chunks()

    def map_signatures(self) -> None:
        """Drop the rows held in memory for the saved files: signatures memory-mapped, ids
        read on demand."""
        assert self.path is not None and self.entry is not None
        self.ids = None
        self.signatures = _map(self.path / f"{self.entry['name']}{SIGNATURES}")

    @staticmethod
    def concat(parts: list[Segment]) -> Segment:
        if len(parts) == 1:
            return parts[0]
        return Segment(
            signatures=np.concatenate([p.signatures for p in parts]),
            collected=np.concatenate([p.collected for p in parts]),
            hashes=np.concatenate([p.hashes for p in parts]),
            hash_known=np.concatenate([p.hash_known for p in parts]),
            id_key=np.concatenate([p.id_key for p in parts]),
            ids=pa.concat_arrays([p.read_ids() for p in parts]),
        )


def _map(path: Path | RemotePath) -> np.ndarray:
    """A signature file memory-mapped. An object is downloaded to a temporary local file first;
    the mapping outlives the file's name (removed at once), so nothing is left behind and the
    signatures still stay out of memory."""
    with local_file(path) as local:
        return np.load(local, mmap_mode="r")


# ---- the manifest


def read_manifest(path: Path | RemotePath) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DedupIndexError(f"dedup index manifest {path}: unreadable ({exc})") from exc
    if manifest.get("format") != FORMAT or manifest.get("version") != FORMAT_VERSION:
        raise DedupIndexError(
            f"dedup index manifest {path}: not a {FORMAT} version {FORMAT_VERSION} manifest"
        )
    return manifest


def write_manifest(root: Path | RemotePath, manifest: dict[str, Any]) -> None:
    """Replace the manifest: the commit point of a save."""
    body = {"format": FORMAT, "version": FORMAT_VERSION, **manifest}
    write_bytes_atomic(json.dumps(body, indent=2, sort_keys=True).encode(), root / MANIFEST)


# ---- segment files


def load_segment(root: Path | RemotePath, entry: dict[str, Any], params: DedupParams, *,
                 verify: bool) -> Segment:
    """A segment named by the manifest, its files checked against their recorded sizes
    (and sha256 when `verify`)."""
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
        if verify and file_sha256(path) != facts["sha256"]:
            raise DedupIndexError(f"dedup index {root}: segment file {path.name} fails its sha256")
    table = read_table(
        root / f"{name}{PARQUET}", columns=["id_key", "collected_at", "content_sha256"]
    )
    signatures = _map(root / f"{name}{SIGNATURES}")
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
    return Segment(
        signatures=signatures,
        collected=np.ascontiguousarray(collected, dtype=np.int64),
        hashes=hashes,
        hash_known=known,
        id_key=table.column("id_key").to_numpy().astype(np.uint64),
        ids=None,
        entry=entry,
        path=root,
    )


def write_segment(root: Path | RemotePath, name: str, segment: Segment) -> dict[str, Any]:
    """Write a segment's two files; returns its manifest entry (not yet committed)."""
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
    rows = write_table_atomic(table, root / f"{name}{PARQUET}")
    # Streamed to the file: a copy of n × num_perm signatures in memory is what is avoided.
    sig_path = root / f"{name}{SIGNATURES}"
    with atomic_path(sig_path) as tmp:
        with tmp.open("wb") as fh:
            np.save(fh, np.ascontiguousarray(segment.signatures, dtype=np.uint32))
        # Hashed before it moves: the same bytes, and an object on a store is not read back.
        sig_facts = {"bytes": tmp.stat().st_size, "sha256": file_sha256(tmp)}
    files = {
        PARQUET: {"bytes": rows.n_bytes, "sha256": rows.sha256},
        SIGNATURES: sig_facts,
    }
    return {"name": name, "docs": len(segment), "files": files}
