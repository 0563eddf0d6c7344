"""Everything the catalog knows about one document: where it came from, under which evidence,
and every decision made about it with the rule, the reason and the policy version.

The decisions are the document's life in order: per processing run, the admission decision
of the gate run it used, then langid, quality, dedup and pii; a gate run no processing run
used stands alone. The stage of each decision is read from the decision log, never guessed.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from catalog.context import Catalog
from catalog.errors import NotFound
from catalog.models import Document, LicenseEvidence, Run, Shard, Source, StoredPolicy
from catalog.services import decontam
from catalog.services.facts import DOC_COLUMNS, FactBuilder
from catalog.services.releases import holding
from catalog.services.sources import source_record
from policies import decision_log
from policies.loader import load_policy
from policies.taxonomy import load_taxonomy


def explain(catalog: Catalog, *, doc_id: str, agents: tuple[str, ...]) -> dict[str, Any]:
    with catalog.session() as session:
        doc = session.get(Document, doc_id)
        if doc is None and "://" in doc_id:  # a URL names the document too
            doc = session.execute(select(Document).where(Document.url == doc_id)
                                  .order_by(Document.id)).scalars().first()
        if doc is None:
            raise NotFound(f"no document {doc_id!r} (give a document id or its URL)")
        doc_id = doc.id
        source = session.get(Source, doc.source_id)
        shard = session.get(Shard, doc.shard_id) if doc.shard_id else None
        evidence = session.execute(
            select(LicenseEvidence).where(
                LicenseEvidence.source_id == doc.source_id,
                (LicenseEvidence.document_id == doc_id) | LicenseEvidence.document_id.is_(None))
            .order_by(LicenseEvidence.id)).scalars().all()
        row = {c: getattr(doc, c) for c in DOC_COLUMNS}
        builder = FactBuilder(session, required=_ALL_FACTS, agents=agents,
                              taxonomy=load_taxonomy())
        builder.prepare([row])
        facts = builder.facts(row)
        _, then, now = builder.consent_for(doc.host, doc.url, doc.collected_at)
        _, _, records = builder.reservation_for(row, then, now)
        decisions = _life(catalog, session, doc_id)
        releases = holding(catalog, session, doc_id)
        overlaps = decontam.document_overlaps(catalog, session, doc_id)
    return {
        "document": {c: (v.isoformat() if hasattr(v, "isoformat") else v)
                     for c, v in row.items() if c != "consent_signals"}
        | {"native_id": doc.native_id, "n_bytes": doc.n_bytes,
           "shard": shard.path if shard else None, "shard_row": doc.shard_row,
           "consent_signals": json.loads(doc.consent_signals) if doc.consent_signals else []},
        "source": source_record(source),
        "license_evidence": [
            {"scope": "document" if e.document_id else "source", "role": e.role,
             "detector": e.detector, "expression": e.expression, "score": e.score,
             "location": e.location} for e in evidence],
        "facts_now": {k: (v.isoformat() if hasattr(v, "isoformat") else v)
                      for k, v in facts.items()},
        "robots": {"at_collection": then.fetched_at.isoformat() if then else None,
                   "now": now.fetched_at.isoformat() if now else None},
        "reservation": [r.to_dict() for r in records] if records else [],
        "decisions": decisions,
        "releases": releases,
        "decontamination": overlaps,  # evaluation sets it quotes, per run that checked
    }


_ALL_FACTS = ("license.use", "consent.now", "reservation.reserved", "optout.matched")


def _life(catalog: Catalog, session, doc_id: str) -> list[dict[str, Any]]:
    """Every logged decision about `doc_id`, in the order the document lived them."""
    rows = session.execute(
        select(Run, Shard.path, Shard.stage).join(Shard, Shard.run_id == Run.id)
        .where(Shard.kind == "decisions").order_by(Run.id)).all()
    runs = {run.id: run for run, _, _ in rows}
    # A processing run's admission is its gate run's: the gate run sorts with it.
    pipeline_of = {run.config.get("gate_run"): run.id for run in runs.values()
                   if run.kind == "process" and run.config.get("gate_run") is not None}
    policies: dict[int, Any] = {}
    found = []
    for run, path, stage in rows:
        rec = decision_log.find(catalog.layout.absolute(path), doc_id)
        if rec is None:
            continue
        if run.policy_id not in policies:
            stored = session.get(StoredPolicy, run.policy_id)
            policies[run.policy_id] = (stored, load_policy(stored.text))
        stored, policy = policies[run.policy_id]
        stage = rec.get("stage") or stage or "admission"
        pipeline = pipeline_of.get(run.id, run.id if run.kind == "process" else None)
        reasons = []
        for rule_id in rec["rule_ids"]:
            try:
                reasons.append({"rule": rule_id, "reason": policy.rule(rule_id).reason})
            except KeyError:
                reasons.append({"rule": rule_id, "reason": "(rule not in the stored policy)"})
        if rec["default_applied"] or not reasons:
            reasons.append({"rule": decision_log.DEFAULT_RULE,
                            "reason": f"no rule matched; the stage default is {rec['effect']}"})
        entry = {
            "run": run.id, "run_kind": run.kind, "pipeline_run": pipeline, "stage": stage,
            "at": run.started_at.isoformat(), "policy": f"{stored.name}@{stored.version}",
            "policy_sha256": stored.sha256, "effect": rec["effect"],
            "default_applied": bool(rec["default_applied"]), "rules": reasons,
            "errors": list(rec.get("errors") or []),
        }
        if rec.get("redact"):
            entry["redact"] = list(rec["redact"])
            entry["redact_spans"] = len(rec.get("redact_spans") or [])
        found.append(entry)

    def order(entry: dict[str, Any]) -> tuple:
        # Runs in the order they began (a processing run at its gate run's place), then the
        # stages in pipeline order.
        anchor = entry["run"]
        if entry["pipeline_run"] is not None:
            gate = runs[entry["pipeline_run"]].config.get("gate_run")
            anchor = gate if gate is not None else entry["pipeline_run"]
        return (anchor, entry["pipeline_run"] or 0, decision_log.stage_rank(entry["stage"]),
                entry["run"])

    return sorted(found, key=order)
