"""Opt-out requests: recorded, audited, and applied by admission from then on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from catalog.errors import InvalidInput, NotFound
from catalog.models import OptOutRequest, utcnow
from catalog.services.consent import normalize_host
from catalog.unit_of_work import UnitOfWork

KINDS = ("domain", "url-prefix", "doc-id", "content-sha256")


def add(uow: UnitOfWork, *, kind: str, value: str, requester: str, received: datetime,
        note: str | None = None) -> OptOutRequest:
    if kind not in KINDS:
        raise InvalidInput(f"unknown opt-out kind {kind!r}; expected one of {', '.join(KINDS)}")
    value = value.strip()
    if kind == "domain":
        value = normalize_host(value)
    elif kind == "url-prefix" and "://" not in value:
        raise InvalidInput(f"--url-prefix {value!r}: expected a URL such as https://host/path")
    elif kind == "content-sha256":
        value = value.lower()
        if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
            raise InvalidInput(f"--content-sha256 {value!r}: expected 64 hex characters")
    if not requester.strip():
        raise InvalidInput("--requester is required")
    req = OptOutRequest(kind=kind, value=value, requester=requester.strip(), received_at=received,
                        note=note, actor=uow.actor, created_at=utcnow())
    uow.session.add(req)
    uow.session.flush()
    uow.audit.record("optout.add", "optout", str(req.id), after=as_dict(req))
    return req


def withdraw(uow: UnitOfWork, *, request_id: int, reason: str) -> OptOutRequest:
    req = uow.session.get(OptOutRequest, request_id)
    if req is None:
        raise NotFound(f"no opt-out request {request_id}")
    before = as_dict(req)
    req.status = "withdrawn"
    req.note = f"{req.note + ' | ' if req.note else ''}withdrawn: {reason}"
    uow.session.add(req)
    uow.session.flush()
    uow.audit.record("optout.withdraw", "optout", str(req.id), before=before, after=as_dict(req))
    return req


def listing(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(select(OptOutRequest).order_by(OptOutRequest.id)).scalars()
    return [as_dict(r) for r in rows]


def as_dict(req: OptOutRequest) -> dict[str, Any]:
    return {"id": req.id, "request": f"optout-{req.id}", "kind": req.kind, "value": req.value,
            "requester": req.requester, "received_at": req.received_at.isoformat(),
            "status": req.status, "note": req.note}
