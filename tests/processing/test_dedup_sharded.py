"""Dedup shard by shard through files gives `cluster`'s result over all shards at once, for
any number of partitions and shards, with and without released documents."""

import hashlib
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from processing.dedup import DedupIndex, DedupParams, cluster, signatures
from processing.dedup.errors import DedupInputError
from processing.dedup.sharded import ShardedDedup
from tests.processing.dedup_corpus import families, paragraph

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _corpus(seed: int, prefix: str) -> tuple[list[str], list[str], list[datetime | None]]:
    rng = random.Random(seed)
    texts = [t for _, t in families(30, copies=3, seed=seed)]
    # an exact copy, two with the same text of no word (linked by their hash alone), one alone
    texts += [texts[0], "!!!", "!!!", paragraph(rng)]
    ids = [f"{prefix}/{i:04d}" for i in range(len(texts))]
    rng.shuffle(ids)  # shard order is not id order
    times: list[datetime | None] = [T0 + timedelta(days=rng.randint(0, 5)) for _ in texts]
    times[-4] = None
    return ids, texts, times


def _expected(ids, texts, times, prior=None) -> dict[str, dict]:
    hashes = [hashlib.sha256(t.encode()).digest() for t in texts]
    result = cluster(ids, times, signatures(texts), content_hashes=hashes, prior=prior)
    return {i: result[i].attributes() for i in ids}


def _sharded(folder: Path, ids, texts, times, *, shards: int, partitions: int, prior=None,
             as_numpy: bool = False):
    dedup = ShardedDedup(folder, DedupParams(), prior, partitions=partitions, batch_size=7)
    bounds = np.linspace(0, len(ids), shards + 1).astype(int)
    for s in range(shards):
        lo, hi = bounds[s], bounds[s + 1]
        when = times[lo:hi]
        if as_numpy:  # as the run passes them: the Parquet column's datetime64, NaT unknown
            when = pa.array(when, pa.timestamp("us", tz="UTC")).to_numpy(zero_copy_only=False)
        dedup.add(100 + s, ids[lo:hi], texts[lo:hi], when)
    dedup.cluster()
    tables = [dedup.shard_table(100 + s, "minhash") for s in range(shards)]
    got = {}
    for table in tables:
        for row in table.drop(["minhash"]).to_pylist():
            got[row.pop("id")] = row
    return dedup, tables, got


@pytest.mark.parametrize(("shards", "partitions"), [(1, 1), (3, 1), (3, 4), (7, 13)])
def test_sharded_clusters_equal_the_in_memory_ones(tmp_path: Path, shards: int,
                                                   partitions: int) -> None:
    ids, texts, times = _corpus(3, "s")
    expected = _expected(ids, texts, times)
    dedup, tables, got = _sharded(tmp_path / "d", ids, texts, times, shards=shards,
                                  partitions=partitions, as_numpy=partitions > 1)
    assert got == expected
    assert sum(1 for a in got.values() if not a["cluster_keep"]) > 30  # real clusters
    assert any(a["dup_exact_of"] for a in got.values())
    assert got[ids[-2]]["cluster_size"] == 2  # "!!!" twice
    assert dedup.exact_type == pa.string()
    files = sorted(p.name.split("-")[0] for p in (tmp_path / "d").iterdir())
    assert files == sorted(["bands", "documents", "exact"] * shards)


def test_each_shard_table_is_in_id_order_with_its_signatures(tmp_path: Path) -> None:
    ids, texts, times = _corpus(5, "t")
    _, tables, _ = _sharded(tmp_path, ids, texts, times, shards=3, partitions=2)
    sig_of = dict(zip(ids, signatures(texts), strict=True))
    for table in tables:
        names = table.column("id").to_pylist()
        assert names == sorted(names)
        assert table.schema.field("minhash").type == pa.binary(DedupParams().num_perm * 4)
        assert table.schema.field("cluster_size").type == pa.int64()
        for doc_id, raw in zip(names, table.column("minhash").to_pylist(), strict=True):
            assert np.frombuffer(raw, "<u4").tolist() == sig_of[doc_id].tolist()
    assert sum(t.num_rows for t in tables) == len(ids)


def test_no_exact_copy_gives_a_null_dup_exact_of_column(tmp_path: Path) -> None:
    rng = random.Random(1)
    texts = [paragraph(rng) for _ in range(20)]
    ids = [f"u/{i}" for i in range(20)]
    dedup, tables, got = _sharded(tmp_path, ids, texts, [None] * 20, shards=2, partitions=3)
    assert dedup.exact_type == pa.null()
    assert all(t.schema.field("dup_exact_of").type == pa.null() for t in tables)
    assert got == {i: {"cluster_id": i, "cluster_keep": True, "cluster_size": 1,
                       "dup_exact_of": None} for i in ids}


