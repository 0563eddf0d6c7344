"""The mixture review's renderers: Markdown, self-contained HTML and JSON, from a document of
the shape the catalog gathers (catalog/services/mixture_review.py)."""

from __future__ import annotations

import json
import re

from policies.review_facts import measured_families
from reports.mixture_review import (
    evidence_lines,
    finding_line,
    to_html,
    to_json,
    to_markdown,
)

QUOTE = "No <b>AI</b> training | ever"


def _measures(**counts: tuple[int, int, int]) -> dict:
    out = {f: {"documents": 0, "tokens": 0, "effective_tokens": 0, "share": 0.0}
           for f in measured_families()}
    for key, (d, t, e) in counts.items():
        out[key.replace("__", ".")] = {"documents": d, "tokens": t, "effective_tokens": e,
                                       "share": 0.5}
    return out


def _snap(i: int, day: str) -> dict:
    return {"id": i, "kind": "robots.txt", "fetched_at": f"{day}T00:00:00+00:00", "status": 200,
            "sha256": f"{i:064x}", "origin": "user"}


def _doc(signoff: dict | None = None) -> dict:
    licence = {"license": "CC-BY-NC-4.0", "source": "nc", "use": "non-commercial",
               "obligations": ["non-commercial", "attribution"], "documents": 2, "tokens": 100,
               "effective_tokens": 250}
    source = {"source": "forum", "title": None, "kind": "forum", "status": "approved",
              "tos_verdict": "no-ai", "tos_quote": QUOTE, "tos_url": "https://f.example/tos",
              "tos_reviews": [{"url": None, "verdict": "no-ai", "quote": QUOTE,
                               "reviewer": "lee", "reviewed_at": "2025-02-01T00:00:00+00:00",
                               "snapshot_sha256": None}],
              "personal_data": "yes", "jurisdiction": "EU", "record_sha256": "ab" * 32,
              "documents": 2, "tokens": 100, "effective_tokens": 250}
    host = {"host": "a.example", "documents": 3, "tokens": 300, "effective_tokens": 300,
            "agents": {"GPTBot": {"at_cut": "none", "now": "all"}}, "changes": [],
            "snapshot_at_cut": {"robots.txt": _snap(1, "2025-01-01")},
            "snapshot_now": {"robots.txt": _snap(7, "2025-09-01")}}
    request = {"request": "optout-3", "kind": "domain", "value": "a.example",
               "requester": "owner@a.example", "received_at": "2026-01-01T00:00:00+00:00",
               "recorded_at": "2026-01-02T00:00:00+00:00", "documents": 3, "tokens": 300,
               "effective_tokens": 300}
    pii = {"redacted": {"EMAIL_ADDRESS": 4}, "dropped_documents": 1, "found": None}
    measures = _measures(license__non_commercial=(2, 100, 250),
                         consent__stricter_since_cut=(3, 300, 300),
                         optout__new=(3, 300, 300))
    component = {
        "ref": "nc", "release": "nc@1.0.0", "weight": 2.5, "documents": 5, "tokens": 400,
        "effective_tokens": 550, "share": 1.0, "verdict": "blocked",
        "release_record": {"id": 1, "created_at": "2025-06-01T00:00:00+00:00", "path": "r",
                           "manifest_sha256": "cd" * 32, "merkle_root": "ef" * 32, "run": 4,
                           "policy": "commercial-strict@1.1.0",
                           "optouts_honoured_up_to": "2025-06-01T00:00:00+00:00",
                           "signed": False},
        "measures": measures, "licenses": [licence], "sources": [source],
        "consent": {"hosts": 1, "blocked_at_collection": {"items": [], "more": 0},
                    "blocked_now": {"items": [host], "more": 0},
                    "stricter_since_cut": {"items": [host], "more": 0},
                    "unknown": {"items": [], "more": 0}},
        "reservation": {"items": [], "more": 0}, "optouts": {"items": [request], "more": 0},
        "pii": pii, "problems": [], "facts": {}, "findings": ["licence-non-commercial"],
    }
    findings = [
        {"rule": "licence-non-commercial", "effect": "blocked", "reason": "Non-commercial.",
         "scope": "component", "component": "nc@1.0.0",
         "facts": {"license.non_commercial.documents": 2},
         "measures": {"license.non_commercial": measures["license.non_commercial"]},
         "evidence": {"license.non_commercial": {"items": [licence], "more": 0}}},
        {"rule": "tos-forbids", "effect": "blocked", "reason": "ToS forbid AI use.",
         "scope": "component", "component": "nc@1.0.0", "facts": {"tos.no_ai.documents": 2},
         "measures": {}, "evidence": {"tos.no_ai": {"items": [source], "more": 12}}},
        {"rule": "consent-stricter-since-cut", "effect": "needs-attention", "reason": "Stricter.",
         "scope": "component", "component": "nc@1.0.0",
         "facts": {"consent.stricter_since_cut.documents": 3},
         "measures": {"consent.stricter_since_cut": measures["consent.stricter_since_cut"]},
         "evidence": {"consent.stricter_since_cut": {"items": [host], "more": 0}}},
        {"rule": "optout-since-cut", "effect": "needs-attention", "reason": "Opt-outs.",
         "scope": "component", "component": "nc@1.0.0", "facts": {"optout.new.documents": 3},
         "measures": {}, "evidence": {"optout.new": {"items": [request], "more": 0},
                                      "pii": {"items": [pii], "more": 0}}},
    ]
    return {
        "format": "govcat-mixture-review/1",
        "mixture": {"name": "m", "description": "A <mixture>", "intended_use": "commercial",
                    "jurisdiction": "EU", "created_at": "2025-07-01T00:00:00+00:00",
                    "created_by": "kim"},
        "review_policy": {"name": "review-commercial", "version": "1.0.0", "sha256": "12" * 32,
                          "description": "Commercial.", "intended_use": "commercial",
                          "agents": ["GPTBot", "*"],
                          "rules": [{"id": "licence-non-commercial", "scope": "component",
                                     "effect": "blocked",
                                     "condition": "license.non_commercial.documents > 0 || x",
                                     "reason": "Non-commercial."}]},
        "components": [component],
        "overall": {"documents": 5, "tokens": 400, "effective_tokens": 550,
                    "measures": measures, "facts": {}, "verdict": "ok"},
        "composition": {"by_license_class": {"non-commercial": 250, "commercial": 300},
                        "by_source": {"forum": 250, "web": 300}},
        "consent_timeline": {"dates": ["2025-01-01", "2025-09-01"],
                             "series": {"GPTBot": [0, 1], "*": [0, 0]}},
        "findings": findings, "counts": {"blocked": 2, "needs-attention": 2},
        "verdict": "blocked", "sha256": "34" * 32, "basis": {},
        "generated_at": "2026-01-03T00:00:00+00:00",
        "signoff": signoff or {"state": "none", "stale": False, "reasons": [], "history": []},
    }


