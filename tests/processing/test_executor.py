"""Executors: resumable, atomic, and byte-identical across executors and worker counts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from common.atomic import file_sha256, stale_temp_files
from processing.executor import (
    DuplicateOutputError,
    ExecutorError,
    LocalExecutor,
    ShardsFailedError,
    create_executor,
)
from processing.pipeline import ShardResult, ShardTask, StageSpec
from processing.stage import MissingDependencyError, Stage, register
from processing.types import AttributeValue, Document
from tests.ray_cluster import NODE_DIR_ENV, ray_cluster  # noqa: F401  (a fixture)

HERE = __name__
ROOT = Path(__file__).resolve().parents[2]


@register
class SlowLettersStage(Stage):
    """Counts letters, optionally slowly; can fail on one document like a buggy stage would."""

    name = "test_executor_letters_v1"
    attributes = ("letters", "vowel_share", "tags")

    def __init__(self, *, delay: float = 0.0, crash_on: str = "", pid_dir: str = "") -> None:
        super().__init__()
        self.delay = delay
        self.crash_on = crash_on
        if pid_dir:  # lets a test find the worker processes; never part of the output
            Path(pid_dir, str(os.getpid())).touch()
        node_dir = os.environ.get(NODE_DIR_ENV)
        if node_dir:  # a worker of the test cluster: say on which Ray node this shard runs
            import ray

            Path(node_dir, ray.get_runtime_context().get_node_id()).touch()

    def measure(self, doc: Document) -> dict[str, AttributeValue]:
        if self.crash_on and doc.id == self.crash_on:
            raise RuntimeError(f"bug on {doc.id}")
        if self.delay:
            time.sleep(self.delay)
        letters = sum(c.isalpha() for c in doc.text)
        vowels = sum(c in "aeiou" for c in doc.text.lower())
        return {
            "letters": letters,
            "vowel_share": vowels / letters if letters else None,
            "tags": sorted({w[:2] for w in doc.text.split()}),
        }


def letters(**options) -> StageSpec:
    return StageSpec("test_executor_letters_v1", options, module=HERE)


def make_shards(root: Path, n_shards: int = 4, n_docs: int = 30) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in range(n_shards):
        texts = [
            f"Shard {s} document {i}. " + "The quick brown fox jumps over the lazy dog. " * (i % 5)
            + ("\n- a bullet line..." if i % 3 == 0 else "")
            for i in range(n_docs)
        ]
        table = pa.table({"id": [f"t/{s:02d}-{i:04d}" for i in range(n_docs)], "text": texts,
                          "url": [f"https://h{s}.example/{i}" for i in range(n_docs)]})
        path = root / f"docs-{s:05d}.parquet"
        pq.write_table(table, path)
        paths.append(path)
    return paths


def tasks_for(inputs: list[Path], out: Path, *stages) -> list[ShardTask]:
    stages = stages or ("quality_v1", letters())
    return [ShardTask(p, out / p.name.replace("docs", "attrs"), stages) for p in inputs]


def digests(tasks: list[ShardTask]) -> list[str]:
    return [file_sha256(t.output_path) for t in tasks]


class Recorder:
    """Stands in for the catalog: what `done` was told, in the order it was told."""

    def __init__(self) -> None:
        self.results: list[ShardResult] = []

    def __call__(self, result: ShardResult) -> None:
        self.results.append(result)

    def expected(self) -> dict[str, str]:
        return {r.output_path: r.sha256 for r in self.results}


# --------------------------------------------------------------------------- equivalence
def test_one_worker_and_two_workers_write_identical_shards(tmp_path):
    inputs = make_shards(tmp_path / "in")
    one, two = tasks_for(inputs, tmp_path / "w1"), tasks_for(inputs, tmp_path / "w2")
    rec1, rec2 = Recorder(), Recorder()
    seen: list[int] = []
    report1 = LocalExecutor(workers=1).run(one, done=rec1)
    report2 = LocalExecutor(workers=2).run(two, done=rec2, progress=seen.append)
    assert digests(one) == digests(two)
    assert [r.sha256 for r in report1.completed] == [r.sha256 for r in report2.completed]
    # The report is in task order whatever order the shards finished in.
    assert [r.output_path for r in report2.completed] == [t.output_path for t in two]
    assert sorted(r.output_path for r in rec2.results) == [t.output_path for t in two]
    assert sum(seen) == report2.rows == 4 * 30
    table = pq.read_table(two[0].output_path)
    assert table.column("id").to_pylist() == [f"t/00-{i:04d}" for i in range(30)]
    assert {"letters", "gopher_word_count", "quality_v1_error"} <= set(table.column_names)


def test_stages_load_once_per_worker_process(tmp_path):
    inputs = make_shards(tmp_path / "in", n_shards=6, n_docs=5)
    pids = tmp_path / "pids"
    pids.mkdir()
    tasks = tasks_for(inputs, tmp_path / "out", letters(pid_dir=str(pids)))
    LocalExecutor(workers=2).run(tasks)
    assert 1 <= len(list(pids.iterdir())) <= 2  # one build per worker, not one per shard


# ------------------------------------------------------------------------------ resuming
def test_resume_recomputes_only_what_is_missing_or_unrecorded(tmp_path):
    inputs = make_shards(tmp_path / "in", n_shards=5)
    tasks = tasks_for(inputs, tmp_path / "out")
    first = Recorder()
    LocalExecutor(workers=1).run(tasks, done=first)
    reference = digests(tasks)
    expected = first.expected()

    Path(tasks[1].output_path).unlink()  # lost
    Path(tasks[2].output_path).write_bytes(b"PAR1 truncated garbage")  # a wrong file
    del expected[tasks[3].output_path]  # written, but the run died before it was recorded
    Path(tasks[3].output_path).write_bytes(b"")

    again = Recorder()
    report = LocalExecutor(workers=2).run(tasks, done=again, expected=expected)
    assert [r.output_path for r in report.completed] == [t.output_path for t in tasks[1:4]]
    assert [t.output_path for t in report.skipped] == [tasks[0].output_path, tasks[4].output_path]
    assert sorted(r.output_path for r in again.results) == [t.output_path for t in tasks[1:4]]
    assert digests(tasks) == reference

    # With everything recorded nothing runs; without skipping everything does.
    assert LocalExecutor(workers=1).run(tasks, expected=reference_map(tasks)).completed == []
    redo = LocalExecutor(workers=1).run(tasks, expected=reference_map(tasks), skip_existing=False)
    assert len(redo.completed) == 5 and digests(tasks) == reference


def reference_map(tasks: list[ShardTask]) -> dict[str, str]:
    return {t.output_path: file_sha256(t.output_path) for t in tasks}


def test_a_failing_shard_does_not_stop_the_others(tmp_path):
    inputs = make_shards(tmp_path / "in", n_shards=3)
    tasks = tasks_for(inputs, tmp_path / "out", letters(crash_on="t/01-0007"))
    for workers in (1, 2):
        rec = Recorder()
        with pytest.raises(ShardsFailedError, match="1 of 3 shards failed") as caught:
            LocalExecutor(workers=workers).run(tasks, done=rec)
        report = caught.value.report
        assert [f.task.input_path for f in report.failed] == [str(inputs[1])]
        assert "RuntimeError: bug on t/01-0007" in report.failed[0].error
        assert sorted(r.output_path for r in rec.results) == [tasks[0].output_path,
                                                              tasks[2].output_path]
        assert not Path(tasks[1].output_path).exists()


def test_two_tasks_writing_one_file_are_refused(tmp_path):
    inputs = make_shards(tmp_path / "in", n_shards=2, n_docs=2)
    out = tmp_path / "same.parquet"
    tasks = [ShardTask(p, out, ("quality_v1",)) for p in inputs]
    with pytest.raises(DuplicateOutputError, match="both write"):
        LocalExecutor(workers=1).run(tasks)


def test_executor_by_name_and_bad_settings():
    assert isinstance(create_executor("local", workers=1), LocalExecutor)
    assert create_executor().workers == (os.cpu_count() or 1)
    with pytest.raises(ExecutorError, match="unknown executor 'dask'; known executors: local, ray"):
        create_executor("dask")
    with pytest.raises(ExecutorError, match="workers must be >= 1"):
        LocalExecutor(workers=0)
    with pytest.raises(ExecutorError, match="fork"):
        LocalExecutor(workers=2, start_method="fork")


# ------------------------------------------------------------------------- crash safety
def run_script(body: str, tmp_path: Path, name: str) -> Path:
    script = tmp_path / name
    script.write_text(textwrap.dedent(body))
    return script


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def test_kill_during_write_leaves_a_temp_file_never_a_partial_output(tmp_path):
    inputs = make_shards(tmp_path / "in", n_shards=1)
    task = tasks_for(inputs, tmp_path / "out")[0]
    # A real kill -9 at the worst moment: the data is written, the rename has not happened.
    script = run_script(f"""
        import os, signal
        from processing.pipeline import ShardTask, StageSpec, run_shard

        def die(fd):
            os.kill(os.getpid(), signal.SIGKILL)

        os.fsync = die
        run_shard(ShardTask({task.input_path!r}, {task.output_path!r}, {task.stages!r}))
    """, tmp_path, "crash.py")
    proc = subprocess.run([sys.executable, str(script)], env=child_env(), cwd=ROOT, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not Path(task.output_path).exists()
    left = stale_temp_files(task.output_path)
    assert len(left) == 1 and left[0].stat().st_size > 0

    report = LocalExecutor(workers=1).run([task])
    assert Path(task.output_path).exists() and stale_temp_files(task.output_path) == []
    assert report.completed[0].sha256 == file_sha256(task.output_path)
    assert pq.read_table(task.output_path).num_rows == 30


def test_kill_9_of_a_running_executor_then_rerun_gives_the_uninterrupted_output(tmp_path):
    inputs = make_shards(tmp_path / "in", n_shards=6, n_docs=8)
    pids = tmp_path / "pids"
    pids.mkdir()
    stage = letters(delay=0.02, pid_dir=str(pids))
    reference = tasks_for(inputs, tmp_path / "ref", stage)
    LocalExecutor(workers=1).run(reference)

    tasks = tasks_for(inputs, tmp_path / "out", stage)
    records = tmp_path / "records.jsonl"
    script = run_script(f"""
        import json, os, sys
        from processing.executor import LocalExecutor
        from processing.pipeline import ShardTask, StageSpec

        def record(result):  # the catalog's part: note the shard after it is complete
            with open({str(records)!r}, "a") as fh:
                fh.write(json.dumps(result.to_dict()) + "\\n")
                fh.flush()
                os.fsync(fh.fileno())

        if __name__ == "__main__":
            tasks = {tasks!r}
            LocalExecutor(workers=2).run(tasks, done=record)
    """, tmp_path, "runner.py")
    proc = subprocess.Popen([sys.executable, str(script)], env=child_env(), cwd=ROOT)
    deadline = time.monotonic() + 60
    while not (records.exists() and records.read_text().count("\n") >= 1):
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    # Workers notice their parent died and stop rather than finish unrecorded shards.
    workers = [int(p.name) for p in pids.iterdir() if int(p.name) != os.getpid()]
    assert workers
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "a worker outlived its killed parent"
        time.sleep(0.05)

    recorded = [json.loads(line) for line in records.read_text().splitlines()]
    assert 1 <= len(recorded) < len(tasks)
    for task in tasks:  # whatever is at a final name is a complete, readable shard
        if Path(task.output_path).exists():
            assert pq.read_table(task.output_path).num_rows == 8

    expected = {r["output_path"]: r["sha256"] for r in recorded}
    report = LocalExecutor(workers=2).run(tasks, expected=expected)
    assert len(report.skipped) == len(recorded)
    assert len(report.completed) == len(tasks) - len(recorded)
    assert digests(tasks) == digests(reference)
    assert all(stale_temp_files(t.output_path) == [] for t in tasks)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# ----------------------------------------------------------------------------------- Ray
def test_ray_executor_without_ray_says_what_to_install(tmp_path):
    script = run_script("""
        import sys
        sys.modules["ray"] = None  # as if ray were not installed
        from processing.executor import RayExecutor
        from processing.stage import MissingDependencyError
        try:
            RayExecutor()
        except MissingDependencyError as exc:
            print(exc)
    """, tmp_path, "noray.py")
    out = subprocess.run([sys.executable, str(script)], env=child_env(), cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert "pip install 'govcat[ray]'" in out.stdout, out.stderr
    assert issubclass(MissingDependencyError, ImportError)


def test_ray_executor_refuses_an_address_before_any_work(monkeypatch):
    pytest.importorskip("ray")
    import socket

    from processing.executor import RayExecutor

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with socket.socket() as s:
        s.bind(("", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    # Ray itself would retry this address for minutes; the executor says so at once.
    with pytest.raises(ExecutorError, match=rf"cannot reach the Ray cluster at 127\.0\.0\.1:{port}"
                       r" .*connection refused"):
        RayExecutor(address=f"127.0.0.1:{port}")
    for bad in ("head-without-port", "host:notaport", "ray://"):
        with pytest.raises(ExecutorError, match="is not auto, HOST:PORT or ray://HOST:PORT"):
            RayExecutor(address=bad)
    with pytest.raises(ExecutorError, match="the Ray address is empty"):
        RayExecutor(address=" ")


def test_a_ray_client_address_without_ray_client_says_what_to_install():
    pytest.importorskip("ray")
    import importlib.util

    from processing.executor import RayExecutor

    if importlib.util.find_spec("grpc") is not None:
        pytest.skip("ray[client] is installed here")
    with pytest.raises(MissingDependencyError, match=r"pip install 'ray\[client\]'"):
        RayExecutor(address="ray://127.0.0.1:10001")


@pytest.mark.slow
def test_ray_executor_on_a_two_node_cluster_writes_the_same_bytes_as_local(
        tmp_path, ray_cluster, monkeypatch):  # noqa: F811  (the fixture)
    import ray
    from ray.job_config import JobConfig

    from processing.executor import RayExecutor

    assert not ray.is_initialized()
    inputs = make_shards(tmp_path / "in", n_shards=4)
    # A little work per document, so that shards overlap and the head's one CPU is busy when
    # the next shard is placed: Ray then sends it to the other node.
    stages = ("quality_v1", letters(delay=0.005))
    local = tasks_for(inputs, tmp_path / "local", *stages)
    on_ray = tasks_for(inputs, tmp_path / "ray", *stages)
    LocalExecutor(workers=2).run(local)
    # One more shard that fails on Ray: it is reported with its own error, the others finish.
    broken = tasks_for(inputs[:1], tmp_path / "broken", letters(crash_on="t/00-0003"))
    rec = Recorder()
    # "auto" finds the cluster through RAY_ADDRESS, as on a node of a real cluster.
    ray_cluster.driver_env(monkeypatch)
    monkeypatch.setenv("RAY_ADDRESS", ray_cluster.address)
    ray_cluster.clear_recorded_nodes()
    executor = RayExecutor(address="auto", init_options={
        "log_to_driver": False,
        # The test module is not installed: its folder goes on the workers' import path.
        "job_config": JobConfig(code_search_path=[str(ROOT)]),
    })
    with pytest.raises(ShardsFailedError, match="1 of 5 shards failed") as caught:
        executor.run([*on_ray, *broken], done=rec)
    report = caught.value.report
    assert "RuntimeError: bug on t/00-0003" in report.failed[0].error
    assert digests(on_ray) == digests(local)
    assert [r.output_path for r in report.completed] == [t.output_path for t in on_ray]
    assert sorted(r.output_path for r in rec.results) == [t.output_path for t in on_ray]
    # Shards ran on both nodes of the cluster, each a raylet of its own.
    assert ray_cluster.recorded_nodes() == set(ray_cluster.node_ids)
    assert len(ray_cluster.node_ids) == 2
    assert not ray.is_initialized()  # we attached, so we detached
    assert all(p.poll() is None for p in ray_cluster.processes)  # and the cluster runs on
