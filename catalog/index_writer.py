"""Bulk writes of catalog rows (the document index, release members): binary COPY on
Postgres, executemany elsewhere — the one bulk writer."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Any

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


def copy_rows(session: Session, table: Any, copy_types: Sequence[tuple[str, str]],
              rows: Iterable[dict[str, Any]], *, batch: int = 5000) -> int:
    """Insert rows (dicts) into `table` in the session's transaction: binary COPY on
    Postgres, executemany in batches elsewhere; `copy_types` names the columns and their
    Postgres types. Returns how many rows went in."""
    columns = [name for name, _ in copy_types]
    return copy_tuples(session, table, copy_types,
                       (tuple(row.get(c) for c in columns) for row in rows), batch=batch)


def copy_tuples(session: Session, table: Any, copy_types: Sequence[tuple[str, str]],
                rows: Iterable[tuple[Any, ...]], *, batch: int = 5000) -> int:
    """`copy_rows` for rows given as tuples in `copy_types`' column order."""
    columns = [name for name, _ in copy_types]
    conn = session.connection()
    n = 0
    if conn.dialect.name == "postgresql":
        dbapi = conn.connection.driver_connection
        with dbapi.cursor() as cur:
            with cur.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN "
                          "(FORMAT BINARY)") as copy:
                copy.set_types([t for _, t in copy_types])
                for row in rows:
                    copy.write_row(row)
                    n += 1
        return n
    # Elsewhere (SQLite): the driver's executemany over tuples, each value through the
    # column type's own bind processor (what SQLAlchemy's insert would apply), without the
    # per-row cost of SQLAlchemy compiling a dict of parameters.
    dialect = conn.dialect
    # (the dialect's own processor, as SQLAlchemy caches it: the public `bind_processor` of
    # the generic type skips the SQLite implementation's datetime format)
    processors = [table.c[c].type._cached_bind_processor(dialect) for c in columns]
    convert = any(p is not None for p in processors)
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) "
           f"VALUES ({', '.join('?' * len(columns))})")
    rows = iter(rows)
    while chunk := list(islice(rows, batch)):
        if convert:
            chunk = [tuple(v if p is None or v is None else p(v)
                           for v, p in zip(row, processors, strict=True)) for row in chunk]
        conn.exec_driver_sql(sql, chunk)
        n += len(chunk)
    return n


def insert_documents(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert index rows in the session's transaction; returns how many."""
    return copy_rows(session, Document.__table__, DOCUMENT_COPY_TYPES, rows)
