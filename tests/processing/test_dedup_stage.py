import random
from datetime import UTC, datetime
from pathlib import Path

from processing.dedup import DedupIndex, DedupParams
from processing.stage import names
from processing.stages.dedup import Deduplicator
from processing.types import Document
from tests.processing.dedup_corpus import change_one_word, paragraph


def _docs() -> list[Document]:
    rng = random.Random(1)
    a, b = paragraph(rng), paragraph(rng)
    return [
        Document("s/3", change_one_word(a, 40), {"collected_at": "2024-01-03T00:00:00+00:00"}),
        Document("s/1", a, {"collected_at": datetime(2024, 1, 2, tzinfo=UTC)}),
        Document("s/2", a, {"collected_at": None}),
        Document("s/4", b, {"collected_at": "yesterday"}),
        Document("s/5", "", {}),
    ]


def test_documents_pass_unchanged_and_get_attributes_at_the_end() -> None:
    docs = _docs()
    dedup = Deduplicator(batch_size=2)
    out = list(dedup.run(docs))
    assert [d.id for d in out] == [d.id for d in docs]
    assert [d.text for d in out] == [d.text for d in docs]
    attributes = dedup.finish()
    assert set(attributes) == {d.id for d in docs}
    assert attributes["s/1"] == {
        "cluster_id": "s/1",
        "cluster_keep": True,
        "cluster_size": 3,
        "dup_exact_of": None,
    }
    assert attributes["s/2"]["dup_exact_of"] == "s/1" and not attributes["s/2"]["cluster_keep"]
    assert attributes["s/3"]["cluster_id"] == "s/1"
    assert attributes["s/4"]["cluster_size"] == 1
    assert attributes["s/5"]["cluster_keep"] is True
    stats = dedup.stats
    assert stats.docs_in == stats.docs_out == 5
    assert stats.errors["bad_collected_at"] == 1
    assert "yesterday" in docs[3].attributes["dedup_v1_error"]
    assert stats.counters["duplicates"] == 2 and stats.counters["exact_duplicates"] == 1
    assert stats.counters["clusters"] == 1 and stats.counters["empty_signature"] == 1
    assert stats.true["cluster_keep"] == 3


def test_kept_documents_feed_the_next_run(tmp_path: Path) -> None:
    params = DedupParams()
    first = Deduplicator(params=params)
    list(first.run(_docs()))
    kept = [doc_id for doc_id, a in first.finish().items() if a["cluster_keep"]]
    index = DedupIndex.open(tmp_path / "idx", params)
    index.add(*first.index_rows(kept))
    index.save()

    rng = random.Random(1)
    a = paragraph(rng)
    second = Deduplicator(prior=DedupIndex.open(tmp_path / "idx", params))
    list(second.run([Document("t/1", change_one_word(a, 90), {"collected_at": None})]))
    attributes = second.finish()
    assert attributes == {
        "t/1": {"cluster_id": "s/1", "cluster_keep": False, "cluster_size": 2, "dup_exact_of": None}
    }
    assert second.stats.counters["duplicates_of_released"] == 1


def test_not_a_per_document_stage() -> None:
    assert "dedup_v1" not in names()
