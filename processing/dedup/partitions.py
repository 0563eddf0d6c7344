"""Link rows partitioned to files, so finding matches needs one partition's memory.

Finding band matches in memory sorts every band key of the corpus at once (bands × 8 bytes per
document, plus the sort's copies). Partitioned, each signed shard writes its rows to a file of
its own, sorted by partition (`key mod P`), each partition in row groups of its own
(`write_partitioned`):

- band rows: (band, key, node, band values), one per band of each non-empty signature
  (`band_table`);
- exact rows: (key, node, sha256), one per document (`exact_table`), the key the hash's first
  8 bytes.

`PartitionReader.read(p)` then gathers partition p from every shard's file (only its row groups
are read), and `partition_links` / `exact_links` find its matches: a bucket's (or a hash's)
first node linked to every member that equals it, reduced to one link per member towards the
smallest node of its connected component in that partition. A bucket never spans two
partitions (its key decides the partition), so the union of those link lists gives the
clusters of the in-memory form, for any P (tests/processing/test_dedup_sharded.py).

This is the multi-stage form of datatrove's MinHash dedup (signatures → buckets → clusters),
on files under the run's spill folder.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from common.atomic import PARQUET_COMPRESSION, PARQUET_COMPRESSION_LEVEL, atomic_path
from processing.dedup.clusters import batch_exact_links
from processing.dedup.columns import fixed_binary, fixed_width
from processing.dedup.keys import band_keys, hash_prefix
from processing.dedup.params import DedupParams

DEFAULT_MEMORY_BUDGET = 128 << 20
"""Bytes one partition may take while its buckets are sorted (`partition_count`)."""

_WORKING_BYTES = 3  # a partition's rows, their sorted copy and the sort's indices
_PARTITION = "partition"


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


def band_table(first_node: int, signatures: np.ndarray, usable: np.ndarray,
               params: DedupParams) -> tuple[pa.Table, np.ndarray]:
    """The band rows of documents `first_node`.. (`usable` marks the non-empty signatures),
    and the usable documents' band keys (usable × bands, for the prior index)."""
    idx = np.flatnonzero(usable)
    keys = band_keys(signatures[idx], params.bands, params.rows)
    m = len(idx)
    band = np.tile(np.arange(params.bands, dtype=np.uint8), m)
    node = np.repeat((idx + first_node).astype(np.int64), params.bands)
    values = np.ascontiguousarray(
        signatures[idx].reshape(m, params.bands, params.rows), dtype="<u4"
    ).reshape(m * params.bands, params.rows)
    table = pa.table({
        "band": pa.array(band), "key": pa.array(keys.ravel()), "node": pa.array(node),
        "values": fixed_binary(values),
    })
    return table, keys


def exact_table(first_node: int, hashes: np.ndarray) -> pa.Table:
    """The exact rows of documents `first_node`.. from their sha256 (n × 32 uint8)."""
    n = len(hashes)
    return pa.table({
        "key": pa.array(hash_prefix(hashes) if n else np.empty(0, np.uint64)),
        "node": pa.array(np.arange(first_node, first_node + n, dtype=np.int64)),
        "sha256": fixed_binary(hashes),
    })


def write_partitioned(path: Path, table: pa.Table, partitions: int) -> None:
    """`table` (with a uint64 `key` column) to one file, partition `key mod partitions` after
    partition, each in row groups of its own, so a reader takes one partition alone."""
    if partitions < 1:
        raise ValueError(f"dedup partitions must be at least 1, got {partitions}")
    part = (table.column("key").to_numpy() % np.uint64(partitions)).astype(np.uint32)
    order = np.argsort(part, kind="stable")
    part = part[order]
    table = table.take(pa.array(order)).append_column(_PARTITION, pa.array(part))
    bounds = np.searchsorted(part, np.arange(partitions + 1, dtype=np.uint32))
    with atomic_path(path) as tmp, pq.ParquetWriter(
            tmp, table.schema, compression=PARQUET_COMPRESSION,
            compression_level=PARQUET_COMPRESSION_LEVEL) as writer:
        if not table.num_rows:
            writer.write_table(table)
        for p in np.flatnonzero(np.diff(bounds)).tolist():
            lo, hi = int(bounds[p]), int(bounds[p + 1])
            writer.write_table(table.slice(lo, hi - lo), row_group_size=hi - lo)


class PartitionReader:
    """Partition p of a set of `write_partitioned` files, found by the row groups' statistics.

    A file is opened for each read rather than held open: an open file keeps buffers of a
    few MB, which the number of shards would multiply."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._files: list[tuple[Path, dict[int, list[int]]]] = []
        self._columns: list[str] = []
        for path in paths:
            f = pq.ParquetFile(path)
            column = f.schema_arrow.get_field_index(_PARTITION)
            groups: dict[int, list[int]] = {}
            for g in range(f.metadata.num_row_groups):
                meta = f.metadata.row_group(g)
                stats = meta.column(column).statistics
                if meta.num_rows and stats is not None and stats.has_min_max:
                    groups.setdefault(int(stats.min), []).append(g)
            self._files.append((Path(path), groups))
            self._columns = [n for n in f.schema_arrow.names if n != _PARTITION]
            f.close()

    def read(self, p: int) -> pa.Table | None:
        """Partition p's rows from every file, in file order; None when it has none."""
        parts = []
        for path, groups in self._files:
            if p in groups:
                with pq.ParquetFile(path) as f:
                    parts.append(f.read_row_groups(groups[p], columns=self._columns))
        return pa.concat_tables(parts) if parts else None


def partition_links(table: pa.Table, params: DedupParams) -> tuple[np.ndarray, np.ndarray]:
    """One partition's band matches, as links from each component's smallest node."""
    m = table.num_rows
    if m < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    band = table.column("band").to_numpy()
    key = table.column("key").to_numpy()
    node = table.column("node").to_numpy()
    values = fixed_width(table.column("values"), params.rows, "<u4")
    order = np.lexsort((node, key, band))
    band, key, node, values = band[order], key[order], node[order], values[order]
    starts = np.flatnonzero(np.concatenate(
        [[True], (band[1:] != band[:-1]) | (key[1:] != key[:-1])]))
    head = np.repeat(starts, np.diff(np.append(starts, m)))
    pair = head != np.arange(m)
    # Equal 64-bit keys are confirmed on the band's values, against the bucket's first member.
    same = pair & (values[head] == values).all(axis=1)
    return _reduce(node[head[same]], node[same])


def exact_links(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """One partition's exact matches (equal sha256), as links from each group's smallest node."""
    if table.num_rows < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    node = table.column("node").to_numpy()
    hashes = fixed_width(table.column("sha256"), 32, np.uint8)
    a, b = batch_exact_links(hashes, np.ones(len(node), dtype=bool))
    return _reduce(node[a], node[b])


def _reduce(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Links reduced to one per member of each component, from its smallest node."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

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
