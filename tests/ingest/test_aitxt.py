import pytest

from ingest.consent.aitxt import AiTxtVerdict, content_types_of, parse_ai_txt

# As Spawning's generator writes it: text and images refused, code allowed, one folder open.
SPAWNING = """# Spawning AI
# Prevent datasets from using the following file types

User-Agent: *
Disallow: *.txt
Disallow: *.pdf
Disallow: *.html
Disallow: *.jpg
Allow: *.py
Allow: /press/
"""


@pytest.mark.parametrize(("url", "disallowed", "rule"), [
    ("https://example.com/notes/readme.TXT", True, "Disallow: *.txt"),
    ("https://example.com/paper.pdf?download=1", True, "Disallow: *.pdf"),
    ("https://example.com/blog/post", True, "Disallow: *.html"),  # a page is html
    ("https://example.com/index.php", True, "Disallow: *.html"),
    ("https://example.com/script.py", False, "Allow: *.py"),
    # the path rule is longer than the file-type rule, so it decides
    ("https://example.com/press/release.txt", False, "Allow: /press/"),
    ("https://example.com/data.csv", False, None),
    # a file-type rule is about the file's type, not about any path containing it
    ("https://example.com/a.txt.gz", False, None),
])
def test_spawning_file_types(url, disallowed, rule):
    verdict = parse_ai_txt(SPAWNING).check(url)
    assert (verdict.disallowed, verdict.rule) == (disallowed, rule)


def test_verdict_carries_line_and_group():
    assert parse_ai_txt(SPAWNING).check("/a.txt") == AiTxtVerdict(
        True, "Disallow: *.txt", 5, "*", "matched-rule")
    assert parse_ai_txt(SPAWNING).check("/a.csv").reason == "no-matching-rule"


def test_disallow_everything_with_exceptions():
    ai_txt = parse_ai_txt("User-Agent: *\nDisallow: /\nAllow: *.txt\n")
    assert ai_txt.check("/page").disallowed
    assert not ai_txt.check("/notes.txt").disallowed


def test_agent_groups():
    ai_txt = parse_ai_txt("User-Agent: GPTBot\nDisallow: /\n")
    assert ai_txt.check("/page", "GPTBot").disallowed
    assert ai_txt.check("/page").reason == "no-group"
    assert not ai_txt.check("/page").disallowed


@pytest.mark.parametrize("status", [404, 500, 0])
def test_missing_ai_txt_states_nothing(status):
    verdict = parse_ai_txt("User-Agent: *\nDisallow: /\n", status=status).check("/page")
    assert verdict == AiTxtVerdict(False, None, None, None, "no-ai-txt")


def test_content_types_of():
    assert content_types_of("https://e.com/") == {"html"}
    assert content_types_of("https://e.com/a/b.JSON?x=1") == {"json"}
    assert content_types_of("/x.aspx") == {"aspx", "html"}
