"""Duplicate clusters: exact (same content hash) and near (a shared LSH band), with a keeper.

Two documents are in one cluster when they have the same sha256, or when their signatures
agree on every row of at least one band (MinHash LSH: for FineWeb's 14 × 8 that happens with
probability ~½ at Jaccard ≈ 0.72); clusters are the connected components of those links, as
FineWeb builds them (no pairwise Jaccard check after the band match). A document whose
normalised text has no word has an empty signature and is linked only by its content hash.

The keeper of a cluster is chosen deterministically: a document already released (in the
prior `DedupIndex`) first, always — released documents stay kept whatever newcomers arrive,
so a release never loses a document because a later crawl found an older copy; then the
earliest `collected_at` (None counts as latest); then the smallest id (code-point order).
The cluster id is the keeper's id. `dup_exact_of` names, for a document whose exact text is
held by a better-placed document (same order), that document.

Band matches are found by sorting 64-bit band keys (numpy, `backend="bands"`, the default) or,
as the reference, with `datasketch.MinHashLSH` (`backend="datasketch"`): both give the same
clusters (tests/processing/test_dedup_clusters.py). The numpy form exists because
MinHashLSH inserts and queries one document at a time in Python (~10k/s) and keeps Python
objects per bucket (~2 KB per document), and a persisted index would have to be re-inserted
document by document on every run; bench/RESULTS-dedup.md has the figures.

Prior (released) documents are linked only through the new batch: the released set is not
re-clustered. A new document whose id is already in the prior index is that released
document (re-processing a released document changes nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np

from processing.dedup.errors import DedupInputError, DedupParamsError
from processing.dedup.index import DedupIndex
from processing.dedup.inputs import check_signatures, check_unique, hash_bytes, to_micros
from processing.dedup.keys import band_keys
from processing.dedup.minhash import is_empty
from processing.dedup.params import SCHEME, DedupParams

Backend = Literal["bands", "datasketch"]


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    """Where one document stands: its cluster, whether it is kept, and what it duplicates."""

    cluster_id: str
    keep: bool
    size: int
    dup_exact_of: str | None = None
    released: bool = False  # already in the prior index, so kept whatever else

    def attributes(self) -> dict[str, str | bool | int | None]:
        """The dedup attributes a document carries: measured here, decided by the policy."""
        return {
            "cluster_id": self.cluster_id,
            "cluster_keep": self.keep,
            "cluster_size": self.size,
            "dup_exact_of": self.dup_exact_of,
        }


def cluster(
    ids: Sequence[str],
    collected_at: Sequence[datetime | None] | np.ndarray,
    signatures: np.ndarray,
    *,
    content_hashes: Sequence[str | bytes | None] | None = None,
    prior: DedupIndex | None = None,
    params: DedupParams | None = None,
    backend: Backend = "bands",
) -> dict[str, ClusterInfo]:
    """Cluster a batch of documents (and link it to `prior`, the released ones).

    Returns a ClusterInfo for every id of the batch, and for every released document that
    shares a cluster with one of them (those have `released=True`, `keep=True`).
    `content_hashes` (sha256 hex of the UTF-8 text, as the catalog stores it) enables exact
    dedup and `dup_exact_of`; without them exact copies still cluster through their equal
    signatures unless they have no word.
    """
    return _assemble(cluster_as_nodes(ids, collected_at, signatures,
                                      content_hashes=content_hashes, prior=prior,
                                      params=params, backend=backend))


def cluster_as_nodes(
    ids: Sequence[str],
    collected_at: Sequence[datetime | None] | np.ndarray,
    signatures: np.ndarray,
    *,
    content_hashes: Sequence[str | bytes | None] | None = None,
    prior: DedupIndex | None = None,
    params: DedupParams | None = None,
    backend: Backend = "bands",
) -> Nodes:
    """`cluster`'s result as arrays (`Nodes`), without an object per document."""
    params = _resolve_params(params, prior)
    n = len(ids)
    if len(collected_at) != n:
        raise DedupInputError(f"got {len(collected_at)} collected_at values for {n} ids")
    check_signatures(signatures, n, params)
    check_unique(ids)
    hashes, known = hash_bytes(content_hashes, n)
    times = to_micros(collected_at)
    usable = np.flatnonzero(~is_empty(signatures))

    links: list[tuple[np.ndarray, np.ndarray]] = []  # pairs of node numbers
    if backend == "bands":
        links.append(_batch_band_links(signatures, usable, params))
    elif backend == "datasketch":
        pass  # batch and prior links come together below
    else:
        raise DedupParamsError(f"unknown dedup backend {backend!r}; known: bands, datasketch")
    links.append(batch_exact_links(hashes, known))

    # Prior rows a batch document touches, as (batch index, prior row) pairs.
    prior_pairs: list[tuple[np.ndarray, np.ndarray]] = []
    same_q = same_r = np.empty(0, np.int64)
    if prior is not None and len(prior):
        same_q, same_r = prior.find_ids(ids)
        prior_pairs.append(prior.exact_matches(hashes, known))
        if backend == "bands":
            keys = band_keys(signatures[usable], params.bands, params.rows)
            q, r = prior.band_matches(keys, signatures[usable])
            prior_pairs.append((usable[q], r))
    if backend == "datasketch":
        batch_links, datasketch_prior = _datasketch_links(signatures, usable, prior, params)
        links.append(batch_links)
        prior_pairs.append(datasketch_prior)

    return cluster_nodes(ids, times, hashes, known, links, prior_pairs, same_q, same_r, prior)


