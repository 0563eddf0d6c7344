"""decontam_v1: 13-gram hits and longest overlap per registered set, from index files."""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from processing.ngrams import build_set
from processing.pipeline import ShardTask, StageSpec, run_shard
from processing.stage import StageOptionError, create
from processing.stages.decontam import DecontamIndexError
from processing.types import Document

QUESTION = ("Which gas do plants absorb from the air during photosynthesis, and which gas do "
            "they release back into the atmosphere as a result?")
OTHER = ("In what year did the first human land on the moon, and what was the name of the "
         "mission that carried the astronauts there?")


def index(tmp_path, name, passages, n=13):
    data = build_set(passages, n).to_bytes()
    path = tmp_path / f"{name}.npy"
    path.write_bytes(data)
    return {"name": name, "path": str(path), "sha256": hashlib.sha256(data).hexdigest(), "n": n}


def measure(stage, texts):
    return [d.attributes for d in stage.run([Document(str(i), t) for i, t in enumerate(texts)])]


def test_a_quoted_question_is_found_in_its_set_only(tmp_path):
    sets = [index(tmp_path, "science-qa", [QUESTION]), index(tmp_path, "history-qa", [OTHER])]
    stage = create("decontam_v1", sets=sets)
    quoting = f"Homework help! Q: {QUESTION.upper()} A: carbon dioxide, then oxygen."
    clean = "Plants are green and the moon is far away; nobody quotes anything here."
    got, none = measure(stage, [quoting, clean])
    words = len(QUESTION.split())
    assert got["decontam_hits"] == {"science-qa": words - 12, "history-qa": 0}
    assert got["decontam_longest"] == {"science-qa": words, "history-qa": 0}
    assert got["decontam.science-qa.hits"] == words - 12
    assert got["decontam.science-qa.longest"] == words
    assert none["decontam_hits"] == {"science-qa": 0, "history-qa": 0}
    assert stage.stats.counters["docs_overlapping:science-qa"] == 1
    assert stage.attributes == ("decontam_hits", "decontam_longest",
                                "decontam.science-qa.hits", "decontam.science-qa.longest",
                                "decontam.history-qa.hits", "decontam.history-qa.longest")


def test_a_short_quote_below_13_words_is_no_hit(tmp_path):
    stage = create("decontam_v1", sets=[index(tmp_path, "qa", [QUESTION])])
    twelve = " ".join(QUESTION.split()[:12])
    thirteen = " ".join(QUESTION.split()[:13])
    short, enough = measure(stage, [twelve, thirteen])
    assert short["decontam_hits"] == {"qa": 0} and short["decontam_longest"] == {"qa": 0}
    assert enough["decontam_hits"] == {"qa": 1} and enough["decontam_longest"] == {"qa": 13}


def test_no_sets_measure_empty_maps():
    assert measure(create("decontam_v1"), ["anything"]) == [
        {"decontam_hits": {}, "decontam_longest": {}}]


def test_batches_agree_with_one_document_at_a_time(tmp_path):
    sets = [index(tmp_path, "qa", [QUESTION, OTHER]), index(tmp_path, "qa5", [OTHER], n=5)]
    texts = [f"doc {i} " + (QUESTION if i % 3 == 0 else OTHER if i % 3 == 1 else "plain text")
             for i in range(50)]
    batched = measure(create("decontam_v1", sets=sets, batch_size=16), texts)
    single = measure(create("decontam_v1", sets=sets, batch_size=1), texts)
    assert batched == single
    assert batched[1]["decontam_hits"]["qa5"] == len(OTHER.split()) - 4


def test_an_altered_index_is_refused(tmp_path):
    spec = index(tmp_path, "qa", [QUESTION])
    with open(spec["path"], "ab") as fh:
        fh.write(b"\x00")
    with pytest.raises(DecontamIndexError, match="changed since it was registered"):
        measure(create("decontam_v1", sets=[spec]), ["text"])


def test_bad_set_options(tmp_path):
    spec = index(tmp_path, "qa", [QUESTION])
    with pytest.raises(StageOptionError, match="lower-case"):
        create("decontam_v1", sets=[{**spec, "name": "Bad Name"}])
    with pytest.raises(StageOptionError, match="given twice"):
        create("decontam_v1", sets=[spec, spec])
    with pytest.raises(StageOptionError, match="needs name, path, sha256 and n"):
        create("decontam_v1", sets=[{"name": "x"}])


def test_in_a_pipeline_every_shard_has_the_per_set_columns(tmp_path):
    spec = index(tmp_path, "qa", [QUESTION])
    shard = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "text": [QUESTION, "nothing"]}), shard)
    out = tmp_path / "attrs.parquet"
    run_shard(ShardTask(str(shard), str(out), (StageSpec("decontam_v1", {"sets": [spec]}),)))
    table = pq.read_table(out)
    assert table.column_names[:5] == ["id", "decontam_hits", "decontam_longest",
                                      "decontam.qa.hits", "decontam.qa.longest"]
    rows = table.to_pylist()
    assert json.loads(rows[0]["decontam_hits"]) == {"qa": len(QUESTION.split()) - 12}
    assert rows[1]["decontam.qa.hits"] == 0
