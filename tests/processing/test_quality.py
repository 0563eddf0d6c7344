import pytest

from processing.stage import create
from processing.stages.quality import (
    ATTRIBUTES,
    DEFAULT_THRESHOLDS,
    MissingAttributeError,
    QualityStage,
    Threshold,
    c4_quality,
    fineweb_quality,
    gopher_quality,
    gopher_repetition,
    passes,
    quality_signals,
)
from processing.text import count_sentences, is_symbol_word, split_words
from processing.types import Document

# --------------------------------------------------------------------------- word splitting


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Hello, world.", ["Hello", ",", "world", "."]),
        ("don't dont It's I'm", ["do", "n't", "do", "nt", "It", "'s", "I", "'m"]),
        ("were its ill", ["were", "its", "ill"]),
        (
            "well-known 3-4 and/or x/y",
            ["well", "-", "known", "3", "-", "4", "and/or", "x", "/", "y"],
        ),
        ("U.S. e.g. Mr. Smith etc.", ["U.S.", "e.g.", "Mr.", "Smith", "etc", "."]),
        ("USA. A. x.", ["USA", ".", "A.", "x."]),
        (
            "See https://example.org/a?b=1, or me@example.com.",
            ["See", "https://example.org/a?b=1", ",", "or", "me@example.com", "."],
        ),
        ("wait... what… ...", ["wait", "...", "what", "…", "..."]),
        (
            "#tag $100 100% 5km 3.5 1,000",
            ["#", "tag", "$", "100", "100", "%", "5", "km", "3.5", "1,000"],
        ),
        ("(see above).", ["(", "see", "above", ")", "."]),
        ('"Quoted," she said.', ['"', "Quoted", ",", '"', "she", "said", "."]),
        ("I ♥ it :) ok):", ["I", "♥", "it", ":)", "ok", "):"]),
        ("end.The", ["end", ".", "The"]),
        ("tabs\tand\nnew  lines", ["tabs", "and", "new", "lines"]),
        ("", []),
    ],
)
def test_split_words(text, words):
    assert split_words(text) == words


def test_symbol_words_are_punctuation_symbols_or_controls_only():
    for word in ("...", "★", "©", "$", "-", "|", "\x07"):
        assert is_symbol_word(word), word
    for word in ("a.", "3", "é", "n't"):
        assert not is_symbol_word(word), word


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("One. Two! Three?", 3),
        ('He said "Hi." Then he left.', 2),
        ("See e.g. this one, or Mr. Smith.", 1),
        ("Pi is 3.14 today.", 1),
        ("Wait!!! Really?!", 2),
        ("no mark at all", 1),
        ("", 0),
    ],
)
def test_count_sentences(text, sentences):
    assert count_sentences(split_words(text)) == sentences


# --------------------------------------------------------------------------- Gopher quality


def test_gopher_quality_signals_by_hand():
    text = "The cat sat on the mat.\n- a list item\n# heading...\n"
    # words: The cat sat on the mat . - a list item # heading ...   (14, of which 4 symbols)
    values = gopher_quality(text, split_words(text))
    assert values == {
        "gopher_word_count": 10,
        "gopher_mean_word_length": pytest.approx(33 / 10),
        "gopher_symbol_word_ratio_hash": pytest.approx(1 / 14),
        "gopher_symbol_word_ratio_ellipsis": pytest.approx(1 / 14),
        "gopher_bullet_lines_ratio": pytest.approx(1 / 3),
        "gopher_ellipsis_lines_ratio": pytest.approx(1 / 3),
        "gopher_alpha_words_ratio": pytest.approx(10 / 14),
        "gopher_stop_words": 1,  # "the"; "The" and "on" are not in the list
    }


def test_gopher_counts_unicode_bullets_and_ellipses_and_distinct_stop_words():
    text = "• to be\n• of the and\n  • that…\nwith have have"
    values = gopher_quality(text, split_words(text))
    assert values["gopher_bullet_lines_ratio"] == pytest.approx(3 / 4)
    assert values["gopher_ellipsis_lines_ratio"] == pytest.approx(1 / 4)
    assert values["gopher_symbol_word_ratio_ellipsis"] == pytest.approx(1 / 13)  # 13 words
    assert values["gopher_stop_words"] == 8


def test_gopher_ratios_are_undefined_without_words():
    values = gopher_quality("", [])
    assert values["gopher_word_count"] == 0
    assert values["gopher_mean_word_length"] is None
    assert values["gopher_symbol_word_ratio_hash"] is None
    assert values["gopher_bullet_lines_ratio"] is None
    assert values["gopher_alpha_words_ratio"] is None