@dataclass(frozen=True, slots=True)
class Nodes:
    """Clustering as arrays, one entry per node (batch documents 0..n-1, then the released
    documents they touch): what `cluster` turns into ClusterInfo, without an object per
    document."""

    ids: list[str]
    released: np.ndarray  # bool
    keeper: np.ndarray  # node of the cluster's keeper
    size: np.ndarray  # cluster size
    exact_of: np.ndarray  # node holding the same text, better placed; -1 if none

    def info(self, node: int) -> ClusterInfo:
        k, dup = int(self.keeper[node]), int(self.exact_of[node])
        return ClusterInfo(
            cluster_id=self.ids[k],
            keep=bool(self.released[node]) or k == node,
            size=int(self.size[node]),
            dup_exact_of=self.ids[dup] if dup >= 0 else None,
            released=bool(self.released[node]),
        )


def cluster_nodes(
    ids: Sequence[str],
    times: np.ndarray,
    hashes: np.ndarray,
    known: np.ndarray,
    links: list[tuple[np.ndarray, np.ndarray]],
    prior_pairs: list[tuple[np.ndarray, np.ndarray]],
    same_q: np.ndarray,
    same_r: np.ndarray,
    prior: DedupIndex | None,
) -> Nodes:
    """Components and keepers from the batch's links and its (batch index, prior row) pairs."""
    n = len(ids)
    # Node numbers: batch documents 0..n-1, then each prior row touched (a prior row that is
    # a batch document by id is that document's node).
    q_all = np.concatenate([p[0] for p in prior_pairs]) if prior_pairs else np.empty(0, np.int64)
    r_all = np.concatenate([p[1] for p in prior_pairs]) if prior_pairs else np.empty(0, np.int64)
    rows = np.setdiff1d(np.unique(r_all), same_r)
    node_of_row = {int(r): n + k for k, r in enumerate(rows.tolist())}
    node_of_row.update({int(r): int(q) for q, r in zip(same_q, same_r, strict=True)})
    links = list(links)
    if len(r_all):
        links.append((q_all, np.array([node_of_row[int(r)] for r in r_all], dtype=np.int64)))

    total = n + len(rows)
    released = np.zeros(total, dtype=bool)
    released[n:] = True
    released[same_q] = True
    node_times, node_ids = times, list(ids)
    node_hashes, node_known = hashes, known
    if prior is not None and (len(rows) or len(same_q)):
        node_times = np.concatenate([times, prior.collected_of(rows)])
        node_times[same_q] = prior.collected_of(same_r)
        node_ids += prior.ids_of(rows)
        prior_hashes, prior_known = prior.hashes_of(rows)
        node_hashes = np.concatenate([hashes, prior_hashes])
        node_known = np.concatenate([known, prior_known])

    component = _components(total, links)
    rank = _rank(released, node_times, node_ids)
    return _nodes(node_ids, released, component, rank, node_hashes, node_known)


def _resolve_params(params: DedupParams | None, prior: DedupIndex | None) -> DedupParams:
    if params is None:
        return prior.params if prior is not None else DedupParams()
    if prior is not None and prior.params.signature_key() != params.signature_key():
        raise DedupParamsError(
            f"dedup parameters {params.signature_key()} do not match the prior index's "
            f"{prior.params.signature_key()}"
        )
    if prior is not None and (prior.params.bands, prior.params.rows) != (params.bands, params.rows):
        raise DedupParamsError(
            f"dedup banding {params.bands}×{params.rows} differs from the prior index's "
            f"{prior.params.bands}×{prior.params.rows}; open the index with the same parameters"
        )
    return params


