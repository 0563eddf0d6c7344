import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from common.atomic import text_sha256
from processing.dedup import (
    DedupIndex,
    DedupIndexError,
    DedupInputError,
    DedupParams,
    DedupParamsError,
    cluster,
    signatures,
)
from tests.processing.dedup_corpus import change_one_word, paragraph

T0 = datetime(2024, 6, 1, tzinfo=UTC)
PARAMS = DedupParams()


def _released(tmp_path: Path, n: int = 6, seed: int = 1) -> tuple[Path, list[str]]:
    """An index of n released paragraphs, saved under tmp_path/index; returns their texts."""
    rng = random.Random(seed)
    texts = [paragraph(rng) for _ in range(n)]
    index = DedupIndex.open(tmp_path / "index", PARAMS)
    index.add(
        [f"old-{i}" for i in range(n)],
        [T0] * (n - 1) + [None],
        signatures(texts),
        [text_sha256(t) for t in texts],
    )
    index.save()
    return tmp_path / "index", texts


def _cluster(texts, ids, collected, prior, **kwargs):
    hashes = [text_sha256(t) for t in texts]
    return cluster(ids, collected, signatures(texts), content_hashes=hashes, prior=prior, **kwargs)


def test_new_crawl_clusters_against_released_documents(tmp_path: Path) -> None:
    root, old = _released(tmp_path)
    prior = DedupIndex.open(root, PARAMS)
    assert len(prior) == 6
    rng = random.Random(99)
    fresh = paragraph(rng)
    texts = [change_one_word(old[0], 50), old[1], fresh, change_one_word(old[5], 9)]
    ids = ["new-near", "new-exact", "new-fresh", "new-near5"]
    # The newcomers were collected earlier than the released copies: released still win.
    earlier = [T0 - timedelta(days=365)] * 4
    for backend in ("bands", "datasketch"):
        result = _cluster(texts, ids, earlier, prior, backend=backend)
        assert result["new-near"].cluster_id == "old-0" and not result["new-near"].keep
        assert result["new-exact"].cluster_id == "old-1" and not result["new-exact"].keep
        assert result["new-exact"].dup_exact_of == "old-1"
        assert result["new-near5"].cluster_id == "old-5"
        assert result["new-fresh"].keep and result["new-fresh"].size == 1
        for old_id in ("old-0", "old-1", "old-5"):
            assert result[old_id].released and result[old_id].keep
            assert result[old_id].cluster_id == old_id and result[old_id].size == 2
        assert "old-2" not in result  # released documents untouched by the batch are not listed


def test_saves_append_segments_and_reopen(tmp_path: Path) -> None:
    root, old = _released(tmp_path)
    prior = DedupIndex.open(root, PARAMS)
    rng = random.Random(7)
    second = [paragraph(rng) for _ in range(3)]
    prior.add(["mid-0", "mid-1", "mid-2"], [T0, T0, T0], signatures(second))  # no hashes
    prior.save()
    manifest = json.loads((root / "manifest.json").read_text())
    assert [s["name"] for s in manifest["segments"]] == ["seg-000001", "seg-000002"]
    assert manifest["docs"] == 9 and manifest["datasketch"].startswith("2.")
    reopened = DedupIndex.open(root, PARAMS, verify=True)
    assert len(reopened) == 9
    texts = [change_one_word(second[2], 30), change_one_word(old[3], 30)]
    result = _cluster(texts, ["n0", "n1"], [None, None], reopened)
    assert result["n0"].cluster_id == "mid-2" and result["n1"].cluster_id == "old-3"


def test_unknown_collection_time_survives_a_round_trip(tmp_path: Path) -> None:
    root, old = _released(tmp_path)
    prior = DedupIndex.open(root, PARAMS)
    # old-5 was stored without a time, old-4 with one: both released, both kept.
    both = old[4]  # a newcomer equal to old-4 only
    result = _cluster([both], ["n"], [None], prior)
    assert result["n"].cluster_id == "old-4"
    t0_micros = int(T0.timestamp()) * 1_000_000
    assert prior.collected_of(np.array([4, 5])).tolist() == [t0_micros, np.iinfo(np.int64).max]


def test_a_released_document_seen_again_stays_itself(tmp_path: Path) -> None:
    root, old = _released(tmp_path)
    prior = DedupIndex.open(root, PARAMS)
    result = _cluster([old[2], old[2]], ["old-2", "copy"], [None, None], prior)
    assert result["old-2"].released and result["old-2"].keep
    assert result["copy"].cluster_id == "old-2" and result["copy"].size == 2
    assert result["copy"].dup_exact_of == "old-2"


def test_adding_an_id_twice_is_refused(tmp_path: Path) -> None:
    root, old = _released(tmp_path)
    prior = DedupIndex.open(root, PARAMS)
    with pytest.raises(DedupInputError, match="'old-3' is already in the dedup index"):
        prior.add(["x", "old-3"], [None, None], signatures(["a", "b"]))
    with pytest.raises(DedupInputError, match="appears twice"):
        prior.add(["x", "x"], [None, None], signatures(["a", "b"]))
    prior.add(["x"], [None], signatures(["a"]))
    with pytest.raises(DedupInputError, match="'x' is already"):
        prior.add(["x"], [None], signatures(["a"]))  # pending rows count too


