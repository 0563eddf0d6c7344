"""`govcat mixture review` over a mixture of 3 releases holding 1M documents, on Postgres.

    .venv/bin/python -m bench.mixture_review [--n 1000000] [--repeat 3]

Builds a scratch catalog through the catalog's own tables, without ingest, run or cut: 30
sources (licences of every class, every ToS verdict, personal data declared or not), 5,000
hosts with a robots.txt at collection (allowing all), 60 of them disallowing GPTBot after the
cut and 20 blocking some paths (judged URL by URL); the document index written with the
catalog's COPY writer; three completed processing runs and their releases (members by COPY,
a minimal manifest with redaction counts); opt-out requests by domain, URL prefix and
document id received after the cuts; a commercial EU mixture of the three releases.

Then the review (`catalog.services.mixtures.review`) runs `--repeat` times; printed: the
first (cold) time, the median and the worst, and what the review found; then `mixture show`
(the sign-off staleness check) after a sign-off and one more opt-out. Goal: review < 10 s.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, text

from bench._pg import scratch_postgres_url
from bench._timing import timed
from catalog.context import Catalog
from catalog.index_writer import copy_rows, insert_documents
from catalog.models import Host, Release, ReleaseMember, RobotsSnapshot, Run, Source, utcnow
from catalog.services import mixtures, optouts, policies
from catalog.services.release_cut import MEMBER_COPY_TYPES
from catalog.settings import Settings
from common.atomic import text_sha256
from reports.manifest import write_manifest

LICENSES = ["CC-BY-4.0", "CC-BY-SA-4.0", "CC-BY-NC-4.0", "MIT", "Apache-2.0", "CC0-1.0",
            "CC-BY-ND-4.0", None, "LicenseRef-Academic-Only", "CC-BY-NC-SA-4.0"]
TOS = ["unrestricted", "unrestricted", "conditional", "unknown", "no-ai"]
PERSONAL = ["no", "no", "unknown", "yes"]
HOSTS = 5000
BATCH = 50_000
COLLECTED = datetime(2024, 3, 1, tzinfo=UTC)
CUTS = [datetime(2025, 1, 10, tzinfo=UTC), datetime(2025, 2, 10, tzinfo=UTC),
        datetime(2025, 3, 10, tzinfo=UTC)]
SPLITS = (0.0, 0.4, 0.75, 1.0)
SNAPSHOT_COPY_TYPES = (("host_id", "int4"), ("kind", "text"), ("fetched_at", "timestamptz"),
                       ("status", "int4"), ("content", "text"), ("sha256", "text"),
                       ("origin", "text"), ("created_at", "timestamptz"))


def _doc_id(i: int) -> str:
    return f"src{i % 30:02d}/{hashlib.sha1(str(i).encode()).hexdigest()[:32]}"


def _host(i: int) -> str:
    return f"host{(i * 7) % HOSTS}.example"


def build(catalog: Catalog, n: int) -> None:
    with catalog.uow() as uow:
        stored, _ = policies.resolve(uow, "commercial-strict")
        sources = [Source(slug=f"src{i:02d}", kind="web-crawl", created_at=utcnow(),
                          updated_at=utcnow(), declared_license=LICENSES[i % len(LICENSES)],
                          tos_verdict=TOS[i % len(TOS)], personal_data=PERSONAL[i % 4],
                          tos_quote="Reuse allowed with credit." if i % 5 == 2 else None)
                   for i in range(30)]
        uow.session.add_all(sources)
        uow.session.flush()
        source_ids = [s.id for s in sources]
        runs = []
        for cut in CUTS:
            run = Run(kind="process", status="completed", actor="bench", started_at=cut,
                      finished_at=cut, policy_id=stored.id, config={}, stats={})
            uow.session.add(run)
            uow.session.flush()
            runs.append(run.id)
        uow.commit()
    batch: list[dict] = []
    for i in range(n):
        host = _host(i)
        lic = LICENSES[(i % 30) % len(LICENSES)]
        batch.append({
            "id": _doc_id(i), "source_id": source_ids[i % 30], "native_id": str(i),
            "url": f"https://{host}/{'private/' if i % 11 == 0 else ''}p{i}", "host": host,
            "content_sha256": hashlib.sha256(str(i).encode()).hexdigest(),
            "n_bytes": 2000, "n_tokens": 400 + i % 200,
            "collected_at": COLLECTED + timedelta(seconds=(i * 7919) % (90 * 86400)),
            "declared_license": lic, "concluded_license": lic if i % 3 else None,
            "reserved_uses": "tdm" if i % 997 == 0 else "",
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
    for k, cut in enumerate(CUTS):
        lo, hi = int(n * SPLITS[k]), int(n * SPLITS[k + 1])
        name = f"part{k}"
        folder = catalog.layout.release(name, "1.0.0")
        folder.mkdir(parents=True)
        write_manifest(folder, {"name": name, "version": "1.0.0",
                                "redacted": {"EMAIL_ADDRESS": (hi - lo) // 50,
                                             "PHONE_NUMBER": (hi - lo) // 80}})
        tokens = sum(400 + i % 200 for i in range(lo, hi))
        with catalog.uow() as uow:
            release = Release(name=name, version="1.0.0", run_id=runs[k],
                              path=catalog.layout.relative(folder),
                              manifest_sha256=hashlib.sha256(name.encode()).hexdigest(),
                              merkle_root="0" * 64, documents=hi - lo, tokens=tokens,
                              optouts_up_to=cut, actor="bench", created_at=cut)
            uow.session.add(release)
            uow.session.flush()
            copy_rows(uow.session, ReleaseMember.__table__, MEMBER_COPY_TYPES, (
                {"release_id": release.id, "document_id": _doc_id(i),
                 "content_sha256": hashlib.sha256(str(i).encode()).hexdigest(),
                 "n_tokens": 400 + i % 200} for i in range(lo, hi)))
            uow.commit()
    with catalog.engine.connect() as conn:
        conn.execute(text("ANALYZE documents"))  # as autovacuum would after a large ingest
        conn.execute(text("ANALYZE release_members"))
        conn.commit()
    robots = {"allow": "User-agent: *\nAllow: /\n", "gptbot": "User-agent: GPTBot\nDisallow: /\n",
              "private": "User-agent: CCBot\nDisallow: /private/\n"}
    with catalog.uow() as uow:
        uow.session.execute(insert(Host.__table__), [
            {"name": f"host{h}.example", "created_at": utcnow()} for h in range(HOSTS)])
        ids = dict(uow.session.execute(select(Host.name, Host.id)).all())
        before, after = datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC)
        snaps = [(h, "allow", before) for h in range(HOSTS)]
        snaps += [(h * 13, "gptbot", after) for h in range(60)]
        snaps += [(h * 17 + 1, "private", after) for h in range(20)]
        copy_rows(uow.session, RobotsSnapshot.__table__, SNAPSHOT_COPY_TYPES, (
            {"host_id": ids[f"host{h}.example"], "kind": "robots.txt", "fetched_at": when,
             "status": 200, "content": robots[which], "sha256": text_sha256(robots[which]),
             "origin": "user", "created_at": utcnow()} for h, which, when in snaps))
        received = datetime(2025, 7, 1, tzinfo=UTC)
        for h in (3, 4, 5):
            optouts.add(uow, kind="domain", value=f"host{h}.example", requester="bench",
                        received=received)
        for h in (6, 7):
            optouts.add(uow, kind="url-prefix", value=f"https://host{h}.example/private/",
                        requester="bench", received=received)
        for i in range(5):
            optouts.add(uow, kind="doc-id", value=_doc_id(i * 101), requester="bench",
                        received=received)
        uow.commit()
    mixtures.create(catalog, name="bench", intended_use="commercial", jurisdiction="EU",
                    components=["part0:1", "part1@1.0.0:2.5", "part2:0.5"])



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="documents over the 3 releases")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with scratch_postgres_url() as url, tempfile.TemporaryDirectory() as home:
        cat = Catalog(Settings(database_url=url, home=Path(home), actor="bench"))
        t0 = time.perf_counter()
        build(cat, args.n)
        print(f"built {args.n:,} documents in 3 releases, {HOSTS:,} hosts with robots.txt, "
              f"10 opt-out requests in {time.perf_counter() - t0:.1f} s")
        times, doc = timed(lambda: mixtures.review(cat, name="bench"), args.repeat)
        print(f"mixture review: first {times[0]:.2f} s, median {statistics.median(times):.2f} s,"
              f" worst {max(times):.2f} s (goal < 10 s)")
        print(f"  verdict {doc['verdict']}; findings {doc['counts']}; "
              f"{doc['overall']['effective_tokens']:,} effective tokens")
        for c in doc["components"]:
            m = c["measures"]
            print(f"  {c['release']}: {c['documents']:,} documents, stricter since the cut "
                  f"{m['consent.stricter_since_cut']['documents']:,}, opt-outs "
                  f"{m['optout.new']['documents']:,}, non-commercial "
                  f"{m['license.non_commercial']['documents']:,}")
        mixtures.sign_off(cat, name="bench", decision="reject", note="bench")
        with cat.uow() as uow:
            optouts.add(uow, kind="domain", value="host8.example", requester="bench",
                        received=datetime(2025, 8, 1, tzinfo=UTC))
            uow.commit()
        times, shown = timed(lambda: mixtures.show(cat, name="bench"), args.repeat)
        print(f"mixture show (staleness check): median {statistics.median(times):.2f} s; "
              f"stale: {shown['signoff']['stale']} ({len(shown['signoff']['reasons'])} reason)")
        cat.dispose()


if __name__ == "__main__":
    main()
