"""The datasheet of a release (Gebru et al., "Datasheets for Datasets"), in Markdown or HTML.

    render_datasheet(facts, meta, date="2025-07-01", fmt="html")

`facts` is `ReleaseFacts.to_dict()` (gathered by the catalog), `meta` the release metadata
(reports/metadata.py). All seven sections are written — motivation, composition, collection
process, preprocessing, uses, distribution, maintenance — with every number taken from the
facts and every intention from the metadata; a field the metadata lacks is shown as missing,
never invented. The HTML file is self-contained: inline CSS and inline SVG charts, no
external resource, so it opens offline and prints as it shows.
"""

from __future__ import annotations

from typing import Any

from reports.errors import ReportsError
from reports.metadata import complete

__all__ = ["FORMATS", "charts_for", "render_datasheet"]

FORMATS = ("md", "html")

SECTIONS = ("Motivation", "Composition", "Collection process", "Preprocessing, cleaning",
            "Uses", "Distribution", "Maintenance")


def charts_for(facts: dict[str, Any]) -> dict[str, str]:
    """The datasheet's charts as inline SVG, by name (shared with the AI Act summary)."""
    from reports.charts import bar_chart, funnel_chart, timeline_chart

    comp = facts["composition"]

    def bars(title: str, rows: list[dict[str, Any]], key: str = "key",
             unit: str = "tokens") -> str:
        return bar_chart(title, [r[key] for r in rows], [r[unit] for r in rows], unit=unit)

    consent = facts["consent"]
    return {
        "license_class": bars("Tokens by licence class", comp["by_license_class"]),
        "source": bars("Tokens by source", comp["by_source"]),
        "language": bars("Tokens by language", comp["by_language"]),
        "domains": bars("Top domains by content size (UTF-8 bytes)", comp["top_domains"],
                        key="host", unit="bytes"),
        "funnel": funnel_chart(facts["funnel"]),
        "consent": timeline_chart("Hosts whose robots.txt blocks each AI agent",
                                  consent["timeline"]["dates"], consent["timeline"]["agents"]),
    }


def context(facts: dict[str, Any], meta: dict[str, Any] | None, date: str) -> dict[str, Any]:
    """What every report template sees: the facts, the complete metadata and derived views."""
    m = complete(meta)
    comp = facts["composition"]
    missing_info = []
    if comp.get("undated_documents"):
        missing_info.append(f"{comp['undated_documents']:,} documents have no collection date")
    unknown_lang = next((r for r in comp["by_language"] if r["key"] == "(unknown)"), None)
    if unknown_lang:
        missing_info.append(f"{unknown_lang['documents']:,} documents have no detected language")
    unknown_lic = [r for r in facts["licenses"] if not r["known"]]
    if unknown_lic:
        missing_info.append(
            f"{sum(r['documents'] for r in unknown_lic):,} documents carry a licence the "
            f"taxonomy does not classify ({', '.join(r['license'] for r in unknown_lic)})")
    rules_by_stage: dict[str, list[dict[str, Any]]] = {}
    for rule in facts["policy"]["rules"]:
        rules_by_stage.setdefault(rule["stage"], []).append(rule)
    return {"f": facts, "m": m, "date": date, "title": m["title"] or facts["name"],
            "missing_info": missing_info, "rules_by_stage": rules_by_stage,
            "blocked_agents": {a: v for a, v in facts["consent"]["by_agent"].items()
                               if any(v.values())},
            "sections": SECTIONS}


def render_datasheet(facts: dict[str, Any], meta: dict[str, Any] | None, *, date: str,
                     fmt: str = "md") -> str:
    if fmt not in FORMATS:
        raise ReportsError(f"datasheet format {fmt!r}: use one of {', '.join(FORMATS)}")
    from reports.templating import markdown_page, render

    ctx = context(facts, meta, date)
    charts = charts_for(facts) if fmt == "html" else {}
    text = render("datasheet.md.j2", charts=charts, **ctx)
    if fmt == "md":
        return text
    return markdown_page(text, title=f"Datasheet: {ctx['title']} {facts['version']}",
                         charts=charts)
