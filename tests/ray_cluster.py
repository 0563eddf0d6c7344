"""A real two-node Ray cluster on this machine, started once per test session.

`ray start --head` and a second `ray start --address HEAD` run as subprocesses (`--block`,
each in a process group of its own), one CPU each, with a private `--temp-dir` under the
session's tmp dir and a free port for everything a node listens on, so the cluster never
meets another Ray on this machine (never `ray stop`: it stops every Ray here). Both nodes run
this checkout's venv, where govcat is installed editable: that is what makes the project
importable on the workers, as on a real cluster where every node has the same govcat
installed (docs/ray.md). Test modules (the `tests` package) reach the workers through the
driver's `JobConfig(code_search_path=...)`.

Every worker process on the cluster has `GOVCAT_TEST_RAY_NODE_DIR` in its environment; a test
stage that finds it leaves its Ray node id there, which shows where shards ran.

Use it by importing the fixture into a test module: `from tests.ray_cluster import ray_cluster`.
Several modules may import it; the cluster is still started once and stopped at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support import free_port, in_ci

ROOT = Path(__file__).resolve().parents[1]
NODE_DIR_ENV = "GOVCAT_TEST_RAY_NODE_DIR"
# Without it a head picks up a token left in ~/.ray by any earlier local `ray.init()` on this
# machine and its second node, which does not, is refused. Drivers set it too (`driver_env`).
AUTH = {"RAY_AUTH_MODE": "disabled"}
START_TIMEOUT = 120.0  # seconds; Ray's start-up is CPU-heavy on 2 cores
# Unix socket paths (<temp>/session_<date>_<pid>/sockets/plasma_store) must stay under 108.
MAX_TEMP_DIR = 50


@dataclass
class RayCluster:
    address: str  # HOST:PORT of the head's GCS, what `--ray-address` takes
    temp_dir: Path
    node_dir: Path  # where the test stage leaves node ids (NODE_DIR_ENV)
    node_ids: list[str] = field(default_factory=list)  # the two nodes, alive
    processes: list[subprocess.Popen] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    remove_temp_dir: bool = False  # made outside the session's tmp dir (a path too long)

    def driver_env(self, monkeypatch) -> None:
        """The environment a driver of this cluster needs (a test's own process)."""
        for name, value in AUTH.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("RAY_ADDRESS", raising=False)

    def recorded_nodes(self) -> set[str]:
        return {p.name for p in self.node_dir.iterdir()}

    def clear_recorded_nodes(self) -> None:
        for p in self.node_dir.iterdir():
            p.unlink()

    def stop(self) -> None:
        # The worker node first, so that it does not spend its last seconds looking for its head.
        for proc in reversed(self.processes):
            _kill_group(proc)
        self.processes.clear()
        if self.remove_temp_dir:
            shutil.rmtree(self.temp_dir, ignore_errors=True)




def _group_alive(pgid: int) -> bool:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _kill_group(proc: subprocess.Popen) -> None:
    # SIGKILL, not SIGTERM: on SIGTERM the raylet drains itself through a GCS that may already
    # be gone and `ray start --block` then waits for minutes. Nothing here needs a clean exit.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
    deadline = time.monotonic() + 15
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)


def _node_args() -> list[str]:
    ports = ("--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port",
             "--dashboard-agent-grpc-port", "--runtime-env-agent-port", "--metrics-export-port")
    return [arg for name in ports for arg in (name, str(free_port()))]


def _wait_started(proc: subprocess.Popen, log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if "Ray runtime started" in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    raise RuntimeError(f"ray start did not come up (exit {proc.poll()}):\n{tail}")


_WAIT_FOR_NODES = """
import sys, time, ray
ray.init(address=sys.argv[1], include_dashboard=False, log_to_driver=False)
deadline = time.monotonic() + float(sys.argv[3])
while True:
    alive = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
    if len(alive) >= int(sys.argv[2]) or time.monotonic() > deadline:
        break
    time.sleep(0.2)
print(" ".join(alive))
"""


def start_cluster(base: Path) -> RayCluster:
    temp = base / "ray"
    if len(str(temp)) > MAX_TEMP_DIR:
        temp = Path(tempfile.mkdtemp(prefix="govcat-ray-"))
    temp.mkdir(parents=True, exist_ok=True)
    node_dir = base / "ray-nodes"
    node_dir.mkdir(parents=True, exist_ok=True)
    ray_bin = shutil.which("ray", path=str(Path(sys.executable).parent)) or "ray"
    env = {**os.environ, NODE_DIR_ENV: str(node_dir), "RAY_USAGE_STATS_ENABLED": "0", **AUTH}
    env.pop("RAY_ADDRESS", None)
    # Nodes never get the test store's endpoint and keys from here: a run on an s3:// data root
    # must hand them to its tasks itself (docs/ray.md).
    env = {k: v for k, v in env.items() if not k.startswith("AWS_")}
    port = free_port()
    # As a user on the head would type it; Ray itself swaps in the node's own IP.
    cluster = RayCluster(address=f"127.0.0.1:{port}", temp_dir=temp, node_dir=node_dir,
                         remove_temp_dir=temp.parent != base)
    common = ["--num-cpus", "1", "--temp-dir", str(temp), "--disable-usage-stats", "--block",
              "--log-style", "record"]
    nodes = [
        ["--head", "--port", str(port), "--include-dashboard", "false",
         "--dashboard-port", str(free_port())],
        ["--address", cluster.address],
    ]
    deadline = time.monotonic() + START_TIMEOUT
    try:
        for i, args in enumerate(nodes):
            log = base / f"ray-node-{i}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen([ray_bin, "start", *args, *_node_args(), *common],
                                        cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
            cluster.processes.append(proc)
            cluster.logs.append(log)
            _wait_started(proc, log, deadline)
        done = subprocess.run(
            [sys.executable, "-c", _WAIT_FOR_NODES, cluster.address, "2",
             str(max(1.0, deadline - time.monotonic()))],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=START_TIMEOUT)
        cluster.node_ids = done.stdout.split()
        if len(cluster.node_ids) != 2:
            raise RuntimeError(f"the cluster has {len(cluster.node_ids)} alive node(s), not 2: "
                               f"{done.stderr[-2000:]}")
    except BaseException:
        cluster.stop()
        raise
    return cluster


_shared: dict[str, RayCluster] = {}


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory):
    """The session's two-node cluster (skipped without Ray, except under CI=true: failed)."""
    try:
        import ray  # noqa: F401
    except ImportError:
        if in_ci():
            pytest.fail("CI=true and the 'ray' package is not installed", pytrace=False)
        pytest.skip("the 'ray' package is not installed")
    if "cluster" not in _shared:
        _shared["cluster"] = start_cluster(tmp_path_factory.mktemp("cluster"))
    cluster = _shared["cluster"]
    yield cluster
    # Each module that imports this fixture has a session fixture of its own; the first to end
    # stops the cluster, which is at the end of the session for all of them.
    cluster.stop()
