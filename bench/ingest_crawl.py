"""`govcat ingest` of a generated crawl: documents/s and MB/s, against the bare libraries.

    .venv/bin/python -m bench.ingest_crawl [--pages 20000] [--db sqlite|postgres|both]

Writes a .warc.gz of N HTML pages (bench/warc_read.py's generator), then in the same process:
1. iterates its records with FastWARC alone (the floor for reading),
2. runs the bare extractor (resiliparse) over the same HTML bodies,
3. runs the full ingest (connector, signals, Parquet shards, index rows, run records)
   into a fresh catalog, and prints docs/s, MB/s and the ratios to 1 and 2.
The goal is an ingest within 3x of the bare extractor's own time on the same pages.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench._pg import scratch_postgres_url
from bench.warc_read import fastwarc_pass, write_crawl
from catalog.context import Catalog
from catalog.services.ingest import ingest
from catalog.services.sources import register_source, validate_source
from catalog.settings import Settings
from ingest.html import extract_text


def run_ingest(url: str, home: Path, crawl: Path) -> tuple[float, int, int]:
    cat = Catalog(Settings(database_url=url, home=home, actor="bench"))
    with cat.uow() as uow:
        register_source(uow, data=validate_source({"slug": "crawl", "kind": "web-crawl"}))
        uow.commit()
    t0 = time.perf_counter()
    result = ingest(cat, source_slug="crawl", paths=[crawl])
    seconds = time.perf_counter() - t0
    cat.dispose()
    return seconds, result.stats.ingested, result.stats.bytes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=20_000)
    ap.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        crawl = Path(tmp) / "crawl.warc.gz"
        write_crawl(crawl, args.pages, gz=True)
        size_mb = crawl.stat().st_size / 1e6
        read_s, records, bodies = fastwarc_pass(crawl)
        html_mb = sum(len(b) for b in bodies) / 1e6
        t0 = time.perf_counter()
        for body in bodies:
            extract_text(body)
        extract_s = time.perf_counter() - t0
        print(f"crawl: {args.pages:,} pages, {records:,} records, {size_mb:.1f} MB gzipped, "
              f"{html_mb:.1f} MB of HTML")
        print(f"FastWARC iteration alone   {records / read_s:>9,.0f} records/s ({read_s:.2f} s)")
        print(f"bare extractor (resiliparse) {len(bodies) / extract_s:>7,.0f} pages/s "
              f"({extract_s:.2f} s)")
        targets = []
        if args.db in ("sqlite", "both"):
            targets.append(("sqlite", f"sqlite:///{tmp}/catalog.db", None))
        if args.db in ("postgres", "both"):
            targets.append(("postgres", None, scratch_postgres_url))
        for name, url, make in targets:
            if make is not None:
                with make() as pg_url:
                    seconds, docs, nbytes = run_ingest(pg_url, Path(tmp) / name, crawl)
            else:
                seconds, docs, nbytes = run_ingest(url, Path(tmp) / name, crawl)
            print(f"govcat ingest ({name:8}) {docs / seconds:>9,.0f} docs/s, "
                  f"{html_mb / seconds:5.1f} MB/s of HTML ({seconds:.2f} s, {docs:,} docs); "
                  f"x{seconds / extract_s:.2f} the bare extractor, "
                  f"x{seconds / read_s:.1f} the bare WARC iteration")


if __name__ == "__main__":
    main()
