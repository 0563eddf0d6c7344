"""The data root on object storage: a real S3 API on localhost (moto), on both catalogs.

The same commands on an `s3://` data root and on a local one give byte-identical files
(document shards, decision logs, and `govcat run`'s attribute shards, dedup.parquet and
decision logs); the catalog rows keep paths relative to the root and never
a credential. docs/object-storage.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from catalog.context import Catalog
from catalog.models import Run, Shard
from catalog.settings import Settings
from common.atomic import write_bytes_atomic
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


def _run_outputs(root, run: int) -> dict[str, bytes]:
    """What `govcat run` wrote (attribute shards, dedup.parquet, decision logs), by path
    from the run's folder."""
    root = as_path(root)
    out = {}
    for kind in ("attributes", "decisions"):
        base = root / kind / f"run-{run:06d}"
        out.update({f"{kind}/{p.relative_to(base)}": p.read_bytes()
                    for p in base.rglob("*.parquet")})
    return out


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

    # The readers of decision logs (DuckDB through fsspec, pyarrow) answer as locally.
    listing = ["docs", "list", "--run", str(got["run"]), "--stage", "admission", "--effect",
               "deny", "--jsonl"]
    assert remote(*listing).stdout == local(*listing).stdout
    explain = ["explain", "https://shop.example.com/fr/marche", "--json"]

    def decided(govcat):
        return [(d["stage"], d["effect"], [r["rule"] for r in d["rules"]])
                for d in json.loads(govcat(*explain).stdout)["decisions"]]

    assert decided(remote) == decided(local) and decided(remote)

    # A killed ingest's object that no row points at goes on the source's next ingest.
    orphan = as_path(s3_root) / "shards" / "sample-books" / "run-000099" / "docs-00001.parquet"
    write_bytes_atomic(b"not in the catalog", orphan)
    remote("ingest", "sample-books", str(SAMPLES / "books"))
    assert not orphan.exists()
    assert _files(s3_root).keys() >= set(paths)


def test_what_only_this_machine_uses_stays_in_the_local_home(s3_root, tmp_path):
    from catalog.layout import Layout

    layout = Layout(as_path(s3_root), home=tmp_path)
    shard = layout.document_shard("w", 1, 1)
    assert str(shard) == f"{s3_root}/shards/w/run-000001/docs-00001.parquet"
    assert layout.relative(layout.decision_log(2, "admission")) == (
        "decisions/run-000002/admission.parquet")
    assert layout.locks == tmp_path / "locks" and layout.licence_cache.is_relative_to(tmp_path)
    assert layout.run_spill(2, "bands") == tmp_path / "spill" / "run-000002" / "bands"
    assert tmp_path / "spill" / "run-000002" in layout.run_dirs(2)


def test_a_home_on_a_store_is_one_line(tmp_path):
    from catalog.cli import app

    result = CliRunner().invoke(app, ["--home", "s3://bucket/prefix", "source", "list"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: --home/GOVCAT_HOME must be a local folder (the SQLite catalog, logs and locks "
        "live there); put the data on the store with --data-root/GOVCAT_DATA_ROOT "
        "s3://bucket/prefix"]


@pytest.mark.slow
def test_run_on_s3_gives_the_local_bytes(db_url, s3_root, tmp_path):
    """ingest → gate → `govcat run` on an s3:// data root: the attribute shards, dedup.parquet
    and decision logs are those of a local run, byte for byte."""
    local = _Govcat(f"sqlite:///{tmp_path / 'local.db'}", tmp_path / "local")
    remote = _Govcat(db_url, tmp_path / "home", s3_root)
    runs = {}
    for name, govcat in (("local", local), ("remote", remote)):
        _ingest_and_gate(govcat)
        runs[name] = json.loads(govcat("run", "commercial-strict", "--workers", "1",
                                       "--json").stdout)
    want, got = runs["local"], runs["remote"]
    assert got["funnel"] == want["funnel"] and got["kept"] == want["kept"]
    on_s3 = _run_outputs(s3_root, got["run"])
    on_disk = _run_outputs(tmp_path / "local", want["run"])
    assert sorted(on_s3) == sorted(on_disk)
    assert {"attributes/dedup/dedup.parquet", "decisions/pii.parquet"} <= on_s3.keys()
    assert any(k.startswith("attributes/langid/shard-") for k in on_s3)
    assert on_s3 == on_disk  # byte for byte
    # The run's working files stayed local and are gone; nothing of the data is in the home.
    home = tmp_path / "home"
    assert not (home / "attributes").exists() and not (home / "decisions").exists()
    assert not any(p.is_file() for p in (home / "spill").rglob("*"))
    # Timings for bench/scale_costs.py, and no store credential in what the run recorded.
    catalog = Catalog(Settings(database_url=db_url, home=home))
    with catalog.session() as s:
        run = s.get(Run, got["run"])
        recorded = json.dumps([run.config, run.stats], default=str)
    catalog.dispose()
    assert "govcat-test" not in recorded and "127.0.0.1" not in recorded
    timings = json.loads(recorded)[1]["timings"]
    assert {"admission_s", "langid", "quality", "dedup", "pii"} <= timings.keys()
    assert all(timings[s]["measure_s"] >= 0 and timings[s]["decide_s"] >= 0
               for s in ("langid", "quality", "dedup", "pii"))
    # release cut on both roots: the same files, byte for byte (the manifest differs only in
    # what the clock and the catalog's own history put there); verify reads the store alone.
    cuts = {name: json.loads(govcat("release", "cut", str(runs[name]["run"]), "--name", "web",
                                    "--version", "1.0.0", "--json").stdout)
            for name, govcat in (("local", local), ("remote", remote))}
    assert cuts["remote"]["merkle_root"] == cuts["local"]["merkle_root"]
    release = as_path(s3_root) / "releases" / "web" / "1.0.0"
    remote_files = {str(p.relative_to(release)): p.read_bytes() for p in release.rglob("*")
                    if p.name != "manifest.json"}
    local_release = tmp_path / "local" / "releases" / "web" / "1.0.0"
    local_files = {str(p.relative_to(local_release)): p.read_bytes()
                   for p in local_release.rglob("*") if p.is_file() and p.name != "manifest.json"}
    assert remote_files == local_files and "index.parquet" in remote_files
    assert not (home / "releases").exists()
    verified = json.loads(remote("release", "verify", "web@1.0.0", "--json").stdout)
    assert verified["ok"] and verified["deep"] and verified["folder"] == str(release)
    shard = release / "data" / "part-00000.parquet"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    write_bytes_atomic(bytes(data), shard)
    from catalog.cli import app

    broken = CliRunner().invoke(app, [*remote.args, "release", "verify", str(release)],
                                env={"COLUMNS": "200"})
    assert broken.exit_code == 6 and "data/part-00000.parquet" in broken.output
