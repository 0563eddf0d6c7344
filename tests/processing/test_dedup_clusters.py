import random
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from common.atomic import text_sha256
from processing.dedup import (
    ClusterInfo,
    DedupInputError,
    DedupParams,
    DedupParamsError,
    cluster,
    signatures,
)
from tests.processing.dedup_corpus import change_one_word, families, paragraph

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _run(texts, ids=None, collected=None, **kwargs) -> dict[str, ClusterInfo]:
    ids = ids or [f"doc-{i:03d}" for i in range(len(texts))]
    collected = collected if collected is not None else [None] * len(texts)
    hashes = [text_sha256(t) for t in texts]
    return cluster(ids, collected, signatures(texts), content_hashes=hashes, **kwargs)


def test_one_word_changed_clusters_and_different_texts_do_not() -> None:
    rng = random.Random(1)
    a, b, c = (paragraph(rng) for _ in range(3))
    texts = [a, change_one_word(a, 70), b, c]
    result = _run(texts, ids=["a", "a2", "b", "c"])
    assert result["a"].cluster_id == result["a2"].cluster_id == "a"
    assert result["a"].keep and not result["a2"].keep
    assert result["a"].size == result["a2"].size == 2
    assert result["a2"].dup_exact_of is None  # near, not exact
    for doc in ("b", "c"):
        assert result[doc] == ClusterInfo(cluster_id=doc, keep=True, size=1)


def test_normalisation_makes_case_punctuation_and_numbers_irrelevant() -> None:
    rng = random.Random(2)
    text = paragraph(rng)
    variant = text.upper().replace(" ", ", ", 5) + " 1999"
    result = _run([text, variant], ids=["x", "y"])
    assert result["y"].cluster_id == "x" and not result["y"].keep


def test_exact_duplicates() -> None:
    rng = random.Random(3)
    text = paragraph(rng)
    result = _run([text, text, text], ids=["c", "a", "b"])
    assert {r.cluster_id for r in result.values()} == {"a"}
    assert result["a"].keep and result["a"].dup_exact_of is None
    assert result["b"].dup_exact_of == "a" and result["c"].dup_exact_of == "a"
    assert result["a"].size == 3


def test_texts_without_words_are_only_exact_duplicates() -> None:
    result = _run(["!!!", "???", "!!!"], ids=["p", "q", "r"])
    assert result["p"].size == 2 and result["r"].dup_exact_of == "p"
    assert result["q"] == ClusterInfo(cluster_id="q", keep=True, size=1)
    # Without content hashes they have nothing in common at all.
    bare = cluster(["p", "q", "r"], [None] * 3, signatures(["!!!", "???", "!!!"]))
    assert all(info.size == 1 for info in bare.values())


def test_keeper_is_earliest_collected_then_smallest_id() -> None:
    rng = random.Random(4)
    text = paragraph(rng)
    texts = [change_one_word(text, i) for i in (20, 40, 60, 80)]
    ids = ["d", "c", "b", "a"]
    collected = [T0, T0 - timedelta(days=1), T0 - timedelta(days=1), None]
    result = _run(texts, ids=ids, collected=collected)
    assert {r.cluster_id for r in result.values()} == {"b"}  # b and c tie on time; b < c
    assert [result[i].keep for i in ids] == [False, False, True, False]
    # Unknown times count as latest: with no times at all, the smallest id wins.
    assert _run(texts, ids=ids)["a"].keep


def test_keeper_does_not_depend_on_input_order_or_timezone() -> None:
    corpus = families(12, copies=2, seed=5)
    texts = [t for _, t in corpus]
    ids = [f"id-{i:02d}" for i in range(len(texts))]
    rng = random.Random(6)
    collected = [T0 + timedelta(hours=rng.randint(0, 5)) for _ in texts]
    first = _run(texts, ids=ids, collected=collected)
    order = list(range(len(texts)))
    rng.shuffle(order)
    plus2 = timezone(timedelta(hours=2))
    shuffled = _run(
        [texts[i] for i in order],
        ids=[ids[i] for i in order],
        collected=[collected[i].astimezone(plus2) for i in order],
    )
    assert first == shuffled