SIGNED = {"state": "stale override", "stale": True, "id": 2, "decision": "approve",
          "actor": "alice", "at": "2026-01-01T00:00:00+00:00", "note": "licensed <directly>",
          "conditions": ["keep the notice"], "override": True,
          "override_reason": "separate licence", "review_sha256": "56" * 32,
          "review_verdict": "blocked",
          "review_policy": {"name": "review-commercial", "version": "1.0.0", "sha256": "12" * 32},
          "reasons": ["opt-out optout-3 (domain a.example) covers 3 document(s)"],
          "history": []}


def test_a_finding_line_names_where_the_rule_and_the_effective_tokens():
    line = finding_line(_doc()["findings"][0])
    assert line.startswith("[blocked] nc@1.0.0 · licence-non-commercial: Non-commercial.")
    assert "2 documents, 100 tokens, 250 effective tokens" in line


def test_evidence_lines_cite_licences_tos_quotes_snapshots_and_requests():
    f = _doc()["findings"]
    assert evidence_lines(f[0]) == [
        "licence CC-BY-NC-4.0 (use non-commercial; obligations: non-commercial, attribution) "
        "from source nc: 2 documents, 100 tokens, 250 effective tokens"]
    tos = evidence_lines(f[1])
    assert QUOTE in tos[0] and "reviewed by lee on 2025-02-01" in tos[0]
    assert tos[1] == "… and 12 more (tos: no-ai)"
    [host] = evidence_lines(f[2])
    assert "GPTBot none→all" in host and "snapshot 7 fetched 2025-09-01" in host
    assert "snapshot 1 fetched 2025-01-01" in host
    request, pii = evidence_lines(f[3])
    assert ("opt-out optout-3 (domain a.example, from owner@a.example, received 2026-01-01"
            in request)
    assert "EMAIL_ADDRESS 4" in pii and "documents dropped for PII: 1" in pii


def test_markdown_holds_every_finding_with_its_evidence_and_the_signoff():
    md = to_markdown(_doc(SIGNED))
    assert md.startswith("# Mixture review: m\n")
    assert "**Verdict: blocked**" in md
    for f in _doc()["findings"]:
        assert f"[{f['effect']}] nc@1.0.0 · {f['rule']}" in md
    assert "The sign-off is **stale**" in md and "optout-3" in md
    assert "**Override** of a blocked review: separate licence" in md
    table_row = next(x for x in md.splitlines() if x.startswith("| forum |"))
    assert "No <b>" not in table_row and "\\| ever" in table_row  # escaped in a table cell
    assert "`license.non_commercial.documents > 0 \\|\\| x`" in md


def test_html_is_one_self_contained_escaped_page_with_charts():
    page = to_html(_doc(SIGNED))
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count("<svg") == 3 and "<style>" in page
    assert not re.search(r"<(script|link|img)\b", page) and "src=" not in page
    assert "No &lt;b&gt;AI&lt;/b&gt; training" in page and "<b>AI</b>" not in page
    assert "A &lt;mixture&gt;" in page and 'class="stale"' in page
    assert 'class="override"' in page and "separate licence" in page
    assert to_html(_doc(SIGNED)) == page  # the same document, the same bytes


def test_json_round_trips():
    doc = _doc()
    assert json.loads(to_json(doc)) == doc