# --------------------------------------------------------------------------- Gopher repetition


def test_gopher_repetition_paragraphs_lines_and_top_ngrams_by_hand():
    text = "Ant bee cat.\n\nAnt bee cat.\n\nDog eel fox."  # 40 characters
    values = gopher_repetition(text, split_words(text))
    assert values["gopher_rep_dup_para_frac"] == pytest.approx(1 / 3)
    assert values["gopher_rep_dup_para_char_frac"] == pytest.approx(12 / 40)
    assert values["gopher_rep_dup_line_frac"] == pytest.approx(1 / 3)
    assert values["gopher_rep_dup_line_char_frac"] == pytest.approx(12 / 40)
    # most frequent: "Ant bee" x2, "Ant bee cat" x2, "Ant bee cat ." x2 (first seen wins ties)
    assert values["gopher_rep_top_2gram"] == pytest.approx(7 * 2 / 40)
    assert values["gopher_rep_top_3gram"] == pytest.approx(11 * 2 / 40)
    assert values["gopher_rep_top_4gram"] == pytest.approx(13 * 2 / 40)
    assert values["gopher_rep_dup_5gram"] == 0


def test_duplicated_ngrams_count_the_repeat_not_the_first_occurrence():
    text = "one two three four five one two three four five six"  # 51 characters
    values = gopher_repetition(text, split_words(text))
    assert values["gopher_rep_dup_5gram"] == pytest.approx(len("onetwothreefourfive") / 51)
    for n in range(6, 11):
        assert values[f"gopher_rep_dup_{n}gram"] == 0


def test_duplicated_ngram_scan_jumps_past_a_repeat():
    text = " ".join(["a"] * 10)  # 19 characters; 5-grams at 0..5 are all the same
    values = gopher_repetition(text, split_words(text))
    # 0 is new, 1 repeats (5 chars) and the scan jumps to 6, past the last 5-gram.
    assert values["gopher_rep_dup_5gram"] == pytest.approx(5 / 19)
    assert values["gopher_rep_dup_10gram"] == 0
    assert values["gopher_rep_top_2gram"] == pytest.approx(len("a a") * 9 / 19)


def test_leading_and_trailing_newlines_make_an_empty_duplicate_line_as_in_the_reference():
    values = gopher_repetition("\nabc\n", ["abc"])
    assert values["gopher_rep_dup_line_frac"] == pytest.approx(1 / 3)
    assert values["gopher_rep_dup_line_char_frac"] == 0


def test_gopher_repetition_is_undefined_on_empty_text():
    values = gopher_repetition("", [])
    assert set(values) == set(ATTRIBUTES["gopher_rep"])
    assert all(v is None for v in values.values())


# --------------------------------------------------------------------------- C4


C4_TEXT = "\n".join(
    [
        "Home",
        "Please enable JavaScript to continue.",
        "We use cookies on this site.",
        "Too short.",
        "This is fine. It has two sentences.",
        "Wikipedia says so.[1]",
        "Wait for it...",
        "A line with a {brace} in it.",
        "lorem ipsum dolor sit amet.",
        "x" * 1001 + " is long.",
    ]
)
C4_KEPT = [
    "This is fine. It has two sentences.",
    "Wikipedia says so.",
    "A line with a {brace} in it.",
    "lorem ipsum dolor sit amet.",
]


def test_c4_records_what_each_line_filter_would_do():
    assert c4_quality(C4_TEXT) == {
        "c4_lines": 10,
        "c4_kept_lines": 4,
        "c4_kept_sentences": 5,
        "c4_has_lorem_ipsum": True,
        "c4_has_curly_bracket": True,
        "c4_lines_dropped_long_word": 1,
        "c4_lines_dropped_no_terminal_punct": 2,
        "c4_lines_dropped_too_few_words": 1,
        "c4_lines_dropped_javascript": 1,
        "c4_lines_dropped_policy": 1,
        "c4_filtered_length": len("\n".join(C4_KEPT)),
    }


def test_c4_only_flags_lorem_and_braces_on_lines_it_reads():
    # no terminal mark, and a javascript line: C4 drops these lines before looking further
    values = c4_quality("Lorem ipsum dolor sit amet\nvar x = {a: 1} in javascript.")
    assert values["c4_has_lorem_ipsum"] is False
    assert values["c4_has_curly_bracket"] is False
    assert values["c4_kept_sentences"] == 0


