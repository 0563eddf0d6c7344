import json

import pytest

from ingest.consent import (
    Evidence,
    TdmDecision,
    parse_ai_txt,
    parse_robots,
    parse_tdmrep_json,
    resolve_reservation,
)
from ingest.consent.reservation import robots_directives
from ingest.types import ConsentSignal

URL = "https://news.example.com/2024/story"


def sig(kind: str, value: str, where: str = "http-header") -> ConsentSignal:
    return ConsentSignal(kind, value, where)


def evidence_for(reservation, signal: str) -> list[Evidence]:
    return [e for e in reservation.evidence if e.signal == signal]


def test_no_signals_reserves_nothing():
    res = resolve_reservation(url=URL, signals=[])
    assert (res.reserved, res.uses, res.agent_uses, res.agents_blocked) == (False, frozenset(),
                                                                             {}, {})
    assert res.tdm == TdmDecision(False, None, None)
    assert res.evidence == []


@pytest.mark.parametrize(("kind", "value", "uses", "reserved"), [
    ("meta-robots", "noai", {"ai-train", "ai-images"}, True),
    ("meta-robots", "noimageai", {"ai-images"}, False),
    ("x-robots-tag", "noai, noimageai", {"ai-train", "ai-images"}, True),
    ("x-robots-tag", "NOINDEX, nofollow", {"search"}, False),
    ("meta-robots", "none", {"search"}, False),
    ("meta-robots", "nofollow, max-snippet:20", set(), False),
])
def test_robots_directives_reserve_uses(kind, value, uses, reserved):
    res = resolve_reservation(url=URL, signals=[sig(kind, value, "html")])
    assert res.uses == uses and res.reserved is reserved
    assert len(res.evidence) == 1 and res.evidence[0].value == value


def test_agent_scoped_x_robots_tag():
    res = resolve_reservation(url=URL, signals=[
        sig("x-robots-tag", "GPTBot: noai, nofollow"),
        sig("x-robots-tag", "otherbot: noimageai"),
    ])
    assert res.uses == frozenset() and not res.reserved
    assert res.agent_uses == {"GPTBot": {"ai-train", "ai-images"}, "otherbot": {"ai-images"}}
    assert res.evidence[0].effect == (
        "reserves ai-images, ai-train for GPTBot; no reservation from nofollow")


def test_robots_directive_parsing():
    assert robots_directives("googlebot: noindex, nofollow, otherbot: noai") == [
        ("googlebot", "noindex"), ("googlebot", "nofollow"), ("otherbot", "noai")]
    assert robots_directives("unavailable_after: 2030-01-01, noai") == [
        (None, "unavailable_after: 2030-01-01"), (None, "noai")]
    assert robots_directives("*: noai") == [(None, "noai")]


def test_content_signal_header():
    res = resolve_reservation(url=URL, signals=[
        sig("content-signal", "search=yes, ai-train=no, ai-input=no, future=no")])
    assert res.uses == {"ai-train", "ai-input"} and res.reserved
    assert res.evidence[0].effect == (
        "reserves ai-input, ai-train; grants search; not evaluated: future")


def test_tdm_precedence_and_evidence():
    rules = parse_tdmrep_json(json.dumps([{"location": "/", "tdm-reservation": 0}]))
    signals = [
        sig("tdm-reservation-header", "0"),
        sig("tdm-policy-header", "https://example.com/h-policy"),
        sig("tdm-reservation-meta", "1", "html"),
        sig("tdm-policy-meta", "https://example.com/m-policy", "html"),
        sig("tdm-reservation-meta", "perhaps", "html"),
    ]
    res = resolve_reservation(url=URL, signals=signals, tdmrep_rules=rules)
    assert res.tdm == TdmDecision(True, "https://example.com/m-policy", "html-meta")
    assert res.reserved and res.uses == {"tdm"}
    assert [(e.signal, e.effect) for e in res.evidence] == [
        ("tdm-reservation-header", "overridden by html-meta"),
        ("tdm-policy-header", "not used: html-meta decides"),
        ("tdm-reservation-meta", "reserves tdm (decides)"),
        ("tdm-policy-meta", "tdm policy of the deciding source"),
        ("tdm-reservation-meta", "ignored: tdm-reservation must be 0 or 1"),
        ("tdmrep.json", "overridden by html-meta"),
    ]
    assert res.evidence[-1].where == "tdmrep.json rule 0"