def test_sharded_clusters_with_a_prior_index(tmp_path: Path) -> None:
    params = DedupParams()
    old_ids, old_texts, old_times = _corpus(4, "old")
    first = _expected(old_ids, old_texts, old_times)
    kept = [i for i, a in first.items() if a["cluster_keep"]]
    where = {i: k for k, i in enumerate(old_ids)}
    index = DedupIndex.open(tmp_path / "idx", params)
    index.add(kept, [old_times[where[i]] for i in kept],
              signatures([old_texts[where[i]] for i in kept]),
              [hashlib.sha256(old_texts[where[i]].encode()).digest() for i in kept])
    index.save()
    # The new crawl holds copies of released texts, and one released document again.
    ids, texts, times = _corpus(4, "new")
    ids, texts, times = ids[:60], texts[:60], times[:60]
    again = kept[0]
    ids.append(again)
    texts.append(old_texts[where[again]])
    times.append(None)
    expected = _expected(ids, texts, times, DedupIndex.open(tmp_path / "idx", params))
    assert any(a["cluster_id"].startswith("old/") for i, a in expected.items()
               if i.startswith("new/"))
    for partitions in (1, 8):
        prior = DedupIndex.open(tmp_path / "idx", params)
        _, _, got = _sharded(tmp_path / f"d{partitions}", ids, texts, times, shards=3,
                             partitions=partitions, prior=prior)
        assert got == expected


def test_a_released_document_again_stays_kept_when_an_older_release_keeps_its_cluster(
        tmp_path: Path) -> None:
    params = DedupParams()
    rng = random.Random(9)
    text_a = paragraph(rng)
    text_b = text_a.replace(" ", "  ", 1) + " tail"  # a near copy of it
    index = DedupIndex.open(tmp_path / "idx", params)
    index.add(["rel/a", "rel/b"], [T0 + timedelta(days=3), T0], signatures([text_a, text_b]),
              [hashlib.sha256(t.encode()).digest() for t in (text_a, text_b)])
    index.save()
    ids, texts, times = ["rel/a", "new/c"], [text_a, paragraph(rng)], [None, None]
    expected = _expected(ids, texts, times, DedupIndex.open(tmp_path / "idx", params))
    assert expected["rel/a"] == {"cluster_id": "rel/b", "cluster_keep": True,
                                 "cluster_size": 2, "dup_exact_of": None}
    _, _, got = _sharded(tmp_path / "d", ids, texts, times, shards=2, partitions=3,
                         prior=DedupIndex.open(tmp_path / "idx", params))
    assert got == expected


def test_a_killed_runs_files_are_not_read(tmp_path: Path) -> None:
    ids, texts, times = _corpus(6, "k")
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "bands-000999.parquet").write_bytes(b"half a file")
    _, _, got = _sharded(folder, ids, texts, times, shards=2, partitions=2)
    assert got == _expected(ids, texts, times)
    assert not (folder / "bands-000999.parquet").exists()


def test_bad_calls_are_refused(tmp_path: Path) -> None:
    dedup = ShardedDedup(tmp_path, partitions=2)
    with pytest.raises(RuntimeError):
        dedup.shard_table(1, "minhash")
    dedup.add(1, ["a"], ["some words here to sign"], [None])
    with pytest.raises(ValueError, match="added twice"):
        dedup.add(1, ["b"], ["x"], [None])
    with pytest.raises(ValueError, match="2 ids, 1 texts"):
        dedup.add(2, ["b", "c"], ["x"], [None, None])
    with pytest.raises(DedupInputError, match="appears twice"):
        dedup.add(3, ["b", "b"], ["x", "y"], [None, None])
    with pytest.raises(ValueError, match="at least 1"):
        ShardedDedup(tmp_path / "x", partitions=0)


def test_an_empty_shard_gives_an_empty_table_of_the_same_columns(tmp_path: Path) -> None:
    ids, texts, times = _corpus(8, "e")
    dedup = ShardedDedup(tmp_path, partitions=3)
    dedup.add(1, [], [], [])
    dedup.add(2, ids, texts, times)
    dedup.cluster()
    empty, full = dedup.shard_table(1, "minhash"), dedup.shard_table(2, "minhash")
    assert empty.num_rows == 0 and empty.schema == full.schema
    nothing = ShardedDedup(tmp_path / "none")
    nothing.cluster()
    assert nothing.exact_type == pa.null()
