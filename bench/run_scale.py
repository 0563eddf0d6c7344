"""Memory of `govcat run` against the corpus size: the goal is peak(1M) / peak(100k) flat ± 20%.

    .venv/bin/python -m bench.run_scale [--sizes 100000,1000000] [--workers 2] [--postgres]

For each size, a synthetic corpus of ~1 KB English-like documents is written straight into a
scratch catalog (SQLite by default, Postgres with `--postgres`, bench/_pg.py): document
shards of 20,000 documents and their index rows (the catalog's COPY writer), about 5% near
copies of earlier documents (dedup has clusters to find) and 1% with an e-mail address (pii
has work). Then `govcat run research-permissive` runs in a subprocess of its own and the
bench prints its wall time, documents per second and peak memory.

What is measured, and why two figures:

- `max RSS`: `getrusage(RUSAGE_CHILDREN).ru_maxrss` read by a small wrapper process whose
  only child is that `govcat run` — the largest resident set of any single process among
  govcat and the worker processes of the local executor (the kernel keeps the maximum over
  every waited-for descendant, not a sum).
- `tree RSS`: the sum of VmRSS over govcat and all its descendants, sampled from /proc every
  0.2 s — the memory of the whole run at its peak (Linux only; a sample can miss a short
  spike).

The corpus is built in the bench's own process before the run starts, so building it counts
in neither figure. Run it only on a machine nobody else is measuring on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench._corpus import document_row, write_shards
from bench._pg import scratch_catalog_url
from catalog.context import Catalog
from catalog.models import Run, utcnow
from catalog.services.sources import register_source, validate_source
from catalog.settings import Settings

SHARD = 20_000
GOVCAT = [sys.executable, "-m", "catalog.cli"]
NOUNS = ("river town market farmer cart apple cheese bread square village bridge musician "
         "fountain child stall harvest weather price evening week valley stone arch pier "
         "mason craft road mill school church garden field winter summer letter story").split()
VERBS = ("carried built watched remembered sold found crossed painted followed opened "
         "repaired described").split()


STOP = ("the", "of", "and", "to", "with", "that", "a", "in")
WORDS = NOUNS + VERBS + ("early quiet heavy bright narrow wide green cold warm long short "
                         "busy empty").split()


def _text(rng: random.Random) -> str:
    sentences = []
    for _ in range(rng.randint(9, 14)):
        words = [rng.choice(STOP) if rng.random() < 0.3 else rng.choice(WORDS)
                 for _ in range(rng.randint(8, 16))]
        sentences.append(" ".join(words).capitalize() + ".")
    return " ".join(sentences)


def build(catalog: Catalog, n: int) -> None:
    """n documents of source `bench` in shards of SHARD, indexed; the source approved."""
    with catalog.uow() as uow:
        source = register_source(uow, data=validate_source(
            {"slug": "bench", "kind": "web-crawl", "declared_license": "CC-BY-4.0",
             "tos_verdict": "unrestricted"}))
        uow.commit()
        source_id = source.id
    with catalog.uow() as uow:
        ingest = Run(kind="ingest", source_id=source_id, status="completed", actor="bench",
                     started_at=utcnow(), finished_at=utcnow(), config={})
        uow.session.add(ingest)
        uow.commit()
        run_id = ingest.id
    rng = random.Random(11)
    base = datetime(2025, 1, 1, tzinfo=UTC)
    recent: list[str] = []

    def shards():
        for start in range(0, n, SHARD):
            rows = []
            for i in range(start, min(n, start + SHARD)):
                if recent and rng.random() < 0.05:  # a near copy: one word changed
                    words = rng.choice(recent).split(" ")
                    words[rng.randrange(len(words))] = rng.choice(NOUNS)
                    text = " ".join(words)
                else:
                    text = _text(rng)
                    recent[:] = (recent + [text])[-1000:]
                if i % 100 == 0:
                    text += " Write to jane.doe@example.org for more."
                rows.append(document_row(
                    i, f"bench/{hashlib.sha256(str(i).encode()).hexdigest()[:32]}", text,
                    base + timedelta(minutes=i)))
            yield rows

    write_shards(catalog, source_id, run_id, shards(), lambda text: len(text.split()))


def _tree_rss(pid: int) -> int:
    """VmRSS (bytes) of a process and all its descendants, from /proc."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines()
                          if line.startswith("VmRSS:")) * 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue  # gone, or a kernel thread without VmRSS
    return total


def measure(cmd: list[str]) -> None:
    """The wrapper: run `cmd` as its only child; print wall time and both peaks as JSON."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(cmd, stdout=out)
        tree = 0
        while proc.poll() is None:
            tree = max(tree, _tree_rss(proc.pid))
            time.sleep(0.2)
        out.seek(0)
        text = out.read()
    funnel = ({f["stage"]: f["docs_in"] for f in json.loads(text)["funnel"]}
              if proc.returncode == 0 else {})
    wall = time.perf_counter() - t0
    max_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    print(json.dumps({"rc": proc.returncode, "wall": wall, "max_rss": max_rss,
                      "tree_rss": tree, "docs_in": funnel}))


def one_size(n: int, workers: int, postgres: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="govcat-run-scale-") as tmp:
        home = Path(tmp) / "home"
        with scratch_catalog_url(Path(tmp), postgres=postgres) as url:
            catalog = Catalog(Settings(database_url=url, home=home, actor="bench"))
            t0 = time.perf_counter()
            build(catalog, n)
            catalog.dispose()
            built = time.perf_counter() - t0
            base = [*GOVCAT, "--db-url", url, "--home", str(home), "--actor", "bench"]
            approve = subprocess.run([*base, "source", "approve", "bench", "--reason", "bench"],
                                     capture_output=True, text=True)
            if approve.returncode:
                raise SystemExit(f"source approve failed: {approve.stderr.strip()}")
            run = [*base, "run", "research-permissive", "--workers", str(workers), "--json"]
            out = subprocess.run([sys.executable, "-m", "bench.run_scale", "--measure", "--",
                                  *run], capture_output=True, text=True, check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            if result["rc"]:
                raise SystemExit(f"govcat run exited {result['rc']} at n={n}")
            return {"n": n, "build_s": built, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("cmd", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.cmd)
        return
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    os.environ.setdefault("COLUMNS", "120")
    results = [one_size(n, args.workers, args.postgres) for n in sizes]
    mib = 1 << 20
    print(f"{'docs':>10} {'wall s':>8} {'docs/s':>8} {'max RSS MiB':>12} {'tree RSS MiB':>13}")
    for r in results:
        print(f"{r['n']:>10,} {r['wall']:>8.1f} {r['n'] / r['wall']:>8,.0f} "
              f"{r['max_rss'] / mib:>12.0f} {r['tree_rss'] / mib:>13.0f}  "
              f"docs in per stage: {r['docs_in']}")
    if len(results) >= 2:
        small, large = results[0], results[-1]
        for key, label in (("max_rss", "max RSS"), ("tree_rss", "tree RSS")):
            ratio = large[key] / small[key] if small[key] else float("nan")
            verdict = "flat" if 0.8 <= ratio <= 1.2 else "NOT flat"
            print(f"{label}: peak({large['n']:,}) / peak({small['n']:,}) = {ratio:.2f} "
                  f"(goal 1.00 ± 0.20: {verdict})")


if __name__ == "__main__":
    main()
