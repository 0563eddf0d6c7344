"""The decision log: one schema for every stage's per-document decisions, one writer, one tally.

Every stage that decides — the admission gate and each `govcat run` stage (langid, quality,
dedup, pii) — writes its decisions through `DecisionLogWriter` into one Parquet file per run
and stage (`decisions/run-NNNNNN/<stage>.parquet` under the data root, see
docs/architecture.md, "The decision log"), sorted by document id:

    id               string          the document
    stage            string          admission | langid | quality | dedup | pii
    effect           string          what the policy decided (allow/deny, keep/drop, redact, ...)
    rule_ids         list<string>    the rules that made the decision; empty when the default did
    default_applied  bool            no rule matched: the stage default decided
    n_tokens         int64           the document's tokens, for token-weighted accounting
    redact           list<string>    pii redact: entity types to replace
    placeholder      string          pii redact: the placeholder ("{type}" is the entity type)
    redact_spans     list<struct<type string, start int64, end int64>>
                                     pii redact: the character spans to replace, so a release is
                                     cut from the log without re-reading attributes
    errors           list<string>    conditions that could not be evaluated (the stage failed
                                     closed)

The stage of a decision is in the log itself; readers never guess it from the run.
`RuleTally` is the one per-rule accounting (documents and tokens per rule and effect) that the
catalog stores as decision counts.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common.atomic import (
    PARQUET_COMPRESSION,
    PARQUET_COMPRESSION_LEVEL,
    WrittenFile,
    file_sha256,
    publish,
    temp_name,
)
from common.storage import as_path, parquet_file, read_schema, read_table

if TYPE_CHECKING:
    import pyarrow as pa

DEFAULT_RULE = "(default)"
STAGE_ORDER: tuple[str, ...] = ("admission", "langid", "quality", "dedup", "pii")
COLUMNS: tuple[str, ...] = ("id", "stage", "effect", "rule_ids", "default_applied", "n_tokens",
                            "redact", "placeholder", "redact_spans", "errors")
_ROW_GROUP = 64 * 1024


class DecisionLogError(ValueError):
    """A decision log cannot be written as asked (rows out of order, unknown stage)."""


def schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([
        ("id", pa.string()),
        ("stage", pa.string()),
        ("effect", pa.string()),
        ("rule_ids", pa.list_(pa.string())),
        ("default_applied", pa.bool_()),
        ("n_tokens", pa.int64()),
        ("redact", pa.list_(pa.string())),
        ("placeholder", pa.string()),
        ("redact_spans", pa.list_(pa.struct([("type", pa.string()), ("start", pa.int64()),
                                             ("end", pa.int64())]))),
        ("errors", pa.list_(pa.string())),
    ])


@dataclass
class RuleTally:
    """Documents and tokens per (rule, effect) of one stage; a default decision counts under
    `(default)`, a decision made by several rules counts once under each."""

    stage: str
    counts: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    documents: int = 0
    tokens: int = 0

    def add(self, effect: str, rule_ids: Sequence[str], n_tokens: int, n: int = 1) -> None:
        self.documents += n
        self.tokens += n_tokens
        for rule in rule_ids or (DEFAULT_RULE,):
            slot = self.counts.get((rule, effect))
            if slot is None:
                slot = self.counts[(rule, effect)] = [0, 0]
            slot[0] += n
            slot[1] += n_tokens

    def rows(self) -> list[dict[str, Any]]:
        """One row per rule and effect, in a stable order (for the catalog's decision counts)."""
        return [{"stage": self.stage, "rule_id": rule, "effect": effect, "documents": d,
                 "tokens": t} for (rule, effect), (d, t) in sorted(self.counts.items())]


@dataclass(frozen=True, slots=True)
class Span:
    type: str
    start: int
    end: int


class DecisionLogWriter:
    """Writes one stage's decisions of one run, atomically, sorted by document id.

    Rows may come in any order; when they come in id order (the gate streams the index in id
    order) they are streamed to disk in row groups, otherwise they are held as columns and
    sorted once at `close()`. The file appears under its final name only when complete
    (common.atomic: temporary file, fsync, rename) and `close()` returns its sha256, which the
    catalog records as a shard of the run with its stage.
    """

    def __init__(self, path: str | os.PathLike[str], stage: str, *,
                 row_group_rows: int | None = None):
        """`row_group_rows`: smaller for files merged with many others (each reader of a
        merge holds one decoded row group)."""
        if stage not in STAGE_ORDER:
            raise DecisionLogError(f"unknown stage {stage!r}; stages are {', '.join(STAGE_ORDER)}")
        self.path = as_path(path)  # a local file or an object (common.storage)
        self.stage = stage
        self.row_group_rows = row_group_rows or _ROW_GROUP
        self.rows = 0
        self._cols: dict[str, list[Any]] = {c: [] for c in COLUMNS}
        self._last: str | None = None
        self._sorted = True
        self._writer: Any = None
        self._tmp: Path | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> DecisionLogWriter:
        return self

    def __exit__(self, exc_type, *_: object) -> None:
        if exc_type is not None:
            self.abort()

    # ------------------------------------------------------------------ adding
    def add(self, doc_id: str, decision: Any, n_tokens: int,
            spans: Iterable[Span | Mapping[str, Any]] = ()) -> None:
        """One decision (a `policies.engine.Decision` or anything with its attributes)."""
        redact = tuple(getattr(decision, "redact", ()) or ())
        chosen = set(redact)
        span_rows = []
        if chosen:
            for s in spans:
                t, a, b = ((s.type, s.start, s.end) if isinstance(s, Span)
                           else (s["type"], s["start"], s["end"]))
                if t in chosen:
                    span_rows.append({"type": t, "start": int(a), "end": int(b)})
            span_rows.sort(key=lambda r: (r["start"], r["end"]))
        self._append(doc_id, decision.effect, list(decision.rule_ids),
                     bool(decision.default_applied), int(n_tokens), list(redact),
                     (getattr(decision, "placeholder", "") or None) if redact else None,
                     span_rows, list(getattr(decision, "errors", ()) or ()))

    def add_batch(self, doc_ids: Sequence[str], decisions: Sequence[Any],
                  tokens: Sequence[int]) -> None:
        """Many decisions without spans (the gate's batches)."""
        for doc_id, d, n in zip(doc_ids, decisions, tokens, strict=True):
            self._append(doc_id, d.effect, list(d.rule_ids), bool(d.default_applied), int(n),
                         [], None, [], list(getattr(d, "errors", ()) or ()))

    def _append(self, doc_id, effect, rules, default, n, redact, placeholder, spans, errors):
        if self._last is not None and doc_id <= self._last:
            if doc_id == self._last:
                raise DecisionLogError(f"document {doc_id!r} decided twice at stage "
                                       f"{self.stage}")
            self._sorted = False
        self._last = doc_id
        c = self._cols
        c["id"].append(doc_id)
        c["stage"].append(self.stage)
        c["effect"].append(effect)
        c["rule_ids"].append(rules)
        c["default_applied"].append(default)
        c["n_tokens"].append(n)
        c["redact"].append(redact)
        c["placeholder"].append(placeholder)
        c["redact_spans"].append(spans)
        c["errors"].append(errors)
        self.rows += 1
        if self._sorted and len(c["id"]) >= self.row_group_rows:
            self._flush()

    # ------------------------------------------------------------------ writing
    def _take_batch(self) -> pa.RecordBatch:
        import pyarrow as pa

        batch = pa.record_batch([self._cols[c] for c in COLUMNS], schema=schema())
        self._cols = {c: [] for c in COLUMNS}
        return batch

    def _open(self) -> None:
        import pyarrow.parquet as pq

        self._tmp = temp_name(self.path)
        self._writer = pq.ParquetWriter(self._tmp, schema(), compression=PARQUET_COMPRESSION,
                                        compression_level=PARQUET_COMPRESSION_LEVEL)

    def _flush(self) -> None:
        import pyarrow as pa

        if not self._cols["id"]:
            return
        if self._writer is None:
            self._open()
        batch = self._take_batch()
        self._writer.write_table(pa.Table.from_batches([batch]),
                                 row_group_size=self.row_group_rows)

    def close(self) -> WrittenFile:
        """Write what is left, fsync, rename into place; the file's sha256 and size."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._sorted:
            self._flush()
            if self._writer is None:  # no decisions at all: an empty log is still a log
                self._open()
            self._writer.close()
        else:
            # Rows came out of order: whatever was streamed is read back and everything is
            # written again in id order (the process stages; one stage's columns fit).
            parts = []
            if self._writer is not None:
                self._writer.close()
                parts.append(pq.read_table(self._tmp))
                self._tmp.unlink(missing_ok=True)
            if self._cols["id"]:
                parts.append(pa.Table.from_batches([self._take_batch()]))
            table = pa.concat_tables(parts).sort_by("id")
            self._open()
            self._writer.write_table(table, row_group_size=self.row_group_rows)
            self._writer.close()
        # hashed before it moves: the same bytes, and an object is not read back
        digest, size = file_sha256(self._tmp), self._tmp.stat().st_size
        publish(self._tmp, self.path)
        self._tmp = None
        return WrittenFile(str(self.path), digest, size, self.rows)

    def abort(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # noqa: BLE001 - already failing; only the temp file matters
                pass
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None


# --------------------------------------------------------------------------- reading


def read(path: str | os.PathLike[str], *, columns: Sequence[str] | None = None,
         doc_ids: Sequence[str] | None = None) -> pa.Table:
    """A decision log as a table; logs written before `stage`/`redact_spans` existed are
    read with those columns missing (callers get what the file has)."""
    present = set(read_schema(path).names)
    wanted = [c for c in (columns or COLUMNS) if c in present]
    filters = [("id", "in", list(doc_ids))] if doc_ids is not None else None
    return read_table(path, columns=wanted, filters=filters)


def find(path: str | os.PathLike[str], doc_id: str) -> dict[str, Any] | None:
    """One document's decision in a log, or None."""
    table = read(path, doc_ids=[doc_id])
    return table.to_pylist()[0] if table.num_rows else None


def iter_rows(path: str | os.PathLike[str], *, columns: Sequence[str] | None = None,
              batch_size: int = 65_536) -> Iterator[dict[str, Any]]:
    """Rows of a log in id order, a record batch at a time (memory does not grow with it)."""
    pf = parquet_file(path)
    wanted = [c for c in (columns or COLUMNS) if c in pf.schema_arrow.names]
    for batch in pf.iter_batches(batch_size=batch_size, columns=wanted):
        yield from batch.to_pylist()


def stage_rank(stage: str) -> int:
    return STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER)
