"""A release's text shards and index, written so that the same rows give the same bytes.

Rows arrive in strictly increasing id order (Python string order, i.e. Unicode code points,
which is also the byte order of their UTF-8). A shard closes once the UTF-8 text it holds
reaches `shard_bytes`, and every row group holds `ROW_GROUP_ROWS` rows (the last one fewer),
so where files and row groups split depends on the content alone. Nothing in a file comes
from the clock, the host or the path: no pandas metadata, no timestamps, fixed compression.
Identical rows written by the same pyarrow version give byte-identical files (the writer's
version is in the Parquet footer's created_by).

The index (one row per document: id, content_sha256, shard, row) is streamed while the
shards are written, and the Merkle leaves are kept as packed 32-byte digests, so memory is
bounded by one shard's buffered row group, not by the size of the release.
"""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from common.atomic import (
    PARQUET_COMPRESSION,
    PARQUET_COMPRESSION_LEVEL,
    atomic_path,
    file_sha256,
)
from reports.errors import ReleaseDataError
from reports.manifest import DATA_DIR, INDEX_NAME, MERKLE_ALGORITHM
from reports.merkle import LEAF_DESCRIPTION, document_leaf_hash, packed_root

DEFAULT_SHARD_BYTES = 256 * 2**20
ROW_GROUP_ROWS = 1000
INDEX_ROW_GROUP_ROWS = 100_000

# large_string because one row group of long documents can pass 2 GiB of text; DuckDB and
# datasets.load_dataset("parquet") read it as a plain string column.
SHARD_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("text", pa.large_string()),
    ("source", pa.string()),
    ("url", pa.string()),
    ("license", pa.string()),
    ("language", pa.string()),
    ("n_tokens", pa.int64()),
    ("collected_at", pa.timestamp("us", tz="UTC")),
    ("metadata", pa.string()),
])

INDEX_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("content_sha256", pa.string()),
    ("shard", pa.string()),
    ("row", pa.int64()),
])

_STRING_FIELDS = ("source", "url", "license", "language")
_PARQUET_OPTIONS: dict[str, Any] = {
    "compression": PARQUET_COMPRESSION,
    "compression_level": PARQUET_COMPRESSION_LEVEL,
    # a flipped byte is then caught as a bad page, not decoded into a different text
    "write_page_checksum": True,
}


def shard_path(number: int) -> str:
    return f"{DATA_DIR}/part-{number:05d}.parquet"


@dataclass(frozen=True, slots=True)
class ReleaseFile:
    path: str  # relative to the release folder, "/"-separated
    kind: str  # "data" | "index" (the catalog adds "decisions", "excluded")
    sha256: str
    bytes: int
    documents: int
    tokens: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "sha256": self.sha256,
                "bytes": self.bytes, "documents": self.documents, "tokens": self.tokens}


@dataclass(frozen=True, slots=True)
class ReleaseFiles:
    files: tuple[ReleaseFile, ...]
    documents: int
    tokens: int
    text_bytes: int  # UTF-8 bytes of all released text
    merkle_root: str
    tree_size: int

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    def merkle(self) -> dict[str, Any]:
        """The manifest's "merkle" section."""
        return {"algorithm": MERKLE_ALGORITHM, "leaf": LEAF_DESCRIPTION,
                "tree_size": self.tree_size, "root": self.merkle_root}


