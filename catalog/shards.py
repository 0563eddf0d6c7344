"""Document shards: Parquet (zstd) files under the data root, written atomically.

A shard is written to a temporary name and renamed into place only when complete, so a
killed run never leaves a half-written shard under a final name; its sha256 goes into the
catalog in the same transaction as the document rows that point at it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

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


@dataclass(frozen=True)
class WrittenShard:
    path: Path
    sha256: str
    n_docs: int
    n_bytes: int


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_table_atomic(table: pa.Table, path: Path) -> WrittenShard:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(table, tmp, compression="zstd", compression_level=3)
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return WrittenShard(path, file_sha256(path), table.num_rows, path.stat().st_size)


def documents_table(rows: Sequence[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=DOCUMENT_SCHEMA)


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def read_documents(path: Path, columns: Sequence[str] | None = None) -> pa.Table:
    return pq.read_table(path, columns=list(columns) if columns else None)
