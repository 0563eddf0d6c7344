"""Consent over time: dated robots.txt / tdmrep.json / ai.txt snapshots per host.

A host's consent can be asked as of a date (the latest snapshot fetched at or before it;
before the first snapshot, the first one — the crawl usually fetched robots.txt around its
pages) and as of now (the latest snapshot). Parsed files and verdicts are memoised per
snapshot, so evaluating millions of documents touches each file once.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import and_, func, select
from sqlmodel import Session

from catalog.errors import InvalidInput, NotFound
from catalog.models import Document, Host, RobotsSnapshot, utcnow
from catalog.timeutil import as_utc
from catalog.unit_of_work import UnitOfWork
from ingest.consent.aitxt import AiTxt, parse_ai_txt
from ingest.consent.robots import Robots, parse_robots, stricter
from ingest.consent.tdmrep import TdmRepError, TdmRule, parse_tdmrep_json

SNAPSHOT_KINDS = ("robots.txt", "tdmrep.json", "ai.txt")


def normalize_host(value: str) -> str:
    text = value.strip().lower()
    if "://" in text:
        text = urlsplit(text).hostname or ""
    text = text.split("/", 1)[0].split(":", 1)[0].rstrip(".")
    if not text or " " in text:
        raise InvalidInput(f"not a host name: {value!r}")
    return text


def add_snapshot(uow: UnitOfWork, *, host: str, kind: str, content: str,
                 fetched_at: datetime, status: int = 200, origin: str = "user"
                 ) -> tuple[RobotsSnapshot, bool]:
    """Record a dated snapshot; returns (snapshot, created). The same one twice is a no-op."""
    if kind not in SNAPSHOT_KINDS:
        raise InvalidInput(f"unknown snapshot kind {kind!r}; expected {', '.join(SNAPSHOT_KINDS)}")
    if not 100 <= status <= 599 and status != 0:
        raise InvalidInput(f"HTTP status {status} is not valid (use 0 for unreachable)")
    if kind == "tdmrep.json" and 200 <= status < 300:
        try:
            parse_tdmrep_json(content, name=f"{host} tdmrep.json")
        except TdmRepError as exc:
            raise InvalidInput(str(exc)) from None
    name = normalize_host(host)
    fetched = as_utc(fetched_at)
    row = uow.session.execute(select(Host).where(Host.name == name)).scalars().first()
    if row is None:
        row = Host(name=name, created_at=utcnow())
        uow.session.add(row)
        uow.session.flush()
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
    existing = uow.session.execute(select(RobotsSnapshot).where(
        RobotsSnapshot.host_id == row.id, RobotsSnapshot.kind == kind,
        RobotsSnapshot.fetched_at == fetched, RobotsSnapshot.sha256 == digest)).scalars().first()
    if existing is not None:
        return existing, False
    snap = RobotsSnapshot(host_id=row.id, kind=kind, fetched_at=fetched, status=status,
                          content=content, sha256=digest, origin=origin, created_at=utcnow())
    uow.session.add(snap)
    uow.session.flush()
    uow.audit.record("consent.snapshot", "host", name,
                     after={"kind": kind, "fetched_at": fetched, "status": status,
                            "sha256": digest, "origin": origin, "snapshot": snap.id})
    return snap, True


@dataclass
class Snapshot:
    id: int
    host: str
    kind: str
    fetched_at: datetime
    status: int
    sha256: str
    origin: str
    content: str = field(repr=False)

    @classmethod
    def of(cls, row: RobotsSnapshot, host: str) -> Snapshot:
        return cls(row.id, host, row.kind, as_utc(row.fetched_at), row.status, row.sha256,
                   row.origin, row.content)

    @cached_property
    def robots(self) -> Robots:
        return parse_robots(self.content, status=self.status)

    @cached_property
    def tdm_rules(self) -> list[TdmRule]:
        if not 200 <= self.status < 300:
            return []
        try:
            return parse_tdmrep_json(self.content)
        except TdmRepError:
            return []

    @cached_property
    def ai_txt(self) -> AiTxt:
        return parse_ai_txt(self.content, status=self.status)


class ConsentIndex:
    """Snapshots by host and kind, loaded on first use, with memoised verdicts."""

    def __init__(self, session: Session, agents: Sequence[str]):
        self.session = session
        self.agents = tuple(agents)
        self._by_host: dict[tuple[str, str], list[Snapshot]] = {}
        self._times: dict[tuple[str, str], list[datetime]] = {}
        self._blocks: dict[int, dict[str, str]] = {}
        self._partial: dict[int, tuple[tuple[str, str], ...]] = {}
        self._signals: dict[int, bool] = {}

    def snapshots(self, host: str | None, kind: str = "robots.txt") -> list[Snapshot]:
        if not host:
            return []
        key = (host, kind)
        if key not in self._by_host:
            rows = self.session.execute(
                select(RobotsSnapshot, Host.name).join(Host, Host.id == RobotsSnapshot.host_id)
                .where(Host.name == host, RobotsSnapshot.kind == kind)
                .order_by(RobotsSnapshot.fetched_at, RobotsSnapshot.id)).all()
            self._by_host[key] = [Snapshot.of(s, name) for s, name in rows]
        return self._by_host[key]

    def preload(self, hosts: Sequence[str]) -> None:
        """Load every snapshot of many hosts in a few queries (for bulk evaluation)."""
        wanted = [h for h in dict.fromkeys(hosts) if h]
        for kind in SNAPSHOT_KINDS:
            for h in wanted:
                self._by_host.setdefault((h, kind), [])
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start:start + 1000]
            rows = self.session.execute(
                select(RobotsSnapshot, Host.name).join(Host, Host.id == RobotsSnapshot.host_id)
                .where(Host.name.in_(chunk))
                .order_by(RobotsSnapshot.fetched_at, RobotsSnapshot.id)).all()
            for s, name in rows:
                self._by_host[(name, s.kind)].append(Snapshot.of(s, name))

    def at(self, host: str | None, when: datetime | None, kind: str = "robots.txt"
           ) -> Snapshot | None:
        snaps = self.snapshots(host, kind)
        if not snaps:
            return None
        if when is None or len(snaps) == 1:
            return snaps[0]
        key = (host, kind)
        times = self._times.get(key)
        if times is None:
            times = self._times[key] = [s.fetched_at for s in snaps]
        i = bisect.bisect_right(times, as_utc(when))
        return snaps[i - 1] if i else snaps[0]

    def now(self, host: str | None, kind: str = "robots.txt") -> Snapshot | None:
        snaps = self.snapshots(host, kind)
        return snaps[-1] if snaps else None

    def blocks(self, snap: Snapshot) -> dict[str, str]:
        """Agent -> "all" | "some" | "none" for a robots.txt snapshot."""
        if snap.id not in self._blocks:
            self._blocks[snap.id] = {a: snap.robots.agent_block(a) for a in self.agents}
        return self._blocks[snap.id]

    def partially_blocked(self, snap: Snapshot) -> tuple[tuple[str, str], ...]:
        """(agent, representative agent) for agents blocked from some paths. Agents that RFC
        9309 resolves to the same group share its rules, so one check per group suffices."""
        if snap.id not in self._partial:
            reps: dict[str | None, str] = {}
            out = []
            for agent, level in self.blocks(snap).items():
                if level == "some":
                    rep = reps.setdefault(snap.robots.group_name(agent), agent)
                    out.append((agent, rep))
            self._partial[snap.id] = tuple(out)
        return self._partial[snap.id]

    def has_content_signals(self, snap: Snapshot) -> bool:
        if snap.id not in self._signals:
            self._signals[snap.id] = any(snap.robots.content_signals(a) for a in self.agents)
        return self._signals[snap.id]

    def blocked_agents(self, snap: Snapshot | None, url: str | None) -> tuple[str, ...]:
        """The agents this snapshot disallows for the URL (all of the site or this path)."""
        if snap is None:
            return ()
        out = [agent for agent, level in self.blocks(snap).items() if level == "all"]
        partial = self.partially_blocked(snap)
        if partial and url:
            allowed: dict[str, bool] = {}
            for agent, rep in partial:
                if rep not in allowed:
                    allowed[rep] = snap.robots.check(url, rep).allowed
                if not allowed[rep]:
                    out.append(agent)
        return tuple(out)


def host_consent(session: Session, *, host: str, agents: Sequence[str]) -> dict[str, Any]:
    name = normalize_host(host)
    index = ConsentIndex(session, agents)
    if session.execute(select(Host.id).where(Host.name == name)).first() is None:
        raise NotFound(f"no snapshots for host {name!r}; add one with "
                       "`govcat consent add-robots HOST FILE --fetched-at DATE`")
    out: dict[str, Any] = {"host": name, "agents": list(agents), "snapshots": []}
    for kind in SNAPSHOT_KINDS:
        for snap in index.snapshots(name, kind):
            entry: dict[str, Any] = {
                "id": snap.id, "kind": kind, "fetched_at": snap.fetched_at.isoformat(),
                "status": snap.status, "sha256": snap.sha256, "origin": snap.origin}
            if kind == "robots.txt":
                entry["availability"] = snap.robots.availability
                entry["verdicts"] = index.blocks(snap)
                entry["content_signals"] = {a: s for a in agents
                                            if (s := snap.robots.content_signals(a))}
            elif kind == "tdmrep.json":
                entry["rules"] = [{"location": r.location, "tdm_reservation": int(r.reserved),
                                   "tdm_policy": r.policy} for r in snap.tdm_rules]
            out["snapshots"].append(entry)
    docs, tokens = session.execute(
        select(func.count(), func.coalesce(func.sum(Document.n_tokens), 0))
        .where(Document.host == name)).one()
    out["documents"], out["tokens"] = int(docs), int(tokens)
    return out


@dataclass
class ConsentChange:
    host: str
    then: Snapshot
    now: Snapshot
    stricter: dict[str, tuple[str, str]]  # agent -> (then, now)
    documents: int
    tokens: int

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "snapshot_then": self.then.fetched_at.isoformat(),
                "snapshot_now": self.now.fetched_at.isoformat(),
                "agents": {a: {"then": t, "now": n} for a, (t, n) in self.stricter.items()},
                "documents": self.documents, "tokens": self.tokens}


def consent_changes(session: Session, *, agents: Sequence[str]) -> list[ConsentChange]:
    """Hosts whose robots verdict for an AI agent got stricter after documents were collected."""
    multi = session.execute(
        select(Host.name).join(RobotsSnapshot, RobotsSnapshot.host_id == Host.id)
        .where(RobotsSnapshot.kind == "robots.txt")
        .group_by(Host.name).having(func.count(RobotsSnapshot.id) > 1)).scalars().all()
    index = ConsentIndex(session, agents)
    changes: list[ConsentChange] = []
    for host in sorted(multi):
        snaps = index.snapshots(host)
        latest = snaps[-1]
        now_blocks = index.blocks(latest)
        for i, snap in enumerate(snaps[:-1]):
            then_blocks = index.blocks(snap)
            worse = {a: (then_blocks[a], now_blocks[a]) for a in agents
                     if stricter(then_blocks[a], now_blocks[a])}
            if not worse:
                continue
            # Documents whose collection-time snapshot is this one.
            conds = [Document.host == host, Document.collected_at.is_not(None)]
            if i > 0:
                conds.append(Document.collected_at >= snap.fetched_at)
            conds.append(Document.collected_at < snaps[i + 1].fetched_at)
            docs, tokens = session.execute(
                select(func.count(), func.coalesce(func.sum(Document.n_tokens), 0))
                .where(and_(*conds))).one()
            if docs:
                changes.append(ConsentChange(host, snap, latest, worse, int(docs), int(tokens)))
    return changes