class _StreamingParquet:
    """One Parquet file written row group by row group under its final name only when done."""

    def __init__(self, final: Path, schema: pa.Schema, use_dictionary: list[str]):
        self._stack = ExitStack()
        tmp = self._stack.enter_context(atomic_path(final))
        try:
            self._writer = pq.ParquetWriter(tmp, schema, use_dictionary=use_dictionary,
                                            **_PARQUET_OPTIONS)
        except BaseException:
            self._stack.close()
            raise
        self.final = final

    def write(self, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(batch, row_group_size=batch.num_rows)

    def close(self) -> None:
        self._writer.close()
        self._stack.close()

    def abort(self, exc: BaseException) -> None:
        try:
            self._writer.close()
        finally:
            self._stack.__exit__(type(exc), exc, exc.__traceback__)


def _require_str(row: dict[str, Any], name: str, doc: str, *, optional: bool) -> str | None:
    value = row.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ReleaseDataError(f"document {doc}: {name} must be a string, "
                               f"not {type(value).__name__}")
    return value


class ReleaseShardWriter:
    """Write `data/part-NNNNN.parquet` and `index.parquet` into a release folder.

        with ReleaseShardWriter(release_dir) as writer:
            for row in rows_in_id_order:
                writer.add(row)
            files = writer.finish()

    Leaving the `with` block by an exception before `finish` removes the unfinished files.
    """

    def __init__(self, release_dir: str | os.PathLike[str], *,
                 shard_bytes: int = DEFAULT_SHARD_BYTES, row_group_rows: int = ROW_GROUP_ROWS):
        if shard_bytes <= 0 or row_group_rows <= 0:
            raise ReleaseDataError("shard_bytes and row_group_rows must be positive")
        self.release_dir = Path(release_dir)
        self.shard_bytes = shard_bytes
        self.row_group_rows = row_group_rows
        self._leaves = bytearray()
        self._last_id: str | None = None
        self._files: list[ReleaseFile] = []
        self._documents = self._tokens = self._text_bytes = 0
        self._finished = False
        self._index = _StreamingParquet(self.release_dir / INDEX_NAME, INDEX_SCHEMA, ["shard"])
        self._index_buffer: dict[str, list[Any]] = {n: [] for n in INDEX_SCHEMA.names}
        self._shard: _StreamingParquet | None = None
        self._shard_name = ""
        self._buffer: dict[str, list[Any]] = {n: [] for n in SHARD_SCHEMA.names}
        self._shard_rows = self._shard_tokens = self._shard_text = 0

    def __enter__(self) -> ReleaseShardWriter:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is not None and not self._finished:
            self.abort(exc)

    def add(self, row: dict[str, Any]) -> None:
        if self._finished:
            raise ReleaseDataError("the release files are already finished")
        doc_id = row.get("id")
        if not isinstance(doc_id, str) or not doc_id:
            raise ReleaseDataError(f"a row has no id (id={doc_id!r})")
        if self._last_id is not None and doc_id <= self._last_id:
            raise ReleaseDataError(
                f"document {doc_id} arrives after {self._last_id}: rows must come in strictly "
                "increasing id order")
        text = _require_str(row, "text", doc_id, optional=False)
        assert text is not None
        try:
            encoded = text.encode("utf-8")
        except UnicodeEncodeError:
            raise ReleaseDataError(f"document {doc_id}: text is not valid Unicode "
                                   "(a lone surrogate)") from None
        strings = {name: _require_str(row, name, doc_id, optional=True)
                   for name in _STRING_FIELDS}
        n_tokens = row.get("n_tokens")
        if n_tokens is not None and (not isinstance(n_tokens, int) or isinstance(n_tokens, bool)
                                     or n_tokens < 0):
            raise ReleaseDataError(f"document {doc_id}: n_tokens must be a count, "
                                   f"not {n_tokens!r}")
        collected_at = row.get("collected_at")
        if collected_at is not None and not isinstance(collected_at, datetime):
            raise ReleaseDataError(f"document {doc_id}: collected_at must be a datetime")
        try:
            metadata = json.dumps(row.get("metadata") or {}, sort_keys=True,
                                  separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ReleaseDataError(f"document {doc_id}: metadata is not JSON ({exc})") from None
        content_sha256 = hashlib.sha256(encoded).hexdigest()
        leaf = document_leaf_hash(doc_id, content_sha256)

        if self._shard is None:
            self._open_shard()
        buf = self._buffer
        buf["id"].append(doc_id)
        buf["text"].append(encoded)
        for name, value in strings.items():
            buf[name].append(value)
        buf["n_tokens"].append(n_tokens)
        buf["collected_at"].append(collected_at)
        buf["metadata"].append(metadata)
        index = self._index_buffer
        index["id"].append(doc_id)
        index["content_sha256"].append(content_sha256)
        index["shard"].append(self._shard_name)
        index["row"].append(self._shard_rows)

        self._leaves += leaf
        self._last_id = doc_id
        self._shard_rows += 1
        self._shard_tokens += n_tokens or 0
        self._shard_text += len(encoded)
        if len(buf["id"]) >= self.row_group_rows:
            self._flush_rows()
        if len(index["id"]) >= INDEX_ROW_GROUP_ROWS:
            self._flush_index()
        if self._shard_text >= self.shard_bytes:
            self._close_shard()

    def finish(self) -> ReleaseFiles:
        """Close the last shard, write index.parquet; returns the files and the Merkle root."""
        if self._finished:
            raise ReleaseDataError("the release files are already finished")
        if self._shard is None and not self._files:
            self._open_shard()  # an empty release still has one (empty) shard to load
        if self._shard is not None:
            self._close_shard()
        self._flush_index()
        self._index.close()
        self._finished = True
        final = self._index.final
        index = ReleaseFile(path=INDEX_NAME, kind="index", sha256=file_sha256(final),
                            bytes=final.stat().st_size, documents=self._documents,
                            tokens=self._tokens)
        files = (*self._files, index)
        return ReleaseFiles(files=files, documents=self._documents, tokens=self._tokens,
                            text_bytes=self._text_bytes,
                            merkle_root=packed_root(self._leaves).hex(),
                            tree_size=len(self._leaves) // 32)

    def abort(self, exc: BaseException | None = None) -> None:
        """Drop the files not yet complete (the current shard and the index)."""
        if self._finished:
            return
        self._finished = True
        reason = exc if exc is not None else RuntimeError("release writing aborted")
        if self._shard is not None:
            self._shard.abort(reason)
            self._shard = None
        self._index.abort(reason)

    def _open_shard(self) -> None:
        self._shard_name = shard_path(len(self._files))
        self._shard = _StreamingParquet(self.release_dir / self._shard_name, SHARD_SCHEMA,
                                        ["source", "license", "language"])
        self._shard_rows = self._shard_tokens = self._shard_text = 0

    def _flush_rows(self) -> None:
        buf = self._buffer
        if not buf["id"] or self._shard is None:
            return
        columns = []
        for f in SHARD_SCHEMA:
            if f.name == "text":
                # the bytes were encoded once for the hash; the cast only validates them
                columns.append(pa.array(buf["text"], pa.large_binary()).cast(f.type))
            else:
                columns.append(pa.array(buf[f.name], f.type))
        self._shard.write(pa.RecordBatch.from_arrays(columns, schema=SHARD_SCHEMA))
        for values in buf.values():
            values.clear()

    def _flush_index(self) -> None:
        buf = self._index_buffer
        if not buf["id"]:
            return
        batch = pa.RecordBatch.from_arrays(
            [pa.array(buf[f.name], f.type) for f in INDEX_SCHEMA], schema=INDEX_SCHEMA)
        self._index.write(batch)
        for values in buf.values():
            values.clear()

    def _close_shard(self) -> None:
        assert self._shard is not None
        self._flush_rows()
        self._shard.close()
        final = self._shard.final
        self._files.append(ReleaseFile(
            path=self._shard_name, kind="data", sha256=file_sha256(final),
            bytes=final.stat().st_size, documents=self._shard_rows, tokens=self._shard_tokens))
        self._documents += self._shard_rows
        self._tokens += self._shard_tokens
        self._text_bytes += self._shard_text
        self._shard = None


def write_release_files(release_dir: str | os.PathLike[str], rows: Any, *,
                        shard_bytes: int = DEFAULT_SHARD_BYTES) -> ReleaseFiles:
    """Write every row of an id-ordered iterable; the one-call form of ReleaseShardWriter."""
    with ReleaseShardWriter(release_dir, shard_bytes=shard_bytes) as writer:
        for row in rows:
            writer.add(row)
        return writer.finish()


__all__ = [
    "DEFAULT_SHARD_BYTES",
    "INDEX_SCHEMA",
    "ROW_GROUP_ROWS",
    "SHARD_SCHEMA",
    "ReleaseFile",
    "ReleaseFiles",
    "ReleaseShardWriter",
    "shard_path",
    "write_release_files",
]
