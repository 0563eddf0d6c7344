"""robots.txt evaluation against RFC 9309's rules and examples, then our own API.

The RFC table below was written before the engine and run against Protego first; the cases
Protego gets wrong are pinned in `PROTEGO_GAPS` (see ingest/consent/robots.py).
"""

import random

import pytest
from protego import Protego

from ingest.consent import DEFAULT_AI_AGENTS
from ingest.consent.robots import (
    AgentVerdict,
    InvalidAgentError,
    RobotsVerdict,
    evaluate_agents,
    parse_robots,
    stricter,
)

RFC_5_1 = """User-Agent: *
Disallow: *.gif$
Disallow: /example/
Allow: /publications/

User-Agent: foobot
Disallow:/
Allow:/example/page.html
Allow:/example/allowed.gif

User-Agent: barbot
User-Agent: bazbot
Disallow: /example/page.html

User-Agent: quxbot
"""
FIG2 = ("user-agent: ExampleBot\ndisallow: /foo\ndisallow: /bar\n\n"
        "user-agent: ExampleBot\ndisallow: /baz\n")
FIG3 = "user-agent: *\ndisallow: /foo\ndisallow: /bar\n\nuser-agent: BazBot\ndisallow: /baz\n"
STAR = "User-agent: *\n"

# (case id — RFC 9309 section, robots.txt, agent, path, allowed?)
RFC_CASES = [
    ("2.2.1-case-insensitive", "User-agent: FooBot\nDisallow: /\n", "foobot", "/x", False),
    ("2.2.1-merge-foo", FIG2, "ExampleBot", "/foo", False),
    ("2.2.1-merge-baz", FIG2, "ExampleBot", "/baz", False),
    ("2.2.1-star-fallback", FIG3, "ExampleBot", "/foo", False),
    ("2.2.1-star-fallback-other", FIG3, "ExampleBot", "/baz", True),
    ("2.2.1-no-group", "User-agent: BazBot\nDisallow: /\n", "ExampleBot", "/x", True),
    ("2.2.1-exact-token", "User-agent: Google\nDisallow: /\n", "Google-Extended", "/x", True),
    ("2.2.1-token-not-suffix", "User-agent: Bot\nDisallow: /\n", "ClaudeBot", "/x", True),
    ("2.2.4-sitemap-keeps-group",
     "User-agent: a\nSitemap: https://e.com/s.xml\nUser-agent: b\nDisallow: /\n", "a", "/x", False),
    ("2.2.4-other-record-keeps-agents",
     "User-agent: a\nCrawl-delay: 5\nUser-agent: b\nDisallow: /\n", "a", "/x", False),
    ("2.2.2-rule-before-group", "Disallow: /\nUser-agent: a\nAllow: /x\n", "b", "/y", True),
    ("5.2-longest", "User-Agent: foobot\nAllow: /example/page/\n"
     "Disallow: /example/page/disallowed.gif\n", "foobot", "/example/page/disallowed.gif", False),
    ("5.2-longest-other", "User-Agent: foobot\nAllow: /example/page/\n"
     "Disallow: /example/page/disallowed.gif\n", "foobot", "/example/page/other", True),
    ("2.2.2-longest-order-free", "User-Agent: foobot\nDisallow: /example/page/disallowed.gif\n"
     "Allow: /example/page/\n", "foobot", "/example/page/disallowed.gif", False),
    ("2.2.2-allow-wins-tie", STAR + "Disallow: /x\nAllow: /x\n", "a", "/x/y", True),
    ("2.2.2-allow-wins-tie-wildcard", STAR + "Disallow: /*.php\nAllow: /a*php\n", "a", "/a.php",
     True),
    ("2.2.2-case-sensitive", STAR + "Disallow: /X/\n", "a", "/x/y", True),
    ("2.2.2-empty-disallow", STAR + "Disallow:\n", "a", "/x", True),
    ("2.2.2-robots-txt", STAR + "Disallow: /\n", "a", "/robots.txt", True),
    ("2.2.2-pct-query-raw-rule", STAR + "Disallow: /foo/bar?baz=https://foo.bar\n", "a",
     "/foo/bar?baz=https%3A%2F%2Ffoo.bar", False),
    ("2.2.2-pct-query-enc-rule", STAR + "Disallow: /foo/bar?baz=https%3A%2F%2Ffoo.bar\n", "a",
     "/foo/bar?baz=https://foo.bar", False),
    ("2.2.2-pct-utf8-rule", STAR + "Disallow: /foo/bar/\u30c4\n", "a", "/foo/bar/%E3%83%84", False),
    ("2.2.2-pct-utf8-url", STAR + "Disallow: /foo/bar/%E3%83%84\n", "a", "/foo/bar/\u30c4", False),
    ("2.2.2-pct-hex-case", STAR + "Disallow: /foo/bar/%e3%83%84\n", "a", "/foo/bar/%E3%83%84",
     False),
    ("2.2.2-pct-unreserved-rule", STAR + "Disallow: /foo/bar/%62%61%7A\n", "a", "/foo/bar/baz",
     False),
    ("2.2.2-pct-unreserved-url", STAR + "Disallow: /foo/bar/baz\n", "a", "/foo/bar/%62%61%7A",
     False),
    ("2.2.2-pct-reserved-kept", STAR + "Disallow: /a%2Fb\n", "a", "/a/b", True),
    # "?" starts the query unescaped (Figure 4), so it counts one octet: 8 beats 7
    ("2.2.2-query-mark-one-octet", STAR + "Allow: /tag/api\nDisallow: /tag/*?\n", "a",
     "/tag/api?page=2", True),
    ("2.2.3-dollar", STAR + "Disallow: /this/path/exactly$\n", "a", "/this/path/exactly", False),
    ("2.2.3-dollar-longer", STAR + "Disallow: /this/path/exactly$\n", "a",
     "/this/path/exactly/more", True),
    ("2.2.3-dollar-only-at-end", STAR + "Disallow: /foo-$\n", "a", "/foo-$bar", True),
    ("2.2.3-star", STAR + "Disallow: /this/*/exactly\n", "a", "/this/a/b/exactly", False),
    ("2.2.3-star-no", STAR + "Disallow: /this/*/exactly\n", "a", "/that/a/exactly", True),
    ("2.2.3-pct-star", STAR + "Disallow: /path/file-with-a-%2A.html\n", "a",
     "/path/file-with-a-*.html", False),
    ("2.2.3-pct-star-literal", STAR + "Disallow: /path/file-with-a-%2A.html\n", "a",
     "/path/file-with-a-x.html", True),
    ("2.2.3-pct-dollar", STAR + "Disallow: /path/foo-%24\n", "a", "/path/foo-$", False),
    ("5.1-star-gif", RFC_5_1, "otherbot", "/x/y.gif", False),
    ("5.1-star-gif-query", RFC_5_1, "otherbot", "/x/y.gif?z", True),
    ("5.1-star-example", RFC_5_1, "otherbot", "/example/a", False),
    ("5.1-star-publications-gif", RFC_5_1, "otherbot", "/publications/a.gif", True),
    ("5.1-foobot-page", RFC_5_1, "foobot", "/example/page.html", True),
    ("5.1-foobot-gif", RFC_5_1, "foobot", "/example/allowed.gif", True),
    ("5.1-foobot-other", RFC_5_1, "foobot", "/example/other", False),
    ("5.1-foobot-root", RFC_5_1, "foobot", "/", False),
    ("5.1-barbot", RFC_5_1, "barbot", "/example/page.html", False),
    ("5.1-bazbot", RFC_5_1, "bazbot", "/example/page.html", False),
    ("5.1-bazbot-other", RFC_5_1, "bazbot", "/x.gif", True),
    ("5.1-quxbot-empty-group", RFC_5_1, "quxbot", "/example/x.gif", True),
    ("2.2.2-index-html-not-special", STAR + "Disallow: /x/\nAllow: /x/index.html\n", "a", "/x/",
     False),
]

