"""Per-core costs of each stage, Postgres bytes per document, files per prefix: the inputs of
docs/scale.md.

    .venv/bin/python -m bench.scale_costs [--n 200000] [--shard-docs 20000] [--pg-rows 200000]
                                          [--postgres] [--json]

1. A synthetic corpus (bench/run_scale.py's builder: ~1 KB English-like documents, 5% near
   copies, 1% with an e-mail address) goes into a scratch catalog (SQLite, or Postgres with
   `--postgres`), then `govcat run research-permissive --workers 1` (the local executor runs
   the shards in its own process: one core) and `govcat release cut` run in subprocesses.
2. Stage times are what the run measured (`stats["timings"]`, catalog/services/process.py):
   `admission_s` (bucketing the admitted documents by shard), and per stage `measure_s` (the
   per-shard work an executor spreads over workers; dedup's clustering) and `decide_s` (the
   policy in the driver, plus merging the log). The gate's seconds come from its run's start
   and finish. A run recorded before the run kept timings falls back to its timestamps: the
   `created_at` of every shard it records (each attribute shard when written, each stage's
   decision log when complete); a stage's window runs from the previous stage's log to its
   own, `measure` ending at its last attribute shard; the admission bucketing is estimated as
   the gap from the gate to langid's first shard minus one langid shard's time (2+ shards).
3. Postgres: index rows of bench/index_insert.py go into a scratch schema with the catalog's
   COPY writer (rows/s), then, after VACUUM ANALYZE, `pg_total_relation_size` and each
   index's size give the bytes per document; the same for release_members rows (the one other
   table with a row per document, per release).
4. Files: every file under the run's data root, counted and summed per prefix.

Peak memory comes from bench/run_scale.py's wrapper (`max RSS`, `tree RSS`). With one worker
the figures are per core, except that pyarrow's threads and the cut's compression thread may
use a second core: the CPU seconds of the run (user + sys of the subprocess tree) are printed
beside the wall seconds. Run full sizes only on a machine nobody else is measuring on.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from bench import run_scale
from bench._pg import scratch_catalog_url, scratch_postgres_url
from bench.index_insert import batches as index_batches
from bench.index_insert import scratch_source, timed
from catalog.context import Catalog
from catalog.index_writer import copy_tuples, insert_documents
from catalog.models import Document, Release, ReleaseMember, Run, Shard, utcnow
from catalog.settings import Settings
from catalog.timeutil import as_utc

STAGES = ("langid", "quality", "dedup", "pii")
POLICY = "research-permissive"


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _govcat(base: list[str], *args: str, memory: bool = True) -> dict[str, Any]:
    """Run one govcat command: wall and CPU seconds; with `memory`, under run_scale's wrapper
    (peak RSS; it reads `govcat run`'s JSON, so only for the run)."""
    cpu0, t0 = _cpu_children(), time.perf_counter()
    wrap = [sys.executable, "-m", "bench.run_scale", "--measure", "--"] if memory else []
    out = subprocess.run([*wrap, *base, *args], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode:
        raise SystemExit(f"govcat {' '.join(args[:2])} failed: {out.stderr.strip()[-400:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1]) if memory else {"rc": 0}
    if result["rc"]:
        raise SystemExit(f"govcat {' '.join(args[:2])} exited {result['rc']}")
    return {"wall": wall, "max_rss": None, "tree_rss": None, **result,
            "cpu_s": _cpu_children() - cpu0}


def _seconds(a: datetime, b: datetime) -> float:
    return (as_utc(b) - as_utc(a)).total_seconds()


def stage_windows(catalog: Catalog) -> dict[str, Any]:
    """Per stage: documents in, seconds (measure, decide) from the recorded timestamps."""
    with catalog.session() as s:
        proc = s.execute(select(Run).where(Run.kind == "process")
                         .order_by(Run.id.desc())).scalars().first()
        gate = s.get(Run, proc.config["gate_run"])
        cut = s.execute(select(Run).where(Run.kind == "release")
                        .order_by(Run.id.desc())).scalars().first()
        shards = s.execute(select(Shard).where(Shard.run_id == proc.id)).scalars().all()
        text_bytes = s.execute(text("select coalesce(sum(n_bytes), 0) from documents")
                               ).scalar_one()
    docs_in = {f["stage"]: f["docs_in"] for f in proc.stats["funnel"]}
    timings = proc.stats.get("timings")
    attrs: dict[str, list[datetime]] = defaultdict(list)
    logs: dict[str, datetime] = {}
    for sh in shards:
        if sh.kind == "attributes":
            attrs[sh.stage].append(sh.created_at)
        elif sh.kind == "decisions":
            logs[sh.stage] = sh.created_at
    out: dict[str, Any] = {
        "gate": {"docs": docs_in["admission"], "seconds": _seconds(gate.started_at,
                                                                    gate.finished_at)}}
    if timings:
        out["admission"] = {"docs": docs_in["admission"], "seconds": timings["admission_s"]}
        for stage in STAGES:
            t = timings.get(stage) or {"measure_s": 0.0, "decide_s": 0.0}  # nothing reached it
            out[stage] = {"docs": docs_in[stage], "seconds": t["measure_s"] + t["decide_s"],
                          "measure_s": t["measure_s"], "decide_s": t["decide_s"],
                          "shards": len(attrs[stage])}
    else:
        _estimate_windows(out, gate, attrs, logs, docs_in)
    out["run_tail"] = {"seconds": _seconds(logs["pii"], proc.finished_at)}
    out["run_total"] = {"docs": docs_in["admission"],
                        "seconds": _seconds(proc.started_at, proc.finished_at)}
    if cut is not None and cut.finished_at is not None:
        out["release_cut"] = {"docs": proc.stats["kept"],
                              "seconds": _seconds(cut.started_at, cut.finished_at)}
    for w in out.values():
        if w.get("docs") and w["seconds"] > 0:
            w["docs_per_core_s"] = w["docs"] / w["seconds"]
            w["core_hours_per_1e9"] = 1e9 / w["docs_per_core_s"] / 3600
    return {"stages": out, "text_bytes": int(text_bytes), "run_id": proc.id,
            "timings": "recorded" if timings else "estimated from timestamps"}


def _estimate_windows(out: dict[str, Any], gate: Run, attrs: dict[str, list[datetime]],
                      logs: dict[str, datetime], docs_in: dict[str, int]) -> None:
    """Stage windows from the recorded timestamps, for a run that recorded no timings."""
    langid = sorted(attrs["langid"])
    gap = _seconds(gate.finished_at, langid[0])
    if len(langid) >= 2:
        per_shard = _seconds(langid[0], langid[-1]) / (len(langid) - 1)
        out["admission"] = {"docs": docs_in["admission"], "seconds": max(0.0, gap - per_shard),
                            "estimate": True}
        start = gate.finished_at
        admission = out["admission"]["seconds"]
    else:  # one shard: the bucketing cannot be told from the first shard's work
        start, admission = gate.finished_at, 0.0
    for stage in STAGES:
        last_attr = max(attrs[stage], default=start)  # no shard: nothing reached it
        measure = _seconds(start, last_attr) - (admission if stage == "langid" else 0.0)
        decide = _seconds(last_attr, logs[stage])
        out[stage] = {"docs": docs_in[stage], "seconds": measure + decide,
                      "measure_s": measure, "decide_s": decide, "shards": len(attrs[stage])}
        start = logs[stage]


def _category(rel: Path) -> str:
    parts = rel.parts
    if parts[0] == "shards":
        return "shards/<source>/run-N (document shards)"
    if parts[0] == "attributes" and len(parts) > 3:
        if parts[2] == "spill":
            name = parts[3]
            if name == "dedup-bands":
                kind = parts[-1].split("-")[0]  # bands, exact or documents, one per shard
                return f"attributes/run-N/spill/dedup-bands ({kind})"
            return f"attributes/run-N/spill/{name}"
        return f"attributes/run-N/{parts[2]}"
    if parts[0] == "decisions":
        return "decisions/run-N"
    if parts[0] == "releases":
        return "releases/<name>/<version>"
    return parts[0]


def file_counts(root: Path, pattern: str = "*") -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"files": 0, "bytes": 0})
    for folder in root.glob(pattern):
        for path in folder.rglob("*"):
            try:
                if path.is_file():
                    size = path.stat().st_size
                    c = counts[_category(path.relative_to(root))]
                    c["files"] += 1
                    c["bytes"] += size
            except FileNotFoundError:
                continue  # a spill file renamed or removed while being counted
    return dict(sorted(counts.items()))


class SpillWatch(threading.Thread):
    """The run removes its spill folder when it completes: its peak files and bytes per
    folder (and in all) are sampled while it runs."""

    def __init__(self, root: Path, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.root, self.every = root, every
        self.peak: dict[str, dict[str, int]] = {}
        self.peak_total = {"files": 0, "bytes": 0}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every):
            now = file_counts(self.root, "attributes/run-*/spill")
            for cat, c in now.items():
                p = self.peak.setdefault(cat, {"files": 0, "bytes": 0})
                p["files"], p["bytes"] = max(p["files"], c["files"]), max(p["bytes"], c["bytes"])
            for key in ("files", "bytes"):
                self.peak_total[key] = max(self.peak_total[key],
                                           sum(c[key] for c in now.values()))

    def stop(self) -> dict[str, Any]:
        self.done.set()
        self.join()
        return {"peak_by_folder": dict(sorted(self.peak.items())), "peak_total": self.peak_total}


def postgres_bytes(n: int, batch: int) -> dict[str, Any]:
    """COPY rows/s and bytes per row of documents and release_members in a scratch schema."""
    from catalog.services.release_cut import MEMBER_COPY_TYPES

    with scratch_postgres_url() as url:
        cat = Catalog(Settings(database_url=url, actor="bench"))
        documents = index_batches(n, scratch_source(cat), "c", batch)
        copy_s = timed(cat, documents, insert_documents)
        with cat.uow() as uow:
            process = Run(kind="process", status="completed", actor="bench",
                          started_at=utcnow(), config={})
            uow.session.add(process)
            uow.session.flush()
            release = Release(name="bench", version="1.0.0", run_id=process.id, path="r",
                              manifest_sha256="", merkle_root="", optouts_up_to=utcnow(),
                              actor="bench", created_at=utcnow())
            uow.session.add(release)
            uow.commit()
            release_id = release.id
        # MEMBER_COPY_TYPES' column order: release, document, content hash, tokens
        members = [(release_id, r["id"], r["content_sha256"], r["n_tokens"]) for b in documents
                   for r in b]
        t0 = time.perf_counter()
        for i in range(0, n, batch):
            with cat.uow() as uow:
                copy_tuples(uow.session, ReleaseMember.__table__, MEMBER_COPY_TYPES,
                            members[i:i + batch])
                uow.commit()
        member_s = time.perf_counter() - t0
        sizes: dict[str, Any] = {}
        with cat.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in (Document.__tablename__, ReleaseMember.__tablename__):
                conn.execute(text(f"VACUUM ANALYZE {table}"))
                total = conn.execute(text("select pg_total_relation_size(cast(:t as regclass))"),
                                     {"t": table}).scalar_one()
                heap = conn.execute(text("select pg_table_size(cast(:t as regclass))"),
                                    {"t": table}).scalar_one()
                indexes = dict(conn.execute(text(
                    "select indexrelname, pg_relation_size(indexrelid) from pg_stat_user_indexes"
                    " where relname = :t order by indexrelname"), {"t": table}).all())
                sizes[table] = {"rows": n, "total_per_row": total / n, "heap_per_row": heap / n,
                                "indexes_per_row": {k: v / n for k, v in indexes.items()}}
        cat.dispose()
    return {"copy_rows_per_s": n / copy_s, "member_copy_rows_per_s": n / member_s,
            "batch": batch, **sizes}


def measure(n: int, shard_docs: int, postgres: bool) -> dict[str, Any]:
    run_scale.SHARD = shard_docs  # the builder reads its shard size from the module
    with tempfile.TemporaryDirectory(prefix="govcat-scale-costs-") as tmp:
        home = Path(tmp) / "home"
        with scratch_catalog_url(Path(tmp), postgres=postgres) as url:
            catalog = Catalog(Settings(database_url=url, home=home, actor="bench"))
            run_scale.build(catalog, n)
            base = [*run_scale.GOVCAT, "--db-url", url, "--home", str(home), "--actor", "bench"]
            approve = subprocess.run([*base, "source", "approve", "bench", "--reason", "bench"],
                                     capture_output=True, text=True)
            if approve.returncode:
                raise SystemExit(f"source approve failed: {approve.stderr.strip()}")
            watch = SpillWatch(home)
            watch.start()
            try:
                run = _govcat(base, "run", POLICY, "--workers", "1", "--json")
            finally:
                spill = watch.stop()
            cut = _govcat(base, "release", "cut", "latest", "--name", "scale", "--version",
                          "1.0.0", "--json", memory=False)
            windows = stage_windows(catalog)
            catalog.dispose()
            files = file_counts(home)
    return {"n": n, "shard_docs": shard_docs, "catalog": "postgres" if postgres else "sqlite",
            "run": {k: run[k] for k in ("wall", "cpu_s", "max_rss", "tree_rss")},
            "cut": {k: cut[k] for k in ("wall", "cpu_s", "max_rss", "tree_rss")},
            **windows, "files": files, "spill": spill}


def report(result: dict[str, Any]) -> None:
    n, mb = result["n"], result["text_bytes"] / 1e6
    print(f"{n:,} documents, {mb:,.1f} MB of text ({result['text_bytes'] / n:,.0f} B/doc), "
          f"shards of {result['shard_docs']:,}, catalog {result['catalog']}, one worker; "
          f"stage times {result['timings']}")
    print(f"{'stage':<12} {'docs':>9} {'seconds':>8} {'measure':>8} {'decide':>7} "
          f"{'docs/core-s':>12} {'MB/core-s':>10} {'core-h per 1e9':>15}")
    for stage, w in result["stages"].items():
        if "docs" not in w or not w["seconds"]:
            print(f"{stage:<12} {'':>9} {w['seconds']:>8.2f}")
            continue
        rate = w["docs_per_core_s"]
        est = " (estimate)" if w.get("estimate") else ""
        split = (f"{w['measure_s']:>8.2f} {w['decide_s']:>7.2f}" if "measure_s" in w
                 else f"{'':>8} {'':>7}")
        print(f"{stage:<12} {w['docs']:>9,} {w['seconds']:>8.2f} {split} "
              f"{rate:>12,.0f} {rate * result['text_bytes'] / n / 1e6:>10.2f} "
              f"{1e9 / rate / 3600:>15,.0f}{est}")
    mib = 1 << 20
    for name in ("run", "cut"):
        r = result[name]
        rss = (f", max RSS {r['max_rss'] / mib:,.0f} MiB, tree RSS {r['tree_rss'] / mib:,.0f}"
               " MiB" if r["max_rss"] else "")
        print(f"govcat {name}: wall {r['wall']:.1f} s, CPU {r['cpu_s']:.1f} s "
              f"({r['cpu_s'] / r['wall']:.2f} cores){rss}")
    print(f"\n{'files under the data root':<52} {'files':>7} {'bytes':>12} {'B/doc':>8}")
    for cat, c in result["files"].items():
        print(f"{cat:<52} {c['files']:>7,} {c['bytes']:>12,} {c['bytes'] / n:>8,.1f}")
    spill = result["spill"]
    print(f"{'spill at its peak (removed when the run completes)':<52}")
    for cat, c in spill["peak_by_folder"].items():
        print(f"  {cat:<50} {c['files']:>7,} {c['bytes']:>12,} {c['bytes'] / n:>8,.1f}")
    t = spill["peak_total"]
    print(f"  {'all spill folders at once':<50} {t['files']:>7,} {t['bytes']:>12,} "
          f"{t['bytes'] / n:>8,.1f}")
    pg = result.get("postgres")
    if pg:
        print(f"\nPostgres COPY: documents {pg['copy_rows_per_s']:,.0f} rows/s, release_members "
              f"{pg['member_copy_rows_per_s']:,.0f} rows/s (batches of {pg['batch']:,})")
        for table in ("documents", "release_members"):
            t = pg[table]
            idx = ", ".join(f"{k} {v:.0f}" for k, v in t["indexes_per_row"].items())
            print(f"{table}: {t['total_per_row']:.0f} B/row total ({t['rows']:,} rows): heap "
                  f"{t['heap_per_row']:.0f}; indexes {idx}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="documents in the run")
    parser.add_argument("--shard-docs", type=int, default=run_scale.SHARD,
                        help="documents per document shard")
    parser.add_argument("--pg-rows", type=int, default=200_000,
                        help="index rows for the Postgres bytes and COPY figures (0: skip)")
    parser.add_argument("--pg-batch", type=int, default=20_000)
    parser.add_argument("--postgres", action="store_true", help="the run's catalog on Postgres")
    parser.add_argument("--json", action="store_true", help="print the JSON blob only")
    args = parser.parse_args()
    os.environ.setdefault("COLUMNS", "120")
    result = measure(args.n, args.shard_docs, args.postgres)
    if args.pg_rows:
        result["postgres"] = postgres_bytes(args.pg_rows, args.pg_batch)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        report(result)


if __name__ == "__main__":
    main()
