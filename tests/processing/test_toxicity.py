"""toxicity_v1: the bundled alt-profanity-check model, a model the test trains, and batching."""

from __future__ import annotations

import hashlib
import importlib.metadata

import pytest

from processing.stage import StageOptionError, create
from processing.stages.toxicity import ToxicityModelError, default_model_dir, model_info
from processing.types import Document

BENIGN = (
    "The river town held its market every Saturday, and the farmers came early with their "
    "carts of apples, cheese and bread. By noon the square was full of people who had walked "
    "in from the villages around, and the sound of bargaining carried to the old bridge."
)
ABUSIVE = "You are a stupid fucking idiot and everybody hates you, you worthless piece of shit."


def scores(stage, texts):
    return [d.attributes.get("toxicity") for d in
            stage.run([Document(str(i), t) for i, t in enumerate(texts)])]


def test_bundled_model_separates_abuse_from_prose():
    benign, abusive, empty = scores(create("toxicity_v1"), [BENIGN, ABUSIVE, "  \n"])
    assert benign < 0.1 < 0.9 < abusive <= 1.0
    assert empty is None  # no text, no measurement


def test_model_info_names_hashes_and_licenses_the_wheel_model():
    info = create("toxicity_v1").model_info
    assert info.name == "alt-profanity-check" and info.licence == "MIT"
    assert info.version == importlib.metadata.version("alt-profanity-check")
    folder = default_model_dir()
    for name in ("model.joblib", "vectorizer.joblib"):
        assert info.files[name] == hashlib.sha256((folder / name).read_bytes()).hexdigest()
    lines = "".join(f"{k} {v}\n" for k, v in sorted(info.files.items()))
    assert info.sha256 == hashlib.sha256(lines.encode()).hexdigest()


def test_a_user_model_trained_here_scores_as_the_model_itself_does(tmp_path):
    joblib = pytest.importorskip("joblib")
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    nasty = ["you are vile scum", "rotten vile liar", "scum and liars all", "vile rotten scum"]
    nice = ["a lovely sunny day", "thank you kindly friend", "lovely kind people", "sunny walk"]
    model = make_pipeline(TfidfVectorizer(), LogisticRegression(C=10.0))
    model.fit(nasty + nice, [1] * 4 + [0] * 4)
    path = tmp_path / "tox.joblib"
    joblib.dump(model, path)
    texts = ["what vile scum", "a kind and lovely friend", "nothing known here"]
    got = scores(create("toxicity_v1", model_path=str(path)), texts)
    expected = model.predict_proba(texts)[:, 1]
    assert got == pytest.approx(list(expected))
    assert got[0] > 0.5 > got[1]
    info = model_info(str(path))
    assert info.version == "user-supplied" and info.files == {
        "tox.joblib": hashlib.sha256(path.read_bytes()).hexdigest()}


def test_batches_give_what_one_by_one_gives_and_keep_order_and_stats():
    texts = [f"{BENIGN} {i}" if i % 7 else ABUSIVE for i in range(300)]
    docs = [Document(str(i), t) for i, t in enumerate(texts)]
    docs.insert(150, Document("broken", None))  # type: ignore[arg-type]
    stage = create("toxicity_v1", batch_size=64)
    out = list(stage.run(docs))
    assert [d.id for d in out] == [d.id for d in docs]
    assert out[150].attributes["toxicity_v1_error"].startswith("document 'broken'")
    one = create("toxicity_v1", batch_size=1)
    singles = scores(one, texts[:20])
    batched = [d.attributes["toxicity"] for d in out[:20]]
    assert batched == pytest.approx(singles)
    assert stage.stats.docs_in == stage.stats.docs_out == 301
    assert stage.stats.measured["toxicity"] == 300
    assert stage.stats.errors["text-not-a-string"] == 1


def test_bad_options_and_models_are_one_line_errors(tmp_path):
    with pytest.raises(StageOptionError, match="not a file"):
        create("toxicity_v1", model_path=str(tmp_path / "none.joblib"))
    junk = tmp_path / "junk.joblib"
    junk.write_bytes(b"not a pickle")
    stage = create("toxicity_v1", model_path=str(junk))
    with pytest.raises(ToxicityModelError, match="not a joblib toxicity model"):
        scores(stage, ["some text"])
