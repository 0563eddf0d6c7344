"""Admission facts for documents, built from the catalog for a policy's conditions.

Only the facts the compiled policy reads are computed. Everything that repeats across
documents is memoised: sources, licence classes, consent per pair of robots snapshots (and per
URL only where a robots.txt blocks some paths), so a million index rows cost a few
thousand real evaluations.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from catalog.models import OptOutRequest, Source
from catalog.services.consent import ConsentIndex, Snapshot
from catalog.timeutil import as_utc
from common.spdx import license_keys
from ingest.consent.reservation import resolve_reservation
from ingest.types import ConsentSignal
from policies.facts import consent_facts
from policies.taxonomy import LicenseClass, Taxonomy

DOC_COLUMNS = ("id", "source_id", "url", "host", "collected_at", "declared_license",
               "concluded_license", "content_sha256", "n_tokens", "consent_signals",
               "reserved_uses")


@dataclass(frozen=True)
class OptOutMatcher:
    domains: Mapping[str, tuple[str, ...]]
    prefixes: tuple[tuple[str, str], ...]
    doc_ids: Mapping[str, tuple[str, ...]]
    hashes: Mapping[str, tuple[str, ...]]

    @classmethod
    def load(cls, session: Session, *, as_of: datetime | None = None) -> OptOutMatcher:
        stmt = select(OptOutRequest).where(OptOutRequest.status == "open")
        domains: dict[str, list[str]] = {}
        docs: dict[str, list[str]] = {}
        hashes: dict[str, list[str]] = {}
        prefixes: list[tuple[str, str]] = []
        for req in session.execute(stmt.order_by(OptOutRequest.id)).scalars():
            if as_of is not None and as_utc(req.received_at) > as_of:
                continue
            rid = f"optout-{req.id}"
            if req.kind == "domain":
                domains.setdefault(req.value.lower(), []).append(rid)
            elif req.kind == "url-prefix":
                prefixes.append((req.value, rid))
            elif req.kind == "doc-id":
                docs.setdefault(req.value, []).append(rid)
            elif req.kind == "content-sha256":
                hashes.setdefault(req.value.lower(), []).append(rid)
        return cls({k: tuple(v) for k, v in domains.items()}, tuple(prefixes),
                   {k: tuple(v) for k, v in docs.items()}, {k: tuple(v) for k, v in hashes.items()})

    def __bool__(self) -> bool:
        return bool(self.domains or self.prefixes or self.doc_ids or self.hashes)

    def match(self, *, doc_id: str, host: str | None, url: str | None,
              content_sha256: str | None) -> list[str]:
        found: list[str] = []
        if host and self.domains:
            parts = host.split(".")
            for i in range(len(parts) - 1):
                found.extend(self.domains.get(".".join(parts[i:]), ()))
        if url:
            found.extend(rid for prefix, rid in self.prefixes if url.startswith(prefix))
        found.extend(self.doc_ids.get(doc_id, ()))
        if content_sha256:
            found.extend(self.hashes.get(content_sha256, ()))
        return sorted(set(found), key=lambda r: int(r.split("-")[1]))


def licences_conflict(declared: str | None, concluded: str | None) -> bool:
    if not declared or not concluded:
        return False
    return license_keys(declared) != license_keys(concluded)


class FactBuilder:
    """Turns document index rows into the flat fact rows a compiled policy reads."""

    def __init__(self, session: Session, *, required: Iterable[str], agents: Sequence[str],
                 taxonomy: Taxonomy):
        self.session = session
        self.required = frozenset(required)
        self.agents = tuple(agents)
        self.taxonomy = taxonomy
        self.consent = ConsentIndex(session, self.agents)
        self.optouts = OptOutMatcher.load(session, as_of=datetime.now(UTC))
        self._sources: dict[int, dict[str, Any]] = {}
        self._classes: dict[str, LicenseClass] = {}
        self._consent_memo: dict[tuple, dict[str, Any]] = {}
        self._verdict_memo: dict[tuple, dict[str, Any]] = {}
        self._no_robots = consent_facts(self.agents, collection=None, now=None)
        self._needs_consent = any(f.startswith("consent.") for f in self.required)
        self._needs_reservation = any(f.startswith("reservation.") for f in self.required)
        self._needs_license = any(f.startswith("license.") for f in self.required)
        self._needs_optout = any(f.startswith("optout.") for f in self.required)
        self._preloaded: set[str] = set()
        self._row_memo: dict[tuple, dict[str, Any]] = {}
        self._files: dict[str | None, bool] = {}
        self._own_uses: dict[str, tuple[bool, list[str]]] = {}
        self._domain_matches: dict[str | None, list[str]] = {}
        # Opt-outs by URL prefix, document id or content hash make every row its own case.
        self._per_doc_optouts = self._needs_optout and bool(
            self.optouts.prefixes or self.optouts.doc_ids or self.optouts.hashes)

    # ------------------------------------------------------------------ pieces
    def source_facts(self, source_id: int) -> dict[str, Any]:
        if source_id not in self._sources:
            s = self.session.get(Source, source_id)
            self._sources[source_id] = {
                "source.slug": s.slug, "source.kind": s.kind, "source.status": s.status,
                "source.tos_verdict": s.tos_verdict, "source.declared_license": s.declared_license,
                "source.personal_data": s.personal_data,
                "source.jurisdiction": s.jurisdiction or "",
                "source.robots_handling": s.robots_handling,
            }
        return self._sources[source_id]

    def license_class(self, expression: str | None) -> LicenseClass:
        key = expression or ""
        if key not in self._classes:
            self._classes[key] = self.taxonomy.classify(expression or "LicenseRef-Unknown")
        return self._classes[key]

    def prepare(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Load the consent snapshots of a batch's hosts in a few queries."""
        if not (self._needs_consent or self._needs_reservation):
            return
        hosts = {r["host"] for r in rows if r["host"] and r["host"] not in self._preloaded}
        if hosts:
            self.consent.preload(sorted(hosts))
            self._preloaded |= hosts

    def consent_for(self, host: str | None, url: str | None, collected_at: datetime | None
                    ) -> tuple[dict[str, Any], Snapshot | None, Snapshot | None]:
        then = self.consent.at(host, collected_at)
        now = self.consent.now(host)
        if then is None and now is None:
            return self._no_robots, None, None
        per_url = any(self.consent.partially_blocked(snap) for snap in (then, now) if snap)
        key = (then.id if then else None, now.id if now else None)
        facts = None if per_url else self._consent_memo.get(key)
        if facts is None:
            blocked_then = self.consent.blocked_agents(then, url)
            blocked_now = (blocked_then if now is then
                           else self.consent.blocked_agents(now, url))
            # Identical verdicts share one facts dict, so CEL sees equal inputs.
            verdict_key = (then is not None, now is not None, blocked_then, blocked_now)
            facts = self._verdict_memo.get(verdict_key)
            if facts is None:
                coll = ({a: a not in blocked_then for a in self.agents} if then else None)
                cur = ({a: a not in blocked_now for a in self.agents} if now else None)
                facts = self._verdict_memo[verdict_key] = consent_facts(
                    self.agents, collection=coll, now=cur)
            if not per_url:
                self._consent_memo[key] = facts
        return facts, then, now

    def reservation_for(self, row: Mapping[str, Any], then: Snapshot | None,
                        now: Snapshot | None) -> tuple[bool, list[str], Any]:
        host, url = row["host"], row["url"] or ""
        robots_signals = any(self.consent.has_content_signals(s) for s in (then, now) if s)
        if not (row["consent_signals"] or robots_signals or self._host_files(host)):
            own = row["reserved_uses"] or ""
            cached = self._own_uses.get(own)
            if cached is None:
                uses = sorted(u for u in own.split(",") if u)
                cached = self._own_uses[own] = (bool({"tdm", "ai-train"} & set(uses)), uses)
            return cached[0], list(cached[1]), None
        tdm = [self.consent.at(host, row["collected_at"], "tdmrep.json"),
               self.consent.now(host, "tdmrep.json")]
        ai = [self.consent.at(host, row["collected_at"], "ai.txt"),
              self.consent.now(host, "ai.txt")]
        signals = [ConsentSignal(**s) for s in json.loads(row["consent_signals"] or "[]")]
        uses: set[str] = set()
        reserved = False
        records = []
        for i in (0, 1):  # as of collection, then as of now: a reservation at either counts
            record = resolve_reservation(
                url=url, signals=signals, tdmrep_rules=tdm[i].tdm_rules if tdm[i] else None,
                robots=(then, now)[i].robots if (then, now)[i] else None,
                ai_txt=ai[i].ai_txt if ai[i] else None, agents=self.agents)
            uses |= set(record.uses)
            reserved = reserved or record.reserved
            records.append(record)
        return reserved, sorted(uses), records

    # ------------------------------------------------------------------ a row
    def _url_dependent(self, row: Mapping[str, Any], then: Snapshot | None,
                       now: Snapshot | None) -> bool:
        """Whether any fact of this row depends on the document itself, not just its host."""
        if row["consent_signals"] or self._per_doc_optouts:
            return True
        host = row["host"]
        if (self._needs_consent or self._needs_reservation) and any(
                self.consent.partially_blocked(s) for s in (then, now) if s):
            return True
        return self._needs_reservation and self._host_files(host)

    def _host_files(self, host: str | None) -> bool:
        """Whether the host has a tdmrep.json or ai.txt snapshot (URL-level reservations)."""
        found = self._files.get(host)
        if found is None:
            found = self._files[host] = bool(self.consent.snapshots(host, "tdmrep.json")
                                             or self.consent.snapshots(host, "ai.txt"))
        return found

    def facts(self, row: Mapping[str, Any]) -> dict[str, Any]:
        then = now = None
        if self._needs_consent or self._needs_reservation:
            then = self.consent.at(row["host"], row["collected_at"])
            now = self.consent.now(row["host"])
        key = None
        if not self._url_dependent(row, then, now):
            # Everything but doc.* is shared by rows of one source, host, pair of robots
            # snapshots, licence pair and reserved uses: build it once.
            key = (row["source_id"], row["host"], then.id if then else None,
                   now.id if now else None, row["declared_license"], row["concluded_license"],
                   row["reserved_uses"])
            shared = self._row_memo.get(key)
            if shared is not None:
                facts = dict(shared)
                facts["doc.id"] = row["id"]
                facts["doc.url"] = row["url"]
                facts["doc.collected_at"] = as_utc(row["collected_at"])
                return facts
        facts = self._build(row, then, now)
        if key is not None and len(self._row_memo) < 200_000:
            self._row_memo[key] = facts
        return facts

    def _build(self, row: Mapping[str, Any], then: Snapshot | None,
               now: Snapshot | None) -> dict[str, Any]:
        facts = dict(self.source_facts(row["source_id"]))
        facts["doc.id"] = row["id"]
        facts["doc.url"] = row["url"]
        facts["doc.host"] = row["host"]
        facts["doc.collected_at"] = as_utc(row["collected_at"])
        if self._needs_license:
            declared = row["declared_license"]
            concluded = row["concluded_license"] or declared
            cls = self.license_class(concluded)
            facts.update({
                "license.concluded": concluded, "license.declared": declared,
                "license.use": cls.use, "license.attribution": cls.attribution,
                "license.share_alike": cls.share_alike,
                "license.no_derivatives": cls.no_derivatives, "license.open": cls.open,
                "license.known": cls.known and bool(concluded),
                "license.conflict": licences_conflict(declared, row["concluded_license"]),
            })
        if self._needs_consent or self._needs_reservation:
            consent, then, now = self.consent_for(row["host"], row["url"], row["collected_at"])
            facts.update(consent)
        if self._needs_reservation:
            reserved, uses, _ = self.reservation_for(row, then, now)
            facts["reservation.reserved"] = reserved
            facts["reservation.uses"] = uses
        if self._needs_optout:
            if not self.optouts:
                ids = []
            elif self._per_doc_optouts:
                ids = self.optouts.match(doc_id=row["id"], host=row["host"], url=row["url"],
                                         content_sha256=row["content_sha256"])
            else:  # domain requests only: the answer is the host's
                ids = self._domain_matches.get(row["host"])
                if ids is None:
                    ids = self._domain_matches[row["host"]] = self.optouts.match(
                        doc_id="", host=row["host"], url=None, content_sha256=None)
                ids = list(ids)
            facts["optout.matched"] = bool(ids)
            facts["optout.request_ids"] = ids
        return facts
