"""`govcat run --executor ray --ray-address`: attached to a real two-node cluster (on a local
data root and on an s3:// one, moto on localhost), and refused in one line when the address is
wrong."""

from __future__ import annotations

import json
import socket

import pytest

from tests.catalog.test_process import _decision_bytes, _ingest, _run
from tests.ray_cluster import ray_cluster  # noqa: F401  (a fixture)


def _process_runs(cli) -> int:
    from sqlalchemy import func, select

    from catalog.context import Catalog
    from catalog.models import Run
    from catalog.settings import Settings

    cat = Catalog(Settings(database_url=cli.db_url, home=cli.home))
    try:
        with cat.session() as s:
            return s.execute(select(func.count()).select_from(Run)
                             .where(Run.kind == "process")).scalar_one()
    finally:
        cat.dispose()


# Where shards run does not touch the catalog: one backend is enough for this slow test, and
# Postgres is the one a team running a cluster has.
@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_run_on_a_two_node_cluster_gives_the_same_decisions_as_local(
        cli, tmp_path, ray_cluster, monkeypatch):  # noqa: F811  (the fixture)
    ray_cluster.driver_env(monkeypatch)
    _ingest(cli, tmp_path)
    local = _run(cli, "--workers", "1")
    on_cluster = _run(cli, "--executor", "ray", "--ray-address", ray_cluster.address)
    assert on_cluster["run"] != local["run"]  # the executor is not in the key, but a fresh
    assert not on_cluster["resumed"]  # run after a completed one is a new run
    assert on_cluster["funnel"] == local["funnel"]
    assert _decision_bytes(cli, on_cluster["run"]) == _decision_bytes(cli, local["run"])
    assert all(p.poll() is None for p in ray_cluster.processes)  # detached, left running


def _run_outputs(root, run: int) -> dict[str, bytes]:
    from common.storage import as_path

    out = {}
    for kind in ("attributes", "decisions"):
        base = as_path(root) / kind / f"run-{run:06d}"
        out.update({f"{kind}/{p.relative_to(base)}": p.read_bytes()
                    for p in base.rglob("*.parquet")})
    return out


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_run_on_the_cluster_with_an_s3_data_root_gives_the_local_bytes(
        cli, tmp_path, ray_cluster, s3_root, monkeypatch):  # noqa: F811  (the fixture)
    """The nodes have no store variables (tests/ray_cluster.py): the run hands AWS_* with the
    moto endpoint to its tasks, which read document shards from and write attribute shards to
    the store — the same bytes as a local run on a local data root."""
    import os

    from catalog.context import Catalog
    from catalog.models import Run
    from catalog.settings import Settings
    from tests.catalog.test_object_storage import _Govcat

    ray_cluster.driver_env(monkeypatch)
    _ingest(cli, tmp_path)
    local = _run(cli, "--workers", "1")
    s3_catalog = f"sqlite:///{tmp_path / 's3.db'}"  # a catalog of its own for the s3 side
    remote = _Govcat(s3_catalog, tmp_path / "s3-home", s3_root)
    _ingest(remote, tmp_path)
    on_cluster = json.loads(remote("run", "research-permissive", "--json", "--executor", "ray",
                                   "--ray-address", ray_cluster.address).stdout)
    assert on_cluster["funnel"] == local["funnel"]
    got = _run_outputs(s3_root, on_cluster["run"])
    assert any(k.startswith("attributes/pii/shard-") for k in got)
    assert got == _run_outputs(cli.home, local["run"])  # byte for byte
    # The store's keys went to the workers, and nowhere the run records.
    secret = os.environ["AWS_SECRET_ACCESS_KEY"]
    catalog = Catalog(Settings(database_url=s3_catalog, home=tmp_path / "s3-home"))
    with catalog.session() as s:
        row = s.get(Run, on_cluster["run"])
        recorded = json.dumps([row.config, row.stats], default=str)
    catalog.dispose()
    assert secret not in recorded and os.environ["AWS_ENDPOINT_URL"] not in recorded
    # Nor in the cluster's own logs (a runtime_env would be, by Ray's runtime-env agent).
    logs = [p for p in ray_cluster.temp_dir.glob("session_*/logs/**/*") if p.is_file()]
    assert logs and not [p.name for p in logs if secret.encode() in p.read_bytes()]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_an_address_where_nothing_listens_fails_in_one_line_before_any_work(cli, tmp_path):
    pytest.importorskip("ray")
    _ingest(cli, tmp_path)
    port = _closed_port()
    r = cli("run", "research-permissive", "--executor", "ray", "--ray-address",
            f"127.0.0.1:{port}")
    assert r.exit_code == 2
    assert f"cannot reach the Ray cluster at 127.0.0.1:{port}" in r.stderr
    assert "connection refused" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert "Traceback" not in r.output
    assert _process_runs(cli) == 0


def test_a_ray_address_needs_the_ray_executor(cli, tmp_path):
    _ingest(cli, tmp_path)
    r = cli("run", "research-permissive", "--ray-address", "auto")
    assert r.exit_code == 2
    assert "--ray-address needs --executor ray" in r.stderr and r.stderr.count("\n") == 1
    assert _process_runs(cli) == 0
