"""Queries, kept out of the services so they read as sentences."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlmodel import Session

from catalog.errors import NotFound
from catalog.models import (
    AuditEvent,
    Document,
    LicenseEvidence,
    QuarantineRecord,
    Shard,
    Source,
    TosReview,
)


class SourceRepository:
    def __init__(self, session: Session):
        self.session = session

    def get(self, slug: str) -> Source:
        source = self.find(slug)
        if source is None:
            raise NotFound(f"no source {slug!r}; `govcat source list` shows the registered ones")
        return source

    def find(self, slug: str) -> Source | None:
        return self.session.execute(select(Source).where(Source.slug == slug)).scalars().first()

    def list(self, *, status: str | None = None, kind: str | None = None) -> list[Source]:
        stmt = select(Source).order_by(Source.slug)
        if status:
            stmt = stmt.where(Source.status == status)
        if kind:
            stmt = stmt.where(Source.kind == kind)
        return list(self.session.execute(stmt).scalars())

    def existing_slugs(self, slugs: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(slugs))
        found: set[str] = set()
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start:start + 1000]
            found.update(self.session.execute(select(Source.slug).where(Source.slug.in_(chunk)))
                         .scalars())
        return found

    def evidence(self, source_id: int) -> Sequence[LicenseEvidence]:
        stmt = (select(LicenseEvidence).where(LicenseEvidence.source_id == source_id,
                                              LicenseEvidence.document_id.is_(None))
                .order_by(LicenseEvidence.id))
        return list(self.session.execute(stmt).scalars())

    def reviews(self, source_id: int) -> Sequence[TosReview]:
        stmt = select(TosReview).where(TosReview.source_id == source_id).order_by(TosReview.id)
        return list(self.session.execute(stmt).scalars())

    def history(self, slug: str) -> Sequence[AuditEvent]:
        stmt = (select(AuditEvent)
                .where(AuditEvent.entity_type == "source", AuditEvent.entity_id == slug)
                .order_by(AuditEvent.seq))
        return list(self.session.execute(stmt).scalars())

    def hosts(self, source_id: int, limit: int = 10) -> list[tuple[str, int]]:
        """The hosts of a source's documents and how many each holds, most first."""
        n = func.count().label("n")
        stmt = (select(Document.host, n).where(Document.source_id == source_id,
                                               Document.host.is_not(None))
                .group_by(Document.host).order_by(n.desc(), Document.host).limit(limit))
        return [(host, int(count)) for host, count in self.session.execute(stmt)]

    def counts(self, source_id: int) -> dict[str, int]:
        docs, tokens, nbytes = self.session.execute(
            select(func.count(), func.coalesce(func.sum(Document.n_tokens), 0),
                   func.coalesce(func.sum(Document.n_bytes), 0))
            .where(Document.source_id == source_id)
        ).one()
        shards = self.session.execute(
            select(func.count()).select_from(Shard).where(Shard.source_id == source_id,
                                                          Shard.kind == "documents")
        ).scalar_one()
        quarantined = self.session.execute(
            select(func.count()).select_from(QuarantineRecord)
            .where(QuarantineRecord.source_id == source_id)
        ).scalar_one()
        return {"documents": int(docs), "tokens": int(tokens), "bytes": int(nbytes),
                "shards": int(shards), "quarantined": int(quarantined)}
