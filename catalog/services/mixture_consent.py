"""Consent of a mixture's hosts, for the review: at collection, at the cut, and now.

For each host of each release, from the host's dated snapshots (catalog/services/consent.py):

- at collection: the robots.txt a document was collected under (the latest fetched at or
  before its collection; before the first, the first), among the snapshots the cut could
  have known (fetched at or before the cut);
- at the cut: the latest snapshot of each kind fetched at or before the release was cut;
- now: the newest snapshot of each kind.

`stricter_since_cut` counts documents for which, between the cut and now, robots.txt newly
disallows a listed agent for the URL, a `Content-Signal: ai-train=no` newly applies to a
listed agent, tdmrep.json newly reserves TDM for the URL, or ai.txt newly disallows it.
`reservation` counts documents reserved for everyone: by their own signals at collection
(TDMRep header/meta, `noai`) or, now, by the host's tdmrep.json, ai.txt or a
`Content-Signal: ai-train=no` in the group for every crawler.

A host is judged once for all its documents unless its verdict depends on the URL (a
robots.txt blocking some paths, a tdmrep.json or ai.txt, documents collected under different
robots.txt files); then its documents are streamed and judged one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session

from catalog.services.consent import ConsentIndex, Snapshot
from catalog.services.mixture_composition import HostGroup, host_rows
from catalog.timeutil import iso_utc
from ingest.consent.robots import stricter
from ingest.consent.tdmrep import tdm_for_url

FAMILIES = ("blocked_at_collection", "blocked_now", "stricter_since_cut", "unknown")
_KINDS = ("robots.txt", "tdmrep.json", "ai.txt")


def snapshot_ref(snap: Snapshot | None) -> dict[str, Any] | None:
    """A snapshot as evidence: its id (`govcat consent show HOST` lists it), kind and date."""
    if snap is None:
        return None
    return {"id": snap.id, "kind": snap.kind, "fetched_at": iso_utc(snap.fetched_at),
            "status": snap.status, "sha256": snap.sha256, "origin": snap.origin}


@dataclass
class _Verdict:
    blocked_then: tuple[str, ...]
    blocked_now: tuple[str, ...]
    newly: dict[str, dict[str, str]]  # agent -> {at_cut, now} block levels
    signals: tuple[str, ...]  # other changes since the cut, described
    reserved: frozenset[str]  # uses reserved for everyone by the host's files now


@dataclass
class HostConsent:
    """What one host contributes to each consent family of one release, with evidence."""

    counts: dict[str, list[int]] = field(default_factory=dict)  # family -> [docs, tokens]
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, family: str, docs: int, tokens: int, **evidence: Any) -> None:
        if not docs:
            return
        slot = self.counts.setdefault(family, [0, 0])
        slot[0] += docs
        slot[1] += tokens
        entry = self.evidence.setdefault(family, {"documents": 0, "tokens": 0})
        entry["documents"] += docs
        entry["tokens"] += tokens
        for key, value in evidence.items():
            if isinstance(value, set):
                entry[key] = sorted(set(entry.get(key, ())) | value)
            elif isinstance(value, dict):
                entry.setdefault(key, {}).update(value)
            else:
                entry.setdefault(key, value)


class MixtureConsent:
    def __init__(self, session: Session, agents: Sequence[str]):
        self.session = session
        self.agents = tuple(agents)
        self.index = ConsentIndex(session, self.agents)
        self._same: dict[tuple[str, str, int], Snapshot] = {}
        self._host_memo: dict[tuple, _Verdict] = {}

    def preload(self, hosts: Sequence[str]) -> None:
        """Load every snapshot of the hosts in a few queries (1,000 hosts a query)."""
        self.index.preload(sorted({h for h in hosts if h}))

    def _canon(self, snap: Snapshot | None) -> Snapshot | None:
        """The first snapshot seen with this one's kind, content and status. Verdicts depend
        on those alone, so hosts serving the same file share one parse and one verdict."""
        if snap is None:
            return None
        return self._same.setdefault((snap.kind, snap.sha256, snap.status), snap)

    def _known_at(self, host: str, when: datetime | None, cut: datetime,
                  kind: str = "robots.txt") -> Snapshot | None:
        snap = self.index.at(host, min(when, cut) if when is not None else cut, kind)
        return snap if snap is not None and snap.fetched_at <= cut else None

    def evaluate(self, release_id: int, cut: datetime, hg: HostGroup) -> HostConsent:
        out = HostConsent()
        host = hg.host
        snaps = {k: self.index.snapshots(host, k) if host else [] for k in _KINDS}
        own = {"via": {"own signals"}, "uses": set(hg.own_uses)} if hg.own_uses else {}
        if not snaps["robots.txt"]:
            out.add("unknown", hg.documents, hg.tokens, host=host)
        if not any(snaps.values()):
            out.add("reservation", hg.own_documents, hg.own_tokens, host=host, **own)
            return out
        at_cut = {k: self._known_at(host, cut, cut, k) for k in _KINDS}
        now = {k: self.index.now(host, k) for k in _KINDS}
        first = self._known_at(host, hg.first, cut)
        last = self._known_at(host, hg.last, cut)
        refs = _Refs(at_cut, now)
        c_cut = {k: self._canon(s) for k, s in at_cut.items()}
        c_now = {k: self._canon(s) for k, s in now.items()}
        c_first = self._canon(first)
        per_url = (c_first is not self._canon(last) or bool(snaps["tdmrep.json"])
                   or bool(snaps["ai.txt"])
                   or any(self.index.partially_blocked(s)
                          for s in (c_first, c_cut["robots.txt"], c_now["robots.txt"]) if s))
        if not per_url:
            key = tuple(s.id if s else None for s in (c_first, *c_cut.values(), *c_now.values()))
            v = self._host_memo.get(key)
            if v is None:
                v = self._host_memo[key] = self._verdict(None, c_first, c_cut, c_now)
            self._count(out, host, v, first, hg.documents, hg.tokens, refs)
            if v.reserved:  # the host's files reserve every document of it
                out.add("reservation", hg.documents, hg.tokens, host=host,
                        uses=set(v.reserved) | hg.own_uses,
                        via=_via(v.reserved, now) | own.get("via", set()), **refs.both())
            else:
                out.add("reservation", hg.own_documents, hg.own_tokens, host=host, **own)
            return out
        memo: dict[tuple, _Verdict] = {}
        for _doc_id, url, collected, tokens, uses in host_rows(
                self.session, release_id, host, hg.source_ids):
            then = self._known_at(host, collected, cut)
            c_then = self._canon(then)
            key = (c_then.id if c_then else None, url)
            v = memo.get(key)
            if v is None:
                v = self._verdict(url, c_then, c_cut, c_now)
                if len(memo) < 100_000:
                    memo[key] = v
            self._count(out, host, v, then, 1, tokens, refs)
            own_uses = {u for u in (uses or "").split(",") if u} & {"tdm", "ai-train"}
            if v.reserved or own_uses:
                via = _via(v.reserved, now) | ({"own signals"} if own_uses else set())
                out.add("reservation", 1, tokens, host=host, uses=set(v.reserved | own_uses),
                        via=via, **refs.both())
        return out

    def timeline(self, hosts: Sequence[str]) -> dict[str, Any]:
        """For each day a robots.txt of one of `hosts` was fetched: per agent, how many of
        the hosts disallowed it (from all or some of the site) as of that day."""
        index = self.index
        snaps = {h: index.snapshots(h) for h in hosts if h}
        dates = sorted({iso_utc(s.fetched_at)[:10] for ss in snaps.values() for s in ss})
        series = {a: [0] * len(dates) for a in self.agents}
        for ss in snaps.values():
            j = -1
            for i, day in enumerate(dates):
                while j + 1 < len(ss) and iso_utc(ss[j + 1].fetched_at)[:10] <= day:
                    j += 1
                if j < 0:
                    continue
                levels = index.blocks(self._canon(ss[j]))
                for a in self.agents:
                    if levels[a] != "none":
                        series[a][i] += 1
        return {"dates": dates, "series": series}

    def _count(self, out: HostConsent, host: str | None, v: _Verdict, then: Snapshot | None,
               docs: int, tokens: int, refs: _Refs) -> None:
        if v.blocked_then:
            out.add("blocked_at_collection", docs, tokens, host=host, agents=set(v.blocked_then),
                    snapshots_at_collection={str(then.id): snapshot_ref(then)} if then else {})
        if v.blocked_now:
            out.add("blocked_now", docs, tokens, host=host, agents=set(v.blocked_now),
                    snapshot_now=refs.both()["snapshot_now"])
        if v.newly or v.signals:
            out.add("stricter_since_cut", docs, tokens, host=host, agents=dict(v.newly),
                    changes=set(v.signals), **refs.both())

    def _verdict(self, url: str | None, then: Snapshot | None, at_cut: dict[str, Any],
                 now: dict[str, Any]) -> _Verdict:
        index, agents = self.index, self.agents
        r_cut, r_now = at_cut["robots.txt"], now["robots.txt"]
        blocked_then = index.blocked_agents(then, url)
        blocked_now = index.blocked_agents(r_now, url)
        blocked_cut = index.blocked_agents(r_cut, url)
        newly: dict[str, dict[str, str]] = {}
        if r_now is not None and r_now is not r_cut:
            levels_now = index.blocks(r_now)
            levels_cut = index.blocks(r_cut) if r_cut else dict.fromkeys(agents, "none")
            for a in blocked_now:
                if a not in blocked_cut:
                    newly[a] = {"at_cut": levels_cut[a], "now": levels_now[a]}
            for a in agents:  # e.g. "some" -> "all" for a URL that was already blocked
                if a not in newly and a in blocked_now and stricter(levels_cut[a], levels_now[a]):
                    newly[a] = {"at_cut": levels_cut[a], "now": levels_now[a]}
        signals: list[str] = []
        if r_now is not None and r_now is not r_cut:
            sig_cut = _ai_train_no(index, r_cut, agents)
            for a in sorted(_ai_train_no(index, r_now, agents) - sig_cut):
                signals.append(f"Content-Signal ai-train=no for {a} in robots.txt")
        reserved: set[str] = set()
        t_cut, t_now = at_cut["tdmrep.json"], now["tdmrep.json"]
        if url and t_now is not None:
            d_now = tdm_for_url(t_now.tdm_rules, url)
            if d_now is not None and d_now.reserved:
                reserved.add("tdm")
                d_cut = tdm_for_url(t_cut.tdm_rules, url) if t_cut else None
                if t_now is not t_cut and not (d_cut and d_cut.reserved):
                    signals.append(f"tdmrep.json reserves TDM for {d_now.location}")
        a_cut, a_now = at_cut["ai.txt"], now["ai.txt"]
        if url and a_now is not None:
            if a_now.ai_txt.check(url, "*").disallowed:
                reserved.add("ai-train")
            if a_now is not a_cut:
                for a in agents:
                    if a_now.ai_txt.check(url, a).disallowed and not (
                            a_cut and a_cut.ai_txt.check(url, a).disallowed):
                        signals.append(f"ai.txt disallows AI training for {a}")
        if r_now is not None and "*" in _ai_train_no(index, r_now, ("*",)):
            reserved.add("ai-train")
        return _Verdict(blocked_then, blocked_now, newly, tuple(signals), frozenset(reserved))


class _Refs:
    """The snapshots at the cut and now as evidence, built only when a count cites them."""

    def __init__(self, at_cut: dict[str, Snapshot | None], now: dict[str, Snapshot | None]):
        self.at_cut, self.now, self._built = at_cut, now, None

    def both(self) -> dict[str, Any]:
        if self._built is None:
            self._built = {
                "snapshot_at_cut": {k: snapshot_ref(s) for k, s in self.at_cut.items() if s},
                "snapshot_now": {k: snapshot_ref(s) for k, s in self.now.items() if s}}
        return self._built


def _ai_train_no(index: ConsentIndex, snap: Snapshot | None, agents: Sequence[str]) -> set[str]:
    if snap is None or not index.has_content_signals(snap):
        return set()
    return {a for a in agents if snap.robots.content_signals(a).get("ai-train") == "no"}


def _via(uses: frozenset[str], now: dict[str, Any]) -> set[str]:
    via = set()
    if "tdm" in uses and now["tdmrep.json"] is not None:
        via.add("tdmrep.json")
    if "ai-train" in uses:
        via.add("ai.txt" if now["ai.txt"] is not None else "Content-Signal")
    return via
