"""common.storage and the atomic writer on a real S3 API (moto on localhost) and locally."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import pyarrow as pa
import pytest

from common import storage
from common.atomic import (
    atomic_path,
    file_sha256,
    stale_temp_files,
    temp_owner,
    write_bytes_atomic,
    write_table_atomic,
)
from common.storage import RemotePath, StorageError, as_path


def test_local_paths_stay_pathlib(tmp_path):
    assert as_path(str(tmp_path)) == tmp_path and isinstance(as_path(tmp_path), Path)
    assert as_path(f"file://{tmp_path}") == tmp_path
    written = write_table_atomic(pa.table({"a": [1, 2]}), tmp_path / "x" / "t.parquet")
    assert written.sha256 == file_sha256(tmp_path / "x" / "t.parquet")
    assert storage.read_table(tmp_path / "x" / "t.parquet").column("a").to_pylist() == [1, 2]
    assert list((tmp_path / "x").iterdir()) == [tmp_path / "x" / "t.parquet"]  # no temp left


def test_remote_path_is_pure_until_asked(s3_root):
    root = as_path(s3_root)
    assert isinstance(root, RemotePath) and str(root) == s3_root
    shard = root / "shards" / "w" / "docs-00001.parquet"
    assert shard.name == "docs-00001.parquet" and shard.suffix == ".parquet"
    assert str(shard.parent) == f"{s3_root}/shards/w"
    assert str(shard.relative_to(root)) == "shards/w/docs-00001.parquet"
    assert pickle.loads(pickle.dumps(shard)) == shard
    with pytest.raises(TypeError):
        open(shard)  # noqa: SIM115 - no __fspath__: never a local file named s3:/...


def test_urls_with_credentials_or_unknown_stores_are_refused():
    with pytest.raises(StorageError, match="not in the URL"):
        as_path("s3://AKIA:secret@bucket/prefix")
    with pytest.raises(StorageError, match="unknown storage protocol"):
        as_path("nosuchstore://bucket/prefix")
    with pytest.raises(StorageError, match="needs a bucket"):
        as_path("s3:///prefix")


def test_a_missing_package_is_named(monkeypatch):
    import importlib

    registry = importlib.import_module("fsspec.registry")  # `fsspec.registry` is a mapping
    # gcsfs is not a dependency; if it happens to be installed, pretend it is not
    monkeypatch.setitem(registry.known_implementations, "gs",
                        {"class": "no_such_module.GCSFileSystem", "err": "Install gcsfs"})
    monkeypatch.delitem(registry._registry, "gs", raising=False)
    with pytest.raises(StorageError, match=r"gs:// data roots need the gcsfs package"):
        as_path("gs://bucket/prefix")


def test_atomic_writes_on_s3(s3_root, tmp_path):
    root = as_path(s3_root)
    table = pa.table({"id": ["a", "b"], "n": [1, 2]})
    written = write_table_atomic(table, root / "t" / "x.parquet")
    local = write_table_atomic(table, tmp_path / "x.parquet")
    assert (written.sha256, written.n_bytes) == (local.sha256, local.n_bytes)
    assert file_sha256(root / "t" / "x.parquet") == written.sha256
    assert (root / "t" / "x.parquet").stat().st_size == written.n_bytes
    assert storage.read_table(root / "t" / "x.parquet").equals(table)
    assert storage.read_schema(root / "t" / "x.parquet").names == ["id", "n"]
    assert storage.parquet_file(root / "t" / "x.parquet").metadata.num_rows == 2

    raw = write_bytes_atomic(b"hello", f"{s3_root}/b/hello.txt")  # a URL string works too
    assert (root / "b" / "hello.txt").read_bytes() == b"hello" and raw.n_bytes == 5

    # A writer that fails leaves nothing under the final key and no local temporary file.
    with pytest.raises(RuntimeError), atomic_path(root / "t" / "broken.parquet") as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert not (root / "t" / "broken.parquet").exists() and not tmp.exists()
    assert [p.name for p in (root / "t").iterdir()] == ["x.parquet"]
    assert stale_temp_files(root / "t" / "x.parquet") == []


def test_listing_and_removing_on_s3(s3_root):
    root = as_path(s3_root)
    for name in ("a/one.parquet", "a/.one.parquet.tmp-123-abcd", "a/b/two.parquet"):
        write_bytes_atomic(b"x", root / name)
    assert root.is_dir() and (root / "a" / "one.parquet").is_file()
    assert [str(p.relative_to(root)) for p in root.rglob("*.parquet")] == [
        "a/b/two.parquet", "a/one.parquet"]
    temps = list(root.rglob(".*.tmp-*"))
    assert [temp_owner(p) for p in temps] == [123]
    temps[0].unlink()
    (root / "a" / "missing").unlink(missing_ok=True)
    assert [p.name for p in root.glob("a/*.parquet")] == ["one.parquet"]
    storage.replace(root / "a" / "one.parquet", root / "c" / "one.parquet")
    assert not (root / "a" / "one.parquet").exists() and (root / "c" / "one.parquet").exists()
    storage.remove_tree(root / "a")
    assert not (root / "a").exists()


def test_duckdb_reads_objects_through_fsspec(s3_root):
    import duckdb

    root = as_path(s3_root)
    write_table_atomic(pa.table({"id": ["a", "b"]}), root / "d.parquet")
    con = duckdb.connect()
    files = storage.duckdb_files(con, [root / "d.parquet", root / "d.parquet"])
    assert con.execute("select count(*) from read_parquet(?)", [files]).fetchone() == (4,)


def test_local_copies_and_walks_on_both(s3_root, tmp_path):
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.arange(4, dtype=np.uint32))
    for root in (as_path(s3_root), tmp_path / "r"):
        write_bytes_atomic(buf.getvalue(), root / "seg" / "a.npy")
        write_bytes_atomic(b"{}", root / "manifest.json")
        with storage.local_file(root / "seg" / "a.npy") as local:
            assert isinstance(local, Path)
            assert np.load(local, mmap_mode="r").tolist() == [0, 1, 2, 3]
        if storage.is_remote(root):
            assert not local.exists()  # the download is removed after use
        else:
            assert local == root / "seg" / "a.npy"  # no copy of a local file
        assert list(storage.walk_files(root)) == ["manifest.json", "seg/a.npy"]
