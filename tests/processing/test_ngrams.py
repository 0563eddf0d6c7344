"""processing/ngrams.py: the normalisation, bulk hashing, and overlaps against a brute force."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest

from processing.ngrams import (
    NgramError,
    NgramSet,
    build_set,
    ngram_hashes,
    normalize,
    overlaps,
    token_hashes,
    tokens,
)


def test_normalisation_as_gpt3_describes_it():
    assert normalize("Don't STOP—believing!\u00a0It's\t“2024”.\n") == "dont stopbelieving its 2024"
    assert tokens("  Ünïcode, kept: café ") == ["ünïcode", "kept", "café"]
    assert tokens("...!?") == []


def test_equal_tokens_hash_equal_and_different_ones_do_not():
    tok = token_hashes(["alpha beta alpha", "Beta, GAMMA!", ""])
    h = tok.hashes.tolist()
    assert tok.counts.tolist() == [3, 2, 0]
    assert h[0] == h[2] and h[1] == h[3] and len({h[0], h[1], h[4]}) == 3


def test_hashes_do_not_depend_on_the_process():
    code = ("from processing.ngrams import token_hashes, ngram_hashes;"
            "t = token_hashes(['the same words in another process']);"
            "print(ngram_hashes(t, 3)[0].tolist())")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": "12345", "PATH": ""})
    here = ngram_hashes(token_hashes(["the same words in another process"]), 3)[0].tolist()
    assert other.stdout.strip() == str(here)


def test_ngrams_never_cross_from_one_text_into_the_next():
    tok = token_hashes(["a b c", "d e", "f g h i"])
    hashes, doc, pos = ngram_hashes(tok, 3)
    assert doc.tolist() == [0, 2, 2] and pos.tolist() == [0, 5, 6]
    alone = ngram_hashes(token_hashes(["f g h i"]), 3)[0]
    assert hashes[1:].tolist() == alone.tolist()


def _brute(doc: list[str], grams: set[tuple[str, ...]], n: int) -> tuple[int, int]:
    found = [tuple(doc[i:i + n]) in grams for i in range(len(doc) - n + 1)]
    hits = sum(found)
    longest = run = 0
    for f in found:
        run = run + 1 if f else 0
        longest = max(longest, run)
    return hits, (longest + n - 1 if longest else 0)


@pytest.mark.parametrize("n", [1, 3, 5, 13])
def test_hits_and_longest_overlap_match_a_brute_force(n):
    rng = random.Random(n)
    vocab = [f"w{i}" for i in range(12)]
    passages = [" ".join(rng.choices(vocab, k=rng.randint(1, 40))) for _ in range(30)]
    docs = [" ".join(rng.choices(vocab, k=rng.randint(0, 60))) for _ in range(200)]
    # some documents quote a passage inside other text
    docs += [f"{docs[i]} {passages[i % 30]} {docs[i + 1]}" for i in range(0, 40, 2)]
    grams = {tuple(p.split()[i:i + n]) for p in passages for i in range(len(p.split()) - n + 1)}
    ngram_set = build_set(passages, n)
    assert len(ngram_set) == len(grams)
    got = overlaps(token_hashes(docs), ngram_set)
    want = [_brute(d.split(), grams, n) for d in docs]
    assert list(zip(got.hits.tolist(), got.longest.tolist(), strict=True)) == want


def test_a_set_round_trips_through_its_file_and_refuses_other_bytes():
    s = build_set(["one two three four five six", "too short"], 4)
    assert s.examples == 2 and s.skipped_short == 1 and len(s) == 3
    back = NgramSet.from_bytes(s.to_bytes(), 4)
    assert np.array_equal(back.hashes, s.hashes)
    with pytest.raises(NgramError, match="not an n-gram index"):
        NgramSet.from_bytes(b"garbage", 4)
    with pytest.raises(NgramError, match=">= 1"):
        build_set(["x"], 0)


def test_an_empty_set_and_an_empty_batch_match_nothing():
    empty = build_set(["short"], 13)
    got = overlaps(token_hashes(["short text", ""]), empty)
    assert got.hits.tolist() == [0, 0] and got.longest.tolist() == [0, 0]
    assert overlaps(token_hashes([]), build_set(["a b c"], 2)).hits.tolist() == []
