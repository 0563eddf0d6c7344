import json
import pickle

import pytest

from policies.engine import compile_policy
from policies.errors import UnknownName
from policies.loader import load_policy

DEFAULTS = {"admission": "deny", "langid": "keep", "quality": "keep", "dedup": "keep",
            "pii": "keep"}


def make(stages: dict, *, combining="deny-overrides", defaults=None, memoize=True,
         cache_size=1000):
    """Compile a policy written as {stage: [(id, effect, condition, params?), ...]}."""
    lines = ["name: t", 'version: "7"', "intended_use: commercial", "jurisdiction: EU",
             'agents: [GPTBot, "*"]', f"combining: {combining}",
             f"default: {json.dumps({**DEFAULTS, **(defaults or {})})}", "stages:"]
    for stage, rules in stages.items():
        lines.append(f"  {stage}:")
        for rule in rules:
            rid, effect, condition, *params = rule
            lines += [f"    - id: {rid}", f"      effect: {effect}",
                      f"      condition: {json.dumps(condition)}",
                      f"      reason: because {rid}"]
            if params:
                lines.append(f"      params: {json.dumps(params[0])}")
    policy = load_policy("\n".join(lines) + "\n")
    return compile_policy(policy, memoize=memoize, cache_size=cache_size)


ADMISSION = [
    ("approved", "allow", 'source.status == "approved"'),
    ("no-ai", "deny", 'source.tos_verdict == "no-ai"'),
    ("open", "allow", "license.open"),
]


def row(status="approved", tos="unrestricted", open_=True, **extra):
    return {"source.status": status, "source.tos_verdict": tos, "license.open": open_, **extra}


# ---------------------------------------------------------------- effects and defaults


def test_allow_carries_every_rule_that_made_it_and_the_policy():
    cp = make({"admission": ADMISSION})
    d = cp.decide("admission", row())
    assert d.effect == "allow" and d.passes
    assert d.rule_ids == ("approved", "open")
    assert d.reasons == ("because approved", "because open")
    assert (d.policy_name, d.policy_version, d.stage) == ("t", "7", "admission")
    assert d.policy_sha256 == cp.policy.sha256 and not d.default_applied


def test_deny():
    d = make({"admission": ADMISSION}).decide("admission", row(tos="no-ai"))
    assert d.effect == "deny" and d.rule_ids == ("no-ai",) and not d.passes


def test_default_applies_when_nothing_matches():
    d = make({"admission": ADMISSION}).decide("admission", row(status="pending", open_=False))
    assert d.effect == "deny" and d.default_applied and d.rule_ids == ()
    assert d.reasons == ("no rule matched; default for admission is deny",)
    allow_default = make({"admission": ADMISSION}, defaults={"admission": "allow"})
    assert allow_default.decide("admission", row(status="pending", open_=False)).effect == "allow"


def test_stage_without_rules_takes_its_default():
    cp = make({"admission": ADMISSION}, defaults={"quality": "drop"})
    d = cp.decide("quality", {})
    assert d.effect == "drop" and d.default_applied and cp.required_facts("quality") == ()


@pytest.mark.parametrize("stage, effect, fact, yes, no", [
    ("langid", "drop", "attr.lang_score", 0.2, 0.9),
    ("quality", "drop", "attr.gopher_stop_words", 0, 5),
])
def test_drop_and_keep(stage, effect, fact, yes, no):
    cond = f"{fact} < 0.5" if fact.endswith("score") else f"{fact} < 2"
    cp = make({stage: [("low", effect, cond), ("fine", "keep", "true")]})
    assert cp.decide(stage, {fact: yes}).effect == "drop"
    kept = cp.decide(stage, {fact: no})
    assert kept.effect == "keep" and kept.rule_ids == ("fine",)


def test_keep_one_per_cluster_resolves_from_cluster_keep():
    cp = make({"dedup": [("near-dup", "keep-one-per-cluster", "attr.cluster_size > 1")]})
    assert cp.required_facts("dedup") == ("attr.cluster_keep", "attr.cluster_size")
    kept = cp.decide("dedup", {"attr.cluster_size": 3, "attr.cluster_keep": True})
    dropped = cp.decide("dedup", {"attr.cluster_size": 3, "attr.cluster_keep": False})
    unique = cp.decide("dedup", {"attr.cluster_size": 1, "attr.cluster_keep": True})
    assert (kept.effect, kept.rule_ids) == ("keep", ("near-dup",))
    assert (dropped.effect, dropped.rule_ids) == ("drop", ("near-dup",))
    assert unique.effect == "keep" and unique.default_applied


def test_keep_one_per_cluster_as_default():
    cp = make({}, defaults={"dedup": "keep-one-per-cluster"})
    assert cp.decide("dedup", {"attr.cluster_keep": False}).effect == "drop"
    assert cp.decide("dedup", {"attr.cluster_keep": True}).effect == "keep"
    missing = cp.decide("dedup", {})
    assert missing.effect == "drop" and missing.errors


