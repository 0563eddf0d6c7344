"""One shard through a list of stages: read documents, measure them, write an attribute shard.

A `ShardTask` names an input document shard (Parquet with at least `id` and `text`; every
other column becomes `Document.metadata`), an output path and the stages to run, by registry
name and options. `run_shard(task)` reads the input in record batches, pushes the documents
through the stages as a chain of generators, and writes the **attribute shard** atomically:

- Parquet, zstd level 3, one row per input document, in input order, keyed by `id`;
- columns: `id`, then for each stage in order its declared attributes and its error
  attribute (`<stage>_error`, a string, null unless the stage could not measure the
  document), then any undeclared attribute a stage wrote, sorted by name — so shards of one
  task list share their column names even where a value is never set;
- column types follow the values: bool, int64, float64 (ints and floats mixed), string; a
  column that is null everywhere is of Arrow type null; lists, dicts and any other mix are
  JSON text (sorted keys, compact separators) and their field carries the metadata
  `govcat.encoding = json`, so readers know to decode them;
- file metadata `govcat.stages`: the stages' names, versions and options (JSON).

Nothing depending on time, host, process or path goes into the file, so the same input and
stages give byte-identical shards on any executor and any number of workers.

The attributes of one shard are held in memory (as columns) until the shard is written; the
text is not, beyond one record batch. Shards are sized by ingest (thousands of documents).

Stages are built once per process and reused across shards (a per-process cache keyed by the
stage spec), so heavy models load once per worker; their stats restart for every shard.

Exceptions (all ValueError):

    PipelineError
    ├── TaskError          a task that cannot run as given (two stages with one name, ...)
    └── ShardInputError    the input shard lacks `id`/`text`, or repeats a document id
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from common.atomic import write_bytes_atomic
from common.storage import parquet_file, path_str
from processing.stage import Stage, StageStats, create
from processing.types import AttributeValue, Document

ID_COLUMN = "id"
TEXT_COLUMN = "text"
DEFAULT_BATCH_SIZE = 1024
PARQUET_COMPRESSION = "zstd"
PARQUET_COMPRESSION_LEVEL = 3
PARQUET_ROW_GROUP_SIZE = 64 * 1024  # rows; fixed so the file layout never depends on the run
JSON_ENCODING = {b"govcat.encoding": b"json"}
_INT64 = (-(2**63), 2**63 - 1)


class PipelineError(ValueError):
    """Base of the errors a caller of the pipeline can cause."""


class TaskError(PipelineError):
    """A task that cannot run as given."""


class ShardInputError(PipelineError):
    """The input shard is not a document shard this pipeline can read."""


@dataclass(frozen=True, slots=True)
class StageSpec:
    """A stage by registry name and options.

    `module`, when set, is imported before the stage is looked up, so stages registered
    outside `processing.stages` (plug-ins, tests) are found in worker processes too.
    """

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)
    module: str | None = None

    @property
    def key(self) -> str:
        """Canonical text of the spec: equal specs, equal keys (the per-process cache key)."""
        return json.dumps(
            {"name": self.name, "options": dict(self.options), "module": self.module},
            sort_keys=True,
            default=repr,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "options": dict(self.options), "module": self.module}


@dataclass(frozen=True, slots=True)
class ShardTask:
    """One unit of work: an input document shard, where its attributes go, and the stages."""

    input_path: str
    output_path: str
    stages: tuple[StageSpec, ...]
    batch_size: int = DEFAULT_BATCH_SIZE
    columns: tuple[str, ...] | None = None  # metadata columns to read; None reads all

    def __post_init__(self) -> None:
        specs = tuple(s if isinstance(s, StageSpec) else StageSpec(str(s)) for s in self.stages)
        # Strings, so a task pickles small; a store's URL stays a URL (common.storage).
        object.__setattr__(self, "input_path", path_str(self.input_path))
        object.__setattr__(self, "output_path", path_str(self.output_path))
        object.__setattr__(self, "stages", specs)
        if self.columns is not None:
            object.__setattr__(self, "columns", tuple(self.columns))
        if not specs:
            raise TaskError(f"task for {self.input_path}: no stages to run")
        seen: set[str] = set()
        for spec in specs:
            if spec.name in seen:
                raise TaskError(
                    f"task for {self.input_path}: stage {spec.name!r} listed twice; "
                    "its attributes would overwrite each other"
                )
            seen.add(spec.name)
        if self.batch_size < 1:
            raise TaskError(f"task for {self.input_path}: batch_size must be >= 1")
        if os.path.abspath(self.input_path) == os.path.abspath(self.output_path):
            raise TaskError(f"task for {self.input_path}: output path is the input path")


@dataclass(frozen=True, slots=True)
class ShardResult:
    """What a finished task reports; `stats` maps each stage name to `StageStats.to_dict()`."""

    input_path: str
    output_path: str
    sha256: str
    rows: int
    n_bytes: int
    stats: dict[str, dict[str, Any]]
    seconds: float

    def stage_stats(self) -> dict[str, StageStats]:
        return {name: StageStats.from_dict(data) for name, data in self.stats.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_path": self.input_path,
            "output_path": self.output_path,
            "sha256": self.sha256,
            "rows": self.rows,
            "n_bytes": self.n_bytes,
            "stats": self.stats,
            "seconds": self.seconds,
        }


def merge_stats(results: Iterable[ShardResult]) -> dict[str, StageStats]:
    """Stats of every stage summed over shards; the same whatever order the shards finished in."""
    totals: dict[str, StageStats] = {}
    for result in sorted(results, key=lambda r: r.output_path):
        for name, stats in result.stage_stats().items():
            totals[name] = totals[name].merge(stats) if name in totals else stats
    return totals


# ------------------------------------------------------------------ stages, once per process
_STAGE_CACHE: dict[str, Stage] = {}


def build_stages(specs: Sequence[StageSpec]) -> list[Stage]:
    """The stages for `specs`, built on first use in this process, with fresh stats."""
    stages = []
    for spec in specs:
        stage = _STAGE_CACHE.get(spec.key)
        if stage is None:
            if spec.module:
                importlib.import_module(spec.module)
            stage = create(spec.name, **dict(spec.options))
            _STAGE_CACHE[spec.key] = stage
        stage.stats = StageStats(stage=stage.name)
        stages.append(stage)
    return stages


def clear_stage_cache() -> None:
    _STAGE_CACHE.clear()


# ------------------------------------------------------------------------------- one shard
def run_shard(task: ShardTask, *, progress: Callable[[int], None] | None = None) -> ShardResult:
    """Run the task's stages over its input shard and write the attribute shard atomically.

    `progress`, if given, is called with the number of documents of each batch read.
    """
    started = perf_counter()
    stages = build_stages(task.stages)
    stream: Iterable[Document] = read_documents(task, progress=progress)
    for stage in stages:
        stream = stage.run(stream)
    columns = _AttributeColumns()
    for doc in stream:
        columns.add(doc)
    table = columns.table(stages)
    written = write_bytes_atomic(parquet_bytes(table, task.stages, stages), task.output_path)
    return ShardResult(
        input_path=task.input_path,
        output_path=task.output_path,
        sha256=written.sha256,
        rows=table.num_rows,
        n_bytes=written.n_bytes,
        stats={stage.name: stage.stats.to_dict() for stage in stages},
        seconds=perf_counter() - started,
    )


def read_documents(
    task: ShardTask, *, progress: Callable[[int], None] | None = None
) -> Iterator[Document]:
    """The input shard's rows as Documents, in file order, one record batch at a time."""
    try:
        parquet = parquet_file(task.input_path)  # a local file or an object
    except (OSError, pa.ArrowInvalid) as exc:
        raise ShardInputError(f"{task.input_path}: not a readable Parquet file ({exc})") from exc
    names = parquet.schema_arrow.names
    missing = [c for c in (ID_COLUMN, TEXT_COLUMN) if c not in names]
    if missing:
        raise ShardInputError(f"{task.input_path}: no {', '.join(missing)} column")
    if task.columns is None:
        meta = [n for n in names if n not in (ID_COLUMN, TEXT_COLUMN)]
    else:
        absent = [c for c in task.columns if c not in names]
        if absent:
            raise ShardInputError(f"{task.input_path}: no {', '.join(absent)} column")
        meta = [c for c in task.columns if c not in (ID_COLUMN, TEXT_COLUMN)]
    seen: set[str] = set()
    row = 0
    with parquet:
        for batch in parquet.iter_batches(
            batch_size=task.batch_size, columns=[ID_COLUMN, TEXT_COLUMN, *meta]
        ):
            ids = batch.column(0).to_pylist()
            texts = batch.column(1).to_pylist()
            meta_values = [batch.column(2 + i).to_pylist() for i in range(len(meta))]
            for i, doc_id in enumerate(ids):
                if doc_id is None or doc_id in seen:
                    what = "a null id" if doc_id is None else f"id {doc_id!r} again"
                    raise ShardInputError(f"{task.input_path}: row {row + i} has {what}")
                seen.add(doc_id)
                metadata = {name: values[i] for name, values in zip(meta, meta_values, strict=True)}
                yield Document(id=str(doc_id), text=texts[i], metadata=metadata)
            row += len(ids)
            if progress:
                progress(len(ids))