def _batch_band_links(
    signatures: np.ndarray, usable: np.ndarray, params: DedupParams
) -> tuple[np.ndarray, np.ndarray]:
    """Within the batch: every document to the first of its bucket, per band."""
    if len(usable) < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    keys = band_keys(signatures[usable], params.bands, params.rows)
    rows = params.rows
    src: list[np.ndarray] = []
    dst: list[np.ndarray] = []
    for band in range(params.bands):
        column = keys[:, band]
        order = np.argsort(column, kind="stable")
        ordered = column[order]
        starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
        head = np.repeat(order[starts], np.diff(np.append(starts, len(order))))
        pair = head != order
        a, b = usable[head[pair]], usable[order[pair]]
        cols = slice(band * rows, (band + 1) * rows)
        same = (signatures[a, cols] == signatures[b, cols]).all(axis=1)
        src.append(a[same])
        dst.append(b[same])
    if not src:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(src).astype(np.int64), np.concatenate(dst).astype(np.int64)


def batch_exact_links(hashes: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    docs = np.flatnonzero(known)
    if not len(docs):
        return np.empty(0, np.int64), np.empty(0, np.int64)
    _, first, inverse = np.unique(hashes[docs], axis=0, return_index=True, return_inverse=True)
    head = docs[first[inverse.ravel()]]
    pair = head != docs
    return head[pair].astype(np.int64), docs[pair].astype(np.int64)


def _datasketch_links(
    signatures: np.ndarray, usable: np.ndarray, prior: DedupIndex | None, params: DedupParams
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The reference: band matches found by datasketch.MinHashLSH, one document at a time.
    Prior rows are re-inserted every time, which is why it is not the default."""
    from datasketch import LeanMinHash, MinHashLSH

    lsh = MinHashLSH(
        threshold=params.threshold, num_perm=params.num_perm, params=(params.bands, params.rows)
    )
    if prior is not None and len(prior):
        prior_sigs = prior.all_signatures()
        for row in np.flatnonzero(~is_empty(prior_sigs)).tolist():
            lsh.insert(
                ("prior", row),
                LeanMinHash(seed=params.seed, hashvalues=prior_sigs[row], scheme=SCHEME),
                check_duplication=False,
            )
    sketches = {
        i: LeanMinHash(seed=params.seed, hashvalues=signatures[i], scheme=SCHEME)
        for i in usable.tolist()
    }
    for i, sketch in sketches.items():
        lsh.insert(("batch", i), sketch, check_duplication=False)
    batch_a, batch_b, prior_q, prior_r = [], [], [], []
    for i, sketch in sketches.items():
        for kind, other in lsh.query(sketch):
            if kind == "prior":
                prior_q.append(i)
                prior_r.append(other)
            elif other != i:
                batch_a.append(i)
                batch_b.append(other)

    def arr(values: list[int]) -> np.ndarray:
        return np.array(values, dtype=np.int64)

    return (arr(batch_a), arr(batch_b)), (arr(prior_q), arr(prior_r))


def _components(total: int, links: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    src = np.concatenate([a for a, _ in links]) if links else np.empty(0, np.int64)
    dst = np.concatenate([b for _, b in links]) if links else np.empty(0, np.int64)
    graph = coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(total, total))
    _, labels = connected_components(graph, directed=False)
    return labels


def _rank(released: np.ndarray, times: np.ndarray, ids: list[str]) -> np.ndarray:
    """Every node's place in keep order: released first, then earliest, then smallest id."""
    by_id = sorted(range(len(ids)), key=ids.__getitem__)
    id_rank = np.empty(len(ids), dtype=np.int64)
    id_rank[by_id] = np.arange(len(ids))
    order = np.lexsort((id_rank, times, ~released))
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    return rank


def _nodes(
    node_ids: list[str],
    released: np.ndarray,
    component: np.ndarray,
    rank: np.ndarray,
    hashes: np.ndarray,
    known: np.ndarray,
) -> Nodes:
    total = len(node_ids)
    # The keeper of each component is its member of lowest rank.
    best = np.full(component.max() + 1 if total else 0, total, dtype=np.int64)
    np.minimum.at(best, component, rank)
    node_by_rank = np.argsort(rank)
    keeper = node_by_rank[best[component]]
    sizes = np.bincount(component)

    # The same for exact groups: the best-ranked holder of each content hash.
    exact_of = np.full(total, -1, dtype=np.int64)
    holders = np.flatnonzero(known)
    if len(holders):
        _, group = np.unique(hashes[holders], axis=0, return_inverse=True)
        group = group.ravel()
        sort = np.lexsort((rank[holders], group))
        order, group = holders[sort], group[sort]
        first = np.concatenate([[True], group[1:] != group[:-1]])
        head = order[np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))]
        exact_of[order] = np.where(head != order, head, -1)
    return Nodes(node_ids, released, keeper, sizes[component] if total else sizes, exact_of)


def _assemble(nodes: Nodes) -> dict[str, ClusterInfo]:
    # Prior nodes are reported only where they share a cluster with the batch, which is
    # every prior node here: they were linked through batch documents.
    return {nodes.ids[node]: nodes.info(node) for node in range(len(nodes.ids))}
