import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from common.atomic import file_sha256, text_sha256
from reports.errors import ReleaseDataError
from reports.merkle import document_leaf_hash, root
from reports.release_files import (
    INDEX_SCHEMA,
    SHARD_SCHEMA,
    ReleaseShardWriter,
    write_release_files,
)
from tests.reports.release_corpus import make_rows


def _write(path, rows, shard_bytes=1500, row_group_rows=8):
    with ReleaseShardWriter(path, shard_bytes=shard_bytes, row_group_rows=row_group_rows) as w:
        for row in rows:
            w.add(row)
        return w.finish()


def test_shards_split_on_text_bytes_and_index_lists_every_document(tmp_path):
    rows = make_rows(40)
    files = _write(tmp_path, rows, shard_bytes=1500)
    data = [f for f in files.files if f.kind == "data"]
    assert len(data) > 2
    assert [f.path for f in data] == [f"data/part-{i:05d}.parquet" for i in range(len(data))]
    assert files.files[-1].path == "index.parquet" and files.files[-1].kind == "index"
    start = 0
    for i, entry in enumerate(data):
        table = pq.read_table(tmp_path / entry.path)
        texts = table["text"].to_pylist()
        sizes = [len(t.encode()) for t in texts]
        if i < len(data) - 1:  # a shard closes with the document that reaches shard_bytes
            assert sum(sizes) >= 1500 > sum(sizes[:-1])
        assert table["id"].to_pylist() == [r["id"] for r in rows[start:start + len(texts)]]
        assert entry.documents == len(texts)
        assert entry.tokens == sum(r["n_tokens"] for r in rows[start:start + len(texts)])
        assert entry.sha256 == file_sha256(tmp_path / entry.path)
        assert entry.bytes == (tmp_path / entry.path).stat().st_size
        start += len(texts)
    assert start == files.documents == len(rows)
    assert files.tokens == sum(r["n_tokens"] for r in rows)
    assert files.text_bytes == sum(len(r["text"].encode()) for r in rows)

    index = pq.read_table(tmp_path / "index.parquet")
    assert index.schema.equals(INDEX_SCHEMA)
    assert index["id"].to_pylist() == [r["id"] for r in rows]
    assert index["content_sha256"].to_pylist() == [text_sha256(r["text"]) for r in rows]
    for shard, row, doc in zip(index["shard"].to_pylist(), index["row"].to_pylist(),
                               index["id"].to_pylist(), strict=True):
        assert pq.read_table(tmp_path / shard)["id"][row].as_py() == doc
    leaves = [document_leaf_hash(r["id"], text_sha256(r["text"])) for r in rows]
    assert files.merkle_root == root(leaves).hex()
    assert files.tree_size == len(rows)
    assert files.merkle()["algorithm"] == "rfc6962-sha256"


def test_shard_schema_values_and_parquet_settings(tmp_path):
    rows = make_rows(20)
    files = _write(tmp_path, rows, shard_bytes=10**9, row_group_rows=8)
    pf = pq.ParquetFile(tmp_path / files.files[0].path)
    assert pf.schema_arrow.equals(SHARD_SCHEMA)
    assert pf.schema_arrow.field("text").type == pa.large_string()
    assert [pf.metadata.row_group(i).num_rows for i in range(pf.num_row_groups)] == [8, 8, 4]
    assert pf.metadata.row_group(0).column(1).compression == "ZSTD"
    assert b"pandas" not in (pf.schema_arrow.metadata or {})
    got = pf.read().to_pylist()
    for want, have in zip(rows, got, strict=True):
        assert have["text"] == want["text"] and have["license"] == want["license"]
        assert have["collected_at"] == want["collected_at"]
        assert json.loads(have["metadata"]) == want["metadata"]
        assert have["metadata"] == json.dumps(want["metadata"], sort_keys=True,
                                              separators=(",", ":"))


def test_same_rows_give_byte_identical_files(tmp_path):
    rows = make_rows(40)
    a = _write(tmp_path / "a", rows)
    b = _write(tmp_path / "b", rows)
    assert a == b
    for entry in a.files:
        assert (tmp_path / "a" / entry.path).read_bytes() == (
            tmp_path / "b" / entry.path).read_bytes()
    changed = [dict(r) for r in rows]
    changed[3]["text"] += "!"
    c = _write(tmp_path / "c", changed)
    assert c.merkle_root != a.merkle_root


def test_rows_must_arrive_in_strictly_increasing_id_order(tmp_path):
    rows = make_rows(3)
    with ReleaseShardWriter(tmp_path / "r") as w:
        w.add(rows[1])
        with pytest.raises(ReleaseDataError, match="web/00000 arrives after web/00001"):
            w.add(rows[0])
        with pytest.raises(ReleaseDataError, match="strictly increasing"):
            w.add(rows[1])
        w.add(rows[2])
        files = w.finish()
    assert files.documents == 2


@pytest.mark.parametrize(("change", "message"), [
    ({"id": None}, "no id"),
    ({"text": None}, "text must be a string"),
    ({"text": "bad \udc80"}, "surrogate"),
    ({"n_tokens": -1}, "n_tokens"),
    ({"n_tokens": "5"}, "n_tokens"),
    ({"collected_at": "2024-01-01"}, "collected_at"),
    ({"url": 5}, "url must be a string"),
    ({"metadata": {"x": {1, 2}}}, "metadata is not JSON"),
    ({"id": "a\x00b"}, "NUL"),
])
def test_bad_rows_are_refused(tmp_path, change, message):
    row = {**make_rows(1)[0], **change}
    with ReleaseShardWriter(tmp_path) as w, pytest.raises(ReleaseDataError, match=message):
        w.add(row)


