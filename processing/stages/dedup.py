"""Dedup over a stream of `Document`s: sign as they pass, cluster at the end.

Duplicate clusters are a property of the whole collection, not of one document, so dedup is
not a per-document `Stage` (and is not in the stage registry): it runs in two passes.

    dedup = Deduplicator(prior=DedupIndex.open(index_dir, DedupParams()))
    for doc in dedup.run(docs):        # every document comes out unchanged; only its id,
        ...                            # collected_at, sha256 and signature are kept
    attributes = dedup.finish()        # {doc id: {cluster_id, cluster_keep, cluster_size,
                                       #           dup_exact_of}}

Documents are signed in batches of `batch_size` (bulk MinHash, see processing.dedup.minhash).
`collected_at` is read from `doc.metadata["collected_at"]` (a datetime, an ISO 8601 string or
None); a value that is neither is counted under `stats.errors["bad_collected_at"]`, written to
the document's `dedup_v1_error` attribute, and taken as unknown (latest).

With a `spill` folder, memory does not hold the band tables nor the signatures: each batch's
band rows go to `partitions` files as it is signed (processing.dedup.partitions), its
signatures to a file of their own (`signature_rows` reads a range back), and its lookups in
the prior index are made then. What stays in memory per document is its id, collected time,
content hash and, at the end, a few integers of the clustering (`nodes`). The clusters are
the same as without a spill folder, for any number of partitions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from time import perf_counter

import numpy as np
import pyarrow as pa

from common.atomic import write_table_atomic
from common.storage import read_table
from processing.dedup.clusters import (
    Backend,
    ClusterInfo,
    Nodes,
    _assemble,
    _resolve_params,
    batch_exact_links,
    cluster,
    cluster_nodes,
)
from processing.dedup.index import DedupIndex
from processing.dedup.inputs import check_unique, hash_bytes, to_micros
from processing.dedup.minhash import is_empty, signatures
from processing.dedup.params import DedupParams
from processing.dedup.partitions import BandPartitions
from processing.stage import StageStats
from processing.types import AttributeValue, Document


class Deduplicator:
    """Keeps signatures of the documents it sees; clusters them, with `prior`, on `finish`."""

    name = "dedup_v1"
    version = "1"
    attributes = ("cluster_id", "cluster_keep", "cluster_size", "dup_exact_of")

    def __init__(
        self,
        *,
        params: DedupParams | None = None,
        prior: DedupIndex | None = None,
        batch_size: int = 2048,
        backend: Backend = "bands",
        spill: str | Path | None = None,
        partitions: int = 1,
    ) -> None:
        self.params = params or (prior.params if prior is not None else DedupParams())
        if spill is not None:
            _resolve_params(self.params, prior)
            if backend != "bands":
                raise ValueError("a dedup spill folder needs the bands backend")
        self.spill = Path(spill) if spill is not None else None
        self._bands = (BandPartitions(self.spill, self.params, partitions)
                       if self.spill is not None else None)
        self._batches: list[tuple[int, int, Path]] = []  # (first, end, signature file)
        self._empty = 0
        self._prior_pairs: list[tuple[np.ndarray, np.ndarray]] = []
        self._same: list[tuple[np.ndarray, np.ndarray]] = []
        self.prior = prior
        self.batch_size = batch_size
        self.backend = backend
        self.stats = StageStats(stage=self.name)
        self._ids: list[str] = []
        self._collected: list[datetime | None] = []
        self._hashes: list[bytes] = []
        self._signatures: list[np.ndarray] = []

    @property
    def error_attribute(self) -> str:
        return f"{self.name}_error"

    def run(self, docs: Iterable[Document]) -> Iterator[Document]:
        batch: list[Document] = []
        for doc in docs:
            self.stats.docs_in += 1
            batch.append(doc)
            if len(batch) >= self.batch_size:
                yield from self._sign(batch)
                batch = []
        if batch:
            yield from self._sign(batch)

    def _sign(self, batch: list[Document]) -> Iterator[Document]:
        started = perf_counter()
        texts = [doc.text for doc in batch]
        sigs = signatures(texts, self.params)
        first = len(self._ids)
        for doc in batch:
            self._ids.append(doc.id)
            self._hashes.append(hashlib.sha256(doc.text.encode("utf-8")).digest())
            self._collected.append(self._collected_at(doc))
        if self._bands is None:
            self._signatures.append(sigs)
        else:
            self._spill_batch(first, sigs)
        self.stats.seconds += perf_counter() - started
        self.stats.docs_out += len(batch)
        yield from batch

    def _spill_batch(self, first: int, sigs: np.ndarray) -> None:
        """Band rows to their partitions, signatures to a file, prior lookups now."""
        assert self._bands is not None and self.spill is not None
        usable = ~is_empty(sigs)
        self._empty += int((~usable).sum())
        keys = self._bands.add(first, sigs, usable)
        path = self.spill / f"signatures-{len(self._batches):06d}.parquet"
        width = self.params.num_perm * 4
        write_table_atomic(pa.table({"minhash": pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(width), len(sigs), [None, pa.py_buffer(sigs.astype("<u4").tobytes())])}),
            path)
        self._batches.append((first, first + len(sigs), path))
        prior = self.prior
        if prior is None or not len(prior):
            return
        ids = self._ids[first:]
        hashes, known = hash_bytes(self._hashes[first:], len(ids))
        q, r = prior.find_ids(ids)
        self._same.append((q + first, r))
        q, r = prior.exact_matches(hashes, known)
        self._prior_pairs.append((q + first, r))
        where = np.flatnonzero(usable)
        q, r = prior.band_matches(keys, sigs[where])
        self._prior_pairs.append((where[q] + first, r))

    def signature_rows(self, start: int, stop: int) -> np.ndarray:
        """Signatures of documents start..stop-1 (in the order seen)."""
        if self._bands is None:
            return self.signatures()[start:stop]
        parts = []
        for first, end, path in self._batches:
            if end <= start or first >= stop:
                continue
            column = read_table(path).column("minhash").combine_chunks()
            raw = np.frombuffer(column.buffers()[1], dtype="<u4").reshape(-1, self.params.num_perm)
            raw = raw[column.offset:column.offset + len(column)]
            parts.append(raw[max(start, first) - first:min(stop, end) - first])
        if not parts:
            return np.empty((0, self.params.num_perm), dtype=np.uint32)
        return np.concatenate(parts).astype(np.uint32)

    def _collected_at(self, doc: Document) -> datetime | None:
        value = doc.metadata.get("collected_at")
        if value is None or isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                pass
        self.stats.errors["bad_collected_at"] += 1
        doc.attributes[self.error_attribute] = (
            f"document {doc.id!r}: collected_at {str(value)[:60]!r} is not a datetime; "
            "taken as unknown"
        )
        return None

    def signatures(self) -> np.ndarray:
        """Signatures of every document seen, in order (n × num_perm, uint32)."""
        if self._bands is not None:
            return self.signature_rows(0, len(self._ids))
        if not self._signatures:
            return np.empty((0, self.params.num_perm), dtype=np.uint32)
        if len(self._signatures) > 1:
            self._signatures = [np.concatenate(self._signatures)]
        return self._signatures[0]

    def clusters(self) -> dict[str, ClusterInfo]:
        """ClusterInfo for every document seen (and the released documents they touch)."""
        return _assemble(self.nodes())

    def nodes(self) -> Nodes:
        """The clustering as arrays: node i < len(seen) is the i-th document seen."""
        started = perf_counter()
        if self._bands is None:
            sigs = self.signatures()
            result = cluster(
                self._ids,
                self._collected,
                sigs,
                content_hashes=self._hashes,
                prior=self.prior,
                params=self.params,
                backend=self.backend,
            )
            ids = list(result)
            node_of = {doc_id: i for i, doc_id in enumerate(ids)}
            infos = list(result.values())
            nodes = Nodes(
                ids,
                np.array([i.released for i in infos], dtype=bool),
                np.array([node_of[i.cluster_id] for i in infos], dtype=np.int64),
                np.array([i.size for i in infos], dtype=np.int64),
                np.array([node_of[i.dup_exact_of] if i.dup_exact_of is not None else -1
                          for i in infos], dtype=np.int64),
            )
            empty = int(is_empty(sigs).sum())
        else:
            check_unique(self._ids)
            n = len(self._ids)
            hashes, known = hash_bytes(self._hashes, n)
            links = self._bands.links()
            links.append(batch_exact_links(hashes, known))

            def cat(pairs: list[tuple[np.ndarray, np.ndarray]], k: int) -> np.ndarray:
                return (np.concatenate([p[k] for p in pairs]).astype(np.int64) if pairs
                        else np.empty(0, np.int64))

            same_q, same_r = cat(self._same, 0), cat(self._same, 1)
            nodes = cluster_nodes(self._ids, to_micros(self._collected), hashes, known, links,
                                  self._prior_pairs, same_q, same_r, self.prior)
            empty = self._empty
        stats = self.stats
        stats.seconds += perf_counter() - started
        stats.counters["empty_signature"] += empty
        for node in range(len(self._ids)):
            info = nodes.info(node)
            stats.record(info.attributes())
            stats.counters["released"] += info.released
            if not info.keep:
                stats.counters["duplicates"] += 1
                stats.counters["duplicates_of_released"] += bool(
                    nodes.released[nodes.keeper[node]])
            if info.dup_exact_of is not None:
                stats.counters["exact_duplicates"] += 1
            if info.keep and info.cluster_id == self._ids[node] and info.size > 1:
                stats.counters["clusters"] += 1
        return nodes

    def finish(self) -> dict[str, dict[str, AttributeValue]]:
        """The dedup attributes of every document seen, by id."""
        nodes = self.nodes()
        return {doc_id: dict(nodes.info(i).attributes()) for i, doc_id in enumerate(self._ids)}

    def index_rows(
        self, ids: Iterable[str]
    ) -> tuple[list[str], list[datetime | None], np.ndarray, list[bytes]]:
        """What `DedupIndex.add` needs for these documents (e.g. the ones a release kept)."""
        position = {doc_id: i for i, doc_id in enumerate(self._ids)}
        chosen = [position[doc_id] for doc_id in ids]
        return (
            [self._ids[i] for i in chosen],
            [self._collected[i] for i in chosen],
            self.signatures()[chosen],
            [self._hashes[i] for i in chosen],
        )
