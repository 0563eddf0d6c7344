"""Registering 10,000 sources from one CSV: bulk import vs one-by-one registration.

    .venv/bin/python -m bench.source_import [--rows 10000] [--baseline-rows 1000]

Prints seconds and sources/s for `import_sources` on Postgres and SQLite, and the ratio to
registering sources one service call at a time (the baseline) in the same process.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

from bench._pg import scratch_postgres_url
from catalog.context import Catalog
from catalog.services.sources import import_sources, register_source, validate_source
from catalog.settings import Settings

KINDS = ["web-crawl", "books", "code", "forum", "wiki", "papers", "other"]
LICENSES = ["MIT", "Apache-2.0", "CC-BY-4.0", "CC-BY-SA-4.0", "GPL-3.0-only", "CC0-1.0", ""]
VERDICTS = ["unknown", "unrestricted", "conditional", "no-ai"]


def write_registry(path: Path, rows: int, prefix: str = "src") -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["slug", "kind", "title", "license", "tos-verdict", "tos-quote",
                    "jurisdiction", "personal-data"])
        for i in range(rows):
            verdict = VERDICTS[i % len(VERDICTS)]
            w.writerow([f"{prefix}-{i:06d}", KINDS[i % len(KINDS)], f"Source {i}",
                        LICENSES[i % len(LICENSES)], verdict,
                        "clause" if verdict != "unknown" else "", "EU", "unknown"])


def bench(url: str, home: Path, registry: Path, baseline_rows: int) -> tuple[float, float]:
    cat = Catalog(Settings(database_url=url, home=home, actor="bench"))
    _ = cat.engine  # create the schema outside the timing
    t0 = time.perf_counter()
    with cat.uow() as uow:
        n = len(import_sources(uow, path=registry))
        uow.commit()
    bulk = time.perf_counter() - t0
    rows = list(csv.DictReader(registry.open()))[:baseline_rows]
    t0 = time.perf_counter()
    with cat.uow() as uow:
        for row in rows:
            row = {k: v or None for k, v in row.items()}
            row["slug"] = "one-" + row["slug"]
            register_source(uow, data=validate_source(row))
        uow.commit()
    single = time.perf_counter() - t0
    cat.dispose()
    return n / bulk, len(rows) / single


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--baseline-rows", type=int, default=1_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        registry = Path(tmp) / "registry.csv"
        write_registry(registry, args.rows)
        results = {}
        with scratch_postgres_url() as pg:
            results["postgres"] = bench(pg, Path(tmp) / "pg", registry, args.baseline_rows)
        results["sqlite"] = bench(f"sqlite:///{tmp}/c.db", Path(tmp) / "sq", registry,
                                  args.baseline_rows)
    print(f"{'database':10} {'bulk import/s':>14} {'one-by-one/s':>13} {'ratio':>6} "
          f"{'10k import s':>12}")
    for name, (bulk, single) in results.items():
        print(f"{name:10} {bulk:14,.0f} {single:13,.0f} {bulk / single:6.1f} "
              f"{args.rows / bulk:12.2f}")


if __name__ == "__main__":
    main()