# ---------------------------------------------------------------------- the attribute shard
class _AttributeColumns:
    """Attributes gathered column by column, in document order."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.values: dict[str, list[AttributeValue]] = {}

    def add(self, doc: Document) -> None:
        n = len(self.ids)
        for name, value in doc.attributes.items():
            column = self.values.get(name)
            if column is None:
                column = self.values[name] = [None] * n
            column.append(value)
        self.ids.append(doc.id)
        for column in self.values.values():
            if len(column) == n:  # this document did not set it
                column.append(None)

    def table(self, stages: Sequence[Stage]) -> pa.Table:
        order: list[str] = []
        for stage in stages:
            order.extend(a for a in stage.attributes if a not in order)
            if stage.error_attribute not in order:
                order.append(stage.error_attribute)
        order.extend(sorted(n for n in self.values if n not in order and n != ID_COLUMN))
        errors = {stage.error_attribute for stage in stages}
        n = len(self.ids)
        fields = [pa.field(ID_COLUMN, pa.string(), nullable=False)]
        arrays = [pa.array(self.ids, type=pa.string())]
        for name in order:
            values = self.values.get(name) or [None] * n
            if name in errors and all(v is None or isinstance(v, str) for v in values):
                # Always text, so the error column has one type in every shard.
                f, array = pa.field(name, pa.string()), pa.array(values, type=pa.string())
            else:
                f, array = _column(name, values)
            fields.append(f)
            arrays.append(array)
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _column(name: str, values: list[AttributeValue]) -> tuple[pa.Field, pa.Array]:
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return pa.field(name, pa.null()), pa.nulls(len(values))
    if kinds == {bool}:
        return pa.field(name, pa.bool_()), pa.array(values, type=pa.bool_())
    if kinds == {int} and all(_INT64[0] <= v <= _INT64[1] for v in values if v is not None):
        return pa.field(name, pa.int64()), pa.array(values, type=pa.int64())
    if kinds <= {int, float} and float in kinds and _fits_float(values):
        floats = [None if v is None else float(v) for v in values]
        return pa.field(name, pa.float64()), pa.array(floats, type=pa.float64())
    if kinds == {str}:
        return pa.field(name, pa.string()), pa.array(values, type=pa.string())
    encoded = [None if v is None else _json(v) for v in values]
    return pa.field(name, pa.string(), metadata=JSON_ENCODING), pa.array(encoded, pa.string())


def _fits_float(values: list[AttributeValue]) -> bool:
    try:
        for v in values:
            if isinstance(v, int):
                float(v)
    except OverflowError:  # an int too large for a float keeps its digits as JSON
        return False
    return True


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def parquet_bytes(
    table: pa.Table, specs: Sequence[StageSpec], stages: Sequence[Stage]
) -> bytes:
    """The attribute shard as bytes, with writer settings fixed so equal tables give equal files."""
    described = [
        {"name": stage.name, "version": stage.version, "options": dict(spec.options)}
        for spec, stage in zip(specs, stages, strict=True)
    ]
    table = table.replace_schema_metadata({"govcat.stages": _json(described)})
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        compression=PARQUET_COMPRESSION,
        compression_level=PARQUET_COMPRESSION_LEVEL,
        row_group_size=PARQUET_ROW_GROUP_SIZE,
        use_dictionary=True,
        write_statistics=True,
        version="2.6",
        data_page_version="1.0",
    )
    return sink.getvalue().to_pybytes()