# Where Protego 0.7.0 answers differently from RFC 9309 (documented in robots.py).
PROTEGO_GAPS = {
    "2.2.1-exact-token",
    "2.2.4-other-record-keeps-agents",
    "2.2.2-pct-query-raw-rule",
    "2.2.2-pct-query-enc-rule",
    "2.2.2-query-mark-one-octet",
    "2.2.3-dollar-only-at-end",
    "2.2.2-index-html-not-special",
}


@pytest.mark.parametrize(("text", "agent", "path", "allowed"),
                         [c[1:] for c in RFC_CASES], ids=[c[0] for c in RFC_CASES])
def test_rfc9309_case(text, agent, path, allowed):
    assert parse_robots(text).check("https://example.com" + path, agent).allowed is allowed


def test_protego_gaps():
    wrong = {
        case_id for case_id, text, agent, path, allowed in RFC_CASES
        if Protego.parse(text).can_fetch("https://example.com" + path, agent) is not allowed
    }
    assert wrong == PROTEGO_GAPS


def test_agrees_with_protego_outside_its_gaps():
    """Random files built from features both engines implement alike must agree."""
    rng = random.Random(9309)
    agents = ["alphabot", "betacrawler", "gammaspider"]
    segments = ["a", "b", "ab", "c.gif", "d.html", "e"]
    for _ in range(300):
        lines = []
        for _ in range(rng.randint(1, 3)):
            lines += [f"User-agent: {a}" for a in rng.sample(agents + ["*"], rng.randint(1, 2))]
            for _ in range(rng.randint(0, 4)):
                path = "/" + "/".join(rng.choices(segments, k=rng.randint(0, 2)))
                if rng.random() < 0.3:
                    path = path.replace("/", "/*", 1)
                if rng.random() < 0.2:
                    path += "$"
                lines.append(f"{rng.choice(['Allow', 'Disallow'])}: {path}")
        text = "\n".join(lines) + "\n"
        ours, theirs = parse_robots(text), Protego.parse(text)
        for _ in range(5):
            url = "https://example.com/" + "/".join(rng.choices(segments, k=rng.randint(0, 3)))
            agent = rng.choice(agents + ["otherbot"])
            assert ours.check(url, agent).allowed == theirs.can_fetch(url, agent), (text, url)


