"""Executor throughput: the quality stage over N shards, 1 worker vs 2, and Ray's overhead.

    .venv/bin/python bench/executor.py [--shards 8] [--docs 1000] [--workers 2] [--no-ray]

Prints the speed-up pure CPU work gets from the same number of processes right now (the
ceiling on a machine shared with other jobs), then docs/s for the local executor in-process
(workers=1, the baseline) and with a process pool, the speed-up ratio, and for Ray: the time
to start a local instance, the run time on the started instance, and its ratio to the local
pool on the same tasks. Every run writes its own
attribute shards; the script checks that all of them are byte-identical. Figures are noisy on
a shared machine: run it twice.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from common.atomic import file_sha256
from processing.executor import LocalExecutor
from processing.executor.local import default_start_method
from processing.pipeline import ShardTask, StageSpec

WORDS = (
    "the of and to in a is that for it as was with be by on not he this are or his from at "
    "which but have an they you were her she there been one all we their has would when if "
    "data model training license corpus document language quality filter shard catalog"
).split()


def make_text(rng: random.Random, n_bytes: int = 1000) -> str:
    lines, size = [], 0
    while size < n_bytes:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 18)))
        line = line.capitalize() + rng.choice((".", ".", "!", "?", "", "..."))
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)


def make_shards(root: Path, shards: int, docs: int) -> list[Path]:
    rng = random.Random(1234)
    paths = []
    for s in range(shards):
        table = pa.table({
            "id": [f"bench/{s:03d}-{i:06d}" for i in range(docs)],
            "text": [make_text(rng) for _ in range(docs)],
        })
        path = root / "docs" / f"docs-{s:05d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, compression="zstd")
        paths.append(path)
    return paths


def tasks(inputs: list[Path], out: Path) -> list[ShardTask]:
    spec = (StageSpec("quality_v1"),)
    return [ShardTask(p, out / p.name.replace("docs", "attrs"), spec) for p in inputs]


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def available_parallelism(workers: int, n: int = 5_000_000) -> float:
    """Speed-up of pure CPU work on `workers` processes vs one: what the machine gives now."""
    started = time.perf_counter()
    for _ in range(workers):
        _burn(n)
    serial = time.perf_counter() - started
    context = multiprocessing.get_context(default_start_method())
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        list(pool.map(_burn, [1] * workers))  # start the workers outside the timing
        started = time.perf_counter()
        list(pool.map(_burn, [n] * workers))
        parallel = time.perf_counter() - started
    return serial / parallel


def timed(executor, task_list: list[ShardTask]) -> float:
    started = time.perf_counter()
    executor.run(task_list)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--docs", type=int, default=1000, help="documents per shard (~1 KB)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="govcat-bench-executor-"))
    try:
        inputs = make_shards(root, args.shards, args.docs)
        total = args.shards * args.docs
        print(f"{args.shards} shards x {args.docs} docs (~1 KB each), stage quality_v1; "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (others' work)")

        ceiling = available_parallelism(args.workers)
        print(f"pure-CPU speed-up on {args.workers} processes right now (the ceiling): "
              f"x{ceiling:.2f}")

        runs: dict[str, list[ShardTask]] = {}
        runs["local-1"] = tasks(inputs, root / "local-1")
        one = timed(LocalExecutor(workers=1), runs["local-1"])
        runs["local-n"] = tasks(inputs, root / "local-n")
        many = timed(LocalExecutor(workers=args.workers), runs["local-n"])
        print(f"local workers=1 (baseline):  {one:7.2f} s  {total / one:9.0f} docs/s")
        print(f"local workers={args.workers}:            {many:7.2f} s  {total / many:9.0f} docs/s"
              f"  speed-up x{one / many:.2f} (pool start included)")

        if not args.no_ray:
            try:
                import ray
            except ImportError:
                print("ray: not installed (pip install 'govcat[ray]'); skipped")
            else:
                from processing.executor import RayExecutor

                started = time.perf_counter()
                ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
                init = time.perf_counter() - started
                try:
                    runs["ray"] = tasks(inputs, root / "ray")
                    on_ray = timed(RayExecutor(), runs["ray"])
                    runs["ray-again"] = tasks(inputs, root / "ray-again")
                    warm = timed(RayExecutor(), runs["ray-again"])  # stages already loaded
                finally:
                    ray.shutdown()
                print(f"ray start (num_cpus={args.workers}):   {init:7.2f} s")
                print(f"ray run, cold workers:       {on_ray:7.2f} s  {total / on_ray:9.0f} docs/s"
                      f"  vs local pool x{on_ray / many:.2f} time")
                print(f"ray run, warm workers:       {warm:7.2f} s  {total / warm:9.0f} docs/s"
                      f"  vs local pool x{warm / many:.2f} time")

        reference = [file_sha256(t.output_path) for t in runs["local-1"]]
        same = all([file_sha256(t.output_path) for t in ts] == reference for ts in runs.values())
        print(f"attribute shards byte-identical across {', '.join(runs)}: {same}")
        return 0 if same else 1
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
