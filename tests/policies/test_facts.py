from datetime import UTC, datetime

import pytest

from policies.engine import compile_policy
from policies.errors import PolicyError, UnknownName
from policies.facts import (
    DEFAULT_SCHEMA,
    EPOCH,
    TYPES,
    consent_facts,
    example_facts,
    from_nested,
)
from policies.loader import load_policy
from policies.model import STAGES

DEFAULTS = "{admission: deny, langid: drop, quality: drop, dedup: drop, pii: drop-document}"
PASS = {"admission": "allow", "langid": "keep", "quality": "keep", "dedup": "keep",
        "pii": "keep"}


def one_rule_policy(stage: str, condition: str, *, intended_use="commercial", schema=None):
    text = f"""
name: probe
version: "1"
intended_use: {intended_use}
jurisdiction: EU
agents: [GPTBot, "*"]
default: {DEFAULTS}
stages:
  {stage}:
    - id: probe
      effect: {PASS[stage]}
      condition: '{condition}'
      reason: the condition held
"""
    kwargs = {"schema": schema} if schema is not None else {}
    policy = load_policy(text, **kwargs)
    return compile_policy(policy, **kwargs)


# A condition per type, a value that makes it true and one that makes it false.
PROBES = {
    "string": ('{p} == "x"', "x", "y"),
    "int": ("{p} > 2", 3, 2),
    "double": ("{p} >= 0.5", 0.75, 0.25),
    "bool": ("{p}", True, False),
    "timestamp": ('{p} > timestamp("2020-01-01T00:00:00Z")',
                  datetime(2021, 1, 1, tzinfo=UTC), datetime(2019, 1, 1, tzinfo=UTC)),
    "list(string)": ('"tdm" in {p}', ["tdm", "noai"], ["noai"]),
    "map(string, bool)": ('!{p}["GPTBot"]', {"GPTBot": False, "*": True},
                          {"GPTBot": True, "*": True}),
    "map(string, int)": ('{p}["EMAIL_ADDRESS"] > 2', {"EMAIL_ADDRESS": 3},
                         {"EMAIL_ADDRESS": 1}),
    "map(string, double)": ('{p}["hq"] >= 0.5', {"hq": 0.75}, {"hq": 0.25}),
}


def test_every_declared_type_has_a_probe():
    assert {f.type for f in DEFAULT_SCHEMA.facts} <= set(PROBES) == set(TYPES)


@pytest.mark.parametrize(
    "fact", [f for f in DEFAULT_SCHEMA.facts if f.namespace != "policy"], ids=lambda f: f.path
)
def test_every_fact_drives_a_condition(fact):
    condition, yes, no = PROBES[fact.type]
    cp = compile_policy_cached(fact.stage, condition.format(p=fact.path))
    assert cp.required_facts(fact.stage) == (fact.path,)
    row = example_facts(fact.stage, ["GPTBot", "*"])
    assert cp.decide(fact.stage, {**row, fact.path: yes}).effect == PASS[fact.stage]
    denied = cp.decide(fact.stage, {**row, fact.path: no})
    assert denied.default_applied and denied.effect != PASS[fact.stage]


_cache: dict = {}


def compile_policy_cached(stage, condition):
    if (stage, condition) not in _cache:
        _cache[stage, condition] = one_rule_policy(stage, condition)
    return _cache[stage, condition]


@pytest.mark.parametrize("use", ["research", "commercial"])
def test_policy_facts_come_from_the_policy(use):
    cp = one_rule_policy("admission",
                         'policy.intended_use == "research" && policy.jurisdiction == "EU"',
                         intended_use=use)
    assert cp.required_facts("admission") == ()  # nothing for the caller to pass
    assert cp.decide("admission", {}).effect == ("allow" if use == "research" else "deny")


def test_attributes_are_visible_from_their_stage_on():
    assert "attr.lang" not in {f.path for f in DEFAULT_SCHEMA.visible("admission")}
    assert "attr.lang" in {f.path for f in DEFAULT_SCHEMA.visible("langid")}
    assert "attr.pii_counts" not in {f.path for f in DEFAULT_SCHEMA.visible("dedup")}
    assert {f.path for f in DEFAULT_SCHEMA.visible("pii")} == {f.path for f in
                                                               DEFAULT_SCHEMA.facts}
    with pytest.raises(UnknownName, match="unknown stage 'scoring'"):
        DEFAULT_SCHEMA.visible("scoring")


