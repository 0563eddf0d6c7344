"""Integrity of what the catalog points at: every shard against the sha256 it recorded.

`verify_shards` re-hashes document, attribute and decision shards (a thread pool: hashlib
releases the GIL, so two cores hash two files at once); with `deep`, every document's text in
its shard is hashed again and compared with the index's content hash, and the index rows that
point into a shard are checked to be there. `check_document_shards` is the same check for the
shards a command is about to read (`govcat run`, `release cut`): it stops at the first damaged
one with a line that names it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from catalog.errors import IntegrityError, NotFound
from catalog.models import Document, Shard, Source
from common.atomic import file_sha256, text_sha256
from common.storage import read_table

Progress = Callable[[int, int], None]  # (shards, bytes)


@dataclass
class ShardProblem:
    path: str
    kind: str  # missing | changed | unreadable | document-changed | document-missing
    detail: str
    document: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "document": self.document,
                "detail": self.detail}


@dataclass
class IntegrityReport:
    shards: int = 0
    bytes: int = 0
    documents: int = 0
    problems: list[ShardProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "shards": self.shards, "bytes": self.bytes,
                "documents": self.documents, "problems": [p.to_dict() for p in self.problems]}


def _hash(path) -> str | None:
    try:
        return file_sha256(path)
    except FileNotFoundError:
        return None


def _workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def verify_shards(catalog, *, source: str | None = None, deep: bool = False,
                  progress: Progress | None = None) -> IntegrityReport:
    with catalog.session() as s:
        stmt = select(Shard).order_by(Shard.path)
        if source is not None:
            src = s.execute(select(Source).where(Source.slug == source)).scalars().first()
            if src is None:
                raise NotFound(f"no source {source!r}")
            stmt = stmt.where(Shard.source_id == src.id)
        shards = s.execute(stmt).scalars().all()
    report = IntegrityReport()
    layout = catalog.layout

    def check(shard: Shard) -> tuple[Shard, str | None]:
        return shard, _hash(layout.absolute(shard.path))

    with ThreadPoolExecutor(_workers()) as pool:
        for shard, digest in pool.map(check, shards):
            report.shards += 1
            report.bytes += shard.n_bytes or 0
            if digest is None:
                report.problems.append(ShardProblem(shard.path, "missing",
                                                    f"{shard.path}: missing"))
            elif digest != shard.sha256:
                report.problems.append(ShardProblem(
                    shard.path, "changed", f"{shard.path}: sha256 {digest[:12]}… is not the "
                    f"{shard.sha256[:12]}… the catalog recorded"))
            if progress:
                progress(1, shard.n_bytes or 0)
    if deep:
        # A changed shard is read too, so the documents that changed in it are named.
        missing = {p.path for p in report.problems if p.kind == "missing"}
        docs = [sh for sh in shards if sh.kind == "documents" and sh.path not in missing]
        with ThreadPoolExecutor(_workers()) as pool:
            for problems, n in pool.map(lambda sh: _deep_check(catalog, sh), docs):
                report.problems.extend(problems)
                report.documents += n
    return report


def _deep_check(catalog, shard: Shard) -> tuple[list[ShardProblem], int]:
    path = catalog.layout.absolute(shard.path)
    try:
        table = read_table(path, columns=["id", "text"])
    except Exception as exc:  # noqa: BLE001 - any decoding failure is the finding
        return [ShardProblem(shard.path, "unreadable",
                             f"{shard.path}: cannot be read ({str(exc).splitlines()[0]})")], 0
    texts = dict(zip(table.column("id").to_pylist(), table.column("text").to_pylist(),
                     strict=True))
    with catalog.session() as s:
        rows = s.execute(select(Document.id, Document.content_sha256)
                         .where(Document.shard_id == shard.id)).all()
    problems = []
    for doc_id, sha in rows:
        text = texts.get(doc_id)
        if text is None:
            problems.append(ShardProblem(shard.path, "document-missing",
                                         f"{shard.path}: document {doc_id} is not in it",
                                         doc_id))
        elif text_sha256(text) != sha:
            problems.append(ShardProblem(shard.path, "document-changed",
                                         f"{shard.path}: document {doc_id} does not match its "
                                         "content hash", doc_id))
    return problems, len(rows)


def check_document_shards(catalog, shards: Iterable[Shard]) -> None:
    """Stop with one line at the first shard that is missing or not what was recorded."""
    shards = list(shards)
    layout = catalog.layout
    with ThreadPoolExecutor(_workers()) as pool:
        for shard, digest in zip(shards, pool.map(lambda sh: _hash(layout.absolute(sh.path)),
                                                  shards), strict=True):
            if digest is None:
                raise IntegrityError(f"document shard {shard.path} is missing; restore it "
                                     "(or re-ingest its source) and run this again")
            if digest != shard.sha256:
                raise IntegrityError(f"document shard {shard.path} is damaged (its sha256 is "
                                     "not the one the catalog recorded); restore it, then run "
                                     "`govcat verify --deep` and this again")
