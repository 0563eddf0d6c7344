"""Band buckets partitioned to files give the clusters of the in-memory form, for any P."""

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from processing.dedup import DedupIndex, DedupParams
from processing.dedup.partitions import BandPartitions, partition_count, row_bytes
from processing.stages.dedup import Deduplicator
from processing.types import Document
from tests.processing.dedup_corpus import families, paragraph

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _docs(seed: int, prefix: str) -> list[Document]:
    rng = random.Random(seed)
    corpus = families(30, copies=3, seed=seed)
    docs = [Document(f"{prefix}/{i:04d}", text,
                     {"collected_at": T0 + timedelta(days=rng.randint(0, 5))})
            for i, (_, text) in enumerate(corpus)]
    docs.append(Document(f"{prefix}/exact", docs[0].text, {"collected_at": None}))
    docs.append(Document(f"{prefix}/empty", "!!!", {}))
    docs.append(Document(f"{prefix}/alone", paragraph(rng), {}))
    return docs


def _attributes(docs, tmp_path: Path | None, partitions: int = 1, prior=None):
    spill = None if tmp_path is None else tmp_path / f"spill-{partitions}"
    dedup = Deduplicator(prior=prior, batch_size=7, spill=spill, partitions=partitions)
    list(dedup.run(docs))
    return dedup, dedup.finish()


@pytest.mark.parametrize("partitions", [1, 3, 8])
def test_partitioned_clusters_equal_the_in_memory_ones(tmp_path: Path, partitions: int) -> None:
    docs = _docs(3, "s")
    memory, expected = _attributes(docs, None)
    spilled, got = _attributes(docs, tmp_path, partitions)
    assert got == expected
    assert sum(1 for a in got.values() if not a["cluster_keep"]) > 30  # real clusters
    assert spilled.stats.counters == memory.stats.counters
    assert (spilled.signatures() == memory.signatures()).all()
    assert (spilled.signature_rows(5, 20) == memory.signatures()[5:20]).all()
    files = sorted(p.name for p in (tmp_path / f"spill-{partitions}").glob("bands-*.parquet"))
    assert len(files) == partitions


def test_partitioned_clusters_with_a_prior_index(tmp_path: Path) -> None:
    params = DedupParams()
    first, attributes = _attributes(_docs(4, "old"), None)
    kept = [i for i, a in attributes.items() if a["cluster_keep"]]
    index = DedupIndex.open(tmp_path / "idx", params)
    index.add(*first.index_rows(kept))
    index.save()
    # The new crawl holds copies of released texts, and one released document again.
    again = next(d for d in _docs(4, "old") if d.id == kept[0])
    new = _docs(4, "new")[:60] + [Document(again.id, again.text, {})]
    prior = DedupIndex.open(tmp_path / "idx", params)
    memory, expected = _attributes(new, None, prior=prior)
    for partitions in (1, 8):
        prior = DedupIndex.open(tmp_path / "idx", params)
        spilled, got = _attributes(new, tmp_path, partitions, prior=prior)
        assert got == expected
        assert spilled.stats.counters == memory.stats.counters
    assert memory.stats.counters["duplicates_of_released"] > 0


def test_partition_count_follows_the_budget_not_a_fixed_table() -> None:
    params = DedupParams()
    assert partition_count(1000, params) == 1
    small = partition_count(100_000, params, memory_budget=1 << 20)
    large = partition_count(1_000_000, params, memory_budget=1 << 20)
    for n, p in ((100_000, small), (1_000_000, large)):  # each partition fits the budget
        assert n * params.bands * row_bytes(params) * 3 / p <= 1 << 20
    assert large > 9 * small
    with pytest.raises(ValueError):
        partition_count(10, params, memory_budget=0)
    with pytest.raises(ValueError):
        BandPartitions(Path("."), params, 0)


def test_a_tiny_budget_still_clusters_the_same(tmp_path: Path) -> None:
    docs = _docs(5, "t")
    _, expected = _attributes(docs, None)
    partitions = partition_count(len(docs), DedupParams(), memory_budget=20_000)
    assert partitions >= 8
    _, got = _attributes(docs, tmp_path, partitions)
    assert got == expected