def test_redact_merges_entities_and_drop_document_overrides():
    cp = make({"pii": [
        ("contacts", "redact", "true", {"entities": ["EMAIL_ADDRESS", "PHONE_NUMBER"],
                                        "placeholder": "[{type}]"}),
        ("money", "redact", "true", {"entities": ["IBAN_CODE", "EMAIL_ADDRESS"]}),
        ("dense", "drop-document", 'attr.pii_counts["EMAIL_ADDRESS"] > 5'),
    ]})
    d = cp.decide("pii", {"attr.pii_counts": {"EMAIL_ADDRESS": 1}})
    assert d.effect == "redact" and d.rule_ids == ("contacts", "money")
    assert d.redact == ("EMAIL_ADDRESS", "PHONE_NUMBER", "IBAN_CODE")
    assert d.placeholder == "[{type}]" and d.passes
    dense = cp.decide("pii", {"attr.pii_counts": {"EMAIL_ADDRESS": 9}})
    assert dense.effect == "drop-document" and dense.redact == () and not dense.passes


def test_redact_placeholder_defaults_to_pipes():
    cp = make({"pii": [("r", "redact", "true", {"entities": ["US_SSN"]})]})
    assert cp.decide("pii", {}).placeholder == "|||{type}|||"


# ---------------------------------------------------------------- combining algorithms


COMBO = [
    ("allow-open", "allow", "license.open"),
    ("deny-no-ai", "deny", 'source.tos_verdict == "no-ai"'),
    ("allow-approved", "allow", 'source.status == "approved"'),
]


@pytest.mark.parametrize("combining, effect, rule_ids", [
    ("deny-overrides", "deny", ("deny-no-ai",)),
    ("allow-overrides", "allow", ("allow-open", "allow-approved")),
    ("first-applicable", "allow", ("allow-open",)),
])
def test_combining_algorithms(combining, effect, rule_ids):
    d = make({"admission": COMBO}, combining=combining).decide("admission", row(tos="no-ai"))
    assert (d.effect, d.rule_ids) == (effect, rule_ids)


def test_first_applicable_follows_file_order():
    cp = make({"admission": COMBO}, combining="first-applicable")
    d = cp.decide("admission", row(tos="no-ai", open_=False))
    assert (d.effect, d.rule_ids) == ("deny", ("deny-no-ai",))


def test_deny_overrides_over_three_effects():
    rules = [("keep", "keep", "true"), ("redact", "redact", "true", {"entities": ["X"]})]
    assert make({"pii": rules}).decide("pii", {}).effect == "redact"
    assert make({"pii": rules}, combining="allow-overrides").decide("pii", {}).effect == "keep"


# ---------------------------------------------------------------- failing closed


def test_missing_fact_fails_closed_naming_rule_and_fact():
    cp = make({"admission": ADMISSION})
    d = cp.decide("admission", {"source.status": "approved", "license.open": True})
    assert d.effect == "deny" and not d.default_applied
    assert d.rule_ids == ("no-ai",)
    assert d.errors == ("rule no-ai: missing fact source.tos_verdict",)
    assert list(cp.decide_many("admission", [{"source.status": "approved"}]))[0].effect == "deny"


def test_wrong_value_type_fails_closed():
    cp = make({"langid": [("low", "drop", "attr.lang_score < 0.5")]}, defaults={"langid": "keep"})
    d = cp.decide("langid", {"attr.lang_score": "high"})
    assert d.effect == "drop" and d.rule_ids == ("low",) and "attr.lang_score" in d.errors[0]


def test_error_in_one_rule_names_only_that_rule():
    cp = make({"pii": [("ok", "keep", "true"),
                       ("lookup", "drop-document", 'attr.pii_counts["EMAIL_ADDRESS"] > 2')]})
    d = cp.decide("pii", {"attr.pii_counts": {}})  # no such key: the lookup fails
    assert d.effect == "drop-document" and d.rule_ids == ("lookup",)
    assert "EMAIL_ADDRESS" in d.errors[0]


def test_first_applicable_ignores_errors_after_the_first_match():
    rules = [("ok", "keep", "true"),
             ("lookup", "drop-document", 'attr.pii_counts["EMAIL_ADDRESS"] > 2')]
    cp = make({"pii": rules}, combining="first-applicable")
    d = cp.decide("pii", {"attr.pii_counts": {}})
    assert (d.effect, d.rule_ids, d.errors) == ("keep", ("ok",), ())


def test_bad_timestamp_string_fails_closed():
    cp = make({"admission": [("recent", "allow",
                              'doc.collected_at > timestamp("2020-01-01T00:00:00Z")')]})
    d = cp.decide("admission", {"doc.collected_at": "last tuesday"})
    assert d.effect == "deny" and "bad fact value" in d.errors[0]


