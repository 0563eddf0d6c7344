"""Review policies: loading with located errors, the built-in packs, deciding findings."""

from __future__ import annotations

import textwrap

import pytest

from common.atomic import text_sha256
from policies.errors import InvalidPolicy, UnknownName
from policies.facts import example_facts
from policies.review import (
    EFFECTS,
    default_pack,
    evaluate,
    list_review_packs,
    load_review_pack,
    load_review_policy,
    validate_review_policy,
    verdict,
)
from policies.review_facts import (
    CHECK_STAGE,
    COMPONENT_SCHEMA,
    MIXTURE_SCHEMA,
    SCHEMAS,
    evidence_key,
    measured_families,
)

HEAD = """\
name: t
version: 1.10
intended_use: commercial
agents: ["*"]
rules:
"""


def _policy(rules: str) -> str:
    return HEAD + textwrap.indent(textwrap.dedent(rules), "  ")


def _facts(scope: str = "component", **overrides) -> dict:
    facts = example_facts(CHECK_STAGE, schema=SCHEMAS[scope])
    facts.update({k.replace("__", "."): v for k, v in overrides.items()})
    return facts


def test_the_packs_load_and_cover_both_uses():
    assert list_review_packs() == ["review-commercial", "review-research"]
    for use in ("research", "commercial"):
        policy = load_review_pack(default_pack(use))
        assert policy.intended_use == use and policy.rules
        assert {r.scope for r in policy.rules} == {"component", "mixture"}
        for rule in policy.rules:
            assert rule.paths and all(p in SCHEMAS[rule.scope] for p in rule.paths), rule.id
        assert policy.sha256 == text_sha256(policy.text)
    with pytest.raises(UnknownName, match="review-commercial"):
        load_review_pack("nope")


def test_a_policy_reads_its_version_as_written_and_its_rules_paths():
    policy = load_review_policy(_policy("""\
        - id: nc
          scope: component
          effect: blocked
          condition: license.non_commercial.documents > 0 && mixture.intended_use == "commercial"
          reason: Non-commercial.
        """))
    assert policy.version == "1.10"  # not the number 1.1
    [rule] = policy.rules
    assert rule.paths == ("license.non_commercial.documents", "mixture.intended_use")
    assert rule.position.line == 6
    assert policy.ref() == {"name": "t", "version": "1.10", "sha256": policy.sha256}


def test_every_problem_is_reported_with_its_line_and_column():
    text = _policy("""\
        - id: a
          scope: component
          effect: stop
          condition: license.non_comercial.documents > 0
          reason: typo
        - id: a
          scope: mixture
          effect: blocked
          condition: component.weight > 1.0
          reason: wrong scope
        - id: b
          scope: everywhere
          effect: note
          condition: "true"
          reason: bad scope
        - id: c
          scope: component
          effect: note
          condition: license.non_commercial.documents > 0.5
          reason: int and double
        """)
    errors = validate_review_policy(text)
    messages = [f"{e.line}:{e.column} {e.message}" for e in errors]
    assert any(m.startswith("8:13 effect 'stop' is not one of blocked, needs-attention, note")
               for m in messages), messages
    assert any("9:" in m and "unknown fact 'license.non_comercial.documents'" in m
               and "did you mean license.non_commercial.documents" in m for m in messages)
    assert any(m.startswith("11:9 duplicate rule id 'a'") for m in messages)
    assert any("component.* facts are known to component rules only" in m for m in messages)
    assert any("scope 'everywhere' is not one of component, mixture" in m for m in messages)
    assert any("CEL does not mix int and double" in m for m in messages)
    with pytest.raises(InvalidPolicy) as exc:
        load_review_policy(text)
    assert len(exc.value.errors) == len(errors) >= 6
    missing = validate_review_policy("name: t\nversion: '1'\nrules: []\n")
    assert "missing fields: intended_use, agents" in missing[0].message


def test_findings_carry_the_facts_their_rule_read_and_the_verdict_is_the_worst():
    policy = load_review_pack("review-commercial")
    clean = evaluate(policy, "component", _facts())
    assert clean == [] and verdict(clean) == "ok"
    found = evaluate(policy, "component", _facts(
        license__non_commercial__documents=2, license__share_alike__documents=1,
        license__attribution__documents=3))
    assert [f.rule for f in found] == ["licence-non-commercial", "licence-share-alike",
                                       "licence-attribution"]
    assert found[0].facts == {"license.non_commercial.documents": 2}
    assert verdict(found) == "blocked" and verdict(found[1:]) == "needs-attention"
    assert verdict(found[2:]) == "ok"  # a note does not change the verdict
    eu = _facts(reservation__documents=4, mixture__jurisdiction="EU")
    us = _facts(reservation__documents=4, mixture__jurisdiction="US")
    assert [f.rule for f in evaluate(policy, "component", eu)] == ["reservation-eu"]
    assert [f.rule for f in evaluate(policy, "component", us)] == ["reservation-elsewhere"]
    research = load_review_pack("review-research")
    assert verdict(evaluate(research, "component", eu)) == "ok"  # DSM Art. 3
    assert verdict(evaluate(research, "component", us)) == "needs-attention"
    assert [f.rule for f in evaluate(policy, "mixture", _facts("mixture"))] == ["empty-mixture"]


def test_a_condition_that_cannot_be_evaluated_fails_closed():
    policy = load_review_policy(_policy("""\
        - id: emails
          scope: component
          effect: note
          condition: pii.redacted["EMAIL_ADDRESS"] > 0
          reason: Emails were redacted.
        """))
    [f] = evaluate(policy, "component", _facts())  # no EMAIL_ADDRESS key
    assert f.effect == "blocked" and "could not be evaluated" in f.error
    [ok] = evaluate(policy, "component", _facts(pii__redacted={"EMAIL_ADDRESS": 2}))
    assert ok.effect == "note" and ok.error is None
    lacking = {k: v for k, v in _facts().items() if k != "pii.redacted"}
    [missing] = evaluate(policy, "component", lacking)
    assert missing.effect == "blocked" and missing.error == "missing fact pii.redacted"
    assert verdict([missing]) == "blocked" and EFFECTS[0] == "blocked"


def test_the_fact_schema_documents_every_family_and_its_evidence():
    families = measured_families()
    assert "license.non_commercial" in families and "optout.new" in families
    for family in families:
        for measure in ("documents", "tokens", "effective_tokens", "share"):
            fact = COMPONENT_SCHEMA.get(f"{family}.{measure}")
            assert fact is not None and fact.description, family
            assert evidence_key(fact.path) == family
    assert "component.weight" in COMPONENT_SCHEMA and "component.weight" not in MIXTURE_SCHEMA
    assert evidence_key("mixture.intended_use") is None
    assert evidence_key("pii.redacted") == "pii"
