import hashlib
import pickle
import textwrap

import pytest

from policies.errors import InvalidPolicy, PolicyError
from policies.loader import load_policy, validate_policy_file, validate_policy_text
from policies.model import Position

GOOD = textwrap.dedent("""\
    name: sample
    version: 1.10
    description: A small policy.
    intended_use: commercial
    jurisdiction: EU
    agents: [GPTBot, "*"]
    combining: first-applicable
    default: {admission: deny, langid: keep, quality: keep, dedup: keep, pii: keep}
    stages:
      admission:
        - id: approved
          effect: allow
          condition: source.status == "approved"
          reason: Approved source.
      pii:
        - id: redact-mail
          effect: redact
          condition: "true"
          reason: Mail addresses are replaced.
          params: {entities: [EMAIL_ADDRESS]}
    """)


def errors_of(text: str) -> list[PolicyError]:
    return validate_policy_text(text, file="p.yaml")


def only_error(text: str) -> PolicyError:
    errors = errors_of(text)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_load_good_policy_keeps_text_and_hash(tmp_path):
    path = tmp_path / "sample.yaml"
    path.write_text(GOOD, encoding="utf-8")
    policy = load_policy(path)
    assert policy.name == "sample"
    assert policy.version == "1.10"  # as written, not the float 1.1
    assert policy.intended_use == "commercial" and policy.jurisdiction == "EU"
    assert policy.agents == ("GPTBot", "*")
    assert policy.combining == "first-applicable"
    assert policy.defaults["admission"] == "deny"
    assert policy.text == GOOD
    assert policy.sha256 == hashlib.sha256(GOOD.encode()).hexdigest()
    assert policy.source == str(path)
    approved = policy.rule("approved")
    assert approved.stage == "admission" and approved.effect == "allow"
    assert approved.position == Position(11, 7)
    assert policy.rule("redact-mail").params == {"entities": ("EMAIL_ADDRESS",)}
    assert policy.rule("redact-mail").condition == "true"
    assert policy.rules("quality") == ()
    assert validate_policy_file(path) == []
    # the same from text, and from a str path
    assert load_policy(GOOD).sha256 == policy.sha256
    assert load_policy(str(path)).name == "sample"


def test_combining_defaults_to_deny_overrides():
    policy = load_policy(GOOD.replace("combining: first-applicable\n", ""))
    assert policy.combining == "deny-overrides"


def test_bad_yaml_has_a_position():
    text = GOOD.replace('agents: [GPTBot, "*"]', 'agents: [GPTBot, "*"')
    err = only_error(text)
    assert err.message.startswith("bad YAML")
    assert err.file == "p.yaml" and err.line is not None and err.line >= 6


def test_missing_top_level_fields():
    text = GOOD.replace("intended_use: commercial\n", "").replace("jurisdiction: EU\n", "")
    err = only_error(text)
    assert err.message == "missing fields: intended_use, jurisdiction"
    assert (err.line, err.column) == (1, 1)


def test_missing_rule_field_names_rule_and_position():
    text = GOOD.replace("      reason: Approved source.\n", "")
    err = only_error(text)
    assert err.rule_id == "approved" and err.message == "missing field: reason"
    assert err.line == line_of(text, "- id: approved")
    assert str(err) == f"p.yaml:{err.line}:7: rule approved: missing field: reason"
    assert err.line == 11


def test_unknown_effect():
    text = GOOD.replace("effect: allow", "effect: drop")
    err = only_error(text)
    assert err.rule_id == "approved"
    assert "effect for stage admission 'drop' is not one of deny, allow" in err.message
    assert (err.line, err.column) == (line_of(text, "effect: drop"), 15)


def test_unknown_stage():
    text = GOOD.replace("  pii:\n", "  pi:\n")
    err = only_error(text)
    assert err.message.startswith("unknown stage 'pi'; stages are admission, langid")
    assert (err.line, err.column) == (line_of(text, "  pi:"), 3)


def test_stage_out_of_order():
    text = GOOD.replace("      pii:\n", "      pii:\n").replace(
        "  admission:\n", "  quality: []\n  admission:\n")
    err = only_error(text)
    assert "stage 'admission' is out of order" in err.message


