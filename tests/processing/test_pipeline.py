"""run_shard: one input shard through stages into an atomically written attribute shard."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import ClassVar

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from processing.pipeline import (
    JSON_ENCODING,
    ShardInputError,
    ShardTask,
    StageSpec,
    TaskError,
    build_stages,
    merge_stats,
    run_shard,
)
from processing.stage import (
    InvalidDocumentError,
    Stage,
    StageOptionError,
    UnknownStageError,
    register,
)
from processing.stages.quality import quality_signals
from processing.types import AttributeValue, Document

HERE = __name__


@register
class ShapeStage(Stage):
    """Writes one attribute of every kind the shard must hold, from the text and metadata."""

    name = "test_pipeline_shape_v1"
    attributes = ("n_chars", "has_digit", "ratio_a", "first_word", "spans", "host_seen", "never")

    def __init__(self, *, bad_prefix: str = "BAD") -> None:
        super().__init__()
        self.bad_prefix = bad_prefix

    def measure(self, doc: Document) -> dict[str, AttributeValue]:
        if doc.text.startswith(self.bad_prefix):
            raise InvalidDocumentError(doc.id, "marked-bad", "starts with the bad prefix")
        words = doc.text.split()
        values: dict[str, AttributeValue] = {
            "n_chars": len(doc.text),
            "has_digit": any(c.isdigit() for c in doc.text),
            "ratio_a": doc.text.count("a") / len(doc.text) if doc.text else None,
            "first_word": words[0] if words else None,
            "spans": [{"start": 0, "end": len(words[0]), "kind": "W"}] if words else [],
            "host_seen": doc.metadata.get("host"),
            "never": None,
        }
        if "extra" in doc.text:
            values["zz_extra"] = 1
        return values


@register
class CountBuildsStage(Stage):
    name = "test_pipeline_builds_v1"
    attributes = ("builds",)
    built: ClassVar[int] = 0

    def __init__(self) -> None:
        super().__init__()
        type(self).built += 1

    def measure(self, doc: Document) -> dict[str, AttributeValue]:
        return {"builds": type(self).built}


TEXTS = [
    "alpha beta 1",
    "BAD document",
    "the cat and the hat extra",
    "",
    "banana bread",
]


def write_docs(path: Path, texts: list[str] = TEXTS, prefix: str = "src") -> Path:
    table = pa.table({
        "id": [f"{prefix}/{i:03d}" for i in range(len(texts))],
        "text": texts,
        "host": [f"h{i % 2}.example" for i in range(len(texts))],
        "collected_at": pa.array([1_700_000_000_000_000 + i for i in range(len(texts))],
                                 pa.timestamp("us", tz="UTC")),
    })
    pq.write_table(table, path)
    return path


def shape_task(tmp_path: Path, **kw) -> ShardTask:
    docs = write_docs(tmp_path / "docs.parquet")
    return ShardTask(docs, tmp_path / "out" / "attrs.parquet",
                     (StageSpec("test_pipeline_shape_v1", module=HERE),), **kw)


def test_attribute_shard_has_one_typed_column_per_attribute_in_input_order(tmp_path):
    task = shape_task(tmp_path)
    result = run_shard(task)
    table = pq.read_table(task.output_path)
    assert table.column_names == [
        "id", "n_chars", "has_digit", "ratio_a", "first_word", "spans", "host_seen", "never",
        "test_pipeline_shape_v1_error", "zz_extra",
    ]
    types = {f.name: f.type for f in table.schema}
    assert types["n_chars"] == pa.int64() and types["has_digit"] == pa.bool_()
    assert types["ratio_a"] == pa.float64() and types["first_word"] == pa.string()
    assert types["never"] == pa.null()
    assert types["test_pipeline_shape_v1_error"] == pa.string()
    assert table.schema.field("spans").metadata == JSON_ENCODING
    assert table.schema.field("n_chars").metadata is None
    rows = table.to_pylist()
    assert [r["id"] for r in rows] == [f"src/{i:03d}" for i in range(5)]
    assert rows[0]["n_chars"] == 12 and rows[0]["has_digit"] is True
    assert json.loads(rows[0]["spans"]) == [{"end": 5, "kind": "W", "start": 0}]
    assert rows[3]["ratio_a"] is None and json.loads(rows[3]["spans"]) == []
    assert [r["host_seen"] for r in rows] == ["h0.example", None, "h0.example", "h1.example",
                                             "h0.example"]
    assert [r["zz_extra"] for r in rows] == [None, None, 1, None, None]
    # The failed document is kept, with the reason, and nothing else measured.
    assert rows[1]["n_chars"] is None
    assert "marked-bad" in rows[1]["test_pipeline_shape_v1_error"]
    assert sum(r["test_pipeline_shape_v1_error"] is not None for r in rows) == 1

    assert result.rows == 5
    assert result.sha256 == hashlib.sha256(Path(task.output_path).read_bytes()).hexdigest()
    assert result.n_bytes == Path(task.output_path).stat().st_size
    stats = result.stage_stats()["test_pipeline_shape_v1"]
    assert (stats.docs_in, stats.docs_out, stats.errors["marked-bad"]) == (5, 5, 1)
    meta = json.loads(table.schema.metadata[b"govcat.stages"])
    assert meta == [{"name": "test_pipeline_shape_v1", "options": {}, "version": "1"}]


def test_same_input_gives_identical_bytes_whatever_the_batch_size(tmp_path):
    shas = set()
    for batch_size in (1, 2, 1024):
        task = shape_task(tmp_path, batch_size=batch_size)
        shas.add(run_shard(task).sha256)
    assert len(shas) == 1


def test_stage_options_change_the_output_and_are_recorded(tmp_path):
    docs = write_docs(tmp_path / "docs.parquet")
    spec = StageSpec("test_pipeline_shape_v1", {"bad_prefix": "banana"}, module=HERE)
    result = run_shard(ShardTask(docs, tmp_path / "a.parquet", (spec,)))
    table = pq.read_table(result.output_path)
    errors = table.column("test_pipeline_shape_v1_error").to_pylist()
    assert [e is not None for e in errors] == [False, False, False, False, True]
    meta = json.loads(table.schema.metadata[b"govcat.stages"])
    assert meta[0]["options"] == {"bad_prefix": "banana"}


def test_quality_stage_values_match_the_signals_and_stages_chain(tmp_path):
    texts = [
        "The quick brown fox jumps over the lazy dog. It was the best of times.\n" * 3,
        "- item one\n- item two\n- item three...",
        "lorem ipsum dolor { sit } amet",
    ]
    docs = write_docs(tmp_path / "docs.parquet", texts)
    task = ShardTask(docs, tmp_path / "q.parquet",
                     ("quality_v1", StageSpec("test_pipeline_shape_v1", module=HERE)))
    result = run_shard(task)
    rows = pq.read_table(result.output_path).to_pylist()
    for text, row in zip(texts, rows, strict=True):
        for name, value in quality_signals(text).items():
            assert row[name] == value, name
        assert row["n_chars"] == len(text)
    assert set(result.stats) == {"quality_v1", "test_pipeline_shape_v1"}
    assert result.stats["quality_v1"]["docs_out"] == 3


def test_stages_are_built_once_per_process_and_stats_restart_per_shard(tmp_path):
    docs = write_docs(tmp_path / "docs.parquet")
    spec = StageSpec("test_pipeline_builds_v1", module=HERE)
    before = CountBuildsStage.built
    results = [run_shard(ShardTask(docs, tmp_path / f"o{i}.parquet", (spec,))) for i in range(3)]
    assert CountBuildsStage.built - before <= 1  # 0 if an earlier test already built it here
    assert [r.stats["test_pipeline_builds_v1"]["docs_in"] for r in results] == [5, 5, 5]
    assert build_stages([spec])[0] is build_stages([spec])[0]
    total = merge_stats(reversed(results))
    assert total["test_pipeline_builds_v1"].docs_in == 15
    assert merge_stats(results)["test_pipeline_builds_v1"].measured == total[
        "test_pipeline_builds_v1"].measured


def test_input_without_text_column_is_refused_by_name(tmp_path):
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"id": ["a"], "body": ["x"]}), bad)
    with pytest.raises(ShardInputError, match=r"bad\.parquet: no text column"):
        run_shard(ShardTask(bad, tmp_path / "o.parquet", ("quality_v1",)))
    assert not (tmp_path / "o.parquet").exists()


def test_repeated_document_id_is_refused(tmp_path):
    dup = tmp_path / "dup.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "a"], "text": ["x", "y", "z"]}), dup)
    with pytest.raises(ShardInputError, match="row 2 has id 'a' again"):
        run_shard(ShardTask(dup, tmp_path / "o.parquet", ("quality_v1",)))


def test_garbage_input_is_a_shard_input_error(tmp_path):
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet at all")
    with pytest.raises(ShardInputError, match="junk.parquet: not a readable Parquet file"):
        run_shard(ShardTask(junk, tmp_path / "o.parquet", ("quality_v1",)))


def test_task_is_checked_when_made(tmp_path):
    with pytest.raises(TaskError, match="listed twice"):
        ShardTask("in.parquet", "out.parquet", ("quality_v1", "quality_v1"))
    with pytest.raises(TaskError, match="no stages"):
        ShardTask("in.parquet", "out.parquet", ())
    with pytest.raises(TaskError, match="output path is the input path"):
        ShardTask("x.parquet", "x.parquet", ("quality_v1",))


def test_unknown_stage_and_option_are_named(tmp_path):
    docs = write_docs(tmp_path / "docs.parquet")
    with pytest.raises(UnknownStageError, match="no_such_stage"):
        run_shard(ShardTask(docs, tmp_path / "o.parquet", ("no_such_stage",)))
    spec = StageSpec("test_pipeline_shape_v1", {"colour": "red"}, module=HERE)
    with pytest.raises(StageOptionError, match="colour"):
        run_shard(ShardTask(docs, tmp_path / "o.parquet", (spec,)))


def test_selected_metadata_columns_only(tmp_path):
    docs = write_docs(tmp_path / "docs.parquet")
    spec = StageSpec("test_pipeline_shape_v1", module=HERE)
    result = run_shard(ShardTask(docs, tmp_path / "o.parquet", (spec,), columns=("collected_at",)))
    assert pq.read_table(result.output_path).column("host_seen").null_count == 5
    with pytest.raises(ShardInputError, match="no license column"):
        run_shard(ShardTask(docs, tmp_path / "o.parquet", (spec,), columns=("license",)))
