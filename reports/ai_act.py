"""The EU AI Act public summary of training content, after the Commission's template (July 2025).

    render_ai_act(facts, meta, date="2025-08-02", fmt="md")

Sections 1-3 of the template: general information (provider, model, modalities, size range,
latest acquisition date, languages); the data sources by category, with the crawlers, their
behaviour, the collection period and the top 10% of domain names by size of content for
crawled data; and the data processing — the measures taken to respect reservations of rights
(robots.txt per AI agent at collection and now, TDMRep, noai, Content-Signal, ai.txt, opt-out
requests) with counts. The provider and model come from the release metadata; every number
from the facts (`ReleaseFacts.to_dict()`).

A source's category (docs/reports.md): "crawled" for kind web-crawl or an acquisition method
that says crawl or scrape; "licensed" when the method says licensed (from the rightsholders);
"private" when it says private or third-party; else "public" (a publicly available dataset).
"""

from __future__ import annotations

import re
from typing import Any

from reports.datasheet import charts_for, context
from reports.errors import ReportsError

__all__ = ["FORMATS", "size_range", "source_category", "render_ai_act"]

FORMATS = ("md", "html")
CATEGORIES = ("public", "licensed", "private", "crawled")


def source_category(source: dict[str, Any]) -> str:
    method = (source.get("acquisition_method") or "").lower()
    if source.get("kind") == "web-crawl" or re.search(r"crawl|scrap", method):
        return "crawled"
    if re.search(r"licen[cs]ed", method):
        return "licensed"
    if re.search(r"private|third[- ]party", method):
        return "private"
    return "public"


def size_range(tokens: int) -> str:
    """The template's ranges for text."""
    if tokens < 10**9:
        return "less than 1 billion tokens"
    if tokens <= 10 * 10**12:
        return "1 billion to 10 trillion tokens"
    return "more than 10 trillion tokens"


def render_ai_act(facts: dict[str, Any], meta: dict[str, Any] | None, *, date: str,
                  fmt: str = "md") -> str:
    if fmt not in FORMATS:
        raise ReportsError(f"AI Act summary format {fmt!r}: use one of {', '.join(FORMATS)}")
    from reports.templating import markdown_page, render

    ctx = context(facts, meta, date)
    by_category: dict[str, list[dict[str, Any]]] = {c: [] for c in CATEGORIES}
    for s in facts["sources"]:
        by_category[source_category(s)].append(s)
    crawled = {s["slug"] for s in by_category["crawled"]}
    periods = [p for slug, p in facts["composition"]["collection_period_by_source"].items()
               if slug in crawled]
    acquired = [d for d in ([facts["composition"]["collection_period"]["end"]]
                            + [s.get("acquisition_date") for s in facts["sources"]]) if d]
    ctx.update({
        "by_category": by_category, "size_range": size_range(facts["totals"]["tokens"]),
        "latest_acquisition": max(str(d)[:10] for d in acquired) if acquired else None,
        "crawl_period": {"start": min((p["start"] for p in periods if p["start"]), default=None),
                         "end": max((p["end"] for p in periods if p["end"]), default=None)},
        "crawl_tokens": sum(s["tokens"] for s in by_category["crawled"]),
        "content_types": sorted({s["kind"] for s in facts["sources"] if s.get("kind")}),
    })
    charts = {}
    if fmt == "html":
        every = charts_for(facts)
        charts = {k: every[k] for k in ("domains", "consent", "license_class", "language")}
    text = render("ai_act.md.j2", charts=charts, **ctx)
    if fmt == "md":
        return text
    return markdown_page(text, title=f"Public summary of training content: {ctx['title']}",
                         charts=charts)