def test_unknown_fact_in_block_condition_points_into_the_file():
    text = GOOD.replace(
        'condition: source.status == "approved"',
        'condition: |\n            source.status == "approved" &&\n'
        '              source.tos == "unrestricted"')
    err = only_error(text)
    assert err.rule_id == "approved"
    assert err.message.startswith("unknown fact 'source.tos'; did you mean source.tos_verdict")
    line = line_of(text, "source.tos ==")
    assert err.line == line
    # CEL reports the selection's dot: 14 spaces of indent, then "source" is 6 characters
    assert err.column == 14 + 6 + 1


def test_unknown_fact_in_folded_and_quoted_conditions():
    folded = GOOD.replace(
        'condition: source.status == "approved"',
        'condition: >-\n            source.status == "approved" &&\n'
        '            license.colour == "red"')
    err = only_error(folded)
    assert err.message.startswith("unknown fact 'license.colour'")
    assert (err.line, err.column) == (line_of(folded, "license.colour"), 13 + 7)
    quoted = GOOD.replace('condition: source.status == "approved"',
                          "condition: 'source.state == \"approved\"'")
    err = only_error(quoted)
    assert err.message.startswith("unknown fact 'source.state'")
    assert (err.line, err.column) == (line_of(quoted, "source.state"), 18 + 6 + 1)


def test_fact_of_a_later_stage_is_not_visible_earlier():
    text = GOOD.replace('source.status == "approved"', 'attr.lang == "en"')
    err = only_error(text)
    assert err.message == "fact 'attr.lang' is not available at stage admission " \
                          "(known from stage langid on)"


def test_cel_syntax_error():
    text = GOOD.replace('source.status == "approved"', "source.status ==")
    err = only_error(text)
    assert err.message.startswith("CEL syntax error")
    # the end of the expression, where CEL expected an operand
    assert (err.line, err.column) == (line_of(text, "source.status =="), 18 + 16)


@pytest.mark.parametrize("condition, fragment", [
    ("source.status == 3", "'_==_' applied to '(string, int)'"),
    ("license.open > 0.5", "'_>_' applied to '(bool, double)'"),
    ('consent.now["GPTBot"] == "all"', "'_==_' applied to '(bool, string)'"),
])
def test_type_error_in_condition(condition, fragment):
    text = GOOD.replace('source.status == "approved"', condition)
    err = only_error(text)
    assert err.message.startswith("type error") and fragment in err.message
    assert err.rule_id == "approved" and err.line == line_of(text, condition)


def test_int_next_to_a_double_fact_gets_a_hint():
    text = GOOD.replace("  pii:\n", "  langid:\n    - id: score\n      effect: drop\n"
                        "      condition: attr.lang_score < 1\n      reason: low\n  pii:\n")
    err = only_error(text)
    assert err.rule_id == "score" and "write 1.0, not 1" in err.message


def test_condition_must_be_bool():
    err = only_error(GOOD.replace('source.status == "approved"', "source.status"))
    assert err.message == "condition must be a bool, this one is string"


def test_invalid_regex_is_caught_at_load():
    err = only_error(GOOD.replace('source.status == "approved"', 'doc.url.matches("(")'))
    assert "regular expression" in err.message


def test_duplicate_rule_id_across_stages():
    text = GOOD.replace("- id: redact-mail", "- id: approved")
    err = only_error(text)
    assert err.rule_id == "approved"
    assert err.message == "duplicate rule id 'approved' (first at line 11)"
    second = [i for i, line in enumerate(text.splitlines(), 1) if "- id: approved" in line][1]
    assert (err.line, err.column) == (second, 11)


def test_duplicate_yaml_key():
    text = GOOD.replace("      reason: Approved source.\n",
                        "      reason: Approved source.\n      reason: Again.\n")
    err = only_error(text)
    assert "duplicate key 'reason' (first at line" in err.message


def test_unknown_field_and_unquoted_yaml_boolean():
    text = GOOD.replace("description: A small policy.", "descripton: typo").replace(
        "reason: Approved source.", "reason: no")
    errs = errors_of(text)
    assert errs[0].message.startswith("policy: unknown field 'descripton'; allowed: name,")
    assert errs[1].message == "reason must be text; YAML reads 'no' as a boolean, so quote it"
    assert errs[1].rule_id == "approved"
    assert len(errs) == 2


