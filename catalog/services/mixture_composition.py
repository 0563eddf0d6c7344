"""What the releases of a mixture hold, aggregated in SQL; the records a review cites of each
(its personal-data handling, its sources' record hashes); the opt-outs that now cover it.

One GROUP BY over release_members ⋈ documents gives, per release, source, licence pair, host
and reserved uses, the documents, tokens and collection-time range; everything else a review
counts (licence obligations, sources, hosts, personal data) is summed from those groups, so a
million documents come back as a few thousand rows. Only hosts whose consent has to be read
URL by URL, and opt-out requests by URL prefix, stream document rows, one host at a time.

Opt-outs: the cut leaves out every document an open request covered, so any open request
covering a released document is one the cut did not honour (received, or recorded, after
it). Matching is OptOutMatcher's: a domain covers the host and its subdomains, a URL prefix
the URLs starting with it, a document id or content sha256 that document.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select
from sqlmodel import Session

from catalog.models import (
    DecisionCount,
    Document,
    OptOutRequest,
    Release,
    ReleaseMember,
    Shard,
    Source,
)
from catalog.services.facts import OptOutMatcher
from catalog.services.sources import source_record
from catalog.timeutil import as_utc, iso_utc

_CHUNK = 1000
TRAINING_USES = frozenset({"tdm", "ai-train"})  # what a reservation of its own reserves


def effective_tokens(tokens: int, weight: float) -> int:
    """Tokens training sees from a component: its tokens times its sampling weight."""
    return int(round(tokens * weight))


@dataclass
class Group:
    """One row of the composition query."""

    release_id: int
    source_id: int
    declared: str | None
    concluded: str | None
    host: str | None
    reserved_uses: str | None
    documents: int
    tokens: int
    first: datetime | None
    last: datetime | None

    @property
    def own_reserved(self) -> frozenset[str]:
        """Training uses the documents' own signals reserved for everyone."""
        return TRAINING_USES & frozenset(u for u in (self.reserved_uses or "").split(",") if u)


def composition(session: Session, release_ids: Sequence[int]) -> list[Group]:
    rm, d = ReleaseMember, Document
    keys = (rm.release_id, d.source_id, d.declared_license, d.concluded_license, d.host,
            d.reserved_uses)
    stmt = (select(*keys, func.count(), func.coalesce(func.sum(rm.n_tokens), 0),
                   func.min(d.collected_at), func.max(d.collected_at))
            .join(d, d.id == rm.document_id)
            .where(rm.release_id.in_(list(release_ids)))
            .group_by(*keys))
    return [Group(r[0], r[1], r[2], r[3], r[4], r[5], int(r[6]), int(r[7]), as_utc(r[8]),
                  as_utc(r[9])) for r in session.execute(stmt)]


@dataclass
class HostGroup:
    """A host's documents in one release, summed over its groups."""

    host: str | None
    documents: int = 0
    tokens: int = 0
    first: datetime | None = None
    last: datetime | None = None
    source_ids: set[int] = field(default_factory=set)
    own_documents: int = 0  # with a reservation of their own
    own_tokens: int = 0
    own_uses: set[str] = field(default_factory=set)

    def add(self, g: Group) -> None:
        self.documents += g.documents
        self.tokens += g.tokens
        self.source_ids.add(g.source_id)
        if g.first is not None:
            self.first = g.first if self.first is None else min(self.first, g.first)
        if g.last is not None:
            self.last = g.last if self.last is None else max(self.last, g.last)
        if g.own_reserved:
            self.own_documents += g.documents
            self.own_tokens += g.tokens
            self.own_uses |= g.own_reserved


def hosts_of(groups: Iterable[Group]) -> dict[int, dict[str | None, HostGroup]]:
    """release id -> host -> its documents."""
    out: dict[int, dict[str | None, HostGroup]] = {}
    for g in groups:
        per = out.setdefault(g.release_id, {})
        per.setdefault(g.host, HostGroup(g.host)).add(g)
    return out