def test_with_attrs_declares_new_scalar_attributes():
    schema = DEFAULT_SCHEMA.with_attrs({"spam_score": "double", "attr.is_spam": "bool"})
    cp = one_rule_policy("quality", "attr.spam_score < 0.3 && !attr.is_spam", schema=schema)
    assert cp.decide("quality", {"attr.spam_score": 0.1, "attr.is_spam": False}).effect == "keep"
    assert cp.decide("quality", {"attr.spam_score": 0.9, "attr.is_spam": False}).effect == "drop"
    # unknown to the default schema
    with pytest.raises(PolicyError, match="unknown fact 'attr.spam_score'"):
        one_rule_policy("quality", "attr.spam_score < 0.3")
    # idempotent with the same type; refused with another or a non-scalar type
    assert schema.with_attrs({"spam_score": "double"}) == schema
    with pytest.raises(PolicyError, match="already declared as double"):
        schema.with_attrs({"spam_score": "int"})
    with pytest.raises(PolicyError, match="is not one of string, int, double, bool"):
        DEFAULT_SCHEMA.with_attrs({"spans": "list(string)"})
    with pytest.raises(PolicyError, match="must match"):
        DEFAULT_SCHEMA.with_attrs({"Bad-Name": "int"})
    with pytest.raises(UnknownName):
        DEFAULT_SCHEMA.with_attrs({"x": "int"}, stage="admission")


def test_consent_facts_for_listed_agents():
    agents = ["GPTBot", "CCBot", "*"]
    blocked_later = consent_facts(agents, collection={"CCBot": True}, now={"CCBot": False})
    assert blocked_later == {
        "consent.collection": {"GPTBot": True, "CCBot": True, "*": True},
        "consent.now": {"GPTBot": True, "CCBot": False, "*": True},
        "consent.any_blocked_collection": False,
        "consent.any_blocked_now": True,
        "consent.opted_out_after_collection": True,
        "consent.known": True,
    }
    # an agent outside the policy's list does not count
    other = consent_facts(agents, collection={"Bytespider": False}, now=None)
    assert not other["consent.any_blocked_collection"] and "Bytespider" not in \
        other["consent.collection"]
    unknown = consent_facts(agents, collection=None, now=None)
    assert unknown["consent.known"] is False and not unknown["consent.any_blocked_now"]
    assert unknown["consent.now"] == {"GPTBot": True, "CCBot": True, "*": True}


def test_consent_facts_drive_consent_conditions():
    cp = one_rule_policy("admission", '!consent.any_blocked_now && consent.now["GPTBot"]')
    ok = consent_facts(["GPTBot", "*"], collection=None, now={"GPTBot": True})
    blocked = consent_facts(["GPTBot", "*"], collection=None, now={"*": False})
    assert cp.decide("admission", ok).effect == "allow"
    assert cp.decide("admission", blocked).effect == "deny"


def test_from_nested_keeps_maps_whole():
    nested = {"source": {"status": "approved", "extra": 1},
              "consent": {"now": {"GPTBot": False}}, "attr": {"lang": "en"}}
    assert from_nested(nested, "admission") == {
        "source.status": "approved", "consent.now": {"GPTBot": False}}
    assert from_nested(nested, "langid")["attr.lang"] == "en"


def test_example_facts_cover_every_visible_fact():
    for stage in STAGES:
        row = example_facts(stage)
        assert set(row) == {f.path for f in DEFAULT_SCHEMA.visible(stage)
                            if f.namespace != "policy"}


def test_nullable_facts_accept_none_and_strings_for_timestamps():
    cp = one_rule_policy(
        "admission",
        'doc.url == "" && doc.collected_at == timestamp("1970-01-01T00:00:00Z")')
    assert cp.decide("admission", {"doc.url": None, "doc.collected_at": None}).effect == "allow"
    later = one_rule_policy("admission", 'doc.collected_at > timestamp("2024-01-01T00:00:00Z")')
    assert later.decide("admission", {"doc.collected_at": "2024-06-01T00:00:00Z"}).effect \
        == "allow"
    naive = datetime(2024, 6, 1)  # no zone: taken as UTC
    assert later.decide("admission", {"doc.collected_at": naive}).effect == "allow"
    assert EPOCH.tzinfo is not None


def test_non_nullable_fact_given_none_fails_closed():
    cp = one_rule_policy("admission", 'source.status == "approved"')
    d = cp.decide("admission", {"source.status": None})
    assert d.effect == "deny" and not d.default_applied
    assert d.rule_ids == ("probe",) and "source.status" in d.errors[0]
