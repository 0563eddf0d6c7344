"""Cutting and verifying a release, against bare baselines measured in the same process.

    .venv/bin/python -m bench.release_cut [--n 200000] [--postgres]

Builds a completed processing run of `--n` ~1 KB documents directly in a scratch catalog
(SQLite by default, Postgres with `--postgres`): document shards of 20,000 documents, their
index rows (the catalog's COPY writer), a gate run admitting all, a processing run whose pii
log keeps 90% (1% of them with an e-mail span to redact), langid attributes and dedup
attributes with MinHash signatures. Then:

1. `release cut` of that run (text shards, index, decision log, exclusions, manifest,
   catalog rows with the membership, dedup index) vs the baseline: a bare pyarrow copy of the
   same kept rows (read the shards, keep the ids, sort by id, write zstd Parquet). Goal ≤ 2×.
2. `release verify` (deep: every file hash and every document's text hash; and quick: file
   hashes only) vs `sha256sum` over the same files. Goal ≤ 1.5×.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench._corpus import document_row, write_shards
from bench._pg import scratch_catalog_url
from catalog.context import Catalog
from catalog.models import Run, Shard, utcnow
from catalog.services import policies as policy_store
from catalog.services import release_cut
from catalog.services.sources import register_source, validate_source
from catalog.settings import Settings
from common.atomic import write_table_atomic
from policies.decision_log import DecisionLogWriter

SHARD = 20_000
WORDS = ("river town market farmers carts apples cheese bread square people villages "
         "bargaining bridge musicians fountain children stalls harvest weather prices evening "
         "quiet week faces valley remember stone arches piers masons craft").split()


class _D:
    def __init__(self, effect, redact=(), placeholder=""):
        self.effect, self.rule_ids, self.default_applied = effect, (), True
        self.redact, self.placeholder, self.errors = redact, placeholder, ()


def _text(rng: random.Random, i: int) -> str:
    words = [rng.choice(WORDS) for _ in range(170)]
    text = " ".join(words).capitalize() + "."
    if i % 100 == 0:
        text += " Write to jane.doe@example.org for more."
    return text


def build(catalog: Catalog, n: int) -> int:
    with catalog.uow() as uow:
        source = register_source(uow, data=validate_source(
            {"slug": "bench", "kind": "web-crawl", "declared_license": "CC-BY-4.0",
             "tos_verdict": "unrestricted"}))
        stored, _ = policy_store.resolve(uow, "research-permissive")
        uow.commit()
        source_id, policy_id = source.id, stored.id
    layout = catalog.layout
    rng = random.Random(7)
    base = datetime(2025, 1, 1, tzinfo=UTC)
    ids_all: list[str] = []
    texts: dict[str, str] = {}
    with catalog.uow() as uow:
        ingest_run = Run(kind="ingest", source_id=source_id, status="completed", actor="bench",
                         started_at=utcnow(), finished_at=utcnow(), config={})
        gate_run = Run(kind="gate", policy_id=policy_id, status="completed", actor="bench",
                       started_at=utcnow(), finished_at=utcnow(), config={"stage": "admission"})
        uow.session.add_all([ingest_run, gate_run])
        uow.session.flush()
        proc = Run(kind="process", policy_id=policy_id, status="completed", actor="bench",
                   started_at=utcnow(), finished_at=utcnow(),
                   config={"gate_run": gate_run.id}, stats={"funnel": [], "models": {}})
        uow.session.add(proc)
        uow.session.flush()
        run_ids = (ingest_run.id, gate_run.id, proc.id)
        uow.commit()
    def shards():
        for start in range(0, n, SHARD):
            rows = []
            for i in range(start, min(n, start + SHARD)):
                doc_id = f"bench/{hashlib.sha256(str(i).encode()).hexdigest()[:32]}"
                text = _text(rng, i)
                ids_all.append(doc_id)
                if i % 100 == 0:
                    texts[doc_id] = text
                rows.append(document_row(i, doc_id, text, base + timedelta(minutes=i)))
            yield rows

    write_shards(catalog, source_id, run_ids[0], shards(), lambda _: 171)
    order = sorted(range(n), key=lambda i: ids_all[i])
    _, gate_id, proc_id = run_ids

    def record(run_id, kind, stage, path, rows):
        with catalog.uow() as uow:
            uow.session.add(Shard(run_id=run_id, kind=kind, stage=stage,
                                  path=layout.relative(path), sha256="-", n_docs=rows,
                                  n_bytes=0, created_at=utcnow()))
            uow.commit()

    with DecisionLogWriter(layout.decision_log(gate_id, "admission"), "admission") as log:
        log.add_batch([ids_all[i] for i in order], [_D("allow")] * n, [171] * n)
        log.close()
    record(gate_id, "decisions", "admission", layout.decision_log(gate_id, "admission"), n)
    kept = [i for i in order if i % 10 != 5]
    with DecisionLogWriter(layout.decision_log(proc_id, "pii"), "pii") as log:
        for i in order:
            doc_id = ids_all[i]
            if i % 10 == 5:
                log.add(doc_id, _D("drop-document"), 171)
            elif doc_id in texts:
                t = texts[doc_id]
                a = t.index("jane.doe")
                log.add(doc_id, _D("redact", ("EMAIL_ADDRESS",), "|||{type}|||"), 171,
                        [{"type": "EMAIL_ADDRESS", "start": a, "end": a + 20}])
            else:
                log.add(doc_id, _D("keep"), 171)
        log.close()
    record(proc_id, "decisions", "pii", layout.decision_log(proc_id, "pii"), n)
    lang = layout.attribute_shard(proc_id, "langid", 1)
    write_table_atomic(pa.table({"id": ids_all, "lang": ["en"] * n}), lang)
    record(proc_id, "attributes", "langid", lang, n)
    dedup = layout.dedup_attributes(proc_id)
    sigs = np.random.default_rng(1).integers(0, 2**32, size=(len(kept), 112), dtype=np.uint32)
    write_table_atomic(pa.table({
        "id": [ids_all[i] for i in kept],
        "minhash": pa.array([s.astype("<u4").tobytes() for s in sigs], pa.binary(448))}), dedup)
    record(proc_id, "attributes", "dedup", dedup, len(kept))
    return proc_id


def baseline_copy(catalog: Catalog, run_id: int, out: Path) -> float:
    from policies import decision_log

    started = time.perf_counter()
    with catalog.session() as s:
        from sqlalchemy import select

        paths = s.execute(select(Shard.path).where(Shard.kind == "documents")).scalars().all()
        pii = s.execute(select(Shard.path).where(Shard.run_id == run_id,
                                                 Shard.stage == "pii")).scalars().one()
    log = decision_log.read(catalog.layout.absolute(pii), columns=["id", "effect"])
    kept = log.filter(pc.is_in(log.column("effect"), pa.array(["keep", "redact"])))
    keep = kept.column("id")
    parts = []
    for p in paths:
        t = pq.read_table(catalog.layout.absolute(p), columns=[
            "id", "text", "source", "url", "collected_at", "metadata"])
        parts.append(t.filter(pc.is_in(t.column("id"), keep)))
    table = pa.concat_tables(parts).sort_by("id")
    pq.write_table(table, out, compression="zstd", compression_level=3)
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--postgres", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="govcat-bench-cut-"))
    with scratch_catalog_url(tmp, postgres=args.postgres) as url:
        catalog = Catalog(Settings(database_url=url, home=tmp / "home", actor="bench"))
        t0 = time.perf_counter()
        run_id = build(catalog, args.n)
        print(f"built a run of {args.n:,} documents in {time.perf_counter() - t0:.1f} s "
              f"({'postgres' if args.postgres else 'sqlite'})")
        base = baseline_copy(catalog, run_id, tmp / "baseline.parquet")
        t0 = time.perf_counter()
        result = release_cut.cut(catalog, run_id=run_id, name="bench", version="1.0.0")
        cut = time.perf_counter() - t0
        print(f"release cut: {result.documents:,} documents in {cut:.2f} s "
              f"({result.documents / cut:,.0f} docs/s)")
        print(f"bare pyarrow copy of the same kept rows: {base:.2f} s")
        print(f"ratio cut / bare copy: {cut / base:.2f}x (goal <= 2x)")
        from reports.verify import verify_release

        folder = result.path
        files = sorted(str(p) for p in folder.rglob("*") if p.is_file())
        subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=True)  # warm cache
        t0 = time.perf_counter()
        subprocess.run(["sha256sum", *files], stdout=subprocess.DEVNULL, check=True)
        sha = time.perf_counter() - t0
        for deep in (True, False):
            t0 = time.perf_counter()
            report = verify_release(folder, deep=deep)
            took = time.perf_counter() - t0
            assert report.ok, report.problems[:3]
            label = "deep (files + every document)" if deep else "quick (files only)"
            print(f"release verify {label}: {took:.2f} s; sha256sum of the same "
                  f"{len(files)} files: {sha:.2f} s; ratio {took / sha:.2f}x (goal <= 1.5x)")
        catalog.dispose()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
