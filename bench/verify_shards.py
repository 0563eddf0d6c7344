"""`govcat verify` over the shards of a large catalog vs `sha256sum` of the same files.

    .venv/bin/python -m bench.verify_shards [--n 1000000] [--postgres]

Writes `--n` ~1 KB documents as 20,000-document shards under a scratch data root and records
each shard (path, sha256) in a scratch catalog (SQLite, or Postgres with `--postgres`), as
ingest does. Then, with the files in the page cache (read once first), times `sha256sum` over
every shard file and `verify_shards` (what `govcat verify` runs) over the same files, and
prints both and the ratio (goal ≤ 1.5×). `--deep` (every document's text re-hashed against
the index) is timed too, beside a bare pyarrow read of the same text column.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from bench._pg import scratch_catalog_url
from catalog.context import Catalog
from catalog.index_writer import insert_documents
from catalog.models import Shard, utcnow
from catalog.services.integrity import verify_shards
from catalog.services.sources import register_source, validate_source
from catalog.settings import Settings
from catalog.shards import documents_table
from common.atomic import text_sha256, write_table_atomic

SHARD = 20_000
WORDS = ("stone bridges arches load piers masons craft fathers cars trucks builders repaired "
         "match country hundred years river market farmers bread cheese apples").split()


def build(catalog: Catalog, n: int, *, index: bool) -> list[Path]:
    with catalog.uow() as uow:
        source = register_source(uow, data=validate_source({"slug": "b", "kind": "other"}))
        uow.commit()
        source_id = source.id
    rng = random.Random(3)
    paths = []
    for start in range(0, n, SHARD):
        rows = []
        for i in range(start, min(n, start + SHARD)):
            text = " ".join(rng.choice(WORDS) for _ in range(180))
            rows.append({"id": f"b/{i:012d}", "source": "b", "native_id": str(i), "text": text,
                         "content_sha256": text_sha256(text), "url": None, "host": None,
                         "collected_at": None, "created_at": None, "title": None,
                         "language": None, "metadata": "{}", "signals": "[]", "licenses": "[]"})
        path = catalog.layout.document_shard("b", 1, start // SHARD + 1)
        written = write_table_atomic(documents_table(rows), path)
        paths.append(path)
        with catalog.uow() as uow:
            shard = Shard(source_id=source_id, kind="documents", path=catalog.layout.relative(path),
                          sha256=written.sha256, n_docs=written.n_rows, n_bytes=written.n_bytes,
                          created_at=utcnow())
            uow.session.add(shard)
            uow.session.flush()
            if index:
                insert_documents(uow.session, [
                    {"id": r["id"], "source_id": source_id, "native_id": r["native_id"],
                     "content_sha256": r["content_sha256"], "n_bytes": len(r["text"]),
                     "n_tokens": 180, "shard_id": shard.id, "shard_row": j}
                    for j, r in enumerate(rows)])
            uow.commit()
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("--deep", action="store_true", help="also time --deep (needs the index)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="govcat-bench-verify-"))
    with scratch_catalog_url(tmp, postgres=args.postgres) as url:
        catalog = Catalog(Settings(database_url=url, home=tmp / "home", actor="bench"))
        t0 = time.perf_counter()
        paths = build(catalog, args.n, index=args.deep)
        size = sum(p.stat().st_size for p in paths)
        print(f"{args.n:,} documents in {len(paths)} shards, {size / 1e6:,.0f} MB, built in "
              f"{time.perf_counter() - t0:.0f} s")
        subprocess.run(["cat", *map(str, paths)], stdout=subprocess.DEVNULL, check=True)
        t0 = time.perf_counter()
        subprocess.run(["sha256sum", *map(str, paths)], stdout=subprocess.DEVNULL, check=True)
        sha = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = verify_shards(catalog)
        ours = time.perf_counter() - t0
        assert report.ok, report.problems[:3]
        print(f"sha256sum: {sha:.2f} s ({size / sha / 1e6:,.0f} MB/s); govcat verify: "
              f"{ours:.2f} s ({size / ours / 1e6:,.0f} MB/s); ratio {ours / sha:.2f}x "
              "(goal <= 1.5x)")
        if args.deep:
            t0 = time.perf_counter()
            for p in paths:
                pq.read_table(p, columns=["id", "text"])
            bare = time.perf_counter() - t0
            t0 = time.perf_counter()
            report = verify_shards(catalog, deep=True)
            deep = time.perf_counter() - t0
            assert report.ok, report.problems[:3]
            print(f"govcat verify --deep: {deep:.2f} s for {report.documents:,} documents; a "
                  f"bare pyarrow read of the same text: {bare:.2f} s")
        catalog.dispose()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
