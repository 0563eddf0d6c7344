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
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from common.atomic import (
    PARQUET_COMPRESSION,
    PARQUET_COMPRESSION_LEVEL,
    atomic_path,
    file_sha256,
)
from common.storage import RemotePath, as_path
from reports.errors import ReleaseDataError
from reports.manifest import DATA_DIR, INDEX_NAME, MERKLE_ALGORITHM
from reports.merkle import LEAF_DESCRIPTION, packed_root

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

    def __init__(self, final: Path | RemotePath, schema: pa.Schema,
                 use_dictionary: list[str]):
        self._stack = ExitStack()
        tmp = self._tmp = self._stack.enter_context(atomic_path(final))
        try:
            self._writer = pq.ParquetWriter(tmp, schema, use_dictionary=use_dictionary,
                                            **_PARQUET_OPTIONS)
        except BaseException:
            self._stack.close()
            raise
        self.final = final

    def write(self, table: pa.Table) -> None:
        """One row group of all of `table`'s rows."""
        self._writer.write_table(table, row_group_size=max(1, table.num_rows))

    def close(self) -> tuple[str, int]:
        """Finish the file; its sha256 and size, taken from the local file before it is
        published (for an object: without reading it back from the store)."""
        self._writer.close()
        digest, size = file_sha256(self._tmp), os.stat(self._tmp).st_size
        self._stack.close()
        return digest, size

    def abort(self, exc: BaseException) -> None:
        try:
            self._writer.close()
        finally:
            self._stack.__exit__(type(exc), exc, exc.__traceback__)


class _Pending:
    """Tables waiting to become row groups of exactly `size` rows."""

    def __init__(self, size: int):
        self.size = size
        self.parts: list[pa.Table] = []
        self.rows = 0

    def append(self, table: pa.Table) -> None:
        self.parts.append(table)
        self.rows += table.num_rows

    def take(self, everything: bool = False):
        """Yield full row groups (and, with `everything`, the remainder)."""
        while self.rows >= self.size or (everything and self.rows):
            table = pa.concat_tables(self.parts).combine_chunks()
            n = min(self.size, table.num_rows)
            yield table.slice(0, n)
            rest = table.slice(n)
            self.parts = [rest] if rest.num_rows else []
            self.rows = rest.num_rows


def _require_str(row: dict[str, Any], name: str, doc: str, *, optional: bool) -> str | None:
    value = row.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ReleaseDataError(f"document {doc}: {name} must be a string, "
                               f"not {type(value).__name__}")
    return value


def _row_values(row: dict[str, Any]) -> dict[str, Any]:
    """One row checked and converted to the shard schema's values (metadata as JSON)."""
    doc_id = row.get("id")
    if not isinstance(doc_id, str) or not doc_id:
        raise ReleaseDataError(f"a row has no id (id={doc_id!r})")
    if "\x00" in doc_id:
        raise ReleaseDataError(f"document id {doc_id!r} contains a NUL character")
    text = _require_str(row, "text", doc_id, optional=False)
    assert text is not None
    for name, value in (("id", doc_id), ("text", text)):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ReleaseDataError(f"document {doc_id!r}: {name} is not valid Unicode "
                                   "(a lone surrogate)") from None
    values: dict[str, Any] = {"id": doc_id, "text": text}
    for name in _STRING_FIELDS:
        values[name] = _require_str(row, name, doc_id, optional=True)
    n_tokens = row.get("n_tokens")
    if n_tokens is not None and (not isinstance(n_tokens, int) or isinstance(n_tokens, bool)
                                 or n_tokens < 0):
        raise ReleaseDataError(f"document {doc_id}: n_tokens must be a count, "
                               f"not {n_tokens!r}")
    values["n_tokens"] = n_tokens
    collected_at = row.get("collected_at")
    if collected_at is not None and not isinstance(collected_at, datetime):
        raise ReleaseDataError(f"document {doc_id}: collected_at must be a datetime")
    values["collected_at"] = collected_at
    values["metadata"] = metadata_json(row.get("metadata"), doc_id)
    return values


