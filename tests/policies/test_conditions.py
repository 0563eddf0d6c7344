import pytest

from policies.conditions import CheckedCondition, check_condition, condition_env
from policies.errors import UnknownName


def test_a_checked_condition_names_exactly_the_facts_it_reads():
    checked = check_condition(
        'attr.lang == "en" && attr.lang_score < 0.5 || source.status == "attr.pii_counts"',
        "langid",
    )
    assert isinstance(checked, CheckedCondition)
    # a fact's name inside a string literal is not a read
    assert checked.paths == ("attr.lang", "attr.lang_score", "source.status")


def test_a_condition_reading_no_fact_needs_none():
    checked = check_condition("1 < 2", "admission")
    assert isinstance(checked, CheckedCondition) and checked.paths == ()


def test_a_fact_of_a_later_stage_is_named_with_the_stage_that_knows_it():
    [problem] = check_condition('attr.lang == "en"', "admission")
    assert problem.message == (
        "fact 'attr.lang' is not available at stage admission (known from stage langid on)")
    assert (problem.line, problem.column) == (1, 5)


def test_a_misspelt_fact_gets_suggestions():
    [problem] = check_condition('source.sttus == "x"', "admission")
    assert problem.message.startswith("unknown fact 'source.sttus'; did you mean ")
    assert "source.status" in problem.message


def test_problems_are_positioned_inside_multi_line_conditions():
    [problem] = check_condition("true &&\n  nope", "admission")
    assert problem.message.startswith("unknown name 'nope'")
    assert (problem.line, problem.column) == (2, 3)


def test_checking_and_the_environment_refuse_an_unknown_stage():
    with pytest.raises(UnknownName, match="unknown stage 'qualiti'"):
        check_condition("true", "qualiti")
    with pytest.raises(UnknownName, match="unknown stage 'qualiti'"):
        condition_env("qualiti")


def test_the_environment_checks_what_the_stage_sees():
    env = condition_env("quality")
    assert env.compile("attr.gopher_word_count < 50 && attr.lang == \"en\"") is not None
    with pytest.raises(RuntimeError):
        condition_env("admission").compile("attr.gopher_word_count < 50")
