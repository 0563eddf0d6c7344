"""Everything the reports of one release say, gathered once from the catalog and the folder.

    facts = gather(catalog, "web-en@1.0.0")        # ReleaseFacts
    facts.to_dict()                                # plain JSON-ready data

Only the catalog touches the database, so the facts are gathered here and handed to the pure
renderers in reports/ (datasheet, AI Act summary, card, Croissant, charts). The numbers come
from the release's own manifest and data shards wherever they can, so a report never says
something the folder does not; the catalog adds what a folder cannot hold (sources and their
reviews, the policy's rules and reasons, robots.txt snapshots). See docs/reports.md.

The renderers in reports/ take `facts.to_dict()` (reports/ cannot import the catalog).
Per-document attribution notices can be many; they are streamed by `attribution_entries`,
not held in `ReleaseFacts`.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from catalog.errors import IntegrityError, NotFound
from catalog.models import (
    Document,
    Release,
    ReleaseMember,
    Run,
    Shard,
    Source,
    StoredPolicy,
    TosReview,
)
from catalog.timeutil import as_utc, iso_utc
from common.storage import as_path, duckdb_files, read_table

TOP_DOMAIN_SHARE = 0.10  # the AI Act template's "top 10% of all domain names" by content size
TOP_DOMAINS_LISTED = 25  # composition table / chart length
_CHUNK = 5000

# Which admission rules protect rights, told by the facts their condition reads.
_MEASURE_KINDS = (("optout.", "opt-out request"), ("reservation.", "reservation of rights"),
                  ("consent.", "robots.txt"))


@dataclass
class ReleaseFacts:
    """One release, as the reports need it. Every field is plain JSON-ready data.

    Fields (counts are documents unless named tokens/bytes; dates ISO 8601 UTC strings):

    - `release` "NAME@X.Y.Z"; `name`, `version`, `description`, `created_at` (the cut time);
      `folder` the absolute release folder; `manifest` the manifest.json, verbatim.
    - `totals` {documents, tokens, bytes}; `merkle_root`; `code_version`.
    - `data_files` [{path, sha256, bytes, documents, tokens}] — the manifest's data shards
      (relative to the folder); `files` every manifest file entry (data, index, decisions,
      excluded).
    - `run` {id, gate_run, started_at, finished_at, actor, code_version} of the processing run.
    - `sources` [{slug, kind, title, uri, steward, acquisition_method, acquisition_date,
      robots_handling, personal_data, jurisdiction, declared_license, license_evidence_url,
      tos_url, tos_verdict, tos_quote, tos_reviewer, tos_reviewed_at, record_sha256,
      documents, tokens}] sorted by slug; the ToS fields are the newest review's (the
      source's own verdict and quote when never reviewed; reviewer/date then null).
    - `composition`: {by_source, by_source_kind, by_license, by_license_class, by_language}
      each [{key, documents, tokens, share}] sorted by tokens (desc) then key, share =
      tokens / total tokens (documents when there are no tokens); `domains` [{host,
      documents, tokens, bytes, share}] for every host, largest content (bytes) first;
      `top_domains` the first TOP_DOMAINS_LISTED of them; `top_decile_domains` the top 10%
      of domains by bytes (at least one when there is any host), as the AI Act template asks;
      `collection_period` {start, end} min/max of collected_at (null when unknown);
      `collection_period_by_source` {slug: {start, end}};
      `undated_documents`.
    - `languages` [language codes] by tokens, desc.
    - `funnel` the manifest funnel verbatim: [{stage, docs_in, tokens_in, kept, kept_tokens,
      dropped: {rule: docs}, dropped_tokens: {rule: tokens}, redacted: {type: spans}}].
    - `duplicates` {documents, tokens, by_rule: {rule: documents}} dropped by the dedup stage.
    - `pii` {found: {type: spans} detected in documents the pii stage redacted, redacted:
      {type: spans} replaced in the released text (manifest "redacted"), documents_redacted,
      documents_redacted (released documents with at least one span replaced),
      documents_dropped, dropped_by_rule: {rule: documents}, models: manifest models.pii}.
    - `models` the manifest's models verbatim.
    - `policy` {name, version, sha256, intended_use, jurisdiction, description, combining,
      agents, defaults: {stage: effect}, rules: [{stage, id, effect, reason, condition,
      params}] in stage order}.
    - `licenses` [{license, documents, tokens, share, name, use, attribution, share_alike,
      no_derivatives, open, known}] one per licence expression in the release;
      `obligations` {attribution, share_alike, non_commercial, no_derivatives, unknown: bool
      over the whole release; attribution_licenses, share_alike_licenses,
      non_commercial_licenses, no_derivatives_licenses, unknown_licenses: [licence]};
      `combined_use` the use class of the whole release (most restrictive).
    - `consent` {agents: [agent], hosts: [{host, documents, tokens, snapshots,
      collection_snapshot, now_snapshot, at_collection: {agent: all|some|none},
      now: {agent: ...}}] for released hosts with robots.txt snapshots (at_collection is the
      snapshot in force when its first released document was collected),
      by_agent: {agent: {blocked_at_collection, blocked_now, released_blocked_at_collection,
      released_blocked_now}} documents (of those considered at admission) whose URL the
      agent was disallowed, considered: documents the admission stage decided on,
      hosts_without_robots: released hosts without any snapshot,
      reservations: {tdmrep, noai, content_signal, ai_txt, other: documents considered whose
      signals reserve a use, reserved: documents reserved for TDM or AI training,
      reserved_released}, timeline: {dates: [date], agents: {agent: [hosts of the release
      whose robots.txt in force on that date blocks the agent from all or some paths]}}}.
    - `measures` [{rule, kind, effect, reason, documents, tokens}]: admission rules that
      protect rights (opt-outs, reservations, robots.txt), with what they removed.
    - `optouts` the manifest "optouts" verbatim, plus `denied_at_admission` (documents the
      admission stage denied for an opt-out request).
    - `attribution` {documents: docs whose licence requires attribution, by_license: {licence:
      documents}, sources: [slug]}; the notices themselves come from `attribution_entries`.
    """

    release: str
    name: str
    version: str
    description: str | None
    created_at: str | None
    folder: str
    manifest: dict[str, Any]
    totals: dict[str, int]
    merkle_root: str | None
    code_version: str | None
    data_files: list[dict[str, Any]]
    files: list[dict[str, Any]]
    run: dict[str, Any]
    sources: list[dict[str, Any]]
    composition: dict[str, Any]
    languages: list[str]
    funnel: list[dict[str, Any]]
    duplicates: dict[str, Any]
    pii: dict[str, Any]
    models: dict[str, Any]
    policy: dict[str, Any]
    licenses: list[dict[str, Any]]
    obligations: dict[str, Any]
    combined_use: str
    consent: dict[str, Any]
    measures: list[dict[str, Any]]
    optouts: dict[str, Any]
    attribution: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- helpers


def _table(counts: dict[str, dict[str, int]], total_tokens: int, total_docs: int
           ) -> list[dict[str, Any]]:
    rows = []
    for key, value in counts.items():
        docs, tokens = int(value.get("documents", 0)), int(value.get("tokens", 0))
        share = tokens / total_tokens if total_tokens else (docs / total_docs if total_docs
                                                            else 0.0)
        rows.append({"key": key, "documents": docs, "tokens": tokens, "share": round(share, 6)})
    return sorted(rows, key=lambda r: (-r["tokens"], -r["documents"], r["key"]))


def _stage(funnel: Sequence[dict[str, Any]], name: str) -> dict[str, Any]:
    return next((f for f in funnel if f.get("stage") == name), {})


def _data_glob(folder: Path, data_files: Sequence[dict[str, Any]]) -> list[str]:
    return [str(folder / f["path"]) for f in data_files]


def _hosts_and_period(folder: Path, data_files: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per host: documents, tokens and UTF-8 bytes of released text; collection period."""
    import duckdb

    files = _data_glob(folder, data_files)
    if not files:
        return {"hosts": [], "start": None, "end": None, "undated": 0, "by_source": {}}
    con = duckdb.connect()
    files = duckdb_files(con, files)
    con.execute("SET TimeZone = 'UTC'")
    rows = con.execute(
        "select coalesce(json_extract_string(metadata, '$.host'), '(none)') as host, "
        "count(*), coalesce(sum(n_tokens), 0), coalesce(sum(strlen(text)), 0) "
        "from read_parquet(?) group by 1", [files]).fetchall()
    start, end, undated = con.execute(
        "select min(collected_at), max(collected_at), count(*) - count(collected_at) "
        "from read_parquet(?)", [files]).fetchone()
    per_source = con.execute(
        "select source, min(collected_at), max(collected_at) from read_parquet(?) "
        "group by source order by source", [files]).fetchall()
    hosts = [{"host": h, "documents": int(d), "tokens": int(t), "bytes": int(b)}
             for h, d, t, b in rows]
    return {"hosts": hosts, "start": iso_utc(start), "end": iso_utc(end),
            "undated": int(undated or 0),
            "by_source": {s: {"start": iso_utc(a), "end": iso_utc(b)} for s, a, b in per_source}}


