"""A `ReleaseFacts.to_dict()`-shaped release for the pure report tests, built from a few
documents so every total is computed, never typed in."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

AGENTS = ("GPTBot", "CCBot", "*")

# (source, host, licence, licence class, language, tokens, bytes, collected)
DOCS = [
    ("web", "news.example", "CC-BY-4.0", "commercial", "en", 120, 600, "2024-03-01"),
    ("web", "news.example", "CC-BY-4.0", "commercial", "en", 80, 420, "2024-03-02"),
    ("web", "blog.example", "CC-BY-NC-4.0", "non-commercial", "de", 60, 330, "2024-03-05"),
    ("forum", "cooking.stackexchange.com", "CC-BY-SA-4.0", "commercial", "en", 200, 900,
     "2024-02-10"),
    ("books", None, "LicenseRef-PD", "commercial", "fr", 500, 2400, None),
]
SOURCES = {
    "web": {"kind": "web-crawl", "title": "Web <crawl>", "acquisition_method": "crawl",
            "declared_license": None, "robots_handling": "respected"},
    "forum": {"kind": "forum", "title": "Cooking SE", "acquisition_method": "dump",
              "declared_license": "CC-BY-SA-4.0", "robots_handling": "not-applicable"},
    "books": {"kind": "books", "title": "Old books", "acquisition_method": "licensed from the "
              "publisher", "declared_license": "LicenseRef-PD", "robots_handling": "unknown"},
}


def _table(counter: dict[str, list[int]], total: int) -> list[dict[str, Any]]:
    rows = [{"key": k, "documents": d, "tokens": t, "share": round(t / total, 6)}
            for k, (d, t) in counter.items()]
    return sorted(rows, key=lambda r: (-r["tokens"], -r["documents"], r["key"]))


def make_facts(docs=DOCS, **overrides: Any) -> dict[str, Any]:
    tokens = sum(d[5] for d in docs)
    nbytes = sum(d[6] for d in docs)
    by: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    hosts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for source, host, lic, klass, lang, t, b, _ in docs:
        for key, value in (("by_source", source), ("by_license", lic),
                           ("by_license_class", klass), ("by_language", lang),
                           ("by_source_kind", SOURCES[source]["kind"])):
            by[key][value][0] += 1
            by[key][value][1] += t
        h = hosts[host or "(none)"]
        h[0], h[1], h[2] = h[0] + 1, h[1] + t, h[2] + b
    domains = sorted(({"host": k, "documents": v[0], "tokens": v[1], "bytes": v[2],
                       "share": round(v[2] / nbytes, 6)} for k, v in hosts.items()),
                     key=lambda h: (-h["bytes"], h["host"]))
    named = [d for d in domains if d["host"] != "(none)"]
    dated = sorted(d[7] for d in docs if d[7])
    licences = Counter(d[2] for d in docs)
    attribution = {"CC-BY-4.0", "CC-BY-NC-4.0", "CC-BY-SA-4.0"} & set(licences)
    funnel = [
        {"stage": "admission", "docs_in": len(docs) + 3, "kept": len(docs) + 2,
         "tokens_in": tokens + 90, "kept_tokens": tokens + 60, "dropped": {"optout-request": 1},
         "dropped_tokens": {"optout-request": 30}, "redacted": {}},
        {"stage": "dedup", "docs_in": len(docs) + 2, "kept": len(docs) + 1,
         "tokens_in": tokens + 60, "kept_tokens": tokens + 30,
         "dropped": {"near-duplicate": 1}, "dropped_tokens": {"near-duplicate": 30},
         "redacted": {}},
        {"stage": "pii", "docs_in": len(docs) + 1, "kept": len(docs), "tokens_in": tokens + 30,
         "kept_tokens": tokens, "dropped": {"pii-dense": 1}, "dropped_tokens": {"pii-dense": 30},
         "redacted": {"EMAIL_ADDRESS": 3, "PHONE_NUMBER": 1}},
    ]
    sources = []
    for slug, info in sorted(SOURCES.items()):
        mine = [d for d in docs if d[0] == slug]
        sources.append({"slug": slug, "record_sha256": "ab" * 32, "documents": len(mine),
                        "tokens": sum(d[5] for d in mine), "uri": f"https://{slug}.example/",
                        "steward": f"{slug} steward", "acquisition_date": "2024-04-01",
                        "personal_data": "unknown", "jurisdiction": None,
                        "license_evidence_url": None, "tos_url": None,
                        "tos_verdict": "unrestricted", "tos_quote": "Use it | freely",
                        "tos_reviewer": "rev", "tos_reviewed_at": "2024-04-02T00:00:00+00:00",
                        **info})
    facts = {
        "release": "sample@1.2.3", "name": "sample", "version": "1.2.3", "description": None,
        "created_at": "2024-05-01T00:00:00+00:00", "folder": "/nowhere/sample/1.2.3",
        "manifest": {}, "totals": {"documents": len(docs), "tokens": tokens, "bytes": nbytes},
        "merkle_root": "cd" * 32, "code_version": "0.1.0",
        "data_files": [{"path": "data/part-00000.parquet", "sha256": "ef" * 32, "bytes": 4096,
                        "documents": len(docs), "tokens": tokens}],
        "files": [], "run": {"id": 7, "gate_run": 6},
        "sources": sources,
        "composition": {k: _table(v, tokens) for k, v in by.items()} | {
            "domains": domains, "top_domains": domains, "top_decile_domains":
            named[:max(1, -(-len(named) // 10))],
            "collection_period": {"start": dated[0] + "T00:00:00+00:00",
                                  "end": dated[-1] + "T00:00:00+00:00"},
            "collection_period_by_source": {
                s: {"start": min(d[7] for d in docs if d[0] == s and d[7]) + "T00:00:00+00:00",
                    "end": max(d[7] for d in docs if d[0] == s and d[7]) + "T00:00:00+00:00"}
                for s in {d[0] for d in docs if d[7]}},
            "undated_documents": sum(1 for d in docs if not d[7])},
        "languages": [r["key"] for r in _table(by["by_language"], tokens)],
        "funnel": funnel,
        "duplicates": {"documents": 1, "tokens": 30, "by_rule": {"near-duplicate": 1}},
        "pii": {"found": {"EMAIL_ADDRESS": 3, "PHONE_NUMBER": 1},
                "redacted": {"EMAIL_ADDRESS": 2, "PHONE_NUMBER": 1}, "documents_redacted": 2,
                "documents_dropped": 1, "dropped_by_rule": {"pii-dense": 1},
                "models": {"analyzer": "presidio-analyzer", "entities": ["EMAIL_ADDRESS"]}},
        "models": {"langid": {"name": "lid.176.ftz", "sha256": "12" * 32}},
        "policy": {"name": "p", "version": "1.0.0", "sha256": "34" * 32,
                   "intended_use": "research", "jurisdiction": "EU", "description": "",
                   "combining": "deny-overrides", "agents": list(AGENTS),
                   "defaults": {"admission": "deny", "dedup": "keep", "pii": "keep"},
                   "rules": [
                       {"stage": "admission", "id": "optout-request", "effect": "deny",
                        "reason": "An opt-out request covers this document.",
                        "condition": "optout.matched", "params": {}},
                       {"stage": "dedup", "id": "near-duplicate",
                        "effect": "keep-one-per-cluster", "reason": "Near-duplicate <MinHash>.",
                        "condition": "attr.dup", "params": {}},
                       {"stage": "pii", "id": "pii-dense", "effect": "drop-document",
                        "reason": "Too many PII spans.", "condition": "attr.n > 50",
                        "params": {}}]},
        "licenses": [{"license": lic, "documents": n,
                      "tokens": sum(d[5] for d in docs if d[2] == lic),
                      "share": round(sum(d[5] for d in docs if d[2] == lic) / tokens, 6),
                      "name": None, "use": "non-commercial" if "NC" in lic else "commercial",
                      "attribution": lic in attribution, "share_alike": "SA" in lic,
                      "no_derivatives": False, "open": True, "known": True}
                     for lic, n in sorted(licences.items())],
        "obligations": {"attribution": bool(attribution), "share_alike": "CC-BY-SA-4.0" in
                        licences, "non_commercial": "CC-BY-NC-4.0" in licences,
                        "no_derivatives": False, "unknown": False,
                        "attribution_licenses": sorted(attribution),
                        "share_alike_licenses": sorted(x for x in licences if "SA" in x),
                        "non_commercial_licenses": sorted(x for x in licences if "NC" in x),
                        "no_derivatives_licenses": [], "unknown_licenses": []},
        "combined_use": "non-commercial" if "CC-BY-NC-4.0" in licences else "commercial",
        "consent": {
            "agents": list(AGENTS), "considered": len(docs) + 3,
            "hosts": [{"host": "news.example", "documents": 2, "tokens": 200, "snapshots": 2,
                       "collection_snapshot": "2024-01-01T00:00:00+00:00",
                       "now_snapshot": "2024-06-01T00:00:00+00:00",
                       "at_collection": {a: "none" for a in AGENTS},
                       "now": {"GPTBot": "all", "CCBot": "none", "*": "none"}}],
            "hosts_without_robots": ["blog.example"],
            "by_agent": {"GPTBot": {"blocked_at_collection": 0, "blocked_now": 2,
                                    "released_blocked_at_collection": 0,
                                    "released_blocked_now": 2},
                         "CCBot": {k: 0 for k in ("blocked_at_collection", "blocked_now",
                                                  "released_blocked_at_collection",
                                                  "released_blocked_now")},
                         "*": {k: 0 for k in ("blocked_at_collection", "blocked_now",
                                              "released_blocked_at_collection",
                                              "released_blocked_now")}},
            "reservations": {"tdmrep": 4, "noai": 1, "content_signal": 0, "ai_txt": 0,
                             "other": 0, "reserved": 5, "reserved_released": 0},
            "timeline": {"dates": ["2024-01-01", "2024-06-01"],
                         "agents": {"GPTBot": [0, 1], "CCBot": [0, 0], "*": [0, 0]}}},
        "measures": [{"rule": "optout-request", "kind": "opt-out request", "effect": "deny",
                      "reason": "An opt-out request covers this document.", "documents": 1,
                      "tokens": 30}],
        "optouts": {"honoured_up_to": "2024-05-01T00:00:00+00:00", "excluded_documents": 2,
                    "applied": [{"request": "optout-1", "kind": "domain",
                                 "value": "gone.example", "documents": 2}],
                    "denied_at_admission": 1},
        "attribution": {"documents": sum(licences[x] for x in attribution),
                        "by_license": {x: licences[x] for x in sorted(attribution)},
                        "sources": ["forum"]},
    }
    facts.update(overrides)
    return facts


META = {
    "title": "Sample corpus", "motivation": "To test <reports>.", "creators": ["Ada", "Bob"],
    "funding": "Grant 42", "provider": {"name": "Lab & Co", "contact": "lab@example.org"},
    "model": {"name": "lm", "version": "2.0", "placed_on_market": "2025-08-02"},
    "intended_uses": ["research"], "out_of_scope_uses": ["surveillance"],
    "maintainer": "Data team", "contact": "data@example.org", "citation": "@misc{x}",
}