# ---------------------------------------------------------------- memo and bulk


def test_memo_keys_only_on_referenced_facts():
    cp = make({"admission": ADMISSION})
    assert cp.required_facts("admission") == ("license.open", "source.status",
                                              "source.tos_verdict")
    assert cp.rule_paths("no-ai") == ("source.tos_verdict",)
    rows = [row(**{"doc.id": f"d{i}", "doc.url": f"https://h/{i}"}) for i in range(500)]
    decisions = list(cp.decide_many("admission", rows))
    assert len(decisions) == 500 and cp.cache_stats("admission")["evaluations"] == 1
    assert all(d is decisions[0] for d in decisions)


def test_memoised_and_plain_agree_on_varied_rows():
    rows = [row(status=s, tos=t, open_=o)
            for s in ("approved", "pending") for t in ("no-ai", "unrestricted")
            for o in (True, False)] * 3
    memo = make({"admission": ADMISSION})
    plain = make({"admission": ADMISSION}, memoize=False)
    a = list(memo.decide_many("admission", rows))
    b = list(plain.decide_many("admission", rows))
    c = [memo.decide("admission", r) for r in rows]
    assert a == b == c
    assert memo.cache_stats("admission")["evaluations"] == 8
    assert plain.cache_stats("admission")["evaluations"] == len(rows)


def test_map_valued_facts_are_part_of_the_key():
    cp = make({"admission": [("gpt-ok", "allow", 'consent.now["GPTBot"]')]})
    rows = [{"consent.now": {"GPTBot": True}}, {"consent.now": {"GPTBot": False}},
            {"consent.now": {"GPTBot": True}}]
    assert [d.effect for d in cp.decide_many("admission", rows)] == ["allow", "deny", "allow"]
    assert cp.cache_stats("admission")["evaluations"] == 2


def test_unhashable_value_in_a_scalar_fact_is_decided_without_memo():
    cp = make({"admission": ADMISSION})
    d = list(cp.decide_many("admission", [row(status=["approved"])]))[0]
    assert d.effect == "deny" and d.errors


def test_small_cache_is_reset_not_wrong():
    cp = make({"langid": [("low", "drop", "attr.lang_score < 0.5")]}, cache_size=4)
    rows = [{"attr.lang_score": i / 20} for i in range(20)] * 2
    effects = [d.effect for d in cp.decide_many("langid", rows)]
    assert effects == (["drop"] * 10 + ["keep"] * 10) * 2
    assert cp.cache_stats("langid")["cached"] <= 4


def test_decide_many_is_lazy():
    cp = make({"admission": ADMISSION})

    def endless():
        while True:
            yield row()

    it = cp.decide_many("admission", endless())
    assert next(it).effect == "allow" and next(it).effect == "allow"


def test_comments_in_conditions_do_not_break_the_stage_program():
    cp = make({"admission": [("a", "allow", 'source.status == "approved" // approved only'),
                             ("b", "deny", 'source.tos_verdict == "no-ai"')]})
    assert cp.decide("admission", row(tos="no-ai")).rule_ids == ("b",)


def test_unknown_stage_raises():
    cp = make({"admission": ADMISSION})
    with pytest.raises(UnknownName, match="unknown stage 'qualiti'; known: admission"):
        cp.decide("qualiti", {})


def test_compiled_policy_pickles_for_workers():
    cp = make({"admission": ADMISSION})
    again = pickle.loads(pickle.dumps(cp))
    assert again.decide("admission", row()) == cp.decide("admission", row())


def test_explain_evaluates_every_rule():
    cp = make({"admission": ADMISSION})
    assert cp.explain("admission", row(tos="no-ai")) == [
        ("approved", True), ("no-ai", True), ("open", True)]
    missing = cp.explain("admission", {"source.status": "x"})
    assert missing[0] == ("approved", False) and missing[1][1].startswith("missing fact")


def test_memo_switches_itself_off_when_keys_never_repeat():
    cp = make({"langid": [("low", "drop", "attr.lang_score < 0.5")]})
    rows = [{"attr.lang_score": i / 50_000} for i in range(50_000)]
    effects = [d.effect for d in cp.decide_many("langid", rows)]
    assert effects == ["drop"] * 25_000 + ["keep"] * 25_000
    stats = cp.cache_stats("langid")
    assert stats["memo"] == 0 and stats["cached"] == 0 and stats["evaluations"] == 50_000
    cp.clear_cache()
    assert cp.cache_stats("langid")["memo"] == 1


def test_memo_stays_on_when_keys_repeat():
    cp = make({"langid": [("low", "drop", "attr.lang_score < 0.5")]})
    rows = [{"attr.lang_score": (i % 1000) / 1000} for i in range(50_000)]
    list(cp.decide_many("langid", rows))
    assert cp.cache_stats("langid") == {"evaluations": 1000, "cached": 1000, "memo": 1}
