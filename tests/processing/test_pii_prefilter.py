"""The pii pre-filter: regions of whole words around shape occurrences, merged; no shape, no
region. (That regions give the spans of full analysis is tested in test_pii.py.)"""

from __future__ import annotations

import random
import re

import pytest

from processing.pii_prefilter import Prefilter

SHAPES = {"AT": (("@", ""),), "DIGITS": ((r"\d", r"\d{3}"),), "PAIR": ((r"\d", r"\d"),)}


def words(text: str) -> list[str]:
    return text.split()


def test_no_shape_no_region() -> None:
    pre = Prefilter(SHAPES, before=2, after=2)
    assert pre.regions("plain words only, 1 2 3") == []
    assert not pre.any("plain words only")
    assert pre.any("mail me@x")


def test_a_region_is_whole_words_before_and_after_the_shape() -> None:
    text = "one two three four mail@x five six seven eight"
    pre = Prefilter({"AT": SHAPES["AT"]}, before=2, after=1)
    ((start, end),) = pre.regions(text)
    assert text[start:end] == "three four mail@x five"


def test_a_shape_spanning_words_opens_its_region_from_both_ends() -> None:
    text = "a b c 12 34 56 d e f"
    pre = Prefilter({"GAP": ((r"\d", r"\d \d\d \d\d"),)}, before=1, after=1)
    ((start, end),) = pre.regions(text)
    assert text[start:end] == "c 12 34 56 d"


def test_regions_stop_at_the_text_edges() -> None:
    pre = Prefilter({"AT": SHAPES["AT"]}, before=5, after=5)
    assert pre.regions("a@b") == [(0, 3)]
    assert pre.regions("  x a@b  ") == [(2, 7)]


def test_overlapping_regions_merge_and_distant_ones_do_not() -> None:
    text = "a@b w w w w w w w w w w c@d w e@f"  # the last two share a word
    pre = Prefilter({"AT": SHAPES["AT"]}, before=1, after=1)
    assert [text[s:e] for s, e in pre.regions(text)] == ["a@b w", "w c@d w e@f"]
    merged = Prefilter({"AT": SHAPES["AT"]}, before=1, after=1, merge_gap=30)
    assert [text[s:e] for s, e in merged.regions(text)] == [text]


def test_an_implied_shape_is_not_scanned_for_but_still_named() -> None:
    # Every DIGITS occurrence starts with a PAIR occurrence.
    pre = Prefilter(SHAPES, before=0, after=0, implied_by={"DIGITS": "PAIR"})
    assert "\\d{3}" not in pre.pattern
    assert pre.entities("id 1234") == ["DIGITS", "PAIR"]
    assert pre.entities("id 12") == ["PAIR"]
    assert pre.entities("x@y") == ["AT"]


def test_one_scan_group_per_first_character() -> None:
    pre = Prefilter(SHAPES, before=0, after=0)
    assert pre.pattern.count("\\d(?:") == 1


def test_an_empty_shape_set_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one shape"):
        Prefilter({}, before=1, after=1)


def test_random_texts_every_hit_is_covered_with_its_words() -> None:
    rng = random.Random(4)
    pre = Prefilter(SHAPES, before=3, after=2)
    scan = re.compile(pre.pattern)
    for _ in range(300):
        text = "".join(rng.choice(["ab", "1", "22", "x@y", " ", "  ", "\n", "\t", "333 4"])
                       for _ in range(rng.randint(1, 60)))
        regions = pre.regions(text)
        assert regions == sorted(regions)
        assert all(a[1] < b[0] for a, b in zip(regions, regions[1:], strict=False))
        for start, end in regions:  # whole words
            assert start == 0 or text[start - 1].isspace()
            assert end == len(text) or text[end].isspace()
            assert not text[start].isspace() and not text[end - 1].isspace()
        for hit in scan.finditer(text):
            inside = [r for r in regions if r[0] <= hit.start() and hit.end() <= r[1]]
            assert inside, (text, hit)
            start, end = inside[0]
            assert len(words(text[start : hit.start()])) >= min(3, len(words(text[: hit.start()])))
            assert len(words(text[hit.end() : end])) >= min(2, len(words(text[hit.end() :])))
