"""fasttext_classifier_v1: a tiny supervised model the test writes in fastText's own binary
format (the installed fasttext-predict cannot train), and lid.176.ftz as a real stand-in."""

from __future__ import annotations

import hashlib
import struct

import numpy as np
import pytest

from processing.pipeline import ShardTask, StageSpec, run_shard
from processing.stage import StageOptionError, create
from processing.stages.fasttext_classifier import ClassifierModelError
from processing.stages.langid import default_model_path
from processing.types import Document

WORDS = ["excellent", "thorough", "rubbish", "spam", "river"]
LABELS = ["hq", "lq"]
INPUT = np.array([[2.0, 0.0], [1.5, 0.5], [0.0, 2.0], [-0.5, 2.5], [0.5, 0.5]])
OUTPUT = np.array([[1.0, -1.0], [-1.0, 1.0]])


def write_supervised_model(path, words, labels, input_vectors, output_vectors) -> None:
    """fastText's model file, version 12: softmax loss, whole words only (no subwords, no
    word n-grams, no buckets), dense matrices."""
    dim = input_vectors.shape[1]
    out = bytearray(struct.pack("<ii", 793712314, 12))  # magic, version
    # dim ws epoch minCount neg wordNgrams loss(softmax) model(supervised) bucket minn maxn
    # lrUpdateRate, then t
    out += struct.pack("<12i", dim, 5, 5, 1, 5, 1, 3, 3, 0, 0, 0, 100) + struct.pack("<d", 1e-4)
    entries = [(w, 0) for w in words] + [(f"__label__{label}", 1) for label in labels]
    out += struct.pack("<iiiqq", len(entries), len(words), len(labels), 100, -1)
    for word, kind in entries:
        out += word.encode() + b"\0" + struct.pack("<qb", 10, kind)
    for matrix in (input_vectors, output_vectors):
        out += struct.pack("<?qq", False, *matrix.shape) + matrix.astype("<f4").tobytes()
    path.write_bytes(bytes(out))


def expected(text: str) -> dict[str, float]:
    """What fastText computes: the mean of the known words' vectors, softmax of the output."""
    rows = [INPUT[WORDS.index(w)] for w in text.split() if w in WORDS]
    logits = OUTPUT @ np.mean(rows, axis=0)
    probs = np.exp(logits) / np.exp(logits).sum()
    return dict(zip(LABELS, probs.tolist(), strict=True))


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "quality.bin"
    write_supervised_model(path, WORDS, LABELS, INPUT, OUTPUT)
    return path


def measure(stage, texts):
    return [d.attributes for d in stage.run([Document(str(i), t) for i, t in enumerate(texts)])]


def test_label_probabilities_are_the_models(model):
    stage = create("fasttext_classifier_v1", model_path=str(model))
    texts = ["excellent thorough river", "rubbish\nspam spam", "river excellent unknown"]
    for text, got in zip(texts, measure(stage, texts), strict=True):
        want = expected(text.replace("\n", " "))
        # fastText returns p + 1e-5 (it adds that inside its log)
        assert got["fasttext_labels"] == pytest.approx(want, abs=2e-5)
        top = max(want, key=want.get)
        assert got["fasttext_top"] == top
        assert got["fasttext_top_score"] == pytest.approx(want[top], abs=2e-5)


def test_nothing_known_or_no_text_is_no_measurement(model):
    stage = create("fasttext_classifier_v1", model_path=str(model))
    for got in measure(stage, ["words the model never saw", "   "]):
        assert got == {"fasttext_labels": {}, "fasttext_top": None, "fasttext_top_score": None}
    assert stage.stats.counters["no_known_word"] == 1 and stage.stats.counters["empty_text"] == 1


def test_model_info_records_the_hash(model):
    info = create("fasttext_classifier_v1", model_path=str(model)).model_info
    assert info.sha256 == hashlib.sha256(model.read_bytes()).hexdigest()
    assert info.name == "quality.bin" and info.bytes == model.stat().st_size


def test_lid176_as_a_stand_in_supervised_model(tmp_path):
    lid = str(default_model_path())
    stage = create("fasttext_classifier_v1", model_path=lid, k=2)
    [en, fr] = measure(stage, ["The weather is lovely today and we walk along the river.",
                               "Le temps est magnifique aujourd'hui et nous marchons."])
    assert en["fasttext_top"] == "en" and len(en["fasttext_labels"]) == 2
    assert fr["fasttext_top"] == "fr" and fr["fasttext_top_score"] > 0.5
    assert sum(en["fasttext_labels"].values()) <= 1.0 + 1e-4


def test_options_and_bad_models(tmp_path, model):
    with pytest.raises(StageOptionError, match="needs model_path"):
        create("fasttext_classifier_v1")
    with pytest.raises(StageOptionError, match="not a file"):
        create("fasttext_classifier_v1", model_path=str(tmp_path / "none.bin"))
    with pytest.raises(StageOptionError, match="k must be"):
        create("fasttext_classifier_v1", model_path=str(model), k=0)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(ClassifierModelError, match="not a fastText model"):
        measure(create("fasttext_classifier_v1", model_path=str(junk)), ["excellent"])


def test_in_a_pipeline_with_the_quality_stage(model, tmp_path):
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    shard = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["excellent river", "spam rubbish"]}),
                   shard)
    out = tmp_path / "attrs.parquet"
    specs = (StageSpec("quality_v1"),
             StageSpec("fasttext_classifier_v1", {"model_path": str(model)}))
    run_shard(ShardTask(str(shard), str(out), specs))
    rows = pq.read_table(out).to_pylist()
    assert [r["fasttext_top"] for r in rows] == ["hq", "lq"]
    assert set(json.loads(rows[0]["fasttext_labels"])) == {"hq", "lq"}
    assert "gopher_word_count" in rows[0]