def test_families_are_recovered() -> None:
    corpus = families(20, copies=3, seed=7)
    ids = [f"id-{i:03d}" for i in range(len(corpus))]
    result = _run([t for _, t in corpus], ids=ids)
    by_cluster: dict[str, set[int]] = {}
    for doc_id, (family, _) in zip(ids, corpus, strict=True):
        by_cluster.setdefault(result[doc_id].cluster_id, set()).add(family)
    assert len(by_cluster) == 20
    assert all(len(f) == 1 for f in by_cluster.values())
    assert sum(info.keep for info in result.values()) == 20


def test_numpy_bands_and_datasketch_lsh_agree() -> None:
    corpus = families(25, copies=2, seed=8)
    rng = random.Random(9)
    # Add pairs near the threshold so that some band matches are partial.
    for _ in range(30):
        base = paragraph(rng, 40)
        words = base.split(" ")
        for k in rng.sample(range(len(words)), rng.randint(1, 3)):
            words[k] = "yy" + words[k]
        corpus += [(-1, base), (-1, " ".join(words))]
    texts = [t for _, t in corpus]
    ids = [f"id-{i:03d}" for i in range(len(texts))]
    collected = [T0 + timedelta(minutes=rng.randint(0, 30)) for _ in texts]
    ours = _run(texts, ids=ids, collected=collected)
    reference = _run(texts, ids=ids, collected=collected, backend="datasketch")
    assert ours == reference
    near = [ours[i].size for i, (family, _) in zip(ids, corpus, strict=True) if family == -1]
    assert 1 in near and 2 in near  # the near-threshold pairs went both ways


def test_attributes() -> None:
    info = ClusterInfo(cluster_id="a", keep=False, size=2, dup_exact_of="a")
    assert info.attributes() == {
        "cluster_id": "a",
        "cluster_keep": False,
        "cluster_size": 2,
        "dup_exact_of": "a",
    }


def test_invalid_inputs() -> None:
    sig = signatures(["one", "two"])
    with pytest.raises(DedupInputError, match="collected_at"):
        cluster(["a", "b"], [None], sig)
    with pytest.raises(DedupInputError, match="'a' appears twice"):
        cluster(["a", "a"], [None, None], sig)
    with pytest.raises(DedupInputError, match="uint32"):
        cluster(["a", "b"], [None, None], sig.astype(np.uint64))
    with pytest.raises(DedupInputError, match="shape"):
        cluster(["a"], [None], sig)
    with pytest.raises(DedupInputError, match="not a sha256"):
        cluster(["a", "b"], [None, None], sig, content_hashes=["abc", None])
    with pytest.raises(DedupInputError, match="must be a datetime"):
        cluster(["a", "b"], ["2024-01-01", None], sig)
    with pytest.raises(DedupParamsError, match="unknown dedup backend"):
        cluster(["a", "b"], [None, None], sig, backend="faiss")  # type: ignore[arg-type]


def test_empty_batch() -> None:
    assert cluster([], [], np.empty((0, 112), dtype=np.uint32)) == {}


def test_numpy_datetimes_are_accepted() -> None:
    rng = random.Random(10)
    text = paragraph(rng)
    times = np.array(["2024-01-02", "NaT", "2024-01-01"], dtype="datetime64[s]")
    result = cluster(["a", "b", "c"], times, signatures([text] * 3))
    assert result["a"].cluster_id == "c"


def test_other_params_are_honoured() -> None:
    params = DedupParams(num_perm=64, bands=16, rows=4, shingle_words=3)
    rng = random.Random(11)
    text = paragraph(rng)
    texts = [text, change_one_word(text, 30)]
    result = cluster(["a", "b"], [None, None], signatures(texts, params), params=params)
    assert result["b"].cluster_id == "a"
    with pytest.raises(DedupInputError, match="shape"):
        cluster(["a", "b"], [None, None], signatures(texts), params=params)
