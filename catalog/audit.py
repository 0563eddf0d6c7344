"""The append-only, hash-chained audit log.

Each event's hash covers its own fields and the previous event's hash, so editing, deleting
or reordering any event breaks the chain from that point on. `audit_head` records the last
link, so deleting the newest events is detected as well. Appends take a row lock on the
head (Postgres) so concurrent writers cannot fork the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlmodel import Session

from catalog.models import AuditEvent, AuditHead
from catalog.timeutil import iso_utc

GENESIS = "0" * 64


def canonical_json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def event_hash(*, seq: int, at: str, actor: str, action: str, entity_type: str,
               entity_id: str, before: str | None, after: str | None, prev_hash: str) -> str:
    payload = json.dumps(
        [seq, at, actor, action, entity_type, entity_id, before, after, prev_hash],
        separators=(",", ":"), ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PendingEvent:
    action: str
    entity_type: str
    entity_id: str
    before: Any = None
    after: Any = None


class AuditLog:
    """Appends events inside the caller's transaction (so they commit with the change)."""

    def __init__(self, session: Session, actor: str):
        self.session = session
        self.actor = actor

    def _lock_head(self) -> AuditHead:
        stmt = select(AuditHead).where(AuditHead.id == 1).with_for_update()
        head = self.session.execute(stmt).scalars().first()
        if head is None:
            self.session.execute(insert(AuditHead).values(id=1, seq=0, hash=GENESIS))
            head = self.session.execute(stmt).scalars().first()
        return head

    def record(self, action: str, entity_type: str, entity_id: str, *,
               before: Any = None, after: Any = None) -> None:
        self.record_many([PendingEvent(action, entity_type, entity_id, before, after)])

    def record_many(self, events: Sequence[PendingEvent]) -> None:
        if not events:
            return
        head = self._lock_head()
        seq, prev = head.seq, head.hash
        at = datetime.now(UTC).isoformat()
        rows = []
        for ev in events:
            seq += 1
            before, after = canonical_json(ev.before), canonical_json(ev.after)
            digest = event_hash(seq=seq, at=at, actor=self.actor, action=ev.action,
                                entity_type=ev.entity_type, entity_id=ev.entity_id,
                                before=before, after=after, prev_hash=prev)
            rows.append(dict(seq=seq, at=at, actor=self.actor, action=ev.action,
                             entity_type=ev.entity_type, entity_id=ev.entity_id,
                             before=before, after=after, prev_hash=prev, hash=digest))
            prev = digest
        for start in range(0, len(rows), 5000):
            self.session.execute(insert(AuditEvent.__table__), rows[start:start + 5000])
        self.session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    events: int
    head_hash: str
    problem: str | None = None
    bad_seq: int | None = None


def iter_events(session: Session, *, entity_type: str | None = None,
                entity_id: str | None = None, batch: int = 5000) -> Iterator[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.seq)  # type: ignore[arg-type]
    if entity_type:
        stmt = stmt.where(AuditEvent.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(AuditEvent.entity_id == entity_id)
    result = session.execute(stmt.execution_options(yield_per=batch))
    for (event,) in result:
        yield event


def verify(session: Session) -> VerifyResult:
    """Walk the chain from the first event; name the first event that does not hold."""
    expected_seq, prev, count = 1, GENESIS, 0
    for ev in iter_events(session):
        if ev.seq != expected_seq:
            missing = f"event {expected_seq}" if ev.seq > expected_seq else f"event {ev.seq}"
            return VerifyResult(False, count, prev,
                                f"{missing} is missing or out of order (found event {ev.seq} "
                                f"where event {expected_seq} should be)", expected_seq)
        if ev.prev_hash != prev:
            return VerifyResult(False, count, prev,
                                f"event {ev.seq} ({ev.action} {ev.entity_type} {ev.entity_id}) "
                                "does not link to the event before it", ev.seq)
        digest = event_hash(seq=ev.seq, at=ev.at, actor=ev.actor, action=ev.action,
                            entity_type=ev.entity_type, entity_id=ev.entity_id,
                            before=ev.before, after=ev.after, prev_hash=ev.prev_hash)
        if digest != ev.hash:
            return VerifyResult(False, count, prev,
                                f"event {ev.seq} ({ev.action} {ev.entity_type} {ev.entity_id}) "
                                "was modified: its content does not match its hash", ev.seq)
        prev, expected_seq, count = ev.hash, expected_seq + 1, count + 1
    head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalars().first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if head_seq != count or head_hash != prev:
        return VerifyResult(False, count, prev,
                            f"the chain ends at event {count} but the head records event "
                            f"{head_seq}: events after {count} were deleted", count + 1)
    return VerifyResult(True, count, prev)


def head(session: Session) -> tuple[int, str]:
    """(events, head hash) as the catalog stores them: what a reviewer saves elsewhere."""
    row = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalars().first()
    return (row.seq, row.hash) if row else (0, GENESIS)


def check_anchors(session: Session, anchors: Sequence[tuple[int | None, str]]) -> list[str]:
    """Whether the chain still extends each head saved earlier (event count, hash): one line
    per anchor it no longer holds. A consistent rewrite of the chain passes `verify` but not
    this, as long as the anchor was saved outside the database."""
    problems = []
    for seq, digest in anchors:
        stmt = select(AuditEvent.seq).where(AuditEvent.hash == digest)
        found = session.execute(stmt).scalars().first()
        if digest == GENESIS and (seq or 0) == 0:
            continue
        where = f" (event {seq})" if seq is not None else ""
        if found is None:
            problems.append(f"the chain no longer holds head {digest[:16]}…{where} saved "
                            "earlier: events up to it were rewritten or deleted")
        elif seq is not None and found != seq:
            problems.append(f"head {digest[:16]}… was saved as event {seq} but is now event "
                            f"{found}: the chain was rewritten")
    return problems


def parse_anchor(text: str) -> tuple[int | None, str]:
    """`HASH`, `SEQ:HASH` or `SEQ HASH` (what `govcat audit head` prints)."""
    parts = text.replace(":", " ").split()
    if len(parts) == 1 and len(parts[0]) == 64:
        return None, parts[0].lower()
    if len(parts) == 2 and parts[0].isdigit() and len(parts[1]) == 64:
        return int(parts[0]), parts[1].lower()
    raise ValueError(f"{text[:80]!r} is not a head (HASH or SEQ:HASH)")
