import dataclasses

import pytest

from processing.dedup import DedupParams, DedupParamsError, normalize, shingles


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello WORLD", "hello world"),
        ("end.Start, then—more!", "end start then more"),  # punctuation becomes a space
        ("$5 + x = y | z ©", "0 x y z"),  # symbols too
        ("Year 2023, day 17 and 3.14", "year 0 day 0 and 0 0"),  # each digit run is one 0
        ("\u0663\u0664 apples", "0 apples"),  # any decimal digit (Arabic-Indic here)
        ("Café Ñandú naïve", "cafe nandu naive"),  # accents stripped
        ("İstanbul", "istanbul"),  # lowercasing that yields a combining mark
        ("co\u00adoperate zero\u200dwidth", "cooperate zerowidth"),  # format chars dropped
        ("  a\t\tb\n\n c \u00a0 d  ", "a b c d"),  # whitespace collapsed
        ("", ""),
        ("!!! ... ???", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_shingles_are_word_ngrams_as_utf8_bytes() -> None:
    text = "One two, three four five six seven."
    assert shingles(text, 5) == [
        b"one two three four five",
        b"two three four five six",
        b"three four five six seven",
    ]
    assert shingles("Über alles ist gut und schön", 5)[0] == b"uber alles ist gut und"


def test_short_and_empty_texts() -> None:
    assert shingles("Just three words", 5) == [b"just three words"]
    assert shingles("", 5) == []
    assert shingles("*** --- !!!", 5) == []


def test_repeats_are_kept_in_order() -> None:
    assert shingles("a a a a a a a", 5) == [b"a a a a a"] * 3


def test_shingle_size_is_a_parameter() -> None:
    assert shingles("a b c d", 2) == [b"a b", b"b c", b"c d"]


def test_params_default_to_fineweb() -> None:
    p = DedupParams()
    assert (p.shingle_words, p.num_perm, p.bands, p.rows) == (5, 112, 14, 8)
    assert p.threshold == pytest.approx(0.72, abs=0.005)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_perm": 112, "bands": 14, "rows": 7},
        {"num_perm": 128, "bands": 14, "rows": 8},
        {"shingle_words": 0},
        {"num_perm": 8, "bands": 1, "rows": 8},
        {"seed": -1},
        {"seed": 2**32},
        {"rows": True, "bands": 112},
        {"chunk_shingles": 0},
    ],
)
def test_params_are_validated(kwargs: dict) -> None:
    with pytest.raises(DedupParamsError):
        DedupParams(**kwargs)


def test_params_are_frozen_and_round_trip() -> None:
    p = DedupParams(num_perm=64, bands=8, rows=8, seed=7)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.seed = 3  # type: ignore[misc]
    assert DedupParams.from_dict(p.to_dict()) == p
    with pytest.raises(DedupParamsError, match="unknown dedup parameter 'band'"):
        DedupParams.from_dict({"band": 3})
