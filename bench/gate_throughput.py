"""Gate throughput over a large document index on Postgres.

    .venv/bin/python -m bench.gate_throughput [--rows 1000000] [--policy commercial-strict]

Builds a scratch catalog: 50 sources, 8,000 hosts (200 with robots.txt snapshots, some
blocking AI agents, some changing over time), licences of every class (one per site, with
one document in 7 differing), consent signals on 1% of documents, 5 domain opt-out
requests; writes the index with COPY; then gates it. Prints the
gate's documents/s and, as the baseline in the same process, a bare streaming scan of the
same index rows (what gating cannot beat), with the ratio.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from datetime import UTC, datetime, timedelta

from bench._pg import scratch_postgres_url
from catalog.context import Catalog
from catalog.index_writer import insert_documents
from catalog.models import Source, utcnow
from catalog.services import consent, gate, optouts
from catalog.settings import Settings

LICENSES = ["CC-BY-4.0", "CC-BY-SA-4.0", "CC-BY-NC-4.0", "MIT", "Apache-2.0", "CC0-1.0",
            "GPL-3.0-only", "CC-BY-ND-4.0", "LicenseRef-Proprietary", None, "CC-BY-3.0",
            "BSD-3-Clause"]
KINDS = ["web-crawl", "books", "code", "forum", "wiki"]
VERDICTS = ["unrestricted", "conditional", "no-ai", "unknown", "unrestricted"]


def build(cat: Catalog, rows: int) -> None:
    with cat.uow() as uow:
        sources = []
        for i in range(50):
            s = Source(slug=f"src{i:02d}", kind=KINDS[i % 5], tos_verdict=VERDICTS[i % 5],
                       status="approved" if i % 7 else "pending",
                       declared_license=LICENSES[i % len(LICENSES)],
                       created_at=utcnow(), updated_at=utcnow())
            uow.session.add(s)
            sources.append(s)
        uow.session.flush()
        base = datetime(2024, 1, 1, tzinfo=UTC)
        for h in range(200):
            host = f"host{h}.example"
            text = ("User-agent: GPTBot\nDisallow: /\n" if h % 3 == 0 else
                    "User-agent: *\nDisallow: /private/\n" if h % 3 == 1 else
                    "User-agent: *\nAllow: /\n")
            consent.add_snapshot(uow, host=host, kind="robots.txt", content=text,
                                 fetched_at=base)
            if h % 10 == 0:
                consent.add_snapshot(uow, host=host, kind="robots.txt",
                                     content="User-agent: *\nDisallow: /\n",
                                     fetched_at=base + timedelta(days=400))
        for d in range(5):
            optouts.add(uow, kind="domain", value=f"host{1000 + d}.example",
                        requester="bench", received=base)
        uow.commit()
        ids = [s.id for s in sources]
    signal = json.dumps([{"kind": "tdm-reservation-header", "value": "1",
                          "where": "http-header"}])
    when = datetime(2024, 3, 1, tzinfo=UTC)
    batch = []
    for i in range(rows):
        h = hashlib.sha1(str(i).encode()).hexdigest()
        host = f"host{i % 8000}.example"
        # A site's pages share its licence; sources differ (one in 7 documents varies).
        lic = LICENSES[(i % 8000 + (i % 7 == 0)) % len(LICENSES)]
        batch.append({
            "id": f"src{i % 50:02d}/{h}", "source_id": ids[i % 50], "native_id": str(i),
            "url": f"https://{host}/{'private/' if i % 11 == 0 else ''}p{i}", "host": host,
            "content_sha256": h + h[:24], "n_bytes": 2000, "n_tokens": 500,
            "collected_at": when, "created_at": None, "declared_license": lic,
            "concluded_license": lic, "shard_id": None, "shard_row": i, "run_id": None,
            "consent_signals": signal if i % 100 == 0 else None,
            "reserved_uses": "tdm" if i % 100 == 0 else "",
        })
        if len(batch) == 50_000:
            with cat.uow() as uow:
                insert_documents(uow.session, batch)
                uow.commit()
            batch = []
    if batch:
        with cat.uow() as uow:
            insert_documents(uow.session, batch)
            uow.commit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--policy", default="commercial-strict")
    args = ap.parse_args()
    with scratch_postgres_url() as url, __import__("tempfile").TemporaryDirectory() as home:
        cat = Catalog(Settings(database_url=url, home=home, actor="bench"))
        t0 = time.perf_counter()
        build(cat, args.rows)
        print(f"built index of {args.rows:,} rows in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        scanned = sum(len(rows) for rows in gate.iter_index(cat, source_ids=None))
        scan_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = gate.gate(cat, policy_ref=args.policy)
        gate_s = time.perf_counter() - t0
        cat.dispose()
    assert scanned == result.documents == args.rows
    print(f"bare index scan   {scanned / scan_s:>10,.0f} rows/s ({scan_s:.1f} s)")
    print(f"gate {args.policy:13} {result.documents / gate_s:>10,.0f} docs/s ({gate_s:.1f} s) "
          f"— goal >= 50,000")
    print(f"ratio gate / scan: {scan_s / gate_s:.2f}")
    print("effects:", dict(result.by_effect))


if __name__ == "__main__":
    main()
