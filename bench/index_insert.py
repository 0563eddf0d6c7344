"""Document-index insert rate on Postgres: COPY (what ingest uses) vs executemany INSERT.

    .venv/bin/python -m bench.index_insert [--rows 500000] [--batch 20000]

Both run in the same process against a scratch schema of the local Postgres.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from datetime import UTC, datetime

from sqlalchemy import insert, text

from bench._pg import scratch_postgres_url
from catalog.context import Catalog
from catalog.index_writer import DOCUMENT_COLUMNS, insert_documents
from catalog.models import Document, Source, utcnow
from catalog.settings import Settings


def rows(n: int, source_id: int, prefix: str):
    when = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(n):
        h = hashlib.sha256(f"{prefix}{i}".encode()).hexdigest()
        yield {"id": f"{prefix}/{h[:32]}", "source_id": source_id, "native_id": f"{prefix}{i}",
               "url": f"https://host{i % 977}.example/{i}", "host": f"host{i % 977}.example",
               "content_sha256": h, "n_bytes": 1000 + i % 5000, "n_tokens": 250 + i % 1000,
               "collected_at": when, "created_at": None, "declared_license": "CC-BY-4.0",
               "concluded_license": None, "shard_id": None, "shard_row": i, "run_id": None}


def timed(cat: Catalog, batches, writer) -> float:
    t0 = time.perf_counter()
    for batch in batches:
        with cat.uow() as uow:
            writer(uow.session, batch)
            uow.commit()
    return time.perf_counter() - t0


def executemany(session, batch):
    session.execute(insert(Document.__table__), [{c: r.get(c) for c in DOCUMENT_COLUMNS}
                                                 for r in batch])


def scratch_source(cat: Catalog) -> int:
    """The id of a source `bench` added to an empty scratch catalog."""
    with cat.uow() as uow:
        src = Source(slug="bench", kind="other", created_at=utcnow(), updated_at=utcnow())
        uow.session.add(src)
        uow.commit()
        return src.id


def batches(n: int, source_id: int, prefix: str, size: int) -> list[list[dict]]:
    """n index rows in batches of `size`."""
    all_rows = list(rows(n, source_id, prefix))
    return [all_rows[i:i + size] for i in range(0, n, size)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--baseline-rows", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=20_000)
    args = ap.parse_args()
    with scratch_postgres_url() as url:
        cat = Catalog(Settings(database_url=url, actor="bench"))
        source_id = scratch_source(cat)
        copy_batches = batches(args.rows, source_id, "c", args.batch)
        base_batches = batches(args.baseline_rows, source_id, "b", args.batch)
        copy_s = timed(cat, copy_batches, insert_documents)
        base_s = timed(cat, base_batches, executemany)
        with cat.engine.connect() as conn:
            total = conn.execute(text("select count(*) from documents")).scalar_one()
        cat.dispose()
    assert total == args.rows + args.baseline_rows
    copy_rate, base_rate = args.rows / copy_s, args.baseline_rows / base_s
    print(f"COPY        {args.rows:>9,} rows  {copy_s:6.2f} s  {copy_rate:>10,.0f} rows/s")
    print(f"executemany {args.baseline_rows:>9,} rows  {base_s:6.2f} s  {base_rate:>10,.0f} rows/s")
    print(f"ratio COPY / executemany: {copy_rate / base_rate:.1f}x  (goal: >= 50,000 rows/s)")


if __name__ == "__main__":
    main()
