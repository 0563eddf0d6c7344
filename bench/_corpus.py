"""Synthetic document shards written as an ingest would: one shard file and its index rows at a
time (the catalog's COPY writer), for the benches that build a corpus without ingesting."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from catalog.context import Catalog
from catalog.index_writer import insert_documents
from catalog.models import Shard, utcnow
from catalog.shards import documents_table
from common.atomic import text_sha256, write_table_atomic

LICENCE = "CC-BY-4.0"


def document_row(i: int, doc_id: str, text: str, at: datetime) -> dict[str, Any]:
    """The shard row of the i-th synthetic document of source `bench` (500 hosts)."""
    return {"id": doc_id, "source": "bench", "native_id": str(i), "text": text,
            "content_sha256": text_sha256(text), "url": f"https://h{i % 500}.example/{i}",
            "host": f"h{i % 500}.example", "collected_at": at, "created_at": at,
            "title": None, "language": None, "metadata": "{}", "signals": "[]",
            "licenses": "[]"}


def write_shards(catalog: Catalog, source_id: int, run_id: int,
                 shards: Iterable[Sequence[dict[str, Any]]],
                 n_tokens: Callable[[str], int]) -> None:
    """Write each batch of `document_row`s as shard N of the ingest run, then its index rows."""
    for number, rows in enumerate(shards, start=1):
        path = catalog.layout.document_shard("bench", run_id, number)
        written = write_table_atomic(documents_table(list(rows)), path)
        with catalog.uow() as uow:
            shard = Shard(source_id=source_id, run_id=run_id, kind="documents",
                          path=catalog.layout.relative(path), sha256=written.sha256,
                          n_docs=written.n_rows, n_bytes=written.n_bytes, created_at=utcnow())
            uow.session.add(shard)
            uow.session.flush()
            insert_documents(uow.session, [
                {"id": r["id"], "source_id": source_id, "native_id": r["native_id"],
                 "url": r["url"], "host": r["host"], "content_sha256": r["content_sha256"],
                 "n_bytes": len(r["text"]), "n_tokens": n_tokens(r["text"]),
                 "collected_at": r["collected_at"], "created_at": r["created_at"],
                 "declared_license": LICENCE, "concluded_license": LICENCE,
                 "shard_id": shard.id, "shard_row": j, "run_id": run_id}
                for j, r in enumerate(rows)])
            uow.commit()