def _domains(hosts: list[dict[str, Any]]) -> tuple[list, list]:
    total = sum(h["bytes"] for h in hosts) or 1
    ranked = sorted(hosts, key=lambda h: (-h["bytes"], -h["tokens"], h["host"]))
    for h in ranked:
        h["share"] = round(h["bytes"] / total, 6)
    named = [h for h in ranked if h["host"] != "(none)"]
    decile = named[:max(1, -(-len(named) // 10))] if named else []  # ceil(10%)
    return ranked, decile


def _source_rows(session, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    by_source = manifest.get("counts", {}).get("by_source", {})
    hashes = {s["slug"]: s.get("record_sha256") for s in manifest.get("sources", [])}
    slugs = sorted(set(hashes) | set(by_source))
    rows = {s.slug: s for s in session.execute(
        select(Source).where(Source.slug.in_(slugs))).scalars()} if slugs else {}
    out = []
    for slug in slugs:
        s = rows.get(slug)
        counts = by_source.get(slug, {})
        entry: dict[str, Any] = {"slug": slug, "record_sha256": hashes.get(slug),
                                 "documents": int(counts.get("documents", 0)),
                                 "tokens": int(counts.get("tokens", 0))}
        if s is None:  # deleted from the catalog since the cut: the manifest still names it
            entry.update({k: None for k in (
                "kind", "title", "uri", "steward", "acquisition_method", "acquisition_date",
                "robots_handling", "personal_data", "jurisdiction", "declared_license",
                "license_evidence_url", "tos_url", "tos_verdict", "tos_quote", "tos_reviewer",
                "tos_reviewed_at")})
            out.append(entry)
            continue
        review = session.execute(
            select(TosReview).where(TosReview.source_id == s.id)
            .order_by(TosReview.reviewed_at.desc(), TosReview.id.desc())).scalars().first()
        entry.update({
            "kind": s.kind, "title": s.title, "uri": s.uri, "steward": s.steward,
            "acquisition_method": s.acquisition_method,
            "acquisition_date": s.acquisition_date.isoformat() if s.acquisition_date else None,
            "robots_handling": s.robots_handling, "personal_data": s.personal_data,
            "jurisdiction": s.jurisdiction, "declared_license": s.declared_license,
            "license_evidence_url": s.license_evidence_url, "tos_url": s.tos_url,
            "tos_verdict": review.verdict if review else s.tos_verdict,
            "tos_quote": review.quote if review else s.tos_quote,
            "tos_reviewer": review.reviewer if review else None,
            "tos_reviewed_at": iso_utc(review.reviewed_at) if review else None,
        })
        out.append(entry)
    return out


def _policy(stored: StoredPolicy | None, manifest_policy: dict[str, Any]) -> dict[str, Any]:
    from policies.errors import PolicyError
    from policies.loader import load_policy

    out: dict[str, Any] = {"name": manifest_policy.get("name"),
                           "version": manifest_policy.get("version"),
                           "sha256": manifest_policy.get("sha256"), "intended_use": None,
                           "jurisdiction": None, "description": "", "combining": None,
                           "agents": [], "defaults": {}, "rules": []}
    if stored is None:
        return out
    out.update({"intended_use": stored.intended_use, "jurisdiction": stored.jurisdiction})
    try:
        policy = load_policy(stored.text)
    except PolicyError as exc:  # stored verbatim, so only a newer schema can refuse it
        raise IntegrityError(f"policy {stored.name}@{stored.version} as stored no longer "
                             f"loads: {exc}") from None
    out.update({
        "description": policy.description, "combining": policy.combining,
        "agents": list(policy.agents), "defaults": dict(policy.defaults),
        "intended_use": policy.intended_use, "jurisdiction": policy.jurisdiction,
        "rules": [{"stage": r.stage, "id": r.id, "effect": r.effect, "reason": r.reason,
                   "condition": r.condition, "params": dict(r.params)}
                  for r in policy.all_rules()],
    })
    return out


def _licenses(by_license: dict[str, dict[str, int]], total_tokens: int, total_docs: int):
    from policies.taxonomy import combine, load_taxonomy

    taxonomy = load_taxonomy()
    rows, classes = [], []
    for row in _table(by_license, total_tokens, total_docs):
        licence = row["key"]
        cls = taxonomy.classify(licence if licence != "(none)" else "LicenseRef-Unknown")
        classes.append(cls)
        terms = taxonomy.get(licence)
        rows.append({"license": licence, "documents": row["documents"], "tokens": row["tokens"],
                     "share": row["share"], "name": terms.name if terms else None,
                     "use": cls.use, "attribution": cls.attribution,
                     "share_alike": cls.share_alike, "no_derivatives": cls.no_derivatives,
                     "open": cls.open, "known": cls.known and licence != "(none)"})
    by = {k: sorted(r["license"] for r in rows if test(r)) for k, test in (
        ("attribution_licenses", lambda r: r["attribution"]),
        ("share_alike_licenses", lambda r: r["share_alike"]),
        ("non_commercial_licenses", lambda r: r["use"] in ("non-commercial", "academic-only")),
        ("no_derivatives_licenses", lambda r: r["no_derivatives"]),
        ("unknown_licenses", lambda r: not r["known"]))}
    obligations = {"attribution": bool(by["attribution_licenses"]),
                   "share_alike": bool(by["share_alike_licenses"]),
                   "non_commercial": bool(by["non_commercial_licenses"]),
                   "no_derivatives": bool(by["no_derivatives_licenses"]),
                   "unknown": bool(by["unknown_licenses"]), **by}
    combined = combine(classes).use if classes else "unspecified"
    return rows, obligations, combined


def _measures(policy: dict[str, Any], funnel: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    admission = _stage(funnel, "admission")
    dropped, tokens = admission.get("dropped", {}), admission.get("dropped_tokens", {})
    out = []
    for rule in policy["rules"]:
        if rule["stage"] != "admission":
            continue
        kind = next((k for prefix, k in _MEASURE_KINDS if prefix in rule["condition"]), None)
        if kind is None:
            continue
        out.append({"rule": rule["id"], "kind": kind, "effect": rule["effect"],
                    "reason": rule["reason"], "documents": int(dropped.get(rule["id"], 0)),
                    "tokens": int(tokens.get(rule["id"], 0))})
    return out


def _considered(folder: Path) -> list[str]:
    """Ids the admission stage decided on (from the release's copy of the decision log)."""
    import pyarrow.compute as pc

    path = folder / "decisions.parquet"
    if not path.exists():
        return []
    table = read_table(path, columns=["id", "stage"])
    return table.filter(pc.equal(table.column("stage"), "admission")).column("id").to_pylist()


_SIGNAL_KIND = {"x-robots-tag": "noai", "meta-robots": "noai", "tdmrep.json": "tdmrep",
                "tdm-reservation-header": "tdmrep", "tdm-reservation-meta": "tdmrep",
                "tdm-policy-header": "tdmrep", "tdm-policy-meta": "tdmrep",
                "content-signal": "content_signal", "ai.txt": "ai_txt"}


def _consent(session, folder: Path, agents: Sequence[str], released: set[str],
             hosts: list[dict[str, Any]]) -> dict[str, Any]:
    from catalog.services.facts import FactBuilder
    from policies.taxonomy import load_taxonomy

    builder = FactBuilder(session, required=("consent.any_blocked_now", "reservation.reserved"),
                          agents=agents, taxonomy=load_taxonomy())
    index = builder.consent
    by_agent = {a: Counter() for a in agents}
    reservations: Counter = Counter()
    first_collected: dict[str, Any] = {}
    considered = _considered(folder) or sorted(released)
    cols = [getattr(Document, c) for c in ("id", "source_id", "url", "host", "collected_at",
                                           "declared_license", "concluded_license",
                                           "content_sha256", "n_tokens", "consent_signals",
                                           "reserved_uses")]
    for start in range(0, len(considered), _CHUNK):
        chunk = considered[start:start + _CHUNK]
        rows = [dict(r._mapping) for r in session.execute(
            select(*cols).where(Document.id.in_(chunk)))]
        builder.prepare(rows)
        for row in rows:
            is_released = row["id"] in released
            host, url, when = row["host"], row["url"], row["collected_at"]
            if is_released and host and when is not None:
                prev = first_collected.get(host)
                first_collected[host] = as_utc(when) if prev is None else min(prev, as_utc(when))
            then, now = index.at(host, when), index.now(host)
            for agent in index.blocked_agents(then, url):
                by_agent[agent]["blocked_at_collection"] += 1
                by_agent[agent]["released_blocked_at_collection"] += is_released
            for agent in index.blocked_agents(now, url):
                by_agent[agent]["blocked_now"] += 1
                by_agent[agent]["released_blocked_now"] += is_released
            reserved, _uses, records = builder.reservation_for(row, then, now)
            if reserved:
                reservations["reserved"] += 1
                reservations["reserved_released"] += is_released
            kinds = set()
            for record in records or ():
                for ev in record.evidence:
                    if ev.effect.startswith("reserves") and ev.effect != "reserves nothing":
                        kinds.add(_SIGNAL_KIND.get(ev.signal, "other"))
            if not records and row["reserved_uses"]:
                kinds.add("other")
            reservations.update(kinds)
    host_rows, without = [], []
    dates: set[str] = set()
    for h in sorted(hosts, key=lambda h: h["host"]):
        name = h["host"]
        snaps = index.snapshots(name) if name != "(none)" else []
        if not snaps:
            if name != "(none)":
                without.append(name)
            continue
        then = index.at(name, first_collected.get(name))
        now = index.now(name)
        dates.update(s.fetched_at.date().isoformat() for s in snaps)
        host_rows.append({
            "host": name, "documents": h["documents"], "tokens": h["tokens"],
            "snapshots": len(snaps), "collection_snapshot": iso_utc(then.fetched_at),
            "now_snapshot": iso_utc(now.fetched_at), "at_collection": index.blocks(then),
            "now": index.blocks(now)})
    timeline_dates = sorted(dates)
    timeline: dict[str, list[int]] = {a: [] for a in agents}
    from datetime import UTC, datetime, timedelta

    for day in timeline_dates:
        end = datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(days=1, seconds=-1)
        snaps = [index.at(h["host"], end) for h in host_rows]
        for agent in agents:
            timeline[agent].append(sum(1 for s in snaps if s is not None and s.fetched_at <= end
                                       and index.blocks(s)[agent] != "none"))
    keys = ("blocked_at_collection", "blocked_now", "released_blocked_at_collection",
            "released_blocked_now")
    return {
        "agents": list(agents), "considered": len(considered), "hosts": host_rows,
        "hosts_without_robots": without,
        "by_agent": {a: {k: int(by_agent[a][k]) for k in keys} for a in agents},
        "reservations": {k: int(reservations[k]) for k in (
            "tdmrep", "noai", "content_signal", "ai_txt", "other", "reserved",
            "reserved_released")},
        "timeline": {"dates": timeline_dates, "agents": timeline},
    }


# --------------------------------------------------------------------------- gathering


def _find(session, ref: str) -> Release:
    from catalog.services.releases import find

    return find(session, ref)


def _load(folder: Path) -> dict[str, Any]:
    from reports.errors import ManifestError
    from reports.manifest import load_manifest

    try:
        return load_manifest(folder)
    except ManifestError as exc:
        raise IntegrityError(str(exc)) from None


def gather(catalog, ref: str, *, agents: Sequence[str] | None = None) -> ReleaseFacts:
    """The facts of release `ref` (NAME@X.Y.Z, or NAME for its newest version).

    Robots verdicts are for `agents`, by default the agents the release's policy lists (the
    ones it decided with), else the catalog's (GOVCAT_AI_AGENTS)."""
    with catalog.session() as session:
        release = _find(session, ref)
        folder = catalog.layout.absolute(release.path)
        if not folder.is_dir():
            raise NotFound(f"release {release.name}@{release.version}: its folder {folder} is "
                           "missing")
        manifest = _load(folder)
        run = session.get(Run, release.run_id)
        stored = session.get(StoredPolicy, run.policy_id) if run and run.policy_id else None
        sources = _source_rows(session, manifest)
        released = set(session.execute(select(ReleaseMember.document_id).where(
            ReleaseMember.release_id == release.id)).scalars())
        files = list(manifest.get("files", []))
        data_files = [{k: f.get(k) for k in ("path", "sha256", "bytes", "documents", "tokens")}
                      for f in files if f.get("kind") == "data"]
        hp = _hosts_and_period(folder, data_files)
        domains, decile = _domains(hp["hosts"])
        policy = _policy(stored, manifest.get("policy", {}))
        agents = tuple(agents or policy["agents"] or catalog.settings.agents)
        consent = _consent(session, folder, agents, released, domains)
    docs, tokens = int(manifest.get("documents", 0)), int(manifest.get("tokens", 0))
    counts = manifest.get("counts", {})
    kinds: dict[str, dict[str, int]] = defaultdict(lambda: {"documents": 0, "tokens": 0})
    for s in sources:
        kinds[s["kind"] or "(unknown)"]["documents"] += s["documents"]
        kinds[s["kind"] or "(unknown)"]["tokens"] += s["tokens"]
    composition = {
        "by_source": _table(counts.get("by_source", {}), tokens, docs),
        "by_source_kind": _table(dict(kinds), tokens, docs),
        "by_license": _table(counts.get("by_license", {}), tokens, docs),
        "by_license_class": _table(counts.get("by_license_class", {}), tokens, docs),
        "by_language": _table(counts.get("by_language", {}), tokens, docs),
        "domains": domains, "top_domains": domains[:TOP_DOMAINS_LISTED],
        "top_decile_domains": decile,
        "collection_period": {"start": hp["start"], "end": hp["end"]},
        "collection_period_by_source": hp["by_source"],
        "undated_documents": hp["undated"],
    }
    funnel = list(manifest.get("funnel", []))
    dedup, pii = _stage(funnel, "dedup"), _stage(funnel, "pii")
    licenses, obligations, combined = _licenses(counts.get("by_license", {}), tokens, docs)
    measures = _measures(policy, funnel)
    optouts = dict(manifest.get("optouts", {}))
    optouts["denied_at_admission"] = sum(m["documents"] for m in measures
                                         if m["kind"] == "opt-out request")
    attribution_licenses = set(obligations["attribution_licenses"])
    by_license = counts.get("by_license", {})
    run_info = {"id": run.id if run else release.run_id,
                "gate_run": manifest.get("run", {}).get("gate_run"),
                "started_at": iso_utc(run.started_at) if run else None,
                "finished_at": iso_utc(run.finished_at) if run else None,
                "actor": run.actor if run else None,
                "code_version": run.code_version if run else None}
    return ReleaseFacts(
        release=f"{release.name}@{release.version}", name=release.name,
        version=release.version, description=manifest.get("description"),
        created_at=manifest.get("created_at"), folder=str(folder), manifest=manifest,
        totals={"documents": docs, "tokens": tokens, "bytes": int(manifest.get("bytes", 0))},
        merkle_root=manifest.get("merkle", {}).get("root"),
        code_version=manifest.get("code_version"), data_files=data_files, files=files,
        run=run_info, sources=sources, composition=composition,
        languages=[r["key"] for r in composition["by_language"]], funnel=funnel,
        duplicates={"documents": sum(dedup.get("dropped", {}).values()),
                    "tokens": sum(dedup.get("dropped_tokens", {}).values()),
                    "by_rule": dict(dedup.get("dropped", {}))},
        pii={"found": dict(pii.get("redacted", {})),
             "redacted": dict(manifest.get("redacted", {})),
             "documents_redacted": _redacted_documents(folder),
             "documents_dropped": sum(pii.get("dropped", {}).values()),
             "dropped_by_rule": dict(pii.get("dropped", {})),
             "models": manifest.get("models", {}).get("pii", {})},
        models=manifest.get("models", {}), policy=policy, licenses=licenses,
        obligations=obligations, combined_use=combined, consent=consent, measures=measures,
        optouts=optouts,
        attribution={"documents": sum(int(by_license[k]["documents"])
                                      for k in attribution_licenses if k in by_license),
                     "by_license": {k: int(by_license[k]["documents"])
                                    for k in sorted(attribution_licenses) if k in by_license},
                     "sources": sorted({s["slug"] for s in sources
                                        if _needs_attribution(s["declared_license"])})},
    )


def _redacted_documents(folder: Path) -> int:
    import pyarrow.compute as pc

    path = folder / "decisions.parquet"
    if not path.exists():
        return 0
    table = read_table(path, columns=["stage", "effect", "redact_spans"])
    mask = pc.and_(pc.and_(pc.equal(table.column("stage"), "pii"),
                           pc.equal(table.column("effect"), "redact")),
                   pc.greater(pc.fill_null(pc.list_value_length(table.column("redact_spans")),
                                           0), 0))
    return int(pc.sum(mask.cast("int64")).as_py() or 0)


def _needs_attribution(licence: str | None) -> bool:
    if not licence:
        return False
    from common.spdx import LicenseExpressionError
    from policies.taxonomy import load_taxonomy

    try:
        return load_taxonomy().classify(licence).attribution
    except LicenseExpressionError:
        return False


# --------------------------------------------------------------------------- attribution


def attribution_entries(catalog, facts: ReleaseFacts) -> Iterator[dict[str, Any]]:
    """One notice per released document whose licence requires attribution, in id order.

    Each: {document, source, license, title, author, author_url, site, url}. The title and
    the connector's metadata (a Stack Exchange post's site, post and owner ids) are read from
    the catalog's document shards; the URL and licence from the release itself.
    """
    import duckdb

    wanted = set(facts.obligations.get("attribution_licenses", []))
    files = _data_glob(as_path(facts.folder), facts.data_files)
    if not wanted or not files:
        return
    con = duckdb.connect()
    files = duckdb_files(con, files)
    con.execute("SET TimeZone = 'UTC'")
    rows = con.execute("select id, source, url, license from read_parquet(?) "
                       "where license in (select unnest(?)) order by id",
                       [files, sorted(wanted)]).fetchall()
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start:start + _CHUNK]
        extra = _titles_and_metadata(catalog, con, [r[0] for r in chunk])
        for doc_id, source, url, licence in chunk:
            title, meta = extra.get(doc_id, (None, {}))
            yield _notice(doc_id, source, url, licence, title, meta)


def _titles_and_metadata(catalog, con, ids: list[str]) -> dict[str, tuple[str | None, dict]]:
    import pyarrow as pa

    with catalog.session() as s:
        shard_ids = {sid for (sid,) in s.execute(
            select(Document.shard_id).where(Document.id.in_(ids)).distinct())
            if sid is not None}
        paths = s.execute(select(Shard.path).where(Shard.id.in_(shard_ids))).scalars().all()
    found_files = [f for f in map(catalog.layout.absolute, sorted(paths)) if f.exists()]
    if not found_files:
        return {}
    files = duckdb_files(con, found_files)
    con.register("wanted_ids", pa.table({"id": pa.array(ids, pa.string())}))
    found = con.execute("select d.id, d.title, d.metadata from read_parquet(?, "
                        "union_by_name=true) d join wanted_ids w on d.id = w.id",
                        [files]).fetchall()
    con.unregister("wanted_ids")
    out = {}
    for doc_id, title, meta in found:
        try:
            parsed = json.loads(meta) if meta else {}
        except json.JSONDecodeError:
            parsed = {}
        out[doc_id] = (title, parsed if isinstance(parsed, dict) else {})
    return out


def _notice(doc_id: str, source: str, url: str | None, licence: str, title: str | None,
            meta: dict[str, Any]) -> dict[str, Any]:
    site = meta.get("site")
    authors: list[str] = []
    author_urls: list[str] = []
    if site and meta.get("post_id") is not None:  # a Stack Exchange post or thread
        owners = [meta.get("owner_user_id")] + [a.get("owner_user_id")
                                                for a in meta.get("answers") or []]
        for owner in dict.fromkeys(o for o in owners if o is not None):
            authors.append(f"user {owner}")
            author_urls.append(f"https://{site}/users/{owner}")
    else:
        for key in ("author", "authors", "creator"):
            value = meta.get(key)
            if isinstance(value, str) and value.strip():
                authors.append(value.strip())
            elif isinstance(value, list):
                authors.extend(str(v) for v in value if v)
    return {"document": doc_id, "source": source, "license": licence, "title": title,
            "author": "; ".join(authors) or None, "author_url": " ".join(author_urls) or None,
            "site": site or meta.get("host") or (urlsplit(url).hostname if url else None),
            "url": url}


__all__ = ["ReleaseFacts", "TOP_DOMAIN_SHARE", "attribution_entries", "gather"]