def test_default_must_name_every_stage_and_take_no_params():
    text = GOOD.replace("default: {admission: deny, langid: keep, quality: keep, dedup: keep, "
                        "pii: keep}", "default: {admission: deny, pii: redact}")
    messages = [e.message for e in errors_of(text)]
    assert any("default effect for pii 'redact' is not one of drop-document, keep" in m
               for m in messages)
    assert any("default has no effect for stages langid, quality, dedup" in m for m in messages)


def test_params_are_checked():
    no_params = GOOD.replace("      params: {entities: [EMAIL_ADDRESS]}\n", "")
    assert "effect redact needs params: entities" in only_error(no_params).message
    empty = GOOD.replace("entities: [EMAIL_ADDRESS]", "entities: []")
    assert "must name at least one entity type" in only_error(empty).message
    unknown = GOOD.replace("entities: [EMAIL_ADDRESS]", "entities: [X], colour: red")
    assert "params: unknown field 'colour'" in only_error(unknown).message
    on_allow = GOOD.replace("      reason: Approved source.\n",
                            "      reason: Approved source.\n      params: {a: 1}\n")
    assert only_error(on_allow).message == "effect allow takes no params"


def test_every_error_is_reported_in_file_order():
    text = GOOD.replace("effect: allow", "effect: permit").replace(
        'condition: "true"', "condition: attr.pii_counts.nope").replace(
        "intended_use: commercial", "intended_use: fun")
    errs = errors_of(text)
    assert len(errs) == 3
    assert [e.line for e in errs] == sorted(e.line for e in errs)
    with pytest.raises(InvalidPolicy) as info:
        load_policy(text)
    assert len(info.value.errors) == 3
    assert str(info.value).endswith("(and 2 more problems)")
    assert "\n" not in str(info.value) and info.value.report().count("\n") == 2


def test_not_a_mapping_and_empty_file(tmp_path):
    assert only_error("- a\n- b\n").message.startswith("a policy must be a YAML mapping")
    assert only_error("").message.startswith("a policy must be a YAML mapping")
    missing = validate_policy_file(tmp_path / "nope.yaml")
    assert len(missing) == 1 and missing[0].message == "no such policy file"
    with pytest.raises(PolicyError, match="no such policy file"):
        load_policy(tmp_path / "nope.yaml")


def test_policy_error_format_and_pickling():
    err = PolicyError("bad thing", file="x.yaml", rule_id="r1", line=3, column=5)
    assert str(err) == "x.yaml:3:5: rule r1: bad thing"
    assert str(PolicyError("no place", file="x.yaml")) == "x.yaml: no place"
    again = pickle.loads(pickle.dumps(err))
    assert (again.file, again.rule_id, again.line, again.column, str(again)) == \
        ("x.yaml", "r1", 3, 5, str(err))
    invalid = InvalidPolicy([err, PolicyError("other", file="x.yaml")])
    assert pickle.loads(pickle.dumps(invalid)).report() == invalid.report()


def test_unknown_yaml_tag_is_reported_not_raised():
    err = only_error(GOOD.replace("reason: Approved source.", "reason: !shout Approved"))
    assert err.message.startswith("bad YAML") and err.line == line_of(GOOD, "Approved source")


def test_lengths_the_catalog_stores_are_checked():
    long_id = "r" * 101
    err = only_error(GOOD.replace("- id: approved", f"- id: {long_id}"))
    assert err.message == "id is 101 characters; at most 100 fit the catalog"
    err = only_error(GOOD.replace("version: 1.10", f"version: {'9' * 41}"))
    assert err.message.startswith("version is 41 characters")


def test_an_alias_bomb_in_a_policy_is_one_error_not_a_walk_through_millions():
    from tests.common.test_yamlsafe import alias_bomb

    text = alias_bomb() + GOOD.replace("agents: [GPTBot, \"*\"]", "agents: *i")
    err = only_error(text)
    assert err.message.startswith("bad YAML") and "aliases stand for more than" in err.message
    assert err.line == line_of(text, "f: &f")
