import random

import numpy as np
import pytest
from datasketch import MinHash
from datasketch.hashfunc import sha1_hash32

from processing.dedup import DedupParams, shingles, signatures
from processing.dedup.minhash import EMPTY, hash_shingles, is_empty, permutations

WORDS = "the of and déjà vu naïve café x-ray 2024 alpha Beta GAMMA don't e.g. 3.5 !! ¿qué?".split()


def _texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = [" ".join(rng.choices(WORDS, k=rng.randint(0, 80))) for _ in range(n)]
    return [*texts, "", "!!!", "two words", "x " * 300]


def _one_by_one(text: str, params: DedupParams) -> np.ndarray:
    m = MinHash(num_perm=params.num_perm, seed=params.seed)
    for s in shingles(text, params.shingle_words):
        m.update(s)
    return m.hashvalues


@pytest.mark.parametrize(
    "params",
    [
        DedupParams(),
        DedupParams(chunk_shingles=7),  # chunks cut through documents
        DedupParams(num_perm=64, bands=8, rows=8, seed=7, shingle_words=3),
    ],
)
def test_bulk_signatures_equal_datasketch_one_by_one(params: DedupParams) -> None:
    texts = _texts(120, seed=params.num_perm + params.chunk_shingles)
    bulk = signatures(texts, params)
    assert bulk.dtype == np.uint32 and bulk.shape == (len(texts), params.num_perm)
    for text, row in zip(texts, bulk, strict=True):
        np.testing.assert_array_equal(row, _one_by_one(text, params), err_msg=text)


def test_bulk_equals_datasketch_bulk_api() -> None:
    texts = _texts(30, seed=5)
    sets = [shingles(t, 5) for t in texts]
    expected = np.array([m.hashvalues for m in MinHash.bulk(sets, num_perm=112, seed=1)])
    np.testing.assert_array_equal(signatures(texts), expected)


def test_hash_and_permutations_are_datasketch_own() -> None:
    items = [b"a", b"one two three four five", "déjà".encode()]
    assert hash_shingles(items).tolist() == [sha1_hash32(x) for x in items]
    a, b = permutations(112, 1)
    ref_a, ref_b = MinHash(num_perm=112, seed=1).permutations
    np.testing.assert_array_equal(a, ref_a)
    np.testing.assert_array_equal(b, ref_b)


def test_empty_text_has_the_empty_minhash() -> None:
    sig = signatures(["", "...", "some words here"])
    assert is_empty(sig).tolist() == [True, True, False]
    np.testing.assert_array_equal(sig[0], MinHash(num_perm=112).hashvalues)
    assert (sig[0] == EMPTY).all()


def test_signature_does_not_depend_on_the_batch() -> None:
    texts = _texts(20, seed=9)
    together = signatures(texts)
    apart = np.concatenate([signatures(texts[:7]), signatures(texts[7:])])
    np.testing.assert_array_equal(together, apart)


def test_no_texts() -> None:
    assert signatures([]).shape == (0, 112)

