"""The mixture review as documents: JSON, Markdown, and one self-contained HTML page.

Pure functions of the review document the catalog gathers (`govcat-mixture-review/1`,
docs/mixtures.md); nothing here reads the catalog or the clock. Every finding is printed
with the facts its rule read and the evidence behind them: licences and their sources, the
sources' terms-of-service quotes and reviews, robots.txt snapshots with id and date, opt-out
requests. The HTML page inlines its CSS and its SVG charts (composition by licence class and
source, hosts blocking AI agents over time), so it can be mailed or archived as one file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reports.templating import render

__all__ = ["evidence_lines", "finding_line", "to_html", "to_json", "to_markdown"]


def to_json(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def to_markdown(doc: Mapping[str, Any]) -> str:
    return render("mixture_review.md.j2", r=doc, **_helpers())


def to_html(doc: Mapping[str, Any]) -> str:
    return render("mixture_review.html.j2", r=doc, charts=_charts(doc), **_helpers())


def _helpers() -> dict[str, Any]:
    return {"finding_line": finding_line, "evidence_lines": evidence_lines,
            "family_title": family_title, "snapshot_text": snapshot_text}


def _n(value: Any) -> str:
    return f"{int(value or 0):,}"


def family_title(key: str) -> str:
    """`license.non_commercial` -> "licence: non-commercial"."""
    head, _, rest = key.partition(".")
    head = {"license": "licence", "optout": "opt-outs", "pii": "personal data"}.get(head, head)
    return f"{head}: {rest.replace('_', '-')}" if rest else head


def snapshot_text(ref: Mapping[str, Any] | None) -> str:
    if not ref:
        return "none"
    return (f"{ref['kind']} snapshot {ref['id']} fetched {str(ref['fetched_at'])[:10]} "
            f"(HTTP {ref['status']}, sha256 {ref['sha256'][:12]}…)")


def finding_line(f: Mapping[str, Any]) -> str:
    """One line: effect, where, rule, reason, and the counts of the families it read."""
    where = f.get("component") or "mixture"
    counts = []
    for key, m in (f.get("measures") or {}).items():
        counts.append(f"{family_title(key)}: {_n(m['documents'])} documents, "
                      f"{_n(m['tokens'])} tokens, {_n(m['effective_tokens'])} effective tokens")
    error = f" [{f['error']}]" if f.get("error") else ""
    tail = f" ({'; '.join(counts)})" if counts else ""
    return f"[{f['effect']}] {where} · {f['rule']}: {f['reason']}{error}{tail}"


def evidence_lines(f: Mapping[str, Any], *, limit: int | None = None) -> list[str]:
    """The evidence behind a finding, one line per item (`limit` per family)."""
    out: list[str] = []
    for key, cited in (f.get("evidence") or {}).items():
        items = cited.get("items", [])
        shown = items if limit is None else items[:limit]
        for item in shown:
            out.append(_evidence_item(key, item))
        more = cited.get("more", 0) + len(items) - len(shown)
        if more:
            out.append(f"… and {more:,} more ({family_title(key)})")
    return out


def _evidence_item(key: str, i: Mapping[str, Any]) -> str:
    where = f"{i['component']}: " if i.get("component") else ""
    size = (f"{_n(i.get('documents'))} documents, {_n(i.get('tokens'))} tokens, "
            f"{_n(i.get('effective_tokens'))} effective tokens")
    if key.startswith("license"):
        obligations = ", ".join(i.get("obligations") or []) or "none"
        return (f"{where}licence {i['license']} (use {i['use']}; obligations: {obligations}) "
                f"from source {i['source']}: {size}")
    if key.startswith("tos") or key in ("pii.flagged", "pii.unknown"):
        quote = f" — “{i['tos_quote']}”" if i.get("tos_quote") else ""
        reviews = i.get("tos_reviews") or []
        reviewed = (f"; reviewed by {reviews[-1]['reviewer']} on "
                    f"{str(reviews[-1]['reviewed_at'])[:10]}" if reviews else "")
        return (f"{where}source {i['source']} (record sha256 {i['record_sha256'][:12]}…): ToS "
                f"{i['tos_verdict']}{quote}{reviewed}; personal data {i['personal_data']}; "
                f"{size}")
    if key.startswith("consent") or key == "reservation":
        parts = [f"{where}host {i.get('host') or '(none)'}: {size}"]
        agents = i.get("agents")
        if isinstance(agents, Mapping) and agents:
            parts.append("agents " + ", ".join(f"{a} {v['at_cut']}→{v['now']}"
                                                for a, v in sorted(agents.items())))
        elif agents:
            parts.append("agents " + ", ".join(agents))
        if i.get("changes"):
            parts.append("; ".join(i["changes"]))
        if i.get("uses"):
            parts.append(f"reserves {', '.join(i['uses'])} via {', '.join(i.get('via') or [])}")
        for label, refs in (("at the cut", i.get("snapshot_at_cut")),
                            ("now", i.get("snapshot_now")),
                            ("at collection", i.get("snapshots_at_collection"))):
            if refs:
                parts.append(f"{label}: " + ", ".join(snapshot_text(r) for r in refs.values()))
        return "; ".join(parts)
    if key.startswith("optout"):
        return (f"{where}opt-out {i['request']} ({i['kind']} {i['value']}, from "
                f"{i['requester']}, received {str(i['received_at'])[:10]}, recorded "
                f"{str(i['recorded_at'])[:10]}): {size}")
    if key == "pii":
        redacted = ", ".join(f"{k} {_n(v)}" for k, v in (i.get("redacted") or {}).items())
        found = i.get("found")
        found_text = (", ".join(f"{k} {_n(v)}" for k, v in found.items()) if found
                      else "not recorded")
        return (f"{where}redacted spans: {redacted or 'none'}; found: {found_text}; documents "
                f"dropped for PII: {_n(i.get('dropped_documents'))}")
    return where + json.dumps(dict(i), sort_keys=True, ensure_ascii=False)


def _charts(doc: Mapping[str, Any]) -> dict[str, str]:
    from reports.charts import bar_chart, timeline_chart

    comp = doc.get("composition") or {}
    by_class = comp.get("by_license_class") or {}
    by_source = comp.get("by_source") or {}
    tl = doc.get("consent_timeline") or {}
    return {
        "license_class": bar_chart("Effective tokens by licence class", list(by_class),
                                   list(by_class.values()), unit="effective tokens"),
        "source": bar_chart("Effective tokens by source", list(by_source),
                            list(by_source.values()), unit="effective tokens"),
        "consent": timeline_chart("Hosts of the mixture disallowing each AI agent",
                                  tl.get("dates") or [], tl.get("series") or {}),
    }