def test_failure_before_finish_leaves_no_files(tmp_path):
    release = tmp_path / "r"
    with pytest.raises(RuntimeError), ReleaseShardWriter(release, shard_bytes=100) as w:
        for row in make_rows(10):
            w.add(row)
        raise RuntimeError("cut interrupted")
    assert not (release / "index.parquet").exists()
    leftovers = [p.name for p in release.rglob("*") if p.is_file()]
    # closed shards stay (complete under their final name); nothing partial or temporary
    assert all(name.startswith("part-") for name in leftovers)


def test_empty_release_has_one_empty_shard(tmp_path):
    files = write_release_files(tmp_path, [])
    assert [f.path for f in files.files] == ["data/part-00000.parquet", "index.parquet"]
    assert pq.read_table(tmp_path / "data/part-00000.parquet").num_rows == 0
    assert files.documents == files.tree_size == 0
    assert files.merkle_root == root([]).hex()


def test_naive_and_aware_datetimes_are_stored_in_utc(tmp_path):
    from datetime import timedelta, timezone

    rows = make_rows(2)
    rows[0]["collected_at"] = datetime(2024, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    rows[1]["collected_at"] = datetime(2024, 1, 1, 12, 0)
    write_release_files(tmp_path, rows)
    got = pq.read_table(tmp_path / "data/part-00000.parquet")["collected_at"].to_pylist()
    assert got == [datetime(2024, 1, 1, 12, 0, tzinfo=UTC)] * 2


def test_duckdb_and_datasets_read_the_shards_as_is(tmp_path):
    import duckdb

    rows = make_rows(30)
    files = _write(tmp_path, rows, shard_bytes=1200)
    pattern = str(tmp_path / "data" / "*.parquet")
    got = duckdb.sql(f"select id, text, n_tokens, collected_at from read_parquet('{pattern}') "
                     "order by id").fetchall()
    assert [g[0] for g in got] == [r["id"] for r in rows]
    assert [g[1] for g in got] == [r["text"] for r in rows]
    assert sum(g[2] for g in got) == files.tokens
    n = duckdb.sql(f"select count(*) from read_parquet('{tmp_path / 'index.parquet'}') i join "
                   f"read_parquet('{pattern}', filename=true) d using (id)").fetchall()
    assert n == [(len(rows),)]

    from datasets import load_dataset

    data_files = sorted(str(tmp_path / f.path) for f in files.files if f.kind == "data")
    ds = load_dataset("parquet", data_files=data_files, split="train",
                      cache_dir=str(tmp_path / "hf-cache"))
    assert ds.num_rows == len(rows)
    assert ds["id"] == [r["id"] for r in rows]
    assert ds["text"] == [r["text"] for r in rows]
    assert ds.features["n_tokens"].dtype == "int64"


def _as_table(rows):
    from reports.release_files import metadata_json

    values = [{**r, "metadata": metadata_json(r.get("metadata"), r["id"])} for r in rows]
    return pa.Table.from_pylist(values, schema=SHARD_SCHEMA)


@pytest.mark.parametrize(("shard_bytes", "row_group_rows", "batch"),
                         [(1500, 8, 7), (1, 3, 5), (10**9, 1000, 40), (700, 4, 1), (2500, 6, 13)])
def test_batches_give_the_bytes_rows_give(tmp_path, shard_bytes, row_group_rows, batch):
    rows = make_rows(60)
    by_row = _write(tmp_path / "rows", rows, shard_bytes, row_group_rows)
    table = _as_table(rows)
    with ReleaseShardWriter(tmp_path / "batches", shard_bytes=shard_bytes,
                            row_group_rows=row_group_rows) as w:
        for start in range(0, len(rows), batch):
            w.add_batch(table.slice(start, batch))
        by_batch = w.finish()
    assert by_batch == by_row
    for f in by_row.files:
        assert file_sha256(tmp_path / "batches" / f.path) == f.sha256, f.path


def test_rows_and_batches_mix_in_order(tmp_path):
    rows = make_rows(30)
    expected = _write(tmp_path / "rows", rows)
    table = _as_table(rows)
    with ReleaseShardWriter(tmp_path / "mixed", shard_bytes=1500, row_group_rows=8) as w:
        for row in rows[:5]:
            w.add(row)
        w.add_batch(table.slice(5, 20))
        for row in rows[25:]:
            w.add(row)
        assert w.finish() == expected


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.slice(1).append_column("x", pa.array([1] * 29)).drop_columns(["url"]),
     "lack the column"),
    (lambda t: pa.concat_tables([t.slice(3), t.slice(0, 3)]), "increasing id order"),
    (lambda t: t.set_column(6, "n_tokens", pa.array([-1] * 30, pa.int64())), "n_tokens"),
    (lambda t: t.set_column(0, "id", pa.array(["a\x00"] * 30)), "NUL"),
    (lambda t: t.set_column(1, "text", pa.array([None] * 30, pa.large_string())), "no text"),
    (lambda t: t.set_column(6, "n_tokens", pa.array(["many"] * 30)), "shard schema"),
])
def test_bad_batches_are_refused(tmp_path, change, message):
    table = change(_as_table(make_rows(30)))
    with ReleaseShardWriter(tmp_path) as w, pytest.raises(ReleaseDataError, match=message):
        w.add_batch(table)
    assert not list(tmp_path.rglob("*.parquet"))