def test_signature_parameters_must_match(tmp_path: Path) -> None:
    root, _ = _released(tmp_path)
    with pytest.raises(DedupIndexError, match="signature parameters"):
        DedupIndex.open(root, DedupParams(seed=2))
    with pytest.raises(DedupIndexError, match="signature parameters"):
        DedupIndex.open(root, DedupParams(shingle_words=4))
    # Another banding of the same signatures is fine for the index...
    rebanded = DedupIndex.open(root, DedupParams(bands=28, rows=4))
    assert len(rebanded) == 6
    # ...but clustering must use the index's banding.
    with pytest.raises(DedupParamsError, match="banding"):
        cluster(["a"], [None], signatures(["a"]), prior=rebanded, params=PARAMS)


def test_damaged_index_is_reported(tmp_path: Path) -> None:
    root, _ = _released(tmp_path)
    sig = root / "seg-000001.sig.npy"
    data = bytearray(sig.read_bytes())
    data[-1] ^= 0xFF
    sig.write_bytes(bytes(data))
    DedupIndex.open(root, PARAMS)  # same size: only a verify notices
    with pytest.raises(DedupIndexError, match="fails its sha256"):
        DedupIndex.open(root, PARAMS, verify=True)
    sig.write_bytes(bytes(data[:-4]))
    with pytest.raises(DedupIndexError, match="not the size"):
        DedupIndex.open(root, PARAMS)
    sig.unlink()
    with pytest.raises(DedupIndexError, match="missing"):
        DedupIndex.open(root, PARAMS)
    (root / "manifest.json").write_text("{}")
    with pytest.raises(DedupIndexError, match="not a govcat-dedup-index"):
        DedupIndex.open(root, PARAMS)


def test_files_of_an_unfinished_save_are_ignored(tmp_path: Path) -> None:
    root, old = _released(tmp_path)
    (root / "seg-000002.parquet").write_bytes(b"half written")
    (root / ".seg-000002.sig.npy.tmp").write_bytes(b"junk")
    prior = DedupIndex.open(root, PARAMS)
    assert len(prior) == 6
    prior.add(["later"], [T0], signatures([paragraph(random.Random(3))]))
    prior.save()
    assert len(DedupIndex.open(root, PARAMS, verify=True)) == 7


def test_save_elsewhere_copies_and_never_overwrites(tmp_path: Path) -> None:
    root, old = _released(tmp_path)
    prior = DedupIndex.open(root, PARAMS)
    copy = prior.save(tmp_path / "copy")
    assert len(DedupIndex.open(copy, PARAMS, verify=True)) == 6
    with pytest.raises(DedupIndexError, match="already holds an index"):
        DedupIndex.open(None, PARAMS).save(root)
    with pytest.raises(DedupIndexError, match="no directory"):
        DedupIndex.open(None, PARAMS).save()
    (tmp_path / "file").write_text("x")
    with pytest.raises(DedupIndexError, match="not a directory"):
        DedupIndex.open(tmp_path / "file", PARAMS)


def test_empty_index_changes_nothing(tmp_path: Path) -> None:
    rng = random.Random(5)
    text = paragraph(rng)
    empty = DedupIndex.open(tmp_path / "none", PARAMS)
    texts, ids = [text, change_one_word(text, 3)], ["a", "b"]
    assert _cluster(texts, ids, [None] * 2, empty) == _cluster(texts, ids, [None] * 2, None)


def test_an_index_on_a_store_is_the_local_index(tmp_path: Path, s3_root: str,
                                                monkeypatch) -> None:
    """Saved to s3:// (moto on localhost): the same files byte for byte, reopened and verified,
    appended to, and clustering as the local copy does; the signatures are memory-mapped from
    a download that leaves no file behind."""
    import tempfile

    from common.storage import as_path, walk_files

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(downloads))
    local_root, old = _released(tmp_path)
    remote_root = as_path(s3_root) / "dedup-index"
    DedupIndex.open(local_root, PARAMS).save(remote_root)
    files = list(walk_files(remote_root))
    assert files == list(walk_files(local_root))
    assert all((remote_root / f).read_bytes() == (local_root / f).read_bytes() for f in files)
    remote = DedupIndex.open(s3_root + "/dedup-index", PARAMS, verify=True)
    # mapped, and the temporary copies already gone (uploads are staged there too)
    assert not [p for p in downloads.rglob("*") if p.is_file()]
    rng = random.Random(7)
    more = [paragraph(rng) for _ in range(2)]
    for index in (remote, DedupIndex.open(local_root, PARAMS)):
        index.add(["mid-0", "mid-1"], [T0, T0], signatures(more))
        index.save()
    assert list(walk_files(remote_root)) == list(walk_files(local_root))
    texts = [change_one_word(old[0], 50), change_one_word(more[1], 20), paragraph(rng)]
    ids, when = ["a", "b", "c"], [None] * 3
    got = _cluster(texts, ids, when, DedupIndex.open(remote_root, PARAMS, verify=True))
    assert got == _cluster(texts, ids, when, DedupIndex.open(local_root, PARAMS))
    assert got["a"].cluster_id == "old-0" and got["b"].cluster_id == "mid-1"
