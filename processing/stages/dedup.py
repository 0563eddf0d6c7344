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

What stays in memory is every document's id, collected time, content hash and signature;
`processing.dedup.sharded` clusters a corpus shard by shard through files instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from datetime import datetime
from time import perf_counter

import numpy as np

from processing.dedup.clusters import (
    Backend,
    ClusterInfo,
    Nodes,
    _assemble,
    cluster_as_nodes,
)
from processing.dedup.index import DedupIndex
from processing.dedup.minhash import is_empty, signatures
from processing.dedup.params import DedupParams
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
    ) -> None:
        self.params = params or (prior.params if prior is not None else DedupParams())
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
        for doc in batch:
            self._ids.append(doc.id)
            self._hashes.append(hashlib.sha256(doc.text.encode("utf-8")).digest())
            self._collected.append(self._collected_at(doc))
        self._signatures.append(sigs)
        self.stats.seconds += perf_counter() - started
        self.stats.docs_out += len(batch)
        yield from batch

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
        sigs = self.signatures()
        nodes = cluster_as_nodes(
            self._ids,
            self._collected,
            sigs,
            content_hashes=self._hashes,
            prior=self.prior,
            params=self.params,
            backend=self.backend,
        )
        empty = int(is_empty(sigs).sum())
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