def host_rows(session: Session, release_id: int, host: str | None,
              source_ids: Iterable[int]) -> Iterator[tuple[str, str | None, datetime | None,
                                                           int, str | None]]:
    """(document id, url, collected_at, tokens, reserved uses) of a host's documents in a
    release; the source ids let the (source, host) index find them."""
    rm, d = ReleaseMember, Document
    stmt = (select(rm.document_id, d.url, d.collected_at, rm.n_tokens, d.reserved_uses)
            .join(d, d.id == rm.document_id)
            .where(rm.release_id == release_id, d.source_id.in_(sorted(source_ids)),
                   d.host == host if host is not None else d.host.is_(None))
            .execution_options(yield_per=5000))
    for doc_id, url, collected, tokens, uses in session.execute(stmt):
        yield doc_id, url, as_utc(collected), int(tokens or 0), uses


# --------------------------------------------------------------------------- records


def record_sha256(source: Source) -> str:
    """The hash of a source's catalog record, as a release manifest lists it."""
    from reports.manifest import canonical_sha256

    return canonical_sha256(source_record(source))


def release_pii(session: Session, layout: Any, release: Release) -> dict[str, Any]:
    """Redactions from the release's manifest; PII drops from the run's decision counts;
    spans found in the released documents from the run's pii attributes, when at hand."""
    from reports.errors import ReportsError
    from reports.manifest import load_manifest

    folder = layout.absolute(release.path)
    problems = []
    try:
        redacted = dict(sorted((load_manifest(folder).get("redacted") or {}).items()))
    except ReportsError as exc:
        redacted = {}
        problems.append(f"{release.name}@{release.version}: {exc}")
    dropped = session.execute(select(func.coalesce(func.sum(DecisionCount.documents), 0)).where(
        DecisionCount.run_id == release.run_id, DecisionCount.stage == "pii",
        DecisionCount.effect == "drop-document")).scalar_one()
    paths = session.execute(select(Shard.path).where(
        Shard.run_id == release.run_id, Shard.kind == "attributes",
        Shard.stage == "pii")).scalars().all()
    return {"redacted": redacted, "dropped_documents": int(dropped),
            "found": _found(layout, paths, folder / "index.parquet"), "problems": problems}


def _found(layout: Any, paths: Sequence[str], index) -> dict[str, int] | None:
    found = [layout.absolute(p) for p in paths]
    if not found or not index.exists() or not all(p.exists() for p in found):
        return None
    import duckdb

    from common.storage import duckdb_files

    try:
        con = duckdb.connect()
        files = duckdb_files(con, found)
        rows = con.execute(
            "select j.key, sum(cast(j.value as bigint)) from read_parquet(?, union_by_name=true) a"
            " join read_parquet(?) i on a.id = i.id, json_each(a.pii_counts) j group by 1",
            [files, duckdb_files(con, [index])[0]]).fetchall()
    except duckdb.Error:
        return None
    return {k: int(v) for k, v in sorted(rows) if v}


# --------------------------------------------------------------------------- opt-outs