def test_header_unreserves_what_the_file_reserved():
    rules = parse_tdmrep_json('[{"location": "/2024/", "tdm-reservation": 1}]')
    by_file = resolve_reservation(url=URL, signals=[], tdmrep_rules=rules)
    assert by_file.reserved and by_file.tdm.source == "tdmrep.json"
    by_header = resolve_reservation(url=URL, signals=[sig("tdm-reservation-header", "0")],
                                    tdmrep_rules=rules)
    assert not by_header.reserved and by_header.tdm.source == "http-header"


def test_tdmrep_without_matching_rule_is_still_evidence():
    rules = parse_tdmrep_json('[{"location": "/private/", "tdm-reservation": 1}]')
    res = resolve_reservation(url=URL, signals=[], tdmrep_rules=rules)
    assert not res.reserved
    assert res.evidence == [Evidence("tdmrep.json", "1 rules, none covers this URL",
                                     "tdmrep.json", "reserves nothing")]


ROBOTS = """User-agent: *
Content-Signal: search=yes, ai-train=no
Disallow: /private/

User-agent: GPTBot
User-agent: CCBot
Content-Signal: ai-input=no
Disallow: /
"""


def test_robots_blocks_and_content_signals():
    robots = parse_robots(ROBOTS)
    res = resolve_reservation(url=URL, signals=[], robots=robots,
                              agents=["GPTBot", "CCBot", "ClaudeBot", "*"])
    assert res.agents_blocked == {"GPTBot": True, "CCBot": True, "ClaudeBot": False, "*": False}
    # the catch-all group's signal speaks to everyone, the named group's to its crawlers
    assert res.uses == {"ai-train"} and res.reserved
    assert res.agent_uses == {"GPTBot": {"ai-input"}, "CCBot": {"ai-input"}}
    blocks = evidence_for(res, "robots.txt")
    assert blocks[0] == Evidence("robots.txt", "Disallow: /", "robots.txt line 8",
                                 "blocks GPTBot (matched-rule, group GPTBot)")
    assert blocks[2].effect == "allows ClaudeBot (no-matching-rule, group *)"
    signals = evidence_for(res, "robots.txt content-signal")
    assert [e.where for e in signals] == ["robots.txt line 2", "robots.txt line 7",
                                          "robots.txt line 7"]


def test_unreachable_robots_blocks_every_agent():
    res = resolve_reservation(url=URL, signals=[], robots=parse_robots("", status=503),
                              agents=["GPTBot", "*"])
    assert res.agents_blocked == {"GPTBot": True, "*": True}
    assert not res.reserved
    assert res.evidence[0] == Evidence("robots.txt", "status-5xx", "robots.txt (HTTP 503)",
                                       "blocks GPTBot (status-5xx)")


def test_ai_txt():
    ai_txt = parse_ai_txt("User-Agent: *\nDisallow: *.html\n")
    res = resolve_reservation(url=URL, signals=[], ai_txt=ai_txt)
    assert res.uses == {"ai-train"} and res.reserved
    assert res.evidence == [Evidence("ai.txt", "Disallow: *.html", "ai.txt line 2",
                                     "reserves ai-train")]
    missing = resolve_reservation(url=URL, signals=[], ai_txt=parse_ai_txt("", status=404))
    assert not missing.reserved
    assert missing.evidence[0].effect == "reserves nothing (no-ai-txt)"


def test_to_dict_is_json_and_complete():
    res = resolve_reservation(
        url=URL,
        signals=[sig("x-robots-tag", "GPTBot: noai"), sig("meta-robots", "noimageai", "html"),
                 sig("tdm-reservation-header", "1")],
        tdmrep_rules=parse_tdmrep_json('[{"location": "/", "tdm-reservation": 0}]'),
        robots=parse_robots(ROBOTS),
        ai_txt=parse_ai_txt("User-Agent: *\nAllow: /\n"),
    )
    data = json.loads(json.dumps(res.to_dict()))
    assert data["reserved"] is True and data["uses"] == ["ai-images", "ai-train", "tdm"]
    assert data["agent_uses"]["GPTBot"] == ["ai-images", "ai-input", "ai-train"]
    assert data["tdm"] == {"reserved": True, "policy": None, "source": "http-header",
                           "location": None}
    assert len(data["agents_blocked"]) == 15
    assert len(data["evidence"]) == len(res.evidence) >= 15 + 5
    assert set(data["evidence"][0]) == {"signal", "value", "where", "effect"}
