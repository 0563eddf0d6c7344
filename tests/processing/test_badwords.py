"""badwords_v1: C4's bad-words rule as counts per list and language, on lists the tests write."""

from __future__ import annotations

import pytest

from processing.pipeline import ShardTask, StageSpec, run_shard
from processing.stage import StageOptionError, create
from processing.stages.badwords import BadWordsListError, compile_list, read_list
from processing.types import Document


@pytest.fixture
def lists(tmp_path):
    en = tmp_path / "mild.txt"
    en.write_text("# lang: en\n# a comment\n\nDarn\nheck\ngosh darn\nass\n", encoding="utf-8")
    zh = tmp_path / "zh.txt"  # named by its language tag, no header
    zh.write_text("混蛋\n笨蛋\n", encoding="utf-8")
    de = tmp_path / "de-AT"
    de.write_text("verflixt\n", encoding="utf-8")
    return [str(en), str(zh), str(de)]


def measure(stage, text):
    [doc] = list(stage.run([Document("d", text)]))
    return doc.attributes


def test_word_boundaries_as_c4_matches_them(lists):
    stage = create("badwords_v1", lists=lists)
    got = measure(stage, "Darn it! The class was a heck of a ride; gosh darn. ass_hat, ass.")
    # "class" and "ass_hat" are not "ass" (word characters around it); the phrase
    # "gosh darn" counts once, not also as "darn".
    assert got["badwords_lists"] == {"mild": 4, "zh": 0, "de-AT": 0}
    assert got["badwords_langs"] == {"en": 4, "zh": 0, "de": 0}
    assert got["badwords_count"] == 4


def test_scripts_without_spaces_match_as_substrings(lists):
    stage = create("badwords_v1", lists=lists)
    got = measure(stage, "你这个混蛋笨蛋混蛋。Verflixt noch mal")
    assert got["badwords_lists"] == {"mild": 0, "zh": 3, "de-AT": 1}
    assert got["badwords_langs"] == {"en": 0, "zh": 3, "de": 1}


def test_a_cjk_term_in_a_spaced_language_list_is_a_substring(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_text("# lang: *\nbad\n坏蛋\n", encoding="utf-8")
    stage = create("badwords_v1", lists=[str(path)])
    got = measure(stage, "他是坏蛋 and badly bad")
    assert got["badwords_lists"] == {"mixed": 2} and got["badwords_langs"] == {"*": 2}


def test_no_lists_measure_zero_and_empty_maps():
    got = measure(create("badwords_v1"), "anything at all")
    assert got == {"badwords_count": 0, "badwords_lists": {}, "badwords_langs": {}}


def test_trie_matches_the_longest_term_first(tmp_path):
    path = tmp_path / "en"
    path.write_text("ab\nabc\nabcd\n", encoding="utf-8")
    matcher = compile_list(read_list(path))
    assert [m.group(0) for m in matcher.finditer("abcd abc ab abce")] == ["abcd", "abc", "ab"]


def test_list_problems_are_one_line_errors(tmp_path):
    unnamed = tmp_path / "words.txt"
    unnamed.write_text("bad\n", encoding="utf-8")
    with pytest.raises(BadWordsListError, match="lang: xx"):
        read_list(unnamed)
    binary = tmp_path / "en.txt"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(BadWordsListError, match="UTF-8"):
        read_list(binary)
    with pytest.raises(BadWordsListError, match="cannot read"):
        read_list(tmp_path / "missing.txt")
    other = tmp_path / "sub"
    other.mkdir()
    (other / "en.txt").write_text("bad\n", encoding="utf-8")
    (tmp_path / "en.txt").write_text("bad\n", encoding="utf-8")
    with pytest.raises(StageOptionError, match="two lists are named 'en'"):
        create("badwords_v1", lists=[str(other / "en.txt"), str(tmp_path / "en.txt")])


def test_in_a_pipeline_the_maps_are_json_columns(lists, tmp_path):
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    shard = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["heck no", "fine"]}), shard)
    out = tmp_path / "attrs.parquet"
    run_shard(ShardTask(str(shard), str(out), (StageSpec("badwords_v1", {"lists": lists}),)))
    rows = pq.read_table(out).to_pylist()
    assert [r["badwords_count"] for r in rows] == [1, 0]
    assert json.loads(rows[0]["badwords_lists"]) == {"de-AT": 0, "mild": 1, "zh": 0}
