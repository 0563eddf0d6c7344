"""Attribution: a notice per document or source whose licence requires one."""

from __future__ import annotations

import csv
import io

from reports.attribution import COLUMNS, notice, render_attribution
from tests.reports.report_facts import META, make_facts

POST = {"document": "se/1", "source": "forum", "license": "CC-BY-SA-4.0",
        "title": "How long to boil an egg?", "author": "user 42",
        "author_url": "https://cooking.stackexchange.com/users/42",
        "site": "cooking.stackexchange.com", "url": "https://cooking.stackexchange.com/q/1"}
PAGE = {"document": "web/2", "source": "web", "license": "CC-BY-4.0", "title": None,
        "author": None, "author_url": None, "site": "news.example",
        "url": "https://news.example/a"}


def test_a_stack_exchange_post_names_its_author_and_links():
    text = notice(POST)
    assert text.startswith('"How long to boil an egg?" by user 42 '
                           "(https://cooking.stackexchange.com/users/42)")
    assert "https://cooking.stackexchange.com/q/1" in text
    assert text.endswith("CC-BY-SA-4.0 (https://creativecommons.org/licenses/by-sa/4.0/)")


def test_without_an_author_the_site_is_credited():
    assert notice(PAGE).startswith("By news.example, https://news.example/a, CC-BY-4.0")


def test_csv_lists_sources_then_documents():
    facts = make_facts()
    out = render_attribution(facts, META, [POST, PAGE], date="2025-07-01", fmt="csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert tuple(rows[0]) == COLUMNS
    levels = [(r["level"], r["source"]) for r in rows]
    assert levels == [("source", s) for s in facts["attribution"]["sources"]] + [
        ("document", "forum"), ("document", "web")]
    assert rows[0]["license"] == "CC-BY-SA-4.0" and rows[0]["author"] == "forum steward"
    assert rows[1]["author_url"] == POST["author_url"] and rows[1]["notice"] == notice(POST)
    assert out == render_attribution(facts, META, [POST, PAGE], date="2025-07-01", fmt="csv")


def test_markdown_groups_by_licence():
    md = render_attribution(make_facts(), META, [POST, PAGE], date="2025-07-01", fmt="md")
    assert "## CC-BY-4.0 (1 documents)" in md and "## CC-BY-SA-4.0 (1 documents)" in md
    assert md.index("## CC-BY-4.0") < md.index("## CC-BY-SA-4.0")
    assert "`se/1`" in md and "## Sources" in md
    none = render_attribution(make_facts(), META, [], date="2025-07-01", fmt="md")
    assert "No released document is under a licence that requires attribution." in none