@dataclass
class OptoutMatch:
    """The open requests covering a release's documents, each with what it covers, and the
    documents covered by any (each counted once)."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    documents: int = 0
    tokens: int = 0

    def by_request(self) -> dict[str, int]:
        return {r["request"]: r["documents"] for r in self.requests}


def open_requests(session: Session, *, after_id: int = 0) -> list[OptOutRequest]:
    return list(session.execute(select(OptOutRequest).where(
        OptOutRequest.status == "open", OptOutRequest.id > after_id)
        .order_by(OptOutRequest.id)).scalars())


def _matcher(requests: Sequence[OptOutRequest]) -> OptOutMatcher:
    kinds: dict[str, dict[str, list[str]]] = {"domain": {}, "doc-id": {}, "content-sha256": {}}
    prefixes: list[tuple[str, str]] = []
    for r in requests:
        rid = f"optout-{r.id}"
        if r.kind == "url-prefix":
            prefixes.append((r.value, rid))
        elif r.kind in kinds:
            value = r.value.lower() if r.kind != "doc-id" else r.value
            kinds[r.kind].setdefault(value, []).append(rid)

    def frozen(m: Mapping[str, list[str]]) -> dict[str, tuple[str, ...]]:
        return {k: tuple(v) for k, v in m.items()}

    return OptOutMatcher(frozen(kinds["domain"]), tuple(prefixes), frozen(kinds["doc-id"]),
                         frozen(kinds["content-sha256"]))


def optout_matches(session: Session, release_id: int, requests: Sequence[OptOutRequest],
                   hosts: Mapping[str | None, HostGroup] | None) -> OptoutMatch:
    """What `requests` cover in one release. With the release's `hosts` (from the
    composition) domains are matched against them; without, in SQL (a few requests)."""
    if not requests:
        return OptoutMatch()
    by_id = {f"optout-{r.id}": r for r in requests}
    matcher = _matcher(requests)
    counts: dict[str, list[int]] = {}
    domain_hosts: set[str | None] = set()
    domain_total = [0, 0]

    def count(rid: str, docs: int, tokens: int) -> None:
        slot = counts.setdefault(rid, [0, 0])
        slot[0] += docs
        slot[1] += tokens

    if matcher.domains:
        if hosts is not None:
            for host, hg in hosts.items():
                rids = matcher.match(doc_id="", host=host, url=None, content_sha256=None)
                for rid in rids:
                    count(rid, hg.documents, hg.tokens)
                if rids:
                    domain_hosts.add(host)
                    domain_total[0] += hg.documents
                    domain_total[1] += hg.tokens
        else:
            for host, docs, tokens in _domain_rows(session, release_id, matcher.domains):
                rids = matcher.match(doc_id="", host=host, url=None, content_sha256=None)
                for rid in rids:
                    count(rid, docs, tokens)
                if rids:
                    domain_hosts.add(host)
                    domain_total[0] += docs
                    domain_total[1] += tokens
    others: dict[str, int] = {}  # documents matched otherwise, outside domain-matched hosts
    for doc_id, host, tokens, rids in _document_matches(session, release_id, matcher):
        for rid in rids:
            count(rid, 1, tokens)
        if host not in domain_hosts:
            others[doc_id] = tokens
    out = OptoutMatch(documents=domain_total[0] + len(others),
                      tokens=domain_total[1] + sum(others.values()))
    for rid, (docs, tokens) in sorted(counts.items(), key=lambda kv: int(kv[0].split("-")[1])):
        r = by_id[rid]
        out.requests.append({"request": rid, "kind": r.kind, "value": r.value,
                             "requester": r.requester, "received_at": iso_utc(r.received_at),
                             "recorded_at": iso_utc(r.created_at), "documents": docs,
                             "tokens": tokens})
    return out


def _domain_rows(session: Session, release_id: int, domains: Iterable[str]
                 ) -> Iterator[tuple[str, int, int]]:
    rm, d = ReleaseMember, Document
    conds = []
    for value in domains:
        conds.append(d.host == value)
        if "." in value:
            conds.append(d.host.endswith("." + value, autoescape=True))
    stmt = (select(d.host, func.count(), func.coalesce(func.sum(rm.n_tokens), 0))
            .join(d, d.id == rm.document_id)
            .where(rm.release_id == release_id, or_(*conds)).group_by(d.host))
    for host, docs, tokens in session.execute(stmt):
        yield host, int(docs), int(tokens)


def _document_matches(session: Session, release_id: int, matcher: OptOutMatcher
                      ) -> Iterator[tuple[str, str | None, int, list[str]]]:
    """(document id, host, tokens, request ids) for requests by id, content hash, prefix."""
    rm, d = ReleaseMember, Document
    cols = (rm.document_id, d.host, rm.n_tokens, d.url, d.content_sha256)
    base = select(*cols).join(d, d.id == rm.document_id).where(rm.release_id == release_id)
    queries = []
    for values, column in ((sorted(matcher.doc_ids), rm.document_id),
                           (sorted(matcher.hashes), d.content_sha256)):
        for i in range(0, len(values), _CHUNK):
            queries.append(base.where(column.in_(values[i:i + _CHUNK])))
    by_host: dict[str, list[str]] = {}
    for prefix, _ in matcher.prefixes:
        host = (urlsplit(prefix).hostname or "").lower()
        by_host.setdefault(host, []).append(prefix)
    for host, prefixes in sorted(by_host.items()):
        queries.append(base.where(d.host == host, or_(*(
            d.url.startswith(p, autoescape=True) for p in prefixes))))
    seen: set[str] = set()
    for stmt in queries:
        for doc_id, host, tokens, url, sha in session.execute(
                stmt.execution_options(yield_per=5000)):
            if doc_id in seen:
                continue
            seen.add(doc_id)
            rids = matcher.match(doc_id=doc_id, host=None, url=url, content_sha256=sha)
            if rids:
                yield doc_id, host, int(tokens or 0), rids
