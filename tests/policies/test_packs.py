from functools import cache

import pytest

from policies import packs
from policies.engine import compile_policy
from policies.errors import UnknownName
from policies.facts import consent_facts, example_facts
from policies.loader import load_policy, validate_policy_file

C, R, OPEN = "commercial-strict", "research-permissive", "open-licensed-only"
PII = ["EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "US_SSN"]


@cache
def compiled(name: str):
    return compile_policy(packs.load(name))


def test_list_and_path():
    assert packs.list_packs() == [C, OPEN, R]
    assert packs.path(C).name == "commercial-strict.yaml" and packs.path(C).is_file()
    with pytest.raises(UnknownName, match="unknown policy pack 'lenient'; known: "
                                          "commercial-strict, open-licensed-only"):
        packs.path("lenient")
    with pytest.raises(UnknownName):
        packs.path("../packs/commercial-strict")


@pytest.mark.parametrize("name", [C, R, OPEN])
def test_pack_is_valid_and_complete(name):
    assert validate_policy_file(packs.path(name)) == []
    policy = packs.load(name)
    assert policy.name == name and policy.version
    assert policy.defaults["admission"] == "deny"  # admission is never open by default
    assert "*" in policy.agents and "GPTBot" in policy.agents
    for stage in ("admission", "langid", "quality", "dedup", "pii"):
        assert policy.rules(stage), f"{name} has no {stage} rules"
    assert policy.text.startswith("# ")  # the reasoning is written down in the file


def admission_row(agents, **changes):
    """A document every pack admits: approved source, CC BY, reviewed ToS, no reservation."""
    base = example_facts("admission", agents)
    base.update({
        "source.slug": "wiki", "source.kind": "web", "source.status": "approved",
        "source.tos_verdict": "unrestricted", "source.declared_license": "CC-BY-4.0",
        "license.concluded": "CC-BY-4.0", "license.use": "commercial",
        "license.attribution": True, "license.open": True, "license.known": True,
        "doc.url": "https://wiki.example/a", "doc.host": "wiki.example",
    })
    base.update(consent_facts(agents, collection={}, now={}))
    base.update(changes)
    return base


BLOCK_THEN = "blocked-at-collection"
BLOCK_LATER = "blocked-after-collection"

# change -> expected (effect, rule id or None for default) per pack
CASES = {
    "clean": ({}, {C: ("allow", "source-approved"), R: ("allow", "source-usable"),
                   OPEN: ("allow", "open-licence")}),
    "non-commercial licence": (
        {"license.use": "non-commercial", "license.open": False},
        {C: ("deny", "license-non-commercial"), R: ("allow", "source-usable"),
         OPEN: ("deny", "licence-not-open")}),
    "academic-only licence": (
        {"license.use": "academic-only", "license.open": False},
        {C: ("deny", "license-non-commercial"), R: ("allow", "source-usable"),
         OPEN: ("deny", "licence-not-open")}),
    "no-derivatives licence": (
        {"license.no_derivatives": True, "license.open": False},
        {C: ("deny", "license-no-derivatives"), R: ("allow", "source-usable"),
         OPEN: ("deny", "licence-not-open")}),
    "unknown licence": (
        {"license.known": False, "license.use": "unspecified", "license.open": False,
         "license.concluded": ""},
        {C: ("deny", "license-unknown"), R: ("allow", "source-usable"),
         OPEN: ("deny", "licence-not-open")}),
    "open but unknown to the taxonomy": (
        {"license.known": False},
        {C: ("deny", "license-unknown"), R: ("allow", "source-usable"),
         OPEN: ("deny", "licence-not-open")}),
    "conflicting licence evidence": (
        {"license.conflict": True},
        {C: ("deny", "license-conflict"), R: ("allow", "source-usable"),
         OPEN: ("deny", "licence-not-open")}),
    "ToS no-ai": (
        {"source.tos_verdict": "no-ai"},
        {C: ("deny", "tos-restricts-ai"), R: ("allow", "source-usable"),
         OPEN: ("deny", "tos-restricts-ai")}),
    "ToS no-scraping": (
        {"source.tos_verdict": "no-scraping"},
        {C: ("deny", "tos-restricts-ai"), R: ("deny", "tos-no-scraping"),
         OPEN: ("deny", "tos-restricts-ai")}),
    "ToS no-scraping-and-ai": (
        {"source.tos_verdict": "no-scraping-and-ai"},
        {C: ("deny", "tos-restricts-ai"), R: ("deny", "tos-no-scraping"),
         OPEN: ("deny", "tos-restricts-ai")}),
    "ToS non-commercial-only": (
        {"source.tos_verdict": "non-commercial-only"},
        {C: ("deny", "tos-restricts-ai"), R: ("allow", "source-usable"),
         OPEN: ("deny", "tos-restricts-ai")}),
    "ToS never reviewed": (
        {"source.tos_verdict": "unknown"},
        {C: ("deny", "tos-unreviewed"), R: ("allow", "source-usable"),
         OPEN: ("allow", "open-licence")}),
    "ToS conditional": (
        {"source.tos_verdict": "conditional"},
        {C: ("allow", "source-approved"), R: ("allow", "source-usable"),
         OPEN: ("allow", "open-licence")}),
    "TDM reservation": (
        {"reservation.reserved": True, "reservation.uses": ["tdm"]},
        {C: ("deny", "tdm-reservation"), R: ("allow", "source-usable"),
         OPEN: ("deny", "tdm-reservation")}),
    "robots block at collection": (
        BLOCK_THEN,
        {C: ("deny", "robots-blocked-at-collection"), R: ("allow", "source-usable"),
         OPEN: ("deny", "robots-blocked")}),
    "robots block added later": (
        BLOCK_LATER,
        {C: ("deny", "robots-blocked-now"), R: ("allow", "source-usable"),
         OPEN: ("deny", "robots-blocked")}),
    "opt-out request": (
        {"optout.matched": True, "optout.request_ids": ["req-1"]},
        {C: ("deny", "optout-request"), R: ("deny", "optout-request"),
         OPEN: ("deny", "optout-request")}),
    "source pending review": (
        {"source.status": "pending"},
        {C: ("deny", "source-not-approved"), R: ("allow", "source-usable"),
         OPEN: ("allow", "open-licence")}),
    "source rejected": (
        {"source.status": "rejected"},
        {C: ("deny", "source-not-approved"), R: ("deny", "source-withdrawn"),
         OPEN: ("deny", "source-withdrawn")}),
    "source status unheard of": (
        {"source.status": "draft"},
        {C: ("deny", "source-not-approved"), R: ("deny", None),
         OPEN: ("allow", "open-licence")}),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("pack", [C, R, OPEN])
def test_admission(pack, case):
    change, expected = CASES[case]
    cp = compiled(pack)
    agents = cp.policy.agents
    if change == BLOCK_THEN:
        change = consent_facts(agents, collection={"GPTBot": False}, now={"GPTBot": False})
    elif change == BLOCK_LATER:
        change = consent_facts(agents, collection={}, now={"CCBot": False})
    d = cp.decide("admission", admission_row(agents, **change))
    effect, rule = expected[pack]
    assert d.effect == effect, (d.rule_ids, d.reasons)
    if rule is None:
        assert d.default_applied
    else:
        assert rule in d.rule_ids
        if effect == "deny":
            assert not any(r.startswith(("source-approved", "source-usable", "open-licence"))
                           for r in d.rule_ids)
    assert d.policy_name == pack and not d.errors


def test_research_reservations_bind_outside_the_eu():
    text = packs.path(R).read_text().replace("jurisdiction: EU", "jurisdiction: US", 1)
    cp = compile_policy(load_policy(text))
    agents = cp.policy.agents
    reserved = admission_row(agents, **{"reservation.reserved": True})
    assert cp.decide("admission", reserved).rule_ids == ("reservation-outside-eu",)
    blocked = admission_row(agents, **consent_facts(agents, collection={}, now={"*": False}))
    assert cp.decide("admission", blocked).rule_ids == ("robots-outside-eu",)
    assert compiled(R).decide("admission", reserved).effect == "allow"


# ---------------------------------------------------------------- later stages


@pytest.mark.parametrize("pack, lang, score, effect, rule", [
    (C, "en", 0.93, "keep", None),
    (C, "de", 0.93, "keep", None),
    (OPEN, "de", 0.93, "drop", "lang-not-wanted"),
    (R, "ja", 0.99, "drop", "lang-not-wanted"),
    (R, "en", 0.40, "drop", "lang-low-confidence"),
    (OPEN, "en", 0.65, "keep", None),
])
def test_langid(pack, lang, score, effect, rule):
    d = compiled(pack).decide("langid", {"attr.lang": lang, "attr.lang_score": score})
    assert d.effect == effect
    assert d.rule_ids == ((rule,) if rule else ())


def good_doc(**changes):
    row = {
        "attr.lang": "en", "attr.lang_score": 0.95,
        "attr.gopher_word_count": 600, "attr.gopher_mean_word_length": 4.9,
        "attr.gopher_symbol_word_ratio_hash": 0.0, "attr.gopher_symbol_word_ratio_ellipsis": 0.0,
        "attr.gopher_bullet_lines_ratio": 0.1, "attr.gopher_ellipsis_lines_ratio": 0.0,
        "attr.gopher_alpha_words_ratio": 0.97, "attr.gopher_stop_words": 7,
        "attr.gopher_rep_dup_para_frac": 0.0, "attr.gopher_rep_dup_para_char_frac": 0.0,
        "attr.gopher_rep_dup_line_frac": 0.0, "attr.gopher_rep_dup_line_char_frac": 0.0,
        "attr.c4_kept_sentences": 25, "attr.c4_has_lorem_ipsum": False,
        "attr.c4_has_curly_bracket": False, "attr.c4_kept_lines": 40,
        "attr.fineweb_line_punct_ratio": 0.8, "attr.fineweb_short_line_ratio": 0.1,
        "attr.fineweb_dup_line_char_frac": 0.0, "attr.fineweb_newline_per_word": 0.04,
        "attr.badwords_langs": {"en": 0}, "attr.toxicity": 0.01,
        "attr.decontam_hits": {"mmlu": 0},
    }
    row.update({f"attr.gopher_rep_top_{n}gram": 0.03 for n in (2, 3, 4)})
    row.update({f"attr.gopher_rep_dup_{n}gram": 0.0 for n in range(5, 11)})
    row.update(changes)
    return row


QUALITY = {  # rule id -> a change that trips exactly that rule (docs/architecture.md thresholds)
    "gopher-word-count": {"attr.gopher_word_count": 49},
    "gopher-mean-word-length": {"attr.gopher_mean_word_length": 10.5},
    "gopher-hash-ratio": {"attr.gopher_symbol_word_ratio_hash": 0.11},
    "gopher-ellipsis-ratio": {"attr.gopher_symbol_word_ratio_ellipsis": 0.11},
    "gopher-bullet-lines": {"attr.gopher_bullet_lines_ratio": 0.91},
    "gopher-ellipsis-lines": {"attr.gopher_ellipsis_lines_ratio": 0.31},
    "gopher-alpha-words": {"attr.gopher_alpha_words_ratio": 0.79},
    "gopher-stop-words": {"attr.gopher_stop_words": 1},
    "gopher-dup-paragraphs": {"attr.gopher_rep_dup_para_char_frac": 0.21},
    "gopher-dup-lines": {"attr.gopher_rep_dup_line_frac": 0.31},
    "gopher-top-ngrams": {"attr.gopher_rep_top_4gram": 0.17},
    "gopher-dup-ngrams": {"attr.gopher_rep_dup_10gram": 0.11},
    "c4-lorem-ipsum": {"attr.c4_has_lorem_ipsum": True},
    "c4-curly-bracket": {"attr.c4_has_curly_bracket": True},
    "c4-few-sentences": {"attr.c4_kept_sentences": 4},
    "fineweb-punctuation": {"attr.fineweb_line_punct_ratio": 0.11},
    "fineweb-short-lines": {"attr.fineweb_short_line_ratio": 0.68},
    "fineweb-dup-lines": {"attr.fineweb_dup_line_char_frac": 0.02},
    "fineweb-newlines": {"attr.fineweb_newline_per_word": 0.31},
    "c4-badwords": {"attr.badwords_langs": {"en": 1, "de": 0}},
    "toxicity-high": {"attr.toxicity": 0.91},
    "benchmark-contamination": {"attr.decontam_hits": {"mmlu": 0, "gsm8k": 2}},
}
OFF_BY_DEFAULT = {R: {"benchmark-contamination"}}  # present in the pack, commented out


@pytest.mark.parametrize("pack", [C, R, OPEN])
def test_quality_keeps_a_good_document_and_covers_every_rule(pack):
    cp = compiled(pack)
    d = cp.decide("quality", good_doc())
    assert d.effect == "keep" and d.default_applied
    assert {r.id for r in cp.policy.rules("quality")} == set(QUALITY) - OFF_BY_DEFAULT.get(
        pack, set())


@pytest.mark.parametrize("rule", list(QUALITY))
@pytest.mark.parametrize("pack", [C, R, OPEN])
def test_quality_rule_drops(pack, rule):
    d = compiled(pack).decide("quality", good_doc(**QUALITY[rule]))
    if rule in OFF_BY_DEFAULT.get(pack, ()):
        assert d.effect == "keep" and d.default_applied
        return
    assert (d.effect, d.rule_ids) == ("drop", (rule,))


def test_quality_thresholds_are_strict_inequalities():
    edge = good_doc(**{"attr.gopher_word_count": 50, "attr.gopher_symbol_word_ratio_hash": 0.1,
                       "attr.gopher_alpha_words_ratio": 0.8, "attr.c4_kept_sentences": 5,
                       "attr.fineweb_short_line_ratio": 0.67})
    assert compiled(C).decide("quality", edge).effect == "keep"


@pytest.mark.parametrize("pack", [C, R, OPEN])
def test_content_filters_read_the_documents_language(pack):
    cp = compiled(pack)
    # a hit from an English list in a German document, no German list loaded
    german = good_doc(**{"attr.lang": "de", "attr.badwords_langs": {"en": 3}})
    assert cp.decide("quality", german).effect == "keep"
    assert cp.decide("quality", good_doc(**{"attr.badwords_langs": {}})).effect == "keep"
    # the profanity model is English: its score does not decide for other languages
    assert cp.decide("quality", good_doc(**{"attr.lang": "fr", "attr.toxicity": 0.99})) \
        .effect == "keep"
    assert cp.decide("quality", good_doc(**{"attr.decontam_hits": {}})).effect == "keep"


def test_stop_word_rule_is_for_english_only():
    german = good_doc(**{"attr.lang": "de", "attr.gopher_stop_words": 0})
    assert compiled(C).decide("quality", german).effect == "keep"


@pytest.mark.parametrize("pack", [C, R, OPEN])
def test_dedup_keeps_one_per_cluster(pack):
    cp = compiled(pack)
    assert cp.decide("dedup", {"attr.cluster_size": 4, "attr.cluster_keep": False}).effect \
        == "drop"
    assert cp.decide("dedup", {"attr.cluster_size": 4, "attr.cluster_keep": True}).effect \
        == "keep"
    assert cp.decide("dedup", {"attr.cluster_size": 1, "attr.cluster_keep": True}).effect \
        == "keep"


@pytest.mark.parametrize("pack, limit", [(C, 20), (R, 50), (OPEN, 20)])
def test_pii_redacts_and_drops_dense_documents(pack, limit):
    cp = compiled(pack)
    d = cp.decide("pii", {"attr.pii_counts": {"EMAIL_ADDRESS": limit}})
    assert d.effect == "redact" and list(d.redact) == PII
    assert d.placeholder == "|||{type}|||"
    assert d.placeholder.format(type="EMAIL_ADDRESS") == "|||EMAIL_ADDRESS|||"
    clean = cp.decide("pii", {"attr.pii_counts": {}})
    assert clean.effect == "redact"  # nothing found: redaction is a no-op, still recorded
    dense = cp.decide("pii", {"attr.pii_counts": {"PHONE_NUMBER": limit + 1}})
    assert (dense.effect, dense.rule_ids) == ("drop-document", ("pii-dense",))
