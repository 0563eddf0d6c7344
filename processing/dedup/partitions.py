"""LSH band buckets partitioned to files, so finding band matches needs one partition's memory.

`cluster` finds band matches by sorting every band key of the batch at once (bands × 8 bytes
per document, plus the sort's copies). When that does not fit, the Deduplicator (given a
spill folder) hands each batch of signatures to `BandPartitions` as it is signed: every
(band, key, document, band values) row goes to partition `key mod P`, one Parquet file each.
`links` then reads one partition at a time, finds its buckets as `cluster` does (the
bucket's first document, by number, linked to every member whose band values equal its own),
and reduces them to one link per member towards the smallest node of its connected component
in that partition (union-find per partition); the final union of those link lists is the
clustering's (`clusters._components`). A bucket never spans two partitions (its key decides
the partition), so the clusters are those of the in-memory form, for any P.

This is the multi-stage form of datatrove's MinHash dedup (signatures → buckets → clusters),
on files under the run's attributes folder.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from common.atomic import PARQUET_COMPRESSION, PARQUET_COMPRESSION_LEVEL, publish, temp_name
from processing.dedup.keys import band_keys
from processing.dedup.params import DedupParams

DEFAULT_MEMORY_BUDGET = 128 << 20
"""Bytes one partition may take while its buckets are sorted (`partition_count`)."""

_WORKING_BYTES = 3  # a partition's rows, their sorted copy and the sort's indices


def row_bytes(params: DedupParams) -> int:
    """One band row of a partition: band (1), key (8), node (8), band values (4 × rows)."""
    return 17 + 4 * params.rows


def partition_count(n_docs: int, params: DedupParams,
                    memory_budget: int = DEFAULT_MEMORY_BUDGET) -> int:
    """Partitions enough for one of them to be sorted within `memory_budget` bytes."""
    if memory_budget < 1:
        raise ValueError(f"dedup memory budget must be positive, got {memory_budget}")
    need = n_docs * params.bands * row_bytes(params) * _WORKING_BYTES
    return max(1, math.ceil(need / memory_budget))


def _schema(params: DedupParams) -> pa.Schema:
    return pa.schema([("band", pa.uint8()), ("key", pa.uint64()), ("node", pa.int64()),
                      ("values", pa.binary(4 * params.rows))])


class BandPartitions:
    """Band rows of a batch, written to P partition files as they come; read back one at a time."""

    def __init__(self, folder: Path, params: DedupParams, partitions: int) -> None:
        if partitions < 1:
            raise ValueError(f"dedup partitions must be at least 1, got {partitions}")
        self.params = params
        self.partitions = partitions
        self.paths = [Path(folder) / f"bands-{p:05d}.parquet" for p in range(partitions)]
        self._tmps: list[Path | None] = [None] * partitions
        self._writers: list[pq.ParquetWriter | None] = [None] * partitions
        self.rows = 0
        self._written: set[int] = set()  # a resumed run's older files are not read
        Path(folder).mkdir(parents=True, exist_ok=True)

    def add(self, first_node: int, signatures: np.ndarray, usable: np.ndarray) -> np.ndarray:
        """Add the band rows of documents `first_node`.. (their signatures; `usable` marks the
        non-empty ones). Returns the usable documents' band keys (for the prior index)."""
        params = self.params
        idx = np.flatnonzero(usable)
        keys = band_keys(signatures[idx], params.bands, params.rows)
        if not len(idx):
            return keys
        m = len(idx)
        band = np.repeat(np.arange(params.bands, dtype=np.uint8)[None, :], m, axis=0).ravel()
        key = keys.ravel()
        node = np.repeat((idx + first_node).astype(np.int64), params.bands)
        values = np.ascontiguousarray(
            signatures[idx].reshape(m, params.bands, params.rows), dtype="<u4"
        ).reshape(m * params.bands, params.rows)
        part = (key % np.uint64(self.partitions)).astype(np.int64)
        order = np.argsort(part, kind="stable")
        part, band, key, node, values = part[order], band[order], key[order], node[order], \
            values[order]
        bounds = np.searchsorted(part, np.arange(self.partitions + 1))
        width = 4 * params.rows
        for p in range(self.partitions):
            lo, hi = int(bounds[p]), int(bounds[p + 1])
            if lo == hi:
                continue
            vals = pa.FixedSizeBinaryArray.from_buffers(
                pa.binary(width), hi - lo, [None, pa.py_buffer(values[lo:hi].tobytes())])
            table = pa.table([pa.array(band[lo:hi]), pa.array(key[lo:hi]),
                              pa.array(node[lo:hi]), vals], schema=_schema(params))
            self._writer(p).write_table(table)
        self.rows += len(key)
        return keys

    def _writer(self, p: int) -> pq.ParquetWriter:
        if self._writers[p] is None:
            self._written.add(p)
            self._tmps[p] = temp_name(self.paths[p])
            self._writers[p] = pq.ParquetWriter(
                self._tmps[p], _schema(self.params), compression=PARQUET_COMPRESSION,
                compression_level=PARQUET_COMPRESSION_LEVEL)
        return self._writers[p]  # type: ignore[return-value]

    def close(self) -> None:
        for p, writer in enumerate(self._writers):
            if writer is not None:
                writer.close()
                publish(self._tmps[p], self.paths[p])  # type: ignore[arg-type]
        self._writers = [None] * self.partitions
        self._tmps = [None] * self.partitions

    def links(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per partition, (root, member) links of its band matches, reduced per component."""
        self.close()
        out = []
        for p in sorted(self._written):
            out.append(partition_links(pq.read_table(self.paths[p]), self.params))
        return out


def partition_links(table: pa.Table, params: DedupParams) -> tuple[np.ndarray, np.ndarray]:
    """One partition's band matches, as links from each component's smallest node."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    m = table.num_rows
    if m < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    band = table.column("band").to_numpy()
    key = table.column("key").to_numpy()
    node = table.column("node").to_numpy()
    column = table.column("values").combine_chunks()
    raw = np.frombuffer(column.buffers()[1], dtype="<u4")
    values = raw[column.offset * params.rows:(column.offset + m) * params.rows].reshape(
        m, params.rows)
    order = np.lexsort((node, key, band))
    band, key, node, values = band[order], key[order], node[order], values[order]
    starts = np.flatnonzero(np.concatenate(
        [[True], (band[1:] != band[:-1]) | (key[1:] != key[:-1])]))
    head = np.repeat(starts, np.diff(np.append(starts, m)))
    pair = head != np.arange(m)
    # Equal 64-bit keys are confirmed on the band's values, against the bucket's first member.
    same = pair & (values[head] == values).all(axis=1)
    src, dst = node[head[same]], node[same]
    if not len(src):
        return np.empty(0, np.int64), np.empty(0, np.int64)
    nodes, inverse = np.unique(np.concatenate([src, dst]), return_inverse=True)
    k = len(nodes)
    graph = coo_matrix((np.ones(len(src), dtype=np.int8),
                        (inverse[:len(src)], inverse[len(src):])), shape=(k, k))
    _, labels = connected_components(graph, directed=False)
    root = np.full(labels.max() + 1, k, dtype=np.int64)
    np.minimum.at(root, labels, np.arange(k))  # nodes are sorted: the first is the smallest
    keep = root[labels] != np.arange(k)
    return nodes[root[labels][keep]].astype(np.int64), nodes[keep].astype(np.int64)
