"""The attribution file: the notice every attribution-requiring document or source needs.

    render_attribution(facts, meta, entries, date="2025-07-01", fmt="csv")   # or "md"

`entries` are the per-document notices the catalog streams (`attribution_entries`): {document,
source, license, title, author, author_url, site, url}. A notice follows the usual TASL form
of Creative Commons attribution — title, author, source (link), licence — so a Stack Exchange
post reads `"Title" by user 42 (https://site/users/42), https://site/q/1, CC-BY-SA-4.0`, the
author's profile link being what CC BY-SA asks for there. Sources whose declared licence
requires attribution get one notice of their own (title, steward or site, URL, licence).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from reports.errors import ReportsError

__all__ = ["COLUMNS", "FORMATS", "notice", "render_attribution"]

FORMATS = ("csv", "md")
COLUMNS = ("level", "document", "source", "license", "title", "author", "author_url", "site",
           "url", "notice")
_LICENCE_URLS = {  # the legal code a notice links to, for the licences that need one most
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "CC-BY-3.0": "https://creativecommons.org/licenses/by/3.0/",
    "CC-BY-SA-3.0": "https://creativecommons.org/licenses/by-sa/3.0/",
    "CC-BY-SA-2.5": "https://creativecommons.org/licenses/by-sa/2.5/",
    "CC-BY-2.0": "https://creativecommons.org/licenses/by/2.0/",
    "CC-BY-NC-4.0": "https://creativecommons.org/licenses/by-nc/4.0/",
    "CC-BY-NC-SA-4.0": "https://creativecommons.org/licenses/by-nc-sa/4.0/",
    "CC-BY-ND-4.0": "https://creativecommons.org/licenses/by-nd/4.0/",
}


def licence_url(licence: str) -> str:
    return _LICENCE_URLS.get(licence) or f"https://spdx.org/licenses/{licence}.html"


def notice(entry: dict[str, Any]) -> str:
    """`"Title" by Author (author link), URL, licence (licence link)`; parts unknown are left
    out, and the site stands in for an unknown author."""
    parts = []
    if entry.get("title"):
        parts.append(f"\"{entry['title']}\"")
    who = entry.get("author") or entry.get("site")
    if who:
        link = f" ({entry['author_url']})" if entry.get("author_url") else ""
        parts.append(("by " if parts else "By ") + who + link)
    head = " ".join(parts)
    tail = [x for x in (entry.get("url"), f"{entry['license']} ({licence_url(entry['license'])})"
                        if entry.get("license") else None) if x]
    return ", ".join([head, *tail] if head else tail)


def _source_entries(facts: dict[str, Any]) -> list[dict[str, Any]]:
    wanted = set(facts.get("attribution", {}).get("sources", []))
    out = []
    for s in facts["sources"]:
        if s["slug"] not in wanted:
            continue
        out.append({"level": "source", "document": None, "source": s["slug"],
                    "license": s.get("declared_license"), "title": s.get("title") or s["slug"],
                    "author": s.get("steward"), "author_url": None, "site": None,
                    "url": s.get("uri") or s.get("license_evidence_url")})
    return out


def _rows(facts: dict[str, Any], entries: Iterable[dict[str, Any]]):
    for e in _source_entries(facts):
        yield e | {"notice": notice(e)}
    for e in entries:
        row = {"level": "document", **e}
        yield row | {"notice": notice(row)}


def render_attribution(facts: dict[str, Any], meta: dict[str, Any] | None,
                       entries: Iterable[dict[str, Any]], *, date: str, fmt: str = "csv") -> str:
    if fmt not in FORMATS:
        raise ReportsError(f"attribution format {fmt!r}: use one of {', '.join(FORMATS)}")
    rows = list(_rows(facts, entries))
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n",
                                extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in COLUMNS})
        return buf.getvalue()
    from reports.metadata import complete
    from reports.templating import render

    by_licence: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["level"] == "document":
            by_licence.setdefault(row["license"] or "(none)", []).append(row)
    m = complete(meta)
    return render("attribution.md.j2", f=facts, m=m, date=date, title=m["title"] or facts["name"],
                  sources=[r for r in rows if r["level"] == "source"],
                  by_licence=dict(sorted(by_licence.items())), licence_url=licence_url)