def test_c4_on_empty_text():
    values = c4_quality("")
    assert values["c4_lines"] == 0 and values["c4_kept_sentences"] == 0
    assert values["c4_filtered_length"] == 0


# --------------------------------------------------------------------------- FineWeb


def test_fineweb_signals_by_hand():
    long_line = "A much longer line without a terminal mark here"
    text = f"First line ends well.\nshort\nshort\n\n{long_line}\n"
    values = fineweb_quality(text, split_words(text))
    assert values == {
        "fineweb_line_punct_ratio": pytest.approx(1 / 4),
        "fineweb_short_line_ratio": pytest.approx(3 / 4),
        "fineweb_dup_line_char_frac": pytest.approx(5 / (len(text) - 5)),
        "fineweb_newline_per_word": pytest.approx(5 / 16),
    }


def test_fineweb_reads_lines_unstripped():
    # A trailing space hides the full stop; CRLF leaves "\r" at the end of each line.
    text = "Ends with a space. \r\nEnds with CRLF.\r\nPlain end."
    values = fineweb_quality(text, split_words(text))
    assert values["fineweb_line_punct_ratio"] == pytest.approx(1 / 3)


def test_fineweb_is_undefined_without_a_nonblank_line():
    assert all(v is None for v in fineweb_quality(" \n\t\n", []).values())


# --------------------------------------------------------------------------- thresholds


def test_default_thresholds_are_the_published_ones():
    got = {rule: (t.attribute, t.min, t.max) for rule, t in DEFAULT_THRESHOLDS.items()}
    assert got == {
        "gopher_min_words": ("gopher_word_count", 50, None),
        "gopher_max_words": ("gopher_word_count", None, 100_000),
        "gopher_min_mean_word_length": ("gopher_mean_word_length", 3, None),
        "gopher_max_mean_word_length": ("gopher_mean_word_length", None, 10),
        "gopher_max_hash_ratio": ("gopher_symbol_word_ratio_hash", None, 0.1),
        "gopher_max_ellipsis_ratio": ("gopher_symbol_word_ratio_ellipsis", None, 0.1),
        "gopher_max_bullet_lines": ("gopher_bullet_lines_ratio", None, 0.9),
        "gopher_max_ellipsis_lines": ("gopher_ellipsis_lines_ratio", None, 0.3),
        "gopher_min_alpha_words": ("gopher_alpha_words_ratio", 0.8, None),
        "gopher_min_stop_words": ("gopher_stop_words", 2, None),
        "gopher_rep_max_dup_para_frac": ("gopher_rep_dup_para_frac", None, 0.30),
        "gopher_rep_max_dup_para_char_frac": ("gopher_rep_dup_para_char_frac", None, 0.20),
        "gopher_rep_max_dup_line_frac": ("gopher_rep_dup_line_frac", None, 0.30),
        "gopher_rep_max_dup_line_char_frac": ("gopher_rep_dup_line_char_frac", None, 0.20),
        "gopher_rep_max_top_2gram": ("gopher_rep_top_2gram", None, 0.20),
        "gopher_rep_max_top_3gram": ("gopher_rep_top_3gram", None, 0.18),
        "gopher_rep_max_top_4gram": ("gopher_rep_top_4gram", None, 0.16),
        "gopher_rep_max_dup_5gram": ("gopher_rep_dup_5gram", None, 0.15),
        "gopher_rep_max_dup_6gram": ("gopher_rep_dup_6gram", None, 0.14),
        "gopher_rep_max_dup_7gram": ("gopher_rep_dup_7gram", None, 0.13),
        "gopher_rep_max_dup_8gram": ("gopher_rep_dup_8gram", None, 0.12),
        "gopher_rep_max_dup_9gram": ("gopher_rep_dup_9gram", None, 0.11),
        "gopher_rep_max_dup_10gram": ("gopher_rep_dup_10gram", None, 0.10),
        "c4_no_lorem_ipsum": ("c4_has_lorem_ipsum", None, 0),
        "c4_no_curly_bracket": ("c4_has_curly_bracket", None, 0),
        "c4_min_sentences": ("c4_kept_sentences", 5, None),
        "fineweb_min_line_punct_ratio": ("fineweb_line_punct_ratio", 0.12, None),
        "fineweb_max_short_line_ratio": ("fineweb_short_line_ratio", None, 0.67),
        "fineweb_max_dup_line_char_frac": ("fineweb_dup_line_char_frac", None, 0.01),
        "fineweb_max_newline_per_word": ("fineweb_newline_per_word", None, 0.3),
    }
    every_attribute = {a for family in ATTRIBUTES.values() for a in family}
    assert {t.attribute for t in DEFAULT_THRESHOLDS.values()} <= every_attribute


