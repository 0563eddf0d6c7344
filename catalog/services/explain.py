"""Everything the catalog knows about one document: where it came from, under which evidence,
and every decision made about it with the rule, the reason and the policy version."""

from __future__ import annotations

import json
from typing import Any

import pyarrow.parquet as pq
from sqlalchemy import select

from catalog.context import Catalog
from catalog.errors import NotFound
from catalog.models import Document, LicenseEvidence, Run, Shard, Source, StoredPolicy
from catalog.services.facts import DOC_COLUMNS, FactBuilder
from catalog.services.sources import source_record
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
        decisions = []
        runs = session.execute(
            select(Run, Shard.path).join(Shard, Shard.run_id == Run.id)
            .where(Shard.kind == "decisions").order_by(Run.id)).all()
        policies: dict[int, Any] = {}
        for run, path in runs:
            table = pq.read_table(catalog.data_root / path, filters=[("id", "=", doc_id)])
            if table.num_rows == 0:
                continue
            rec = table.to_pylist()[0]
            if run.policy_id not in policies:
                stored = session.get(StoredPolicy, run.policy_id)
                policies[run.policy_id] = (stored, load_policy(stored.text))
            stored, policy = policies[run.policy_id]
            reasons = [{"rule": r, "reason": policy.rule(r).reason} for r in rec["rule_ids"]]
            decisions.append({
                "run": run.id, "stage": (run.config or {}).get("stage", "admission"),
                "at": run.started_at.isoformat(), "policy": f"{stored.name}@{stored.version}",
                "policy_sha256": stored.sha256, "effect": rec["effect"],
                "default_applied": rec["default_applied"],
                "rules": reasons or [{"rule": "(default)",
                                      "reason": f"no rule matched; the stage default is "
                                                f"{policy.defaults.get('admission')}"}],
            })
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
    }


_ALL_FACTS = ("license.use", "consent.now", "reservation.reserved", "optout.matched")
