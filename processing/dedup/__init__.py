"""Exact and near-duplicate detection: MinHash signatures in bulk, LSH clusters, and an index
kept between releases.

Memory holds signatures, never texts. The caller streams shards through `signatures` (a few
thousand texts at a time), keeps ids, collection times, content hashes and signatures
(~460 bytes per document with FineWeb's 112 permutations), then clusters once:

    params = DedupParams()                       # FineWeb: 5-word shingles, 14 bands × 8 rows
    prior = DedupIndex.open(index_dir, params)   # what earlier releases kept (may be empty)
    sigs = np.concatenate([signatures(batch_texts, params) for batch_texts in shards])
    info = cluster(ids, collected_at, sigs, content_hashes=hashes, prior=prior, params=params)
    info[doc_id].attributes()   # cluster_id, cluster_keep, cluster_size, dup_exact_of

    # after the release is cut, remember what it holds:
    prior.add(released_ids, released_collected_at, released_sigs, released_hashes)
    prior.save()

Released documents are always kept over newcomers. `Deduplicator` in
`processing.stages.dedup` does the same over `Document` streams. A corpus larger than memory
goes through `ShardedDedup` (`processing.dedup.sharded`): shard by shard to files, the same
clusters, with memory for the duplicates only.

Modules: `params` (DedupParams), `shingles` (normalisation, shingles), `minhash` (bulk
signatures), `inputs` (the caller's columns, checked), `keys` (band, content-hash and id keys
and the lookups over them), `segments` (the index's files), `index` (DedupIndex), `clusters`
(cluster, ClusterInfo), `columns` (fixed-size binary columns), `partitions` (link rows
partitioned to files), `sharded` (ShardedDedup), `errors` (the exception tree, all
ValueError).
"""

from processing.dedup.clusters import ClusterInfo, cluster
from processing.dedup.errors import DedupError, DedupIndexError, DedupInputError, DedupParamsError
from processing.dedup.index import DedupIndex
from processing.dedup.minhash import signatures
from processing.dedup.params import DedupParams
from processing.dedup.shingles import normalize, shingles

__all__ = [
    "ClusterInfo",
    "DedupError",
    "DedupIndex",
    "DedupIndexError",
    "DedupInputError",
    "DedupParams",
    "DedupParamsError",
    "cluster",
    "normalize",
    "shingles",
    "signatures",
]
