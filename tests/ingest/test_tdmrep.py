import json

import pytest

from ingest.consent.tdmrep import (
    NOT_DECLARED,
    TdmDecision,
    TdmRepError,
    TdmRule,
    declared_tdm,
    parse_tdmrep_json,
    resolve_tdm,
    tdm_for_url,
)
from ingest.types import ConsentSignal

POLICY = "https://example.com/policies/tdm.json"
FILE = json.dumps([
    {"location": "/open/*", "tdm-reservation": 0},
    {"location": "/articles/*.pdf$", "tdm-reservation": 1, "tdm-policy": POLICY},
    {"location": "/articles/", "tdm-reservation": 0},
    {"location": "/", "tdm-reservation": 1},
])


def header(value: str, kind: str = "tdm-reservation-header") -> ConsentSignal:
    return ConsentSignal(kind, value, "http-header")


def meta(value: str, kind: str = "tdm-reservation-meta") -> ConsentSignal:
    return ConsentSignal(kind, value, "html")


def test_parse_keeps_file_order_and_fields():
    rules = parse_tdmrep_json(FILE)
    assert rules[1] == TdmRule("/articles/*.pdf$", True, POLICY, 1)
    assert [r.location for r in rules] == ["/open/*", "/articles/*.pdf$", "/articles/", "/"]
    assert parse_tdmrep_json("[]") == []
    assert parse_tdmrep_json('\ufeff[{"location": "/", "tdm-reservation": 0}]')[0].reserved is False


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "not JSON"),
    ('{"location": "/"}', "expected an array"),
    ('["/"]', "rule 0: expected an object"),
    ('[{"tdm-reservation": 1}]', "'location' must be"),
    ('[{"location": "/", "tdm-reservation": 2}]', "must be 0 or 1, got 2"),
    ('[{"location": "/", "tdm-reservation": "1"}]', "must be 0 or 1"),
    ('[{"location": "/", "tdm-reservation": true}]', "must be 0 or 1"),
    ('[{"location": "/", "tdm-reservation": 1}, {"location": "/a"}]', "rule 1"),
    ('[{"location": "/", "tdm-reservation": 1, "tdm-policy": 5}]', "'tdm-policy'"),
])
def test_malformed_file_raises_typed_error(text, message):
    with pytest.raises(TdmRepError, match=message) as info:
        parse_tdmrep_json(text, name="https://example.com/.well-known/tdmrep.json")
    assert str(info.value).startswith("https://example.com/.well-known/tdmrep.json: ")
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(("url", "reserved", "location"), [
    ("https://example.com/open/book.html", False, "/open/*"),
    # the pdf rule comes before "/articles/" in the file, so it decides although shorter
    ("https://example.com/articles/2024/paper.pdf", True, "/articles/*.pdf$"),
    ("https://example.com/articles/2024/paper.pdf?dl=1", False, "/articles/"),
    ("https://example.com/articles/2024/page.html", False, "/articles/"),
    ("https://example.com/about", True, "/"),
])
def test_first_matching_location_wins(url, reserved, location):
    decision = tdm_for_url(parse_tdmrep_json(FILE), url)
    assert decision is not None
    assert (decision.reserved, decision.location, decision.source) == (
        reserved, location, "tdmrep.json")


def test_first_in_sequence_not_longest():
    rules = parse_tdmrep_json(json.dumps([
        {"location": "/", "tdm-reservation": 1},
        {"location": "/free/", "tdm-reservation": 0},
    ]))
    assert tdm_for_url(rules, "/free/x").reserved is True


def test_location_matching_details():
    rules = parse_tdmrep_json(json.dumps([
        {"location": "/News/", "tdm-reservation": 1},
        {"location": "https://example.com/blog/", "tdm-reservation": 1},
        {"location": "/caf%C3%A9/", "tdm-reservation": 1},
    ]))
    assert tdm_for_url(rules, "/news/a") is None  # case-sensitive
    assert tdm_for_url(rules, "/blog/post").location == "https://example.com/blog/"
    assert tdm_for_url(rules, "/café/menu").location == "/caf%C3%A9/"
    assert tdm_for_url(rules, "/other") is None


def test_header_and_meta_declarations():
    assert declared_tdm([header("1"), header(POLICY, "tdm-policy-header")], "http-header") == (
        TdmDecision(True, POLICY, "http-header"))
    assert declared_tdm([header("yes")], "http-header") is None
    assert declared_tdm([header("0"), header(" 1 ")], "http-header").reserved is True
    # a meta signal is not a header signal
    assert declared_tdm([meta("1")], "http-header") is None


def test_precedence_file_then_header_then_meta():
    rules = parse_tdmrep_json(FILE)
    url = "https://example.com/about"  # the file reserves it
    assert resolve_tdm(file_rules=rules, header_signals=[], meta_signals=[], url=url) == (
        TdmDecision(True, None, "tdmrep.json", "/"))
    by_header = resolve_tdm(file_rules=rules, header_signals=[header("0")], meta_signals=[],
                            url=url)
    assert by_header == TdmDecision(False, None, "http-header")
    by_meta = resolve_tdm(file_rules=rules, header_signals=[header("0")],
                          meta_signals=[meta("1"), meta(POLICY, "tdm-policy-meta")], url=url)
    assert by_meta == TdmDecision(True, POLICY, "html-meta")
    # an invalid meta value does not override the header
    assert resolve_tdm(file_rules=rules, header_signals=[header("0")],
                       meta_signals=[meta("reserved")], url=url).source == "http-header"


def test_policy_is_not_borrowed_from_a_lower_source():
    decision = resolve_tdm(file_rules=None, header_signals=[header("1"), header(
        POLICY, "tdm-policy-header")], meta_signals=[meta("1")], url="/x")
    assert decision == TdmDecision(True, None, "html-meta")


def test_nothing_declared():
    assert resolve_tdm(file_rules=None, header_signals=[], meta_signals=[], url="/x") == (
        NOT_DECLARED)
    rules = parse_tdmrep_json('[{"location": "/private/", "tdm-reservation": 1}]')
    assert resolve_tdm(file_rules=rules, header_signals=[], meta_signals=[], url="/x") == (
        NOT_DECLARED)