def test_bounds_are_inclusive_and_undefined_values_fail():
    at_most = Threshold("x", max=0.9)
    assert at_most.holds(0.9) and not at_most.holds(0.9000001)
    at_least = Threshold("x", min=50)
    assert at_least.holds(50) and not at_least.holds(49)
    assert not at_least.holds(None)
    flag = Threshold("x", max=0)
    assert flag.holds(False) and not flag.holds(True)


GOOD_PROSE = "\n\n".join(
    [
        "The river runs through the old town, and the people who live there have used "
        "its water for centuries. Each spring the council meets to decide how the banks "
        "should be kept, and the decision is written down in the town book.",
        "Most of the houses near the bridge were built of stone that came from the hills "
        "to the north. Visitors often say that the light in the evening is beautiful.",
        "The museum holds a collection of maps that show how the river has moved over "
        "time. Some of them are older than the church, which was finished in 1642.",
    ]
)


def test_good_prose_passes_every_default_rule():
    result = passes(quality_signals(GOOD_PROSE))
    assert result == dict.fromkeys(DEFAULT_THRESHOLDS, True)


def test_boilerplate_fails_the_rules_that_describe_it():
    page = "\n".join(["Home | About | Contact", "Share this", "Login", "Menu"] * 5)
    result = passes(quality_signals(page))
    assert not result["gopher_min_words"]
    assert not result["gopher_min_stop_words"]
    assert not result["gopher_rep_max_dup_line_frac"]
    assert not result["c4_min_sentences"]
    assert not result["fineweb_min_line_punct_ratio"]
    assert not result["fineweb_max_short_line_ratio"]
    assert result["c4_no_lorem_ipsum"] and result["c4_no_curly_bracket"]


def test_policy_thresholds_change_the_decision_without_rescoring():
    attrs = quality_signals(GOOD_PROSE)
    strict = {"long_enough": Threshold("gopher_word_count", min=attrs["gopher_word_count"] + 1)}
    assert passes(attrs, strict) == {"long_enough": False}
    lax = {"long_enough": Threshold("gopher_word_count", min=attrs["gopher_word_count"])}
    assert passes(attrs, lax) == {"long_enough": True}


def test_a_rule_on_an_attribute_never_measured_is_an_error():
    attrs = quality_signals(GOOD_PROSE, families=("gopher",))
    with pytest.raises(MissingAttributeError, match="rule gopher_rep_max_dup_para_frac: attribute"):
        passes(attrs)


# --------------------------------------------------------------------------- the stage


def test_quality_stage_writes_every_signal_and_keeps_every_document():
    stage = create("quality_v1")
    given = [Document("a", GOOD_PROSE), Document("b", ""), Document("c", "lorem ipsum x.")]
    out = list(stage.run(given))
    assert [d.id for d in out] == ["a", "b", "c"]
    for doc in out:
        assert set(doc.attributes) == set(QualityStage.attributes)
    assert stage.stats.docs_in == stage.stats.docs_out == 3
    assert stage.stats.measured["gopher_word_count"] == 3
    assert stage.stats.undefined["gopher_mean_word_length"] == 1  # the empty document


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("gopher_quality_v1", "gopher"),
        ("gopher_repetition_v1", "gopher_rep"),
        ("c4_quality_v1", "c4"),
        ("fineweb_quality_v1", "fineweb"),
    ],
)
def test_family_stages_write_only_their_family(name, family):
    stage = create(name)
    doc = next(stage.run([Document("a", GOOD_PROSE)]))
    assert set(doc.attributes) == set(ATTRIBUTES[family]) == set(stage.attributes)
    assert doc.attributes == {
        k: v for k, v in quality_signals(GOOD_PROSE).items() if k in ATTRIBUTES[family]
    }


def test_a_document_without_text_is_passed_on_with_an_error():
    stage = create("quality_v1")
    doc = next(stage.run([Document("bad", None)]))  # type: ignore[arg-type]
    assert doc.attributes == {"quality_v1_error": "document 'bad': text-not-a-string (NoneType)"}
    assert stage.stats.errors["text-not-a-string"] == 1
