"""Bulk writes of document-index rows: binary COPY on Postgres, executemany elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from catalog.models import Document

# Column order and Postgres types for binary COPY (must match the documents table).
DOCUMENT_COPY_TYPES = (
    ("id", "text"), ("source_id", "int4"), ("native_id", "text"), ("url", "text"),
    ("host", "text"), ("content_sha256", "text"), ("n_bytes", "int8"), ("n_tokens", "int8"),
    ("collected_at", "timestamptz"), ("created_at", "timestamptz"),
    ("declared_license", "text"), ("concluded_license", "text"), ("shard_id", "int4"),
    ("shard_row", "int4"), ("run_id", "int4"), ("consent_signals", "text"),
    ("reserved_uses", "text"),
)
DOCUMENT_COLUMNS = tuple(name for name, _ in DOCUMENT_COPY_TYPES)


def insert_documents(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert index rows in the session's transaction; returns how many."""
    if not rows:
        return 0
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        dbapi = conn.connection.driver_connection
        cols = ", ".join(DOCUMENT_COLUMNS)
        with dbapi.cursor() as cur:
            with cur.copy(f"COPY documents ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types([t for _, t in DOCUMENT_COPY_TYPES])
                for row in rows:
                    copy.write_row(tuple(row.get(c) for c in DOCUMENT_COLUMNS))
        return len(rows)
    for start in range(0, len(rows), 5000):
        session.execute(insert(Document.__table__),
                        [{c: r.get(c) for c in DOCUMENT_COLUMNS} for r in rows[start:start + 5000]])
    return len(rows)
