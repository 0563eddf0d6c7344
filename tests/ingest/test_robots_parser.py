import pytest
from resiliparse.parse.encoding import bytes_to_str

from ingest.consent.robots import parse_robots
from ingest.consent.robots_parser import (
    InvalidAgentError,
    parse_content_signal,
    parse_lines,
    product_token,
)
from tests.ingest.test_robots import SITE


def test_groups_sitemaps_and_ignored_lines():
    robots = parse_lines("Disallow: /early\n" + SITE + "Crawl-delay: 4\nnonsense\n")
    assert [g.agents for g in robots.groups] == [("*",), ("GPTBot",)]
    assert [str(r) for r in robots.groups[0].rules] == ["Disallow: /private/",
                                                      "Allow: /private/open/"]
    assert [r.line for r in robots.groups[0].rules] == [4, 5]
    assert robots.groups[1].line == 7
    assert robots.sitemaps == ("https://example.com/sitemap.xml",)
    assert [(i.line, i.reason) for i in robots.ignored] == [
        (1, "rule before any user-agent line"),
        (11, "other record 'crawl-delay', not evaluated"),
        (12, "not a 'key: value' line"),
    ]


def test_crlf_and_bom():
    [group] = parse_lines("\ufeffUser-agent: *\r\nDisallow: /a\r\n").groups
    assert group.agents == ("*",) and [(str(r), r.line) for r in group.rules] == [
        ("Disallow: /a", 2)]


def test_misspelled_keys_and_colonless_lines():
    [group] = parse_lines("User agent: a\nDisalow: /x\nDisallow /y\n").groups
    assert group.agents == ("a",)
    assert [str(r) for r in group.rules] == ["Disallow: /x", "Disallow: /y"]


def test_other_records_neither_start_nor_end_a_group():
    parsed = parse_lines("User-agent: a\nCrawl-delay: 5\nUser-agent: b\nDisallow: /\n")
    assert [g.agents for g in parsed.groups] == [("a", "b")]


def test_user_agent_values_that_are_not_tokens_are_ignored_with_a_reason():
    parsed = parse_lines("User-agent: GPTBot/1.0\nUser-agent: (none)\nDisallow: /\n")
    assert parsed.groups[0].agents == ("GPTBot",)
    assert [(i.line, i.reason) for i in parsed.ignored] == [
        (2, "user-agent value is not a product token")]


def test_content_signal_values_are_read_lower_cased_and_malformed_parts_skipped():
    assert parse_content_signal("Search=YES, ai-train = no, junk, =x, y=") == {
        "search": "yes", "ai-train": "no"}
    [group] = parse_lines("User-agent: *\nContent-Signal: ai-train=no\n").groups
    assert [(s.line, dict(s.values)) for s in group.content_signals] == [(2, {"ai-train": "no"})]


def test_product_token():
    assert product_token(" GPTBot ") == "GPTBot"
    assert product_token("*") == "*"
    for bad in ("GPTBot/1.0", "bad agent", "", None):
        with pytest.raises(InvalidAgentError, match="product token"):
            product_token(bad)


# A byte-order mark before the first line, whole or cut, however the bytes were decoded.
_DECODERS = {
    "utf-8-replace": lambda data: data.decode("utf-8", errors="replace"),
    "cp1252": lambda data: data.decode("cp1252", errors="replace"),
    "latin-1": lambda data: data.decode("latin-1"),
    "surrogateescape": lambda data: data.decode("utf-8", errors="surrogateescape"),
    "resiliparse": lambda data: bytes_to_str(data, "utf-8"),  # what the WARC connector does
}
_BODY = b"User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nDisallow: /private/\n"


@pytest.mark.parametrize("mark", [b"\xef\xbb\xbf", b"\xef\xbb", b"\xef"], ids=["whole", "2", "1"])
@pytest.mark.parametrize("decoder", list(_DECODERS))
def test_a_byte_order_mark_whole_or_broken_is_skipped(mark, decoder):
    text = _DECODERS[decoder](mark + _BODY)
    parsed = parse_lines(text)
    assert [(g.agents, g.line) for g in parsed.groups] == [(("GPTBot",), 1), (("*",), 4)]
    assert parsed.ignored == ()
    robots = parse_robots(text)
    assert not robots.check("https://example.com/page", "GPTBot").allowed
    assert robots.check("https://example.com/page", "CCBot").allowed
    assert not robots.check("https://example.com/private/x", "CCBot").allowed


def test_bytes_that_only_begin_a_mark_spoil_the_first_line_alone():
    # As Google's parser: EF matches the mark, 11 does not, so "\x11\xbfUser-agent..." is
    # a line of garbage and the rest of the file applies.
    text = (b"\xef\x11\xbfUser-agent: GPTBot\nDisallow: /private/\n"
            b"User-agent: *\nDisallow: /\n").decode("utf-8", errors="replace")
    parsed = parse_lines(text)
    assert [(g.agents, g.line) for g in parsed.groups] == [(("*",), 3)]
    assert [i.line for i in parsed.ignored] == [1, 2]
    assert parsed.ignored[1].reason == "rule before any user-agent line"


def test_a_mark_after_the_first_line_is_not_skipped():
    parsed = parse_lines("User-agent: a\n\ufeffDisallow: /x\nDisallow: /y\n")
    assert [str(r) for r in parsed.groups[0].rules] == ["Disallow: /y"]
    assert [(i.line, i.reason) for i in parsed.ignored] == [
        (2, "other record '\ufeffdisallow', not evaluated")]
