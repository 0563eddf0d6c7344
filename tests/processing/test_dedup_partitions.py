"""Partitioned link rows: each partition read alone from every shard's file, its links those
of the whole; the partition count follows the memory budget."""

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from processing.dedup import DedupParams, signatures
from processing.dedup.clusters import _batch_band_links, _components, batch_exact_links
from processing.dedup.minhash import is_empty
from processing.dedup.partitions import (
    PartitionReader,
    band_table,
    exact_links,
    exact_table,
    partition_count,
    partition_links,
    row_bytes,
    write_partitioned,
)
from tests.processing.dedup_corpus import families


def _shards(n_shards: int, partitions: int, folder: Path, kind: str):
    params = DedupParams()
    texts = [t for _, t in families(12, copies=3, seed=7)]
    texts += texts[:5]  # exact copies too
    sigs = signatures(texts, params)
    hashes = np.array([np.frombuffer(hashlib.sha256(t.encode()).digest(), np.uint8) for t in texts])
    bounds = np.linspace(0, len(texts), n_shards + 1).astype(int)
    paths = []
    for s in range(n_shards):
        lo, hi = bounds[s], bounds[s + 1]
        if kind == "bands":
            table, _ = band_table(int(lo), sigs[lo:hi], ~is_empty(sigs[lo:hi]), params)
        else:
            table = exact_table(int(lo), hashes[lo:hi])
        paths.append(folder / f"{kind}-{s}.parquet")
        write_partitioned(paths[-1], table, partitions)
    return params, sigs, hashes, paths


def _groups(links, n):
    labels = _components(n, links)
    return sorted(sorted(np.flatnonzero(labels == c).tolist()) for c in np.unique(labels))


@pytest.mark.parametrize("partitions", [1, 4, 13])
def test_each_partition_is_read_alone_and_holds_only_its_keys(tmp_path: Path,
                                                              partitions: int) -> None:
    _, _, _, paths = _shards(3, partitions, tmp_path, "bands")
    whole = pa.concat_tables(pq.read_table(p) for p in paths)
    reader = PartitionReader(paths)
    seen = 0
    for p in range(partitions):
        table = reader.read(p)
        if table is None:
            assert not (whole.column("partition").to_numpy() == p).any()
            continue
        assert "partition" not in table.column_names
        assert (table.column("key").to_numpy() % np.uint64(partitions) == p).all()
        seen += table.num_rows
    assert seen == whole.num_rows
    # every non-empty partition is row groups of its own in each file
    for path in paths:
        meta = pq.ParquetFile(path).metadata
        index = pq.ParquetFile(path).schema_arrow.get_field_index("partition")
        for g in range(meta.num_row_groups):
            stats = meta.row_group(g).column(index).statistics
            assert stats.min == stats.max


@pytest.mark.parametrize("partitions", [1, 3, 8])
def test_partition_links_give_the_components_of_the_in_memory_links(tmp_path: Path,
                                                                    partitions: int) -> None:
    params, sigs, hashes, band_paths = _shards(4, partitions, tmp_path, "bands")
    _, _, _, exact_paths = _shards(4, partitions, tmp_path, "exact")
    n = len(sigs)
    expected = _groups([_batch_band_links(sigs, np.flatnonzero(~is_empty(sigs)), params),
                        batch_exact_links(hashes, np.ones(n, bool))], n)
    links = []
    for paths, find in ((band_paths, lambda t: partition_links(t, params)),
                        (exact_paths, exact_links)):
        reader = PartitionReader(paths)
        links += [find(t) for p in range(partitions) if (t := reader.read(p)) is not None]
    assert _groups(links, n) == expected
    assert sum(len(g) > 1 for g in expected) >= 12  # real clusters


def test_an_empty_shard_writes_a_file_with_no_partition(tmp_path: Path) -> None:
    params = DedupParams()
    table, keys = band_table(0, np.empty((0, params.num_perm), np.uint32),
                             np.empty(0, bool), params)
    write_partitioned(tmp_path / "b.parquet", table, 4)
    assert keys.shape == (0, params.bands)
    reader = PartitionReader([tmp_path / "b.parquet"])
    assert all(reader.read(p) is None for p in range(4))


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
        write_partitioned(Path("unused.parquet"), exact_table(0, np.zeros((0, 32), np.uint8)), 0)
