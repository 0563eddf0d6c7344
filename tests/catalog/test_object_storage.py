"""The data root on object storage: a real S3 API on localhost (moto), on both catalogs.

The same commands on an `s3://` data root and on a local one give byte-identical files
(document shards, decision logs); the catalog rows keep paths relative to the root and never
a credential. docs/object-storage.md.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from catalog.context import Catalog
from catalog.models import Shard
from catalog.settings import Settings
from common.storage import as_path

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"


class _Govcat:
    def __init__(self, db_url: str, home: Path, data_root: str | None = None):
        self.args = ["--db-url", db_url, "--home", str(home)]
        if data_root:
            self.args += ["--data-root", data_root]

    def __call__(self, *args: str):
        from catalog.cli import app

        result = CliRunner().invoke(app, [*self.args, "--actor", "tester", *args],
                                    catch_exceptions=False, env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        return result


def _ingest_and_gate(govcat: _Govcat) -> dict:
    govcat("source", "import", str(SAMPLES / "registry.yaml"))
    for slug in ("sample-crawl", "sample-books"):
        govcat("source", "approve", slug, "--reason", "test")
    govcat("ingest", "sample-crawl", str(SAMPLES / "crawl" / "sample.warc.gz"))
    govcat("ingest", "sample-books", str(SAMPLES / "books"))
    return json.loads(govcat("gate", "commercial-strict", "--json").stdout)


def _files(root) -> dict[str, bytes]:
    root = as_path(root)
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*.parquet")}


def test_ingest_and_gate_on_s3_give_the_local_bytes(db_url, s3_root, tmp_path):
    local = _Govcat(f"sqlite:///{tmp_path / 'local.db'}", tmp_path / "local")
    remote = _Govcat(db_url, tmp_path / "home", s3_root)
    want = _ingest_and_gate(local)
    got = _ingest_and_gate(remote)
    assert {k: v for k, v in got.items() if k != "run"} == {
        k: v for k, v in want.items() if k != "run"}

    on_s3, on_disk = _files(s3_root), _files(tmp_path / "local")
    assert sorted(on_s3) == sorted(on_disk)
    assert any(k.startswith("shards/") for k in on_s3)
    assert any(k.startswith("decisions/") for k in on_s3)
    assert on_s3 == on_disk  # byte for byte
    # Only the local things are in the home: the data went to the store.
    home = tmp_path / "home"
    assert not (home / "shards").exists() and not (home / "decisions").exists()

    # Catalog rows: paths relative to the root, no URL, no key.
    catalog = Catalog(Settings(database_url=db_url, home=home))
    with catalog.session() as s:
        paths = s.execute(select(Shard.path)).scalars().all()
    catalog.dispose()
    assert paths and all(not p.startswith(("s3:", "/")) for p in paths)
    assert all(p in on_s3 for p in paths)

    # Every recorded sha256 checks out against the objects.
    report = json.loads(remote("verify", "--json").stdout)
    assert report["ok"] and report["shards"] == len(paths)
