import pytest

from policies import packs
from policies.engine import compile_policy
from policies.loader import load_policy
from processing.stage import create
from processing.stages.quality import (
    ATTRIBUTES,
    QualityStage,
    c4_quality,
    fineweb_quality,
    gopher_quality,
    gopher_repetition,
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


# --------------------------------------------------------------------------- the packs decide
# The stage measures; the quality rules of the policy packs hold the thresholds.

PACKS = packs.list_packs()
ENGLISH = {"attr.lang": "en", "attr.lang_score": 0.99}
# The content filters run in the quality task (docs/content-filters.md); on clean prose they
# measure nothing, which is what these defaults say.
CLEAN_FILTERS = {"attr.badwords_count": 0, "attr.badwords_lists": {}, "attr.badwords_langs": {},
                 "attr.toxicity": 0.0, "attr.decontam_hits": {}, "attr.decontam_longest": {}}


@pytest.fixture(scope="module")
def compiled():
    return {name: compile_policy(packs.load(name)) for name in PACKS}


def _facts(attrs):
    return CLEAN_FILTERS | {f"attr.{name}": value for name, value in attrs.items()} | ENGLISH


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


# (attribute, a value at the published threshold, a value just past it, the pack rule):
# Gopher (Rae et al. 2021, appendix A1), C4 (Raffel et al. 2020), FineWeb (Penedo et al. 2024)
PUBLISHED = [
    ("gopher_word_count", 50, 49, "gopher-word-count"),
    ("gopher_word_count", 100_000, 100_001, "gopher-word-count"),
    ("gopher_mean_word_length", 3.0, 2.99, "gopher-mean-word-length"),
    ("gopher_mean_word_length", 10.0, 10.01, "gopher-mean-word-length"),
    ("gopher_symbol_word_ratio_hash", 0.1, 0.11, "gopher-hash-ratio"),
    ("gopher_symbol_word_ratio_ellipsis", 0.1, 0.11, "gopher-ellipsis-ratio"),
    ("gopher_bullet_lines_ratio", 0.9, 0.91, "gopher-bullet-lines"),
    ("gopher_ellipsis_lines_ratio", 0.3, 0.31, "gopher-ellipsis-lines"),
    ("gopher_alpha_words_ratio", 0.8, 0.79, "gopher-alpha-words"),
    ("gopher_stop_words", 2, 1, "gopher-stop-words"),
    ("gopher_rep_dup_para_frac", 0.30, 0.31, "gopher-dup-paragraphs"),
    ("gopher_rep_dup_para_char_frac", 0.20, 0.21, "gopher-dup-paragraphs"),
    ("gopher_rep_dup_line_frac", 0.30, 0.31, "gopher-dup-lines"),
    ("gopher_rep_dup_line_char_frac", 0.20, 0.21, "gopher-dup-lines"),
    ("gopher_rep_top_2gram", 0.20, 0.21, "gopher-top-ngrams"),
    ("gopher_rep_top_3gram", 0.18, 0.19, "gopher-top-ngrams"),
    ("gopher_rep_top_4gram", 0.16, 0.17, "gopher-top-ngrams"),
    *((f"gopher_rep_dup_{n}gram", (20 - n) / 100, (21 - n) / 100, "gopher-dup-ngrams")
      for n in range(5, 11)),
    ("c4_has_lorem_ipsum", False, True, "c4-lorem-ipsum"),
    ("c4_has_curly_bracket", False, True, "c4-curly-bracket"),
    ("c4_kept_sentences", 5, 4, "c4-few-sentences"),
    ("fineweb_line_punct_ratio", 0.12, 0.11, "fineweb-punctuation"),
    ("fineweb_short_line_ratio", 0.67, 0.68, "fineweb-short-lines"),
    ("fineweb_dup_line_char_frac", 0.01, 0.011, "fineweb-dup-lines"),
    ("fineweb_newline_per_word", 0.3, 0.31, "fineweb-newlines"),
]


def test_the_packs_read_only_signals_the_stage_measures(compiled):
    from processing.stages.badwords import BadWordsStage
    from processing.stages.decontam import DecontamStage
    from processing.stages.toxicity import ToxicityStage

    measured = {f"attr.{name}" for stage in (QualityStage, BadWordsStage, ToxicityStage,
                                             DecontamStage) for name in stage.attributes}
    measured |= set(ENGLISH)
    for name, policy in compiled.items():
        assert set(policy.required_facts("quality")) <= measured, name


@pytest.mark.parametrize("pack", PACKS)
@pytest.mark.parametrize(("attribute", "at", "past", "rule"), PUBLISHED)
def test_the_packs_hold_the_published_thresholds(compiled, pack, attribute, at, past, rule):
    attrs = quality_signals(GOOD_PROSE)
    policy = compiled[pack]
    kept = policy.decide("quality", _facts({**attrs, attribute: at}))
    assert kept.effect == "keep" and kept.default_applied
    dropped = policy.decide("quality", _facts({**attrs, attribute: past}))
    assert (dropped.effect, dropped.rule_ids) == ("drop", (rule,))


def test_good_prose_passes_every_quality_rule(compiled):
    for policy in compiled.values():
        assert all(matched is False
                   for _, matched in policy.explain("quality", _facts(quality_signals(GOOD_PROSE))))


def test_boilerplate_fails_the_rules_that_describe_it(compiled):
    page = "\n".join(["Home | About | Contact", "Share this", "Login", "Menu"] * 5)
    policy = compiled["commercial-strict"]
    matched = dict(policy.explain("quality", _facts(quality_signals(page))))
    assert {rule for rule, m in matched.items() if m is True} >= {
        "gopher-word-count", "gopher-stop-words", "gopher-dup-lines", "c4-few-sentences",
        "fineweb-punctuation", "fineweb-short-lines"}
    assert matched["c4-lorem-ipsum"] is False and matched["c4-curly-bracket"] is False
    assert policy.decide("quality", _facts(quality_signals(page))).effect == "drop"


def test_an_undefined_signal_fails_closed(compiled):
    decision = compiled["commercial-strict"].decide("quality", _facts(quality_signals("")))
    assert decision.effect == "drop" and decision.errors
    assert "gopher-mean-word-length" in decision.rule_ids


def test_a_policy_sets_its_own_threshold_without_rescoring():
    attrs = quality_signals(GOOD_PROSE)
    words = attrs["gopher_word_count"]

    def policy(minimum):
        return compile_policy(load_policy(
            "name: own\nversion: '1'\nintended_use: research\njurisdiction: EU\n"
            "agents: ['*']\ndefault: {admission: allow, langid: keep, quality: keep, "
            "dedup: keep, pii: keep}\nstages:\n  quality:\n    - id: long-enough\n"
            f"      effect: drop\n      condition: attr.gopher_word_count < {minimum}\n"
            "      reason: too short\n"))

    assert policy(words + 1).decide("quality", _facts(attrs)).effect == "drop"
    assert policy(words).decide("quality", _facts(attrs)).effect == "keep"


def test_a_rule_on_a_signal_never_measured_fails_closed_naming_it(compiled):
    attrs = quality_signals(GOOD_PROSE, families=("gopher",))
    decision = compiled["commercial-strict"].decide("quality", _facts(attrs))
    assert decision.effect == "drop"
    assert "gopher-dup-paragraphs" in decision.rule_ids
    assert any(e.startswith("rule gopher-dup-paragraphs: missing fact ")
               and "attr.gopher_rep_dup_para_frac" in e for e in decision.errors)


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