# --- the verdict says which rule decided ----------------------------------------------------

SITE = """# a comment line
User-agent: *
Disallow: /private/
Allow: /private/open/

User-agent: GPTBot
Disallow: /

Sitemap: https://example.com/sitemap.xml
"""


def test_verdict_names_rule_line_and_group():
    robots = parse_robots(SITE)
    assert robots.check("https://example.com/private/x", "CCBot") == RobotsVerdict(
        False, "Disallow: /private/", 3, "*", "matched-rule")
    assert robots.check("/private/open/y", "CCBot") == RobotsVerdict(
        True, "Allow: /private/open/", 4, "*", "matched-rule")
    assert robots.check("/public", "CCBot") == RobotsVerdict(
        True, None, None, "*", "no-matching-rule")
    # the group is named as the file spells it, whatever case the caller used
    assert robots.check("/public", "gptbot") == RobotsVerdict(
        False, "Disallow: /", 7, "GPTBot", "matched-rule")


def test_no_group_reason():
    robots = parse_robots("User-agent: GPTBot\nDisallow: /\n")
    assert robots.check("/x", "CCBot") == RobotsVerdict(True, None, None, None, "no-group")
    assert parse_robots("").check("/x", "CCBot").reason == "no-group"


def test_merged_groups_report_the_line_of_the_deciding_rule():
    robots = parse_robots(FIG2)
    verdict = robots.check("/baz/1", "examplebot")
    assert (verdict.rule, verdict.line, verdict.group) == ("Disallow: /baz", 6, "ExampleBot")


@pytest.mark.parametrize(("status", "allowed", "reason"), [
    (404, True, "status-4xx"),
    (401, True, "status-4xx"),
    (301, True, "status-3xx"),
    (500, False, "status-5xx"),
    (503, False, "status-5xx"),
    (0, False, "unreachable"),
])
def test_http_status(status, allowed, reason):
    # an error page's body is not read as rules, whatever it says
    robots = parse_robots("User-agent: *\nAllow: /\n", status=status)
    assert robots.check("/page", "GPTBot") == RobotsVerdict(allowed, None, None, None, reason)
    assert robots.groups == []


def test_robots_txt_always_allowed_even_when_unreachable():
    robots = parse_robots("", status=503)
    assert robots.check("https://example.com/robots.txt", "GPTBot").reason == (
        "robots.txt-always-allowed")
    assert robots.check("https://example.com/robots.txt", "GPTBot").allowed


def test_agent_must_be_a_product_token():
    robots = parse_robots(SITE)
    with pytest.raises(InvalidAgentError, match="product token"):
        robots.check("/x", "Mozilla/5.0 (compatible; GPTBot/1.0)")
    with pytest.raises(InvalidAgentError):
        parse_robots("", status=500).check("/x", "bad agent")


