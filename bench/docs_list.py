"""`govcat docs list` first-page latency over a large index on Postgres.

    .venv/bin/python -m bench.docs_list [--n 1000000] [--repeat 5]

Builds a scratch catalog: 50 sources, 8,000 hosts, licences of every class, collection times
over a year; writes the index with the catalog's COPY writer; then a gate run's admission log
over every document (30% denied, by four rules, one of them rare) and a process run's langid
attributes (one unsorted shard per 20,000 documents, five languages) and quality log over
the admitted ones, all Parquet under the data root, recorded as the run's shards. Then, for
each filter combination, the first page (50 documents) is listed `--repeat` times through
`list_documents`; printed: the first (cold) call, the median and the worst, and how many
documents match. The baseline, measured the same way on the same table, is the bare
`SELECT ... FROM documents ORDER BY id LIMIT 50`. Goal: every first page < 1 s.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
from sqlalchemy import select, text

from bench._pg import scratch_postgres_url
from bench._timing import timed
from catalog.context import Catalog
from catalog.index_writer import insert_documents
from catalog.models import Document, Run, Shard, Source, utcnow
from catalog.services.documents import DocumentFilter, list_documents
from catalog.settings import Settings
from common.atomic import write_table_atomic

LICENSES = ["CC-BY-4.0", "CC-BY-SA-4.0", "CC-BY-NC-4.0", "MIT", "Apache-2.0", "CC0-1.0",
            "GPL-3.0-only", "CC-BY-ND-4.0", "LicenseRef-Proprietary", None, "CC-BY-NC-SA-4.0",
            "LicenseRef-Academic-Only"]
LANGS = ["en", "de", "fr", "es", "zh"]
RULES = ["no-nc", "no-ai-robots", "tos-no-ai", "optout"]
BATCH = 50_000
SHARD = 20_000
BASE = datetime(2024, 1, 1, tzinfo=UTC)

DECISIONS = pa.schema([
    ("id", pa.string()), ("stage", pa.string()), ("effect", pa.string()),
    ("rule_ids", pa.list_(pa.string())), ("default_applied", pa.bool_()),
    ("n_tokens", pa.int64()), ("redact", pa.list_(pa.string())), ("placeholder", pa.string()),
    ("redact_spans", pa.list_(pa.struct([("type", pa.string()), ("start", pa.int64()),
                                         ("end", pa.int64())]))),
])


def _doc_id(i: int) -> str:
    return f"src{i % 50:02d}/{hashlib.sha1(str(i).encode()).hexdigest()}"


def _deny(i: int) -> list[str] | None:
    """The admission rules that deny document i, None when it is admitted (30% denied)."""
    r = (i * 2654435761) % 1000
    if r >= 300:
        return None
    if r < 2:
        return ["optout"]  # rare: 0.2%
    return [RULES[r % 3]] + (["no-nc"] if r % 3 and r % 7 == 0 else [])


def _log(catalog: Catalog, session, run_id: int, stage: str,
         rows: list[tuple[str, str, list[str]]]) -> None:
    rows.sort()
    n = len(rows)
    table = pa.table({
        "id": [r[0] for r in rows], "stage": [stage] * n, "effect": [r[1] for r in rows],
        "rule_ids": [r[2] for r in rows], "default_applied": [not r[2] for r in rows],
        "n_tokens": [500] * n, "redact": [[]] * n, "placeholder": [None] * n,
        "redact_spans": [[]] * n}, schema=DECISIONS)
    rel = f"decisions/run-{run_id:06d}/{stage}.parquet"
    _record(catalog, session, run_id, "decisions", stage, rel,
            write_table_atomic(table, catalog.data_root / rel, row_group_size=64 * 1024))


def _record(catalog, session, run_id, kind, stage, rel, written) -> None:
    session.add(Shard(run_id=run_id, kind=kind, stage=stage, path=rel, sha256=written.sha256,
                      n_docs=written.n_rows, n_bytes=written.n_bytes, created_at=utcnow()))


def build(catalog: Catalog, n: int) -> dict[str, int]:
    with catalog.uow() as uow:
        sources = [Source(slug=f"src{i:02d}", kind="web-crawl", created_at=utcnow(),
                          updated_at=utcnow()) for i in range(50)]
        uow.session.add_all(sources)
        gate = Run(kind="gate", status="completed", actor="bench", started_at=utcnow())
        uow.session.add(gate)
        uow.session.flush()
        process = Run(kind="process", status="completed", actor="bench", started_at=utcnow(),
                      config={"gate_run": gate.id})
        uow.session.add(process)
        uow.commit()
        ids = [s.id for s in sources]
        gate_id, process_id = gate.id, process.id
    batch: list[dict] = []
    for i in range(n):
        host = f"host{i % 8000}.example"
        lic = LICENSES[(i % 8000 + (i % 7 == 0)) % len(LICENSES)]
        batch.append({
            "id": _doc_id(i), "source_id": ids[i % 50], "native_id": str(i),
            "url": f"https://{host}/p{i}", "host": host,
            "content_sha256": hashlib.sha256(str(i).encode()).hexdigest(),
            "n_bytes": 2000, "n_tokens": 500,
            "collected_at": BASE + timedelta(seconds=(i * 7919) % (365 * 86400)),
            "declared_license": lic, "concluded_license": lic if i % 3 else None,
        })
        if len(batch) == BATCH:
            with catalog.uow() as uow:
                insert_documents(uow.session, batch)
                uow.commit()
            batch = []
    if batch:
        with catalog.uow() as uow:
            insert_documents(uow.session, batch)
            uow.commit()
    with catalog.engine.connect() as conn:
        conn.execute(text("ANALYZE documents"))  # as autovacuum would after a large ingest
        conn.commit()
    with catalog.uow() as uow:
        admission, quality = [], []
        for i in range(n):
            deny = _deny(i)
            admission.append((_doc_id(i), "deny" if deny else "allow", deny or []))
            if deny is None:
                quality.append((_doc_id(i), "drop" if i % 9 == 0 else "keep",
                                ["gopher_rep"] if i % 9 == 0 else []))
        _log(catalog, uow.session, gate_id, "admission", admission)
        _log(catalog, uow.session, process_id, "quality", quality)
        # langid attributes, one shard per document shard: in ingest order, not id order
        admitted = [i for i in range(n) if _deny(i) is None]
        for k, start in enumerate(range(0, len(admitted), SHARD)):
            part = admitted[start:start + SHARD]
            rel = f"attributes/run-{process_id:06d}/langid/shard-{k:06d}.parquet"
            table = pa.table({"id": [_doc_id(i) for i in part],
                              "lang": [LANGS[(i // 3) % 5] for i in part],
                              "lang_score": [0.9] * len(part)})
            _record(catalog, uow.session, process_id, "attributes", "langid", rel,
                    write_table_atomic(table, catalog.data_root / rel))
        uow.commit()
    return {"gate": gate_id, "process": process_id}


def combinations(runs: dict[str, int], n: int) -> list[tuple[str, DocumentFilter, str | None]]:
    g, p = runs["gate"], runs["process"]
    middle = _doc_id(n // 2)
    return [
        ("no filter", DocumentFilter(), None),
        ("--source src07", DocumentFilter(sources=("src07",)), None),
        ("--host host123.example (1 in 8,000)", DocumentFilter(hosts=("host123.example",)),
         None),
        ("--source src23 --host host123.example",
         DocumentFilter(sources=("src23",), hosts=("host123.example",)), None),
        ("--license MIT", DocumentFilter(license="MIT"), None),
        ("--license non-commercial", DocumentFilter(license="non-commercial"), None),
        ("--collected-after 2024-12-01", DocumentFilter(collected_after=BASE.replace(month=12)),
         None),
        ("--run G --stage admission --effect deny",
         DocumentFilter(run=g, stage="admission", effect="deny"), None),
        ("--run G --rule optout (0.2%)", DocumentFilter(run=g, rule="optout"), None),
        ("--run G --effect deny, page after the middle id",
         DocumentFilter(run=g, effect="deny"), middle),
        ("--host host123.example --run G --effect deny",
         DocumentFilter(hosts=("host123.example",), run=g, effect="deny"), None),
        ("--license academic-only --run G --rule optout",
         DocumentFilter(license="academic-only", run=g, rule="optout"), None),
        ("--language en", DocumentFilter(languages=("en",)), None),
        ("--language de --run P --stage quality --effect drop --license commercial",
         DocumentFilter(languages=("de",), run=p, stage="quality", effect="drop",
                        license="commercial"), None),
        ("--run P (every stage, admission from G)", DocumentFilter(run=p), None),
    ]



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="index rows")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with scratch_postgres_url() as url, tempfile.TemporaryDirectory() as home:
        cat = Catalog(Settings(database_url=url, home=Path(home), actor="bench"))
        t0 = time.perf_counter()
        runs = build(cat, args.n)
        print(f"built an index of {args.n:,} rows, a gate run's admission log and a process "
              f"run's langid attributes and quality log in {time.perf_counter() - t0:.1f} s")
        table = Document.__table__
        bare = select(*table.c).order_by(table.c.id).limit(50)
        with cat.engine.connect() as conn:
            times, _ = timed(lambda: conn.execute(bare).all(), args.repeat)
        print(f"{'filters':<72} {'first':>7} {'median':>7} {'worst':>7}  page")
        base = statistics.median(times)
        print(f"{'baseline: SELECT ... FROM documents ORDER BY id LIMIT 50':<72} "
              f"{times[0]:>7.3f} {base:>7.3f} {max(times):>7.3f}")
        worst = 0.0
        for label, filters, after in combinations(runs, args.n):
            times, page = timed(lambda f=filters, a=after: list_documents(
                cat, filters=f, limit=50, after=a), args.repeat)
            worst = max(worst, *times)
            more = "+" if page.next_after else ""
            print(f"{label:<72} {times[0]:>7.3f} {statistics.median(times):>7.3f} "
                  f"{max(times):>7.3f}  {len(page.documents)}{more}")
        cat.dispose()
    print(f"slowest first page: {worst:.3f} s ({worst / base:.0f}x the bare query) — goal < 1 s")


if __name__ == "__main__":
    main()
