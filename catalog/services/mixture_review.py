"""A mixture's compliance review: the facts gathered from the catalog, decided by the review
policy, as one JSON-ready document (docs/mixtures.md).

Per component (a release and its weight) and for the whole mixture: licence classes and the
obligations they carry, the sources' terms-of-service verdicts, consent at collection, at the
cut and now, retroactive opt-outs, personal data, each counted in documents, tokens and
effective tokens (tokens x weight). The review policy's rules turn the facts into findings;
each finding carries the facts its rule read and the evidence behind them (licences and
sources, ToS quotes and reviews, robots snapshots with id and date, opt-out requests).

The document's `sha256` is over everything but `generated_at`, `basis` and `signoff`: the
same catalog gives the same review and the same hash. `basis` records what the review saw
(releases, policy, sources, the newest snapshot and opt-out request), against which a
sign-off is later found stale.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from catalog.models import (
    Mixture,
    OptOutRequest,
    Release,
    RobotsSnapshot,
    Run,
    Source,
    StoredPolicy,
    TosReview,
    utcnow,
)
from catalog.services.facts import licences_conflict
from catalog.services.mixture_composition import (
    HostGroup,
    composition,
    effective_tokens,
    hosts_of,
    open_requests,
    optout_matches,
    record_sha256,
    release_pii,
)
from catalog.services.mixture_consent import FAMILIES as CONSENT_FAMILIES
from catalog.services.mixture_consent import MixtureConsent
from catalog.timeutil import as_utc, iso_utc
from policies.review import ReviewPolicy, evaluate, rule_table, verdict
from policies.review_facts import evidence_key, measured_families
from policies.taxonomy import load_taxonomy

FORMAT = "govcat-mixture-review/1"
EVIDENCE_CAP = 50  # items of one family shown per finding; the count says how many more
UNHASHED = ("generated_at", "basis", "signoff", "sha256")
_OBLIGATION_NAMES = {"non_commercial": "non-commercial", "academic_only": "academic-only",
                     "unknown": "unknown", "attribution": "attribution",
                     "share_alike": "share-alike", "no_derivatives": "no-derivatives",
                     "conflict": "conflicting evidence"}


def review_sha256(doc: Mapping[str, Any]) -> str:
    from reports.manifest import canonical_sha256

    return canonical_sha256({k: v for k, v in doc.items() if k not in UNHASHED})


def build(session: Session, layout: Any, mixture: Mixture,
          components: Sequence[tuple[Any, Release]], policy: ReviewPolicy) -> dict[str, Any]:
    """The review document of `mixture` (components resolved, review policy chosen)."""
    releases = [r for _, r in components]
    groups = composition(session, [r.id for r in releases])
    hosts = hosts_of(groups)
    taxonomy = load_taxonomy()
    source_ids = sorted({g.source_id for g in groups})
    sources = {s.id: s for s in session.execute(
        select(Source).where(Source.id.in_(source_ids))).scalars()} if source_ids else {}
    reviews: dict[int, list[dict[str, Any]]] = {}
    for t in session.execute(select(TosReview).where(TosReview.source_id.in_(source_ids))
                             .order_by(TosReview.reviewed_at, TosReview.id)).scalars():
        reviews.setdefault(t.source_id, []).append({
            "url": t.url, "verdict": t.verdict, "quote": t.quote, "reviewer": t.reviewer,
            "reviewed_at": iso_utc(t.reviewed_at), "snapshot_sha256": t.snapshot_sha256})
    consent = MixtureConsent(session, policy.agents)
    all_hosts = sorted({h for per in hosts.values() for h in per if h})
    consent.preload(all_hosts)
    requests = open_requests(session)
    by_release: dict[int, list[Any]] = {}
    for g in groups:
        by_release.setdefault(g.release_id, []).append(g)
    built = [_component(session, layout, comp, release, by_release.get(release.id, []),
                        hosts.get(release.id, {}), taxonomy, sources, reviews, consent, requests)
             for comp, release in components]
    total_eff = sum(c["effective_tokens"] for c in built)
    mixture_facts = {
        "mixture.name": mixture.name, "mixture.intended_use": mixture.intended_use,
        "mixture.jurisdiction": mixture.jurisdiction, "mixture.components": len(built),
        "mixture.documents": sum(c["documents"] for c in built),
        "mixture.tokens": sum(c["tokens"] for c in built), "mixture.effective_tokens": total_eff,
    }
    findings: list[dict[str, Any]] = []
    for c in built:
        c["share"] = c["effective_tokens"] / total_eff if total_eff else 0.0
        facts = {**mixture_facts, **c.pop("_facts")}
        facts["component.share"] = c["share"]
        c["facts"] = facts
        found = [_finding(f.to_dict(), c["release"], c["_evidence"], c["measures"])
                 for f in evaluate(policy, "component", facts)]
        c["verdict"] = verdict(found)
        c["findings"] = [f["rule"] for f in found]
        findings.extend(found)
    overall = _overall(built, mixture_facts)
    evidence_all: dict[str, list[dict[str, Any]]] = {}
    for c in built:
        for key, items in c["_evidence"].items():
            evidence_all.setdefault(key, []).extend({"component": c["release"], **i}
                                                    for i in items)
    mixture_found = [_finding(f.to_dict(), None, evidence_all, overall["measures"])
                     for f in evaluate(policy, "mixture", overall["facts"])]
    overall["verdict"] = verdict(mixture_found)
    findings.extend(mixture_found)
    by_source: Counter = Counter()
    by_class: Counter = Counter()
    for c in built:
        for row in c["licenses"]:
            by_class[row["use"]] += row["effective_tokens"]
        for row in c["sources"]:
            by_source[row["source"]] += row["effective_tokens"]
    doc = {
        "format": FORMAT,
        "mixture": {"name": mixture.name, "description": mixture.description,
                    "intended_use": mixture.intended_use, "jurisdiction": mixture.jurisdiction,
                    "created_at": iso_utc(mixture.created_at), "created_by": mixture.actor},
        "review_policy": {**policy.ref(), "description": policy.description,
                          "intended_use": policy.intended_use, "agents": list(policy.agents),
                          "rules": list(rule_table(policy))},
        "components": built,
        "overall": overall,
        "composition": {
            "by_license_class": dict(sorted(by_class.items(), key=lambda kv: -kv[1])),
            "by_source": dict(sorted(by_source.items(), key=lambda kv: -kv[1])),
        },
        "consent_timeline": consent.timeline(all_hosts),
        "findings": findings,
        "counts": dict(Counter(f["effect"] for f in findings)),
        "verdict": verdict(findings),
    }
    basis = _basis(session, components, policy, sources, built)
    for c in built:
        for private in ("_evidence", "_stricter_hosts", "_optouts"):
            c.pop(private)
    doc["sha256"] = review_sha256(doc)
    doc["basis"] = basis
    doc["generated_at"] = iso_utc(utcnow())
    return doc


# --------------------------------------------------------------------------- a component


class _Tally:
    def __init__(self) -> None:
        self.counts: dict[str, list[int]] = {f: [0, 0] for f in measured_families()}
        self.evidence: dict[str, list[dict[str, Any]]] = {}

    def add(self, family: str, docs: int, tokens: int) -> None:
        self.counts[family][0] += docs
        self.counts[family][1] += tokens

    def cite(self, family: str, item: dict[str, Any]) -> None:
        self.evidence.setdefault(family, []).append(item)


def _component(session: Session, layout: Any, comp: Any, release: Release, groups, hosts,
               taxonomy, sources, reviews, consent: MixtureConsent, requests) -> dict[str, Any]:
    weight = float(comp.weight)
    tally = _Tally()
    licences: dict[tuple[str, str], dict[str, Any]] = {}
    per_source: dict[int, list[int]] = {}
    docs = tokens = 0
    for g in groups:
        docs += g.documents
        tokens += g.tokens
        slot = per_source.setdefault(g.source_id, [0, 0])
        slot[0] += g.documents
        slot[1] += g.tokens
        licence, use, families = _licence(taxonomy, g.declared, g.concluded)
        row = licences.setdefault((licence, sources[g.source_id].slug), {
            "license": licence, "source": sources[g.source_id].slug, "use": use,
            "obligations": [_OBLIGATION_NAMES[f] for f in _OBLIGATION_NAMES if f in families],
            "families": sorted(families), "documents": 0, "tokens": 0})
        row["documents"] += g.documents
        row["tokens"] += g.tokens
        for f in families:
            tally.add(f"license.{f}", g.documents, g.tokens)
    licence_rows = _weighted(licences.values(), weight)
    for row in licence_rows:
        tally.cite("license", row)
        for f in row.pop("families"):
            tally.cite(f"license.{f}", row)
    source_rows = []
    for sid, (n, t) in per_source.items():
        s = sources[sid]
        row = {"source": s.slug, "title": s.title, "kind": s.kind, "status": s.status,
               "tos_verdict": s.tos_verdict, "tos_quote": s.tos_quote, "tos_url": s.tos_url,
               "tos_reviews": reviews.get(sid, []), "personal_data": s.personal_data,
               "jurisdiction": s.jurisdiction, "record_sha256": record_sha256(s),
               "documents": n, "tokens": t}
        source_rows.append(row)
        tally.add(f"tos.{s.tos_verdict.replace('-', '_')}", n, t)
        if s.personal_data in ("yes", "unknown"):
            tally.add(f"pii.{'flagged' if s.personal_data == 'yes' else 'unknown'}", n, t)
    source_rows = _weighted(source_rows, weight)
    for row in source_rows:
        tally.cite("tos", row)
        tally.cite(f"tos.{row['tos_verdict'].replace('-', '_')}", row)
        if row["personal_data"] in ("yes", "unknown"):
            tally.cite(f"pii.{'flagged' if row['personal_data'] == 'yes' else 'unknown'}", row)
    cut = as_utc(release.created_at)
    stricter_hosts: set[str | None] = set()
    reserved_uses: set[str] = set()
    host_items: dict[str, list[dict[str, Any]]] = {}
    hg: HostGroup
    for hg in hosts.values():
        hc = consent.evaluate(release.id, cut, hg)
        for family, (n, t) in hc.counts.items():
            tally.add(family if family == "reservation" else f"consent.{family}", n, t)
        for family, entry in hc.evidence.items():
            host_items.setdefault(family, []).append(entry)
        if "stricter_since_cut" in hc.counts:
            stricter_hosts.add(hg.host)
        reserved_uses |= set(hc.evidence.get("reservation", {}).get("uses", ()))
    for family, items in host_items.items():
        key = family if family == "reservation" else f"consent.{family}"
        for item in _weighted(items, weight):
            tally.cite(key, item)
    optouts = optout_matches(session, release.id, requests, hosts)
    tally.add("optout.new", optouts.documents, optouts.tokens)
    for item in _weighted(optouts.requests, weight):
        tally.cite("optout.new", item)
    pii = release_pii(session, layout, release)
    tally.cite("pii", {k: v for k, v in pii.items() if k != "problems"})
    # Families count the members' index tokens; the totals are the release's own (its text as
    # released: redaction placeholders change the count a little).
    member_eff = effective_tokens(tokens, weight)
    eff = effective_tokens(release.tokens, weight)
    facts: dict[str, Any] = {
        "component.release": f"{release.name}@{release.version}", "component.name": release.name,
        "component.version": release.version, "component.weight": weight,
        "component.documents": release.documents, "component.tokens": release.tokens,
        "component.effective_tokens": eff,
    }
    run = session.get(Run, release.run_id)
    stored = session.get(StoredPolicy, run.policy_id) if run and run.policy_id else None
    facts["component.policy"] = f"{stored.name}@{stored.version}" if stored else ""
    facts["component.policy_intended_use"] = stored.intended_use if stored else ""
    measures = {}
    for family, (n, t) in tally.counts.items():
        e = effective_tokens(t, weight)
        measures[family] = {"documents": n, "tokens": t, "effective_tokens": e,
                            "share": min(1.0, e / member_eff) if member_eff else 0.0}
        for measure, value in measures[family].items():
            facts[f"{family}.{measure}"] = value
    facts.update({
        "license.ids": sorted({r["license"] for r in licence_rows if r["license"] != "(none)"}),
        "license.uses": sorted({r["use"] for r in licence_rows}),
        "tos.verdicts": sorted({r["tos_verdict"] for r in source_rows}),
        "consent.stricter_hosts": len(stricter_hosts), "reservation.uses": sorted(reserved_uses),
        "optout.new_requests": len(optouts.requests),
        "pii.redacted": pii["redacted"], "pii.redacted_spans": sum(pii["redacted"].values()),
        "pii.found": pii["found"] or {}, "pii.dropped_documents": pii["dropped_documents"],
    })
    problems = list(pii.pop("problems"))
    if docs != release.documents:
        problems.append(f"the catalog lists {docs:,} members of {release.name}@"
                        f"{release.version}; the release says {release.documents:,} documents")
    return {
        "ref": comp.release_name + (f"@{comp.release_version}" if comp.release_version else ""),
        "release": f"{release.name}@{release.version}", "weight": weight,
        "documents": release.documents, "tokens": release.tokens, "effective_tokens": eff,
        "release_record": {
            "id": release.id, "created_at": iso_utc(release.created_at), "path": release.path,
            "manifest_sha256": release.manifest_sha256, "merkle_root": release.merkle_root,
            "run": release.run_id, "policy": facts["component.policy"],
            "optouts_honoured_up_to": iso_utc(release.optouts_up_to),
            "signed": release.signature_sha256 is not None},
        "measures": measures,
        "licenses": licence_rows, "sources": source_rows,
        "consent": {"hosts": len([h for h in hosts if h]),
                    **{f: _capped(tally.evidence.get(f"consent.{f}", []))
                       for f in CONSENT_FAMILIES}},
        "reservation": _capped(tally.evidence.get("reservation", [])),
        "optouts": _capped(tally.evidence.get("optout.new", [])),
        "pii": pii, "problems": problems,
        "_facts": facts, "_evidence": tally.evidence, "_stricter_hosts": stricter_hosts,
        "_optouts": optouts.by_request(),
    }


def _licence(taxonomy, declared: str | None, concluded: str | None
             ) -> tuple[str, str, set[str]]:
    """(licence as concluded, its use class, the licence families it belongs to)."""
    licence = concluded or declared
    try:
        cls = taxonomy.classify(licence) if licence else None
    except ValueError:
        cls = None
    families: set[str] = set()
    if cls is None or not cls.known or cls.use == "unspecified":
        families.add("unknown")
    if cls is not None:
        families |= {f for f, on in (("non_commercial", cls.use == "non-commercial"),
                                      ("academic_only", cls.use == "academic-only"),
                                      ("attribution", cls.attribution),
                                      ("share_alike", cls.share_alike),
                                      ("no_derivatives", cls.no_derivatives)) if on}
    try:
        if licences_conflict(declared, concluded):
            families.add("conflict")
    except ValueError:
        families.add("conflict")
    return licence or "(none)", cls.use if cls is not None else "unspecified", families


def _weighted(items: Iterable[dict[str, Any]], weight: float) -> list[dict[str, Any]]:
    """Items with their effective tokens, largest first, then by their first text field."""
    out = [{**i, "effective_tokens": effective_tokens(i["tokens"], weight)} for i in items]
    return sorted(out, key=lambda i: (-i["effective_tokens"], -i["documents"],
                                      str(i.get("license") or i.get("source") or i.get("host")
                                          or i.get("request") or "")))


def _capped(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"items": items[:EVIDENCE_CAP], "more": max(0, len(items) - EVIDENCE_CAP)}


# --------------------------------------------------------------------------- the whole


def _overall(built: Sequence[dict[str, Any]], mixture_facts: dict[str, Any]) -> dict[str, Any]:
    total_eff = mixture_facts["mixture.effective_tokens"]
    measures: dict[str, dict[str, Any]] = {}
    facts = dict(mixture_facts)
    for family in measured_families():
        n = sum(c["measures"][family]["documents"] for c in built)
        t = sum(c["measures"][family]["tokens"] for c in built)
        e = sum(c["measures"][family]["effective_tokens"] for c in built)
        measures[family] = {"documents": n, "tokens": t, "effective_tokens": e,
                            "share": min(1.0, e / total_eff) if total_eff else 0.0}
        for measure, value in measures[family].items():
            facts[f"{family}.{measure}"] = value

    def union(path: str) -> list[str]:
        return sorted({v for c in built for v in c["facts"][path]})

    def summed(path: str) -> dict[str, int]:
        out: Counter = Counter()
        for c in built:
            out.update(c["facts"][path])
        return dict(sorted(out.items()))

    facts.update({
        "license.ids": union("license.ids"), "license.uses": union("license.uses"),
        "tos.verdicts": union("tos.verdicts"), "reservation.uses": union("reservation.uses"),
        "consent.stricter_hosts": len(set().union(*(c["_stricter_hosts"] for c in built))),
        "optout.new_requests": len(set().union(*(c["_optouts"] for c in built))),
        "pii.redacted": summed("pii.redacted"), "pii.found": summed("pii.found"),
        "pii.redacted_spans": sum(c["facts"]["pii.redacted_spans"] for c in built),
        "pii.dropped_documents": sum(c["facts"]["pii.dropped_documents"] for c in built),
    })
    return {"documents": facts["mixture.documents"], "tokens": facts["mixture.tokens"],
            "effective_tokens": total_eff, "measures": measures, "facts": facts}


def _finding(found: dict[str, Any], component: str | None,
             evidence: Mapping[str, list[dict[str, Any]]],
             measures: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """A finding with the evidence of every family its rule read, and their counts."""
    keys = sorted({k for p in found["facts"] if (k := evidence_key(p)) is not None})
    return {**found, "component": component,
            "measures": {k: measures[k] for k in keys if k in measures},
            "evidence": {k: _capped(evidence.get(k, [])) for k in keys}}


def _basis(session: Session, components, policy: ReviewPolicy, sources: Mapping[int, Source],
           built: Sequence[dict[str, Any]]) -> dict[str, Any]:
    matched: dict[str, dict[str, int]] = {}
    for c in built:
        for request, documents in c["_optouts"].items():
            matched.setdefault(request, {})[c["release"]] = documents
    return {
        "components": [{"ref": c["ref"], "release": c["release"], "release_id": r.id,
                        "manifest_sha256": r.manifest_sha256, "merkle_root": r.merkle_root,
                        "weight": c["weight"]} for c, (_, r) in zip(built, components,
                                                                    strict=True)],
        "review_policy": policy.ref(),
        "sources": {s.slug: record_sha256(s) for s in sources.values()},
        "snapshots_upto": int(session.execute(select(func.coalesce(
            func.max(RobotsSnapshot.id), 0))).scalar_one()),
        "optouts_upto": int(session.execute(select(func.coalesce(
            func.max(OptOutRequest.id), 0))).scalar_one()),
        "optouts": matched,
    }
