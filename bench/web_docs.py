"""The web interface's document search page over a large index on Postgres.

    .venv/bin/python -m bench.web_docs [--n 1000000] [--repeat 5]

The index, decision logs and langid attributes are bench/docs_list.py's (`build`), and so are
the filter combinations. Each combination is asked of `GET /documents` the way a browser
asks it — a logged-in session, the form's query string, the whole HTML page rendered — through
the app in this process (Starlette's TestClient: no network, the same code uvicorn runs).
Printed per combination: the first (cold) request, the median and the worst of `--repeat`,
and the documents on the page; then the same page as JSON. Goal: every page < 1 s.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from bench._pg import scratch_postgres_url
from bench._timing import timed
from bench.docs_list import build, combinations
from catalog.context import Catalog
from catalog.services.documents import DocumentFilter
from catalog.settings import Settings

PASSWORD = "bench password"


def query(filters: DocumentFilter, after: str | None) -> str:
    """The search form's query string for these filters."""
    params: list[tuple[str, str]] = [("source", s) for s in filters.sources]
    params += [("host", h) for h in filters.hosts]
    params += [("language", code) for code in filters.languages]
    for name in ("license", "run", "stage", "effect", "rule"):
        value = getattr(filters, name)
        if value is not None:
            params.append((name, str(value)))
    for name in ("collected_after", "collected_before"):
        value = getattr(filters, name)
        if value is not None:
            params.append((name, value.isoformat()))
    if after:
        params.append(("after", after))
    return urlencode(params)


def logged_in(catalog: Catalog):
    from fastapi.testclient import TestClient

    from catalog.services import users
    from catalog.web.app import create_app

    with catalog.uow() as uow:
        users.add_user(uow, name="bench", role="viewer", password=PASSWORD)
        uow.commit()
    client = TestClient(create_app(catalog, secret_key="bench" * 10))
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post("/login", data={"username": "bench", "password": PASSWORD,
                                    "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return client



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
        print(f"built an index of {args.n:,} rows with a gate and a process run in "
              f"{time.perf_counter() - t0:.1f} s")
        client = logged_in(cat)
        print(f"{'GET /documents?...':<72} {'first':>7} {'median':>7} {'worst':>7}  page  json")
        worst = 0.0
        for label, filters, after in combinations(runs, args.n):
            path = f"/documents?{query(filters, after)}"

            def get(p=path, accept="text/html"):
                r = client.get(p, headers={"accept": accept})
                assert r.status_code == 200, (p, r.status_code, r.text[:300])
                return r

            times, page = timed(get, args.repeat)
            json_times, data = timed(lambda p=path: get(p, "application/json"), args.repeat)
            worst = max(worst, *times, *json_times)
            count = data.json()["count"]
            more = "+" if data.json()["next_after"] else ""
            print(f"{label:<72} {times[0]:>7.3f} {statistics.median(times):>7.3f} "
                  f"{max(times):>7.3f}  {count}{more}  {statistics.median(json_times):.3f}")
        client.close()
        cat.dispose()
    print(f"slowest search page: {worst:.3f} s — goal < 1 s")


if __name__ == "__main__":
    main()