def metadata_json(metadata: Any, doc_id: str) -> str:
    """The `metadata` column's text of one document: canonical JSON of a mapping."""
    try:
        return json.dumps(metadata or {}, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ReleaseDataError(f"document {doc_id}: metadata is not JSON ({exc})") from None


class ReleaseShardWriter:
    """Write `data/part-NNNNN.parquet` and `index.parquet` into a release folder.

        with ReleaseShardWriter(release_dir) as writer:
            writer.add_batch(table)          # SHARD_SCHEMA columns, in id order
            writer.add(row)                  # or one row (a dict) at a time
            files = writer.finish()

    Rows given either way give the same bytes. Leaving the `with` block by an exception
    before `finish` removes the unfinished files.
    """

    def __init__(self, release_dir: str | os.PathLike[str], *,
                 shard_bytes: int = DEFAULT_SHARD_BYTES, row_group_rows: int = ROW_GROUP_ROWS):
        if shard_bytes <= 0 or row_group_rows <= 0:
            raise ReleaseDataError("shard_bytes and row_group_rows must be positive")
        self.release_dir = as_path(release_dir)
        self.shard_bytes = shard_bytes
        self.row_group_rows = row_group_rows
        self._leaves = bytearray()
        self._last_id: str | None = None
        self._files: list[Future] = []  # of ReleaseFile, once the shard is closed
        self._documents = self._tokens = self._text_bytes = 0
        self._finished = False
        self._index = _StreamingParquet(self.release_dir / INDEX_NAME, INDEX_SCHEMA, ["shard"])
        self._index_rows = _Pending(INDEX_ROW_GROUP_ROWS)
        self._shard: _StreamingParquet | None = None
        self._shard_name = ""
        self._rows = _Pending(row_group_rows)
        self._single: list[dict[str, Any]] = []  # rows given by add(), not yet a table
        self._shard_rows = self._shard_tokens = self._shard_text = 0
        # Encoding and compressing row groups (the GIL released) runs on one thread beside
        # the hashing, in the order submitted; at most _IN_FLIGHT row groups wait in memory.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="release-writer")
        self._in_flight: deque[Future] = deque()

    def __enter__(self) -> ReleaseShardWriter:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is not None and not self._finished:
            self.abort(exc)

    def add(self, row: dict[str, Any]) -> None:
        """One row: id, text, source, url, license, language, n_tokens, collected_at and a
        `metadata` mapping."""
        if self._finished:
            raise ReleaseDataError("the release files are already finished")
        values = _row_values(row)
        last = self._single[-1]["id"] if self._single else self._last_id
        if last is not None and values["id"] <= last:
            raise ReleaseDataError(
                f"document {values['id']} arrives after {last}: rows must come in strictly "
                "increasing id order")
        self._single.append(values)
        if len(self._single) >= self.row_group_rows:
            self._add_single()

    def add_batch(self, rows: pa.Table | pa.RecordBatch) -> None:
        """Rows with SHARD_SCHEMA's columns (metadata as JSON text; null means {}), in
        strictly increasing id order, after those already added."""
        if self._finished:
            raise ReleaseDataError("the release files are already finished")
        self._add_single()
        self._add_table(rows)

    def _add_single(self) -> None:
        if self._single:
            rows, self._single = self._single, []
            self._add_table(pa.Table.from_pylist(rows, schema=SHARD_SCHEMA))

    def _add_table(self, rows: pa.Table | pa.RecordBatch) -> None:
        table = _conform(rows)
        n = table.num_rows
        if n == 0:
            return
        ids = table.column("id").chunk(0)
        id_list = ids.to_pylist()
        _check_ids(ids, id_list, self._last_id)
        tokens = table.column("n_tokens").chunk(0)
        if tokens.null_count < n and pc.min(tokens).as_py() < 0:
            bad = id_list[pc.index(pc.less(tokens, 0), True).as_py()]
            raise ReleaseDataError(f"document {bad}: n_tokens must be a count")
        texts = table.column("text").chunk(0)
        offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64)[
            texts.offset:texts.offset + n + 1]
        data = memoryview(texts.buffers()[2] or b"")
        bounds = offsets.tolist()
        sha256 = hashlib.sha256
        shas: list[str] = []
        leaves = self._leaves
        for i, doc_id in enumerate(id_list):
            digest = sha256(data[bounds[i]:bounds[i + 1]]).hexdigest()
            shas.append(digest)
            leaves += sha256(b"\x00" + doc_id.encode("utf-8") + b"\x00"
                             + digest.encode("ascii")).digest()
        lengths = np.diff(offsets)
        token_counts = tokens.fill_null(0).to_numpy(zero_copy_only=False)
        self._last_id = id_list[-1]
        shas_array = pa.array(shas, pa.string())
        pos = 0
        while pos < n:
            if self._shard is None:
                self._open_shard()
            room = self.row_group_rows - self._rows.rows
            filled = np.cumsum(lengths[pos:pos + room])
            take = min(len(filled), int(np.searchsorted(
                filled, self.shard_bytes - self._shard_text, side="left")) + 1)
            self._rows.append(table.slice(pos, take))
            self._index_rows.append(pa.table({
                "id": ids.slice(pos, take), "content_sha256": shas_array.slice(pos, take),
                "shard": pa.repeat(pa.scalar(self._shard_name), take),
                "row": pa.array(np.arange(self._shard_rows, self._shard_rows + take),
                                pa.int64())}, schema=INDEX_SCHEMA))
            self._shard_rows += take
            self._shard_tokens += int(token_counts[pos:pos + take].sum())
            self._shard_text += int(filled[take - 1])
            for group in self._rows.take():
                self._submit(self._shard.write, group)
            for group in self._index_rows.take():
                self._submit(self._index.write, group)
            if self._shard_text >= self.shard_bytes:
                self._close_shard()
            pos += take

    def finish(self) -> ReleaseFiles:
        """Close the last shard, write index.parquet; returns the files and the Merkle root."""
        if self._finished:
            raise ReleaseDataError("the release files are already finished")
        self._add_single()
        if self._shard is None and not self._files:
            self._open_shard()  # an empty release still has one (empty) shard to load
        if self._shard is not None:
            self._close_shard()
        for group in self._index_rows.take(everything=True):
            self._submit(self._index.write, group)
        closed = self._submit(self._index.close)
        self._drain(0)
        self._pool.shutdown()
        self._finished = True
        digest, size = closed.result()
        index = ReleaseFile(path=INDEX_NAME, kind="index", sha256=digest, bytes=size,
                            documents=self._documents, tokens=self._tokens)
        files = (*(f.result() for f in self._files), index)
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
        for future in self._in_flight:  # let the thread finish before the files go
            future.exception()
        self._pool.shutdown()
        if self._shard is not None:
            self._shard.abort(reason)
            self._shard = None
        self._index.abort(reason)

    def _submit(self, fn: Any, *args: Any) -> Future:
        future = self._pool.submit(fn, *args)
        self._in_flight.append(future)
        self._drain(_IN_FLIGHT)
        return future

    def _drain(self, keep: int) -> None:
        """Wait until at most `keep` writes are in flight; a failed write raises here."""
        while self._in_flight and (len(self._in_flight) > keep or self._in_flight[0].done()):
            self._in_flight.popleft().result()

    def _open_shard(self) -> None:
        self._shard_name = shard_path(len(self._files))
        self._shard = _StreamingParquet(self.release_dir / self._shard_name, SHARD_SCHEMA,
                                        ["source", "license", "language"])
        self._shard_rows = self._shard_tokens = self._shard_text = 0

    def _close_shard(self) -> None:
        assert self._shard is not None
        for group in self._rows.take(everything=True):
            self._submit(self._shard.write, group)
        shard, name = self._shard, self._shard_name
        documents, tokens = self._shard_rows, self._shard_tokens

        def close() -> ReleaseFile:
            digest, size = shard.close()
            return ReleaseFile(path=name, kind="data", sha256=digest, bytes=size,
                               documents=documents, tokens=tokens)

        self._files.append(self._submit(close))
        self._documents += self._shard_rows
        self._tokens += self._shard_tokens
        self._text_bytes += self._shard_text
        self._shard = None


