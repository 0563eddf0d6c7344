"""The audit log, newest first, a page at a time, with the chain's verification and head."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select

from catalog.web.render import page

router = APIRouter()
PAGE = 100
# Where an event's entity has a page of its own.
ENTITY_PAGES = {"source": "/sources/", "host": "/hosts/", "release": "/releases/",
                "mixture": "/mixtures/"}


def _event(e) -> dict[str, Any]:
    return {"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action,
            "entity_type": e.entity_type, "entity_id": e.entity_id,
            "before": json.loads(e.before) if e.before else None,
            "after": json.loads(e.after) if e.after else None,
            "prev_hash": e.prev_hash, "hash": e.hash}


@router.get("/audit")
def audit_log(request: Request, entity: str | None = None, before: int | None = None,
              limit: int = PAGE):
    from catalog import audit
    from catalog.errors import InvalidInput
    from catalog.models import AuditEvent

    if not 1 <= limit <= 1000:
        raise InvalidInput(f"limit {limit}: expected 1 to 1,000")
    etype, _, eid = (entity or "").strip().partition(":")
    stmt = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit + 1)
    if etype:
        stmt = stmt.where(AuditEvent.entity_type == etype)
    if eid:
        stmt = stmt.where(AuditEvent.entity_id == eid)
    if before is not None:
        stmt = stmt.where(AuditEvent.seq < before)
    with request.state.catalog.session() as s:
        rows = list(s.execute(stmt).scalars())
        result = audit.verify(s)
        events, head = audit.head(s)
    more = len(rows) > limit
    rows = rows[:limit]
    data = {
        "verify": {"ok": result.ok, "events": result.events, "head_hash": result.head_hash,
                   "problem": result.problem, "bad_seq": result.bad_seq},
        "head": {"events": events, "hash": head, "anchor": f"{events}:{head}"},
        "entity": entity or None,
        "events": [_event(e) for e in rows],
        "next_before": rows[-1].seq if more and rows else None,
    }
    return page(request, "audit.html", data, title="Audit log", pages=ENTITY_PAGES)
