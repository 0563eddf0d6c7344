"""The one decision log: schema, sorted atomic writes, spans, the per-rule tally."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow.parquet as pq
import pytest

from common.atomic import file_sha256
from policies import decision_log
from policies.decision_log import DecisionLogError, DecisionLogWriter, RuleTally


@dataclass
class D:
    effect: str
    rule_ids: tuple[str, ...] = ()
    default_applied: bool = False
    redact: tuple[str, ...] = ()
    placeholder: str = ""
    errors: tuple[str, ...] = ()


def test_rows_out_of_order_are_written_sorted_with_their_stage(tmp_path):
    path = tmp_path / "decisions" / "quality.parquet"
    with DecisionLogWriter(path, "quality") as log:
        log.add("b", D("drop", ("short",)), 10)
        log.add("a", D("keep", (), True), 5)
        log.add("c", D("keep"), 7)
        written = log.close()
    table = pq.read_table(path)
    assert table.column_names == list(decision_log.COLUMNS)
    rows = table.to_pylist()
    assert [r["id"] for r in rows] == ["a", "b", "c"]
    assert {r["stage"] for r in rows} == {"quality"}
    assert rows[1]["rule_ids"] == ["short"] and rows[0]["default_applied"] is True
    assert written.sha256 == file_sha256(path) and written.n_rows == 3
    assert [p.name for p in path.parent.iterdir()] == ["quality.parquet"]  # no temp left


def test_sorted_batches_stream_and_match_an_unsorted_write(tmp_path, monkeypatch):
    monkeypatch.setattr(decision_log, "_ROW_GROUP", 4)  # several row groups streamed
    ids = [f"d{i:03d}" for i in range(10)]
    with DecisionLogWriter(tmp_path / "a.parquet", "admission") as log:
        log.add_batch(ids, [D("allow")] * 10, list(range(10)))
        log.close()
    with DecisionLogWriter(tmp_path / "b.parquet", "admission") as log:
        for i in reversed(range(10)):
            log.add(ids[i], D("allow"), i)
        log.close()
    a = pq.read_table(tmp_path / "a.parquet")
    b = pq.read_table(tmp_path / "b.parquet")
    assert a.equals(b)
    assert pq.ParquetFile(tmp_path / "a.parquet").metadata.num_row_groups > 1


def test_redaction_spans_keep_only_the_redacted_types(tmp_path):
    path = tmp_path / "pii.parquet"
    spans = [{"type": "URL", "start": 0, "end": 4, "score": 0.5},
             {"type": "EMAIL_ADDRESS", "start": 10, "end": 20, "score": 1.0}]
    with DecisionLogWriter(path, "pii") as log:
        log.add("x", D("redact", ("r1",), redact=("EMAIL_ADDRESS",), placeholder="|||{type}|||"),
                3, spans)
        log.add("y", D("keep"), 3, spans)
        log.close()
    x, y = decision_log.read(path).to_pylist()
    assert x["redact_spans"] == [{"type": "EMAIL_ADDRESS", "start": 10, "end": 20}]
    assert x["placeholder"] == "|||{type}|||" and x["redact"] == ["EMAIL_ADDRESS"]
    assert y["redact_spans"] == [] and y["placeholder"] is None
    assert decision_log.find(path, "y")["effect"] == "keep"
    assert decision_log.find(path, "z") is None


def test_a_document_decided_twice_and_an_unknown_stage_are_refused(tmp_path):
    with pytest.raises(DecisionLogError, match="unknown stage"):
        DecisionLogWriter(tmp_path / "x.parquet", "nosuch")
    log = DecisionLogWriter(tmp_path / "x.parquet", "langid")
    log.add("a", D("keep"), 1)
    with pytest.raises(DecisionLogError, match="decided twice"):
        log.add("a", D("keep"), 1)
    log.abort()
    assert list(tmp_path.iterdir()) == []


def test_a_failure_inside_the_block_leaves_no_file(tmp_path):
    with pytest.raises(RuntimeError), DecisionLogWriter(tmp_path / "x.parquet", "dedup") as log:
        for i in range(70_000):  # more than a row group: a temporary file exists
            log.add(f"{i:06d}", D("keep"), 1)
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_old_logs_without_stage_read_by_column_name(tmp_path):
    import pyarrow as pa

    path = tmp_path / "admission.parquet"
    pq.write_table(pa.table({"id": ["a"], "effect": ["allow"], "rule_ids": [["r"]],
                             "default_applied": [False], "n_tokens": [3]}), path)
    [row] = decision_log.read(path).to_pylist()
    assert row == {"id": "a", "effect": "allow", "rule_ids": ["r"], "default_applied": False,
                   "n_tokens": 3}


def test_tally_counts_each_rule_and_the_default():
    tally = RuleTally("quality")
    tally.add("drop", ("a", "b"), 10)
    tally.add("keep", (), 5)
    tally.add("drop", ("a",), 1)
    assert tally.documents == 3 and tally.tokens == 16
    assert tally.rows() == [
        {"stage": "quality", "rule_id": "(default)", "effect": "keep", "documents": 1,
         "tokens": 5},
        {"stage": "quality", "rule_id": "a", "effect": "drop", "documents": 2, "tokens": 11},
        {"stage": "quality", "rule_id": "b", "effect": "drop", "documents": 1, "tokens": 10},
    ]


def test_row_groups_of_a_chosen_size_for_files_that_are_merged(tmp_path):
    """A merge reader decodes a whole row group: per-shard files are written in small ones."""
    ids = [f"d{i:03d}" for i in range(10)]
    with DecisionLogWriter(tmp_path / "part.parquet", "quality", row_group_rows=3) as log:
        for i in reversed(range(10)):  # out of order, as a shard's documents come
            log.add(ids[i], D("keep"), i)
        log.close()
    meta = pq.ParquetFile(tmp_path / "part.parquet").metadata
    assert [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == [3, 3, 3, 1]
    assert pq.read_table(tmp_path / "part.parquet").column("id").to_pylist() == ids
