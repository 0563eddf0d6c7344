"""Dedup of a corpus larger than memory: signed shard by shard to files, clustered where it links.

    dedup = ShardedDedup(folder, params, prior, partitions=partition_count(n_docs, params))
    for key, ids, texts, collected_at in shards:   # collected_at: datetime64 or datetimes
        dedup.add(key, ids, texts, collected_at)
    dedup.cluster()
    for key in keys:
        dedup.shard_table(key, "minhash")          # id, cluster_id, cluster_keep,
                                                   # cluster_size, dup_exact_of, signature

`add` signs a shard (bulk MinHash, `processing.dedup.minhash`) and writes three files of its
own: its documents (id, collection time, sha256, signature), its band rows and its exact rows
(both partitioned, `processing.dedup.partitions`); its lookups in the prior index are made
then and kept as (node, prior row) pairs. `cluster` reads one partition at a time for links,
then clusters only the documents a link or a prior match touches (`cluster_nodes`, as the
in-memory `cluster` does): every other document is alone in its cluster, kept, with no exact
copy. What the driver holds grows with the number of duplicates, not with the corpus.

The result is that of `cluster` over all shards at once (tests/processing/test_dedup_sharded.py):
which documents are linked, the keeper (released first, then the earliest `collected_at`, then
the smallest id) and `dup_exact_of` do not depend on the order documents were numbered in.
Document ids are unique across shards (the catalog's key); each shard's are checked.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from common.atomic import write_table_atomic
from common.storage import read_table
from processing.dedup.clusters import Nodes, _resolve_params, cluster_nodes
from processing.dedup.columns import fixed_binary, fixed_width
from processing.dedup.index import DedupIndex
from processing.dedup.inputs import check_unique, to_micros
from processing.dedup.minhash import is_empty, signatures
from processing.dedup.params import DedupParams
from processing.dedup.partitions import (
    PartitionReader,
    band_table,
    exact_links,
    exact_table,
    partition_links,
    write_partitioned,
)

_EMPTY = np.empty(0, np.int64)


class ShardedDedup:
    """Signs shards into `folder` as they are added; clusters them, with `prior`, at the end."""

    def __init__(self, folder: str | Path, params: DedupParams | None = None,
                 prior: DedupIndex | None = None, *, partitions: int = 1,
                 batch_size: int = 2048) -> None:
        if partitions < 1:
            raise ValueError(f"dedup partitions must be at least 1, got {partitions}")
        self.params = _resolve_params(params, prior)
        self.prior = prior if prior is not None and len(prior) else None
        self.partitions = partitions
        self.batch_size = batch_size
        self.folder = Path(folder)
        # A killed run's files are never read: every run signs afresh.
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self._shards: dict[int, tuple[int, int]] = {}  # key → (first node, end)
        self._n = 0
        self._prior_pairs: list[tuple[np.ndarray, np.ndarray]] = []
        self._same: list[tuple[np.ndarray, np.ndarray]] = []
        self._involved = _EMPTY
        self._nodes: Nodes | None = None
        self._names = np.empty(0, dtype=object)
        self.exact_type: pa.DataType = pa.null()

    # ---- signing

    def add(self, key: int, ids: Sequence[str], texts: Sequence[str],
            collected_at: Sequence[datetime | None] | np.ndarray) -> None:
        """Sign one shard's documents (nodes numbered on from the shards before)."""
        if key in self._shards:
            raise ValueError(f"dedup shard {key} was added twice")
        n = len(ids)
        if len(texts) != n or len(collected_at) != n:
            raise ValueError(f"dedup shard {key}: {n} ids, {len(texts)} texts and "
                             f"{len(collected_at)} collected_at values")
        check_unique(ids)
        first = self._n
        params = self.params
        sigs = (np.concatenate([signatures(texts[i:i + self.batch_size], params)
                                for i in range(0, n, self.batch_size)])
                if n else np.empty((0, params.num_perm), dtype=np.uint32))
        hashes = np.frombuffer(b"".join(hashlib.sha256(t.encode("utf-8")).digest()
                                        for t in texts), dtype=np.uint8).reshape(n, 32)
        write_table_atomic(pa.table({
            "id": pa.array(list(ids), pa.string()),
            "collected": pa.array(to_micros(collected_at), pa.int64()),
            "sha256": fixed_binary(hashes),
            "minhash": fixed_binary(sigs.astype("<u4")),
        }), self._path("documents", key))
        usable = ~is_empty(sigs)
        bands, keys = band_table(first, sigs, usable, params)
        write_partitioned(self._path("bands", key), bands, self.partitions)
        write_partitioned(self._path("exact", key), exact_table(first, hashes), self.partitions)
        if self.prior is not None:
            prior = self.prior
            q, r = prior.find_ids(list(ids))
            self._same.append((q + first, r))
            q, r = prior.exact_matches(hashes, np.ones(n, dtype=bool))
            self._prior_pairs.append((q + first, r))
            where = np.flatnonzero(usable)
            q, r = prior.band_matches(keys, sigs[where])
            self._prior_pairs.append((where[q] + first, r))
        self._shards[key] = (first, first + n)
        self._n += n

    def _path(self, kind: str, key: int) -> Path:
        return self.folder / f"{kind}-{key:06d}.parquet"

    # ---- clustering

    def cluster(self) -> None:
        """Links per partition, then the clusters of the documents they touch."""
        keys = list(self._shards)
        links: list[tuple[np.ndarray, np.ndarray]] = []
        for kind, find in (("bands", lambda t: partition_links(t, self.params)),
                           ("exact", exact_links)):
            reader = PartitionReader([self._path(kind, k) for k in keys])
            for p in range(self.partitions):
                table = reader.read(p)
                if table is not None:
                    links.append(find(table))
        same_q, same_r = _cat(self._same, 0), _cat(self._same, 1)
        prior_q = _cat(self._prior_pairs, 0)
        # Every node of a cluster of more than one, and every released one.
        involved = np.unique(np.concatenate([*(e for pair in links for e in pair),
                                             prior_q, same_q]))
        ids: list[str] = []
        times, hashes = [], []
        for k in keys:
            first, end = self._shards[k]
            local = involved[(involved >= first) & (involved < end)] - first
            if not len(local):
                continue
            table = read_table(self._path("documents", k), columns=["id", "collected", "sha256"])
            table = table.take(pa.array(local))
            ids += table.column("id").to_pylist()
            times.append(table.column("collected").to_numpy())
            hashes.append(fixed_width(table.column("sha256"), 32, np.uint8))
        compact = [(np.searchsorted(involved, a), np.searchsorted(involved, b))
                   for a, b in links]
        pairs = [(np.searchsorted(involved, q), r) for q, r in self._prior_pairs]
        self._nodes = cluster_nodes(
            ids, np.concatenate(times) if times else _EMPTY,
            np.concatenate(hashes) if hashes else np.empty((0, 32), np.uint8),
            np.ones(len(ids), dtype=bool), compact, pairs,
            np.searchsorted(involved, same_q), same_r, self.prior)
        self._involved = involved
        self._names = np.array(self._nodes.ids, dtype=object)
        # One type for dup_exact_of in every shard's table, as one table of all rows would
        # infer it: string when any document has one, else null.
        self.exact_type = (pa.string() if (self._nodes.exact_of[:len(involved)] >= 0).any()
                           else pa.null())

    def shard_table(self, key: int, signature_column: str) -> pa.Table:
        """The dedup attributes and signatures of one shard's documents, in id order."""
        nodes = self._result()
        first, end = self._shards[key]
        table = read_table(self._path("documents", key), columns=["id", "minhash"])
        ids = table.column("id")
        n = end - first
        lo, hi = np.searchsorted(self._involved, [first, end])
        local = self._involved[lo:hi] - first
        c = np.arange(lo, hi)  # their compact nodes
        keeper = nodes.keeper[c]
        cluster_id = ids.combine_chunks()
        keep = np.ones(n, dtype=bool)
        size = np.ones(n, dtype=np.int64)
        exact = [None] * n
        if len(local):
            cluster_id = pc.replace_with_mask(
                cluster_id, pa.array(np.isin(np.arange(n), local)),
                pa.array(self._names[keeper].tolist(), pa.string()))
            keep[local] = nodes.released[c] | (keeper == c)
            size[local] = nodes.size[c]
            for i, e in zip(local.tolist(), nodes.exact_of[c].tolist(), strict=True):
                if e >= 0:
                    exact[i] = nodes.ids[e]
        return pa.table({
            "id": ids,
            "cluster_id": cluster_id,
            "cluster_keep": pa.array(keep),
            "cluster_size": pa.array(size, pa.int64()),
            "dup_exact_of": pa.array(exact, self.exact_type),
            signature_column: table.column("minhash"),
        }).sort_by("id")

    def _result(self) -> Nodes:
        if self._nodes is None:
            raise RuntimeError("ShardedDedup.cluster() has not run")
        return self._nodes


def _cat(pairs: list[tuple[np.ndarray, np.ndarray]], k: int) -> np.ndarray:
    return np.concatenate([p[k] for p in pairs]).astype(np.int64) if pairs else _EMPTY

