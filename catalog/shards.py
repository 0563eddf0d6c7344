"""Document shards: Parquet (zstd) files under the data root, written atomically.

A shard is written to a temporary name and renamed into place only when complete, so a
killed run never leaves a half-written shard under a final name; its sha256 goes into the
catalog in the same transaction as the document rows that point at it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from common.atomic import WrittenFile, file_sha256, write_table_atomic
from common.storage import RemotePath, read_table

__all__ = ["DOCUMENT_SCHEMA", "WrittenFile", "documents_table", "file_sha256", "read_documents",
           "to_json", "write_table_atomic"]

DOCUMENT_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("source", pa.string()),
    ("native_id", pa.string()),
    ("text", pa.large_string()),
    ("content_sha256", pa.string()),
    ("url", pa.string()),
    ("host", pa.string()),
    ("collected_at", pa.timestamp("us", tz="UTC")),
    ("created_at", pa.timestamp("us", tz="UTC")),
    ("title", pa.string()),
    ("language", pa.string()),
    ("metadata", pa.string()),  # JSON
    ("signals", pa.string()),  # JSON list of consent signals
    ("licenses", pa.string()),  # JSON list of licence findings
])


def documents_table(rows: Sequence[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=DOCUMENT_SCHEMA)


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def read_documents(path: Path | RemotePath, columns: Sequence[str] | None = None) -> pa.Table:
    return read_table(path, columns=list(columns) if columns else None)