def test_user_agent_value_keeps_leading_token():
    robots = parse_robots("User-agent: GPTBot/1.0\nDisallow: /\n")
    assert robots.groups[0].agents == ("GPTBot",)
    assert not robots.check("/x", "GPTBot").allowed


def test_misspelled_keys_and_colonless_lines_read_as_crawlers_do():
    robots = parse_robots("User agent: a\nDisalow: /x\nDisallow /y\n")
    assert not robots.check("/x", "a").allowed
    assert not robots.check("/y", "a").allowed


def test_wildcards_do_not_backtrack_exponentially():
    robots = parse_robots("User-agent: *\nDisallow: /*a*a*a*a*a*a*a*a*a*a*b\n")
    assert robots.check("/" + "a" * 5000, "x").allowed


# --- block levels ----------------------------------------------------------------------------

@pytest.mark.parametrize(("rules", "level"), [
    ("Disallow: /\n", "all"),
    ("Disallow: /*\n", "all"),
    ("Disallow: /\nAllow: /robots.txt\n", "all"),
    ("Disallow: /\nAllow: /$\n", "some"),
    ("Disallow: /\nAllow: /public/\n", "some"),
    ("Disallow: /private/\n", "some"),
    ("Disallow: /\nAllow: /\n", "none"),
    ("Disallow:\n", "none"),
    ("Allow: /\n", "none"),
])
def test_agent_block(rules, level):
    assert parse_robots("User-agent: GPTBot\n" + rules).agent_block("GPTBot") == level


def test_agent_block_by_status_and_group():
    assert parse_robots("", status=503).agent_block("GPTBot") == "all"
    assert parse_robots("", status=0).agent_block("GPTBot") == "all"
    assert parse_robots("User-agent: *\nDisallow: /\n", status=404).agent_block("GPTBot") == "none"
    assert parse_robots("User-agent: CCBot\nDisallow: /\n").agent_block("GPTBot") == "none"
    assert parse_robots("User-agent: *\nDisallow: /\n").agent_block("GPTBot") == "all"


def test_stricter():
    assert stricter("none", "some") and stricter("some", "all") and stricter("none", "all")
    assert not stricter("all", "some") and not stricter("some", "some")
    with pytest.raises(ValueError, match="unknown block level"):
        stricter("none", "partial")


# --- content signals ----------------------------------------------------------------------------

CLOUDFLARE = """User-Agent: *
Content-Signal: search=yes, ai-train=no
Allow: /

User-agent: GPTBot
Content-signal: ai-input=no
Content-Signal: search=no
Disallow: /

User-agent: GPTBot
Content-Signal: search=yes,ai-train=yes
"""


def test_content_signals_follow_the_group():
    robots = parse_robots(CLOUDFLARE)
    assert robots.content_signals("CCBot") == {"search": "yes", "ai-train": "no"}
    # GPTBot's two groups merge; "no" wins where they disagree
    assert robots.content_signals("GPTBot") == {"ai-input": "no", "search": "no",
                                                "ai-train": "yes"}
    assert [s.line for s in robots.content_signal_lines("GPTBot")] == [6, 7, 11]
    assert parse_robots(CLOUDFLARE, status=500).content_signals("CCBot") == {}


def test_content_signal_line_does_not_split_agents():
    robots = parse_robots("User-agent: a\nContent-Signal: ai-train=no\nUser-agent: b\n"
                          "Disallow: /\n")
    assert len(robots.groups) == 1
    assert robots.content_signals("b") == {"ai-train": "no"}
    assert not robots.check("/", "a").allowed


def test_evaluate_agents_default_list():
    robots = parse_robots(CLOUDFLARE)
    verdicts = evaluate_agents(robots)
    assert list(verdicts) == list(DEFAULT_AI_AGENTS)
    assert verdicts["GPTBot"].block == "all" and verdicts["GPTBot"].group == "GPTBot"
    assert verdicts["CCBot"] == AgentVerdict("none", {"search": "yes", "ai-train": "no"}, "*")
    assert verdicts["*"].group == "*"


def test_evaluate_agents_custom_list():
    verdicts = evaluate_agents(parse_robots("User-agent: *\nDisallow: /x\n"), ["MyBot"])
    assert verdicts == {"MyBot": AgentVerdict("some", {}, "*")}
