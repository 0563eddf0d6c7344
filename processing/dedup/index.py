"""The dedup index kept between releases: signatures of released documents, in a directory.

A new crawl is deduplicated against what was already released by looking its band keys up in
this index (`processing.dedup.keys`). The directory holds one Parquet and one signature file
per segment and a manifest naming them (`processing.dedup.segments`). `add` keeps new rows in
memory; `save` writes them as a new segment and then replaces the manifest, the commit point.

In memory an opened index holds, per document, its band keys sorted per band (bands × 12
bytes), its collected time, content-hash prefix and id key (8 bytes each) and its content hash
(32 bytes); signatures stay memory-mapped and ids stay on disk until a match needs them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from importlib.metadata import version as package_version
from pathlib import Path

import numpy as np
import pyarrow as pa

from common.storage import RemotePath, as_path
from processing.dedup.errors import DedupIndexError, DedupInputError
from processing.dedup.inputs import check_signatures, check_unique, hash_bytes, to_micros
from processing.dedup.keys import concat_pairs, hash_prefix, id_keys, range_pairs
from processing.dedup.params import DedupParams
from processing.dedup.segments import (
    MANIFEST,
    Segment,
    load_segment,
    read_manifest,
    write_manifest,
    write_segment,
)


def _same_place(a: Path | RemotePath, b: Path | RemotePath) -> bool:
    if isinstance(a, RemotePath) or isinstance(b, RemotePath):
        return a == b
    return a.resolve() == b.resolve()


class DedupIndex:
    """Signatures of released documents, with the lookups clustering needs.

    Documents in the index are already released: clustering always keeps them over
    newcomers, whatever their collection time. Rows are numbered across segments in order.
    """

    def __init__(self, params: DedupParams) -> None:
        self.params = params
        self.path: Path | RemotePath | None = None
        self._segments: list[Segment] = []

    # ---- opening and saving

    @classmethod
    def open(
        cls, path: str | os.PathLike[str] | RemotePath | None, params: DedupParams, *,
        verify: bool = False,
    ) -> DedupIndex:
        """The index saved in `path`; an empty one when `path` is None or holds no manifest
        yet. `verify` re-hashes every file against the manifest."""
        index = cls(params)
        if path is None:
            return index
        root = as_path(path)
        if root.exists() and not root.is_dir():
            raise DedupIndexError(f"dedup index {root}: not a directory")
        index.path = root
        manifest_path = root / MANIFEST
        if not manifest_path.exists():
            return index
        manifest = read_manifest(manifest_path)
        stored_key = manifest.get("signature_key")
        if stored_key != params.signature_key():
            raise DedupIndexError(
                f"dedup index {root}: built with signature parameters {stored_key}, "
                f"not {params.signature_key()}; open it with those parameters or rebuild it"
            )
        for entry in manifest["segments"]:
            index._segments.append(load_segment(root, entry, params, verify=verify))
        return index

    def save(self, path: str | os.PathLike[str] | RemotePath | None = None,
             ) -> Path | RemotePath:
        """Write the rows added since the last save as one new segment, then commit the
        manifest. Saving to another directory writes every segment there."""
        if path is None and self.path is None:
            raise DedupIndexError("dedup index: no directory to save to; pass one")
        root = as_path(path) if path is not None else self.path
        assert root is not None
        if root.exists() and not root.is_dir():
            raise DedupIndexError(f"dedup index {root}: not a directory")
        moving = self.path is None or not _same_place(root, self.path)
        if moving and (root / MANIFEST).exists():
            raise DedupIndexError(
                f"dedup index {root}: already holds an index; open it instead of overwriting it"
            )
        root.mkdir(parents=True, exist_ok=True)
        saved = [s for s in self._segments if s.entry is not None]
        pending = [s for s in self._segments if s.entry is None]
        segments = saved + ([Segment.concat(pending)] if pending else [])
        for number, segment in enumerate(segments, start=1):
            if segment.entry is not None and not moving:
                continue
            segment.entry = write_segment(root, f"seg-{number:06d}", segment)
        write_manifest(root, {
            "signature_key": self.params.signature_key(),
            "params": self.params.to_dict(),
            "datasketch": package_version("datasketch"),
            "docs": sum(len(s) for s in segments),
            "segments": [s.entry for s in segments],
        })
        for segment in segments:
            if segment.path is None or moving:
                segment.path = root
                segment.map_signatures()
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
            Segment(
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
                q, pos = range_pairs(tables.band_sorted[band], keys[:, band])
                if not len(q):
                    continue
                local = tables.band_rows[band][pos].astype(np.int64)
                cols = slice(band * rows, (band + 1) * rows)
                # Equal 64-bit keys are confirmed on the band's values, as MinHashLSH compares.
                stored = np.asarray(segment.signatures[local])[:, cols]
                same = (stored == signatures[q, cols]).all(axis=1)
                out_q.append(q[same])
                out_r.append(local[same] + start)
        return concat_pairs(out_q, out_r)

    def exact_matches(self, hashes: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query index, row) pairs with the same content hash."""
        query = np.flatnonzero(known)
        prefixes = hash_prefix(hashes[query])
        out_q: list[np.ndarray] = []
        out_r: list[np.ndarray] = []
        for start, segment in zip(self._starts(), self._segments, strict=False):
            tables = segment.get_tables(self.params)
            q, pos = range_pairs(tables.hash_sorted, prefixes)
            local = tables.hash_rows[pos].astype(np.int64)
            q = query[q]
            same = (segment.hashes[local] == hashes[q]).all(axis=1)
            out_q.append(q[same])
            out_r.append(local[same] + start)
        return concat_pairs(out_q, out_r)

    def find_ids(
        self, ids: Sequence[str], keys: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(query index, row) pairs where a query id is in the index."""
        keys = id_keys(ids) if keys is None and self._segments else keys
        out_q: list[np.ndarray] = []
        out_r: list[np.ndarray] = []
        for start, segment in zip(self._starts(), self._segments, strict=False):
            sorted_keys, key_rows = segment.get_id_table()
            q, pos = range_pairs(sorted_keys, keys)
            if not len(q):
                continue
            local = key_rows[pos].astype(np.int64)
            stored = segment.read_ids().take(pa.array(local)).to_pylist()
            same = np.array([s == ids[i] for s, i in zip(stored, q.tolist(), strict=True)])
            out_q.append(q[same])
            out_r.append(local[same] + start)
        return concat_pairs(out_q, out_r)

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