_IN_FLIGHT = 8


def _conform(rows: pa.Table | pa.RecordBatch) -> pa.Table:
    """`rows` as a one-chunk table of exactly SHARD_SCHEMA, or one line saying what is off."""
    table = pa.Table.from_batches([rows]) if isinstance(rows, pa.RecordBatch) else rows
    missing = [n for n in SHARD_SCHEMA.names if n not in table.column_names]
    if missing:
        raise ReleaseDataError(f"release rows lack the column(s) {', '.join(missing)}")
    table = table.select(SHARD_SCHEMA.names)
    if table.column("metadata").null_count:
        table = table.set_column(SHARD_SCHEMA.get_field_index("metadata"), "metadata",
                                 pc.fill_null(table.column("metadata"), "{}"))
    try:
        table = table.cast(SHARD_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise ReleaseDataError(f"release rows do not fit the shard schema ({exc})") from None
    for name in ("id", "text"):
        if table.column(name).null_count:
            raise ReleaseDataError(f"a release row has no {name}")
    return table.combine_chunks()


def _check_ids(ids: pa.Array, id_list: list[str], last: str | None) -> None:
    """Ids non-empty, without NUL (the Merkle leaf's separator), strictly increasing."""
    if pc.any(pc.equal(pc.binary_length(ids), 0)).as_py():
        raise ReleaseDataError("a row has no id (id='')")
    if pc.any(pc.match_substring(ids, "\x00")).as_py():
        bad = id_list[pc.index(pc.match_substring(ids, "\x00"), True).as_py()]
        raise ReleaseDataError(f"document id {bad!r} contains a NUL character")
    if last is not None and id_list[0] <= last:
        raise ReleaseDataError(f"document {id_list[0]} arrives after {last}: rows must come "
                               "in strictly increasing id order")
    if len(id_list) > 1:
        ordered = pc.greater(ids.slice(1), ids.slice(0, len(ids) - 1))
        if not pc.all(ordered).as_py():
            i = pc.index(ordered, False).as_py()
            raise ReleaseDataError(f"document {id_list[i + 1]} arrives after {id_list[i]}: "
                                   "rows must come in strictly increasing id order")


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
    "metadata_json",
    "shard_path",
    "write_release_files",
]
