import tracemalloc
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pytest

from ingest import registry
from ingest.connectors.stackexchange import (
    StackExchangeOptions,
    license_for_date,
    parse_tags,
    read,
)
from ingest.textio import InputError
from ingest.types import Item, Quarantined, RawDocument, Skipped


def _row(**attrs: str) -> str:
    return "  <row " + " ".join(f'{k}="{escape(v)}"' for k, v in attrs.items()) + " />\n"


def _posts_xml(path: Path, rows: list[str], prolog: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        + prolog
        + "<posts>\n"
        + "".join(rows)
        + "</posts>\n",
        encoding="utf-8",
    )
    return path


# An answer before its question, an answer after, an orphan, a tag wiki and two bad rows.
ROWS = [
    _row(Id="3", PostTypeId="2", ParentId="1", CreationDate="2012-01-01T10:00:00.000",
         Score="2", Body="<p>Use <code>round()</code>.</p>", OwnerUserId="30"),
    _row(Id="1", PostTypeId="1", AcceptedAnswerId="3", CreationDate="2010-05-01T09:30:00.123",
         Score="10", Title="How to round?", Tags="<python><floating-point>",
         Body="<p>I have <b>1.5</b> &amp; want 2.</p><pre><code>x = 1.5\n</code></pre>",
         OwnerUserId="10", OwnerDisplayName="Jane Doe", ViewCount="99", AnswerCount="2",
         CommentCount="1", ContentLicense="CC BY-SA 2.5"),
    _row(Id="2", PostTypeId="2", ParentId="1", CreationDate="2019-02-03T04:05:06.000",
         Score="7", Body="<p>Add 0.5 and floor.</p>", OwnerUserId="20"),
    _row(Id="4", PostTypeId="2", ParentId="99", CreationDate="2019-02-03T04:05:06.000",
         Score="1", Body="<p>orphan</p>"),
    _row(Id="5", PostTypeId="5", CreationDate="2019-02-03T04:05:06.000", Body="<p>wiki</p>"),
    _row(PostTypeId="1", CreationDate="2019-02-03T04:05:06.000", Body="<p>no id</p>"),
    _row(Id="7", PostTypeId="1", CreationDate="yesterday", Title="t", Body="<p>bad date</p>"),
    _row(Id="8", PostTypeId="1", CreationDate="2020-01-01T00:00:00", Title="Second",
         Tags="|sql|joins|", Body="<p>How do joins work?</p>"),
]  # fmt: skip


def _items(path: Path, **options: str) -> list[Item]:
    return list(read(path, StackExchangeOptions(**options)))  # type: ignore[arg-type]


def test_thread_mode_groups_answers_by_score(tmp_path: Path) -> None:
    path = _posts_xml(tmp_path / "Posts.xml", ROWS)
    items = _items(path, site="stackoverflow.com")
    docs = [i for i in items if isinstance(i, RawDocument)]
    assert [d.native_id for d in docs] == ["stackoverflow.com:1", "stackoverflow.com:8"]
    thread = docs[0]
    assert thread.url == "https://stackoverflow.com/q/1"
    assert thread.host == "stackoverflow.com"
    assert thread.title == "How to round?"
    assert thread.created_at == datetime(2010, 5, 1, 9, 30, 0, 123000, tzinfo=UTC)
    assert thread.text == (
        "How to round?\n\nI have 1.5 & want 2.\n\nx = 1.5\n\nAdd 0.5 and floor.\n\nUse round()."
    )
    meta = thread.metadata
    assert meta["post_type"] == "thread"
    assert meta["tags"] == ["python", "floating-point"]
    assert meta["score"] == 10
    assert meta["accepted_answer_id"] == 3
    assert meta["owner_user_id"] == 10
    assert "Jane Doe" not in repr(meta)
    assert (meta["view_count"], meta["answer_count"], meta["comment_count"]) == (99, 2, 1)
    assert [(a["id"], a["score"], a["accepted"]) for a in meta["answers"]] == [
        (2, 7, False),
        (3, 2, True),
    ]
    by_date = {f.expression: f for f in thread.licenses if f.detector == "stackexchange-date"}
    assert by_date["CC-BY-SA-2.5"].extra["post_ids"] == [1]
    assert by_date["CC-BY-SA-3.0"].extra["post_ids"] == [3]
    assert by_date["CC-BY-SA-4.0"].extra["post_ids"] == [2]
    [stated] = [f for f in thread.licenses if f.detector == "source-dump"]
    assert (stated.expression, stated.raw) == ("CC-BY-SA-2.5", "CC BY-SA 2.5")
    assert docs[1].metadata["tags"] == ["sql", "joins"]

    skipped = [(i.reason, i.location) for i in items if isinstance(i, Skipped)]
    assert ("post-type-5", "row 5 (Id 5)") in skipped
    assert ("orphan-answer", "row 4 (Id 4)") in skipped
    bad = [(i.reason, i.location) for i in items if isinstance(i, Quarantined)]
    assert bad == [("bad-row", "row 6"), ("bad-row", "row 7")]
    assert items == _items(path, site="stackoverflow.com")  # deterministic


def test_thread_mode_date_order(tmp_path: Path) -> None:
    path = _posts_xml(tmp_path / "Posts.xml", ROWS)
    docs = [
        i for i in _items(path, site="so.com", answer_order="date") if isinstance(i, RawDocument)
    ]
    assert [a["id"] for a in docs[0].metadata["answers"]] == [3, 2]
    assert docs[0].text.endswith("Use round().\n\nAdd 0.5 and floor.")


def test_post_mode(tmp_path: Path) -> None:
    path = _posts_xml(tmp_path / "Posts.xml", ROWS)
    items = _items(path, site="stackoverflow.com", mode="post")
    docs = {d.native_id: d for d in items if isinstance(d, RawDocument)}
    assert list(docs) == [
        "stackoverflow.com:3",
        "stackoverflow.com:1",
        "stackoverflow.com:2",
        "stackoverflow.com:4",  # an orphan answer is still a post
        "stackoverflow.com:8",
    ]
    answer = docs["stackoverflow.com:3"]
    assert answer.url == "https://stackoverflow.com/a/3"
    assert answer.metadata["post_type"] == "answer"
    assert answer.metadata["parent_id"] == 1
    assert answer.title is None
    assert answer.text == "Use round()."
    assert [f.expression for f in answer.licenses] == ["CC-BY-SA-3.0"]
    question = docs["stackoverflow.com:1"]
    assert question.metadata["post_type"] == "question"
    assert question.text.startswith("How to round?\n\nI have 1.5")


def test_licence_boundaries() -> None:
    assert license_for_date(datetime(2011, 4, 7, 23, 59, 59, tzinfo=UTC)) == "CC-BY-SA-2.5"
    assert license_for_date(datetime(2011, 4, 8, tzinfo=UTC)) == "CC-BY-SA-3.0"
    assert license_for_date(datetime(2018, 5, 1, 23, 59, 59, tzinfo=UTC)) == "CC-BY-SA-3.0"
    assert license_for_date(datetime(2018, 5, 2, tzinfo=UTC)) == "CC-BY-SA-4.0"


def test_parse_tags() -> None:
    assert parse_tags("<c#><.net>") == ["c#", ".net"]
    assert parse_tags("|c#|.net|") == ["c#", ".net"]
    assert parse_tags(None) == [] and parse_tags("") == []


BOMB = """<!DOCTYPE posts [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
"""


@pytest.mark.parametrize("mode", ["post", "thread"])
def test_xml_bomb_is_quarantined_without_expanding(tmp_path: Path, mode: str) -> None:
    rows = [_row(Id="1", PostTypeId="1", CreationDate="2020-01-01T00:00:00", Title="&lol9;"),
            _row(Id="2", PostTypeId="1", CreationDate="2020-01-01T00:00:00", Title="plain")]
    text = _posts_xml(tmp_path / "Posts.xml", rows, prolog=BOMB).read_text()
    (tmp_path / "Posts.xml").write_text(text.replace("&amp;lol9;", "&lol9;"))
    tracemalloc.start()
    try:
        items = _items(tmp_path / "Posts.xml", site="x.com", mode=mode)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The DTD is refused, the row using its entity too; the row after it is read without it.
    assert [(type(i).__name__, getattr(i, "reason", None)) for i in items] == [
        ("Quarantined", "xml-entity"), ("Quarantined", "xml-malformed"), ("RawDocument", None)]
    assert items[0].location == "prolog (line 1)"
    assert items[1].location.startswith("row 1 (line 15 ") and "undefined entity" in (
        items[1].detail)
    assert items[2].native_id == "x.com:2" and items[2].title == "plain"
    assert peak < 20 * 1024 * 1024  # expanded, lol9 alone would be 3 GB


def test_external_entity_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    prolog = f'<!DOCTYPE posts [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
    body = _row(Id="1", PostTypeId="1", CreationDate="2020-01-01T00:00:00", Title="t")
    path = tmp_path / "Posts.xml"
    path.write_text(
        f'<?xml version="1.0"?>\n{prolog}<posts>\n{body.replace("t", "&xxe;", 1)}</posts>\n'
    )
    items = _items(path, site="x.com", mode="post")
    assert [(type(i).__name__, i.reason) for i in items] == [
        ("Quarantined", "xml-entity"), ("Quarantined", "xml-malformed")]
    assert "TOP SECRET" not in repr(items)


def test_truncated_xml_keeps_what_was_read(tmp_path: Path) -> None:
    path = _posts_xml(tmp_path / "Posts.xml", ROWS)
    path.write_text(path.read_text()[:-40])
    items = _items(path, site="x.com", mode="post")
    assert isinstance(items[-1], Quarantined) and items[-1].reason == "xml-malformed"
    assert items[-1].location == "row 8 (line 11)"  # the last row, cut in its tag
    assert len([i for i in items if isinstance(i, RawDocument)]) == 4
    # Cut after a whole row, the file just lacks its end.
    path.write_text(_posts_xml(path, ROWS[:1]).read_text().removesuffix("</posts>\n"))
    items = _items(path, site="x.com", mode="post")
    assert [type(i).__name__ for i in items] == ["RawDocument", "Quarantined"]
    assert items[1].location.startswith("end of file after row 1 (line 4")


def test_site_from_folder_and_directory_input(tmp_path: Path) -> None:
    _posts_xml(tmp_path / "cooking.stackexchange.com" / "Posts.xml", ROWS)
    docs = [
        i
        for i in _items(tmp_path / "cooking.stackexchange.com", mode="post")
        if isinstance(i, RawDocument)
    ]
    assert docs[0].native_id == "cooking.stackexchange.com:3"
    _posts_xml(tmp_path / "dump" / "Posts.xml", ROWS)
    with pytest.raises(InputError, match="site="):
        _items(tmp_path / "dump")
    with pytest.raises(InputError, match="no such file"):
        _items(tmp_path / "nowhere", site="x.com")


def _peak_memory(path: Path, mode: str) -> tuple[int, int]:
    tracemalloc.start()
    try:
        options = StackExchangeOptions(site="x.com", mode=mode)  # type: ignore[arg-type]
        count = sum(1 for _ in read(path, options))
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("mode", ["post", "thread"])
def test_memory_stays_flat_over_many_rows(tmp_path: Path, mode: str) -> None:
    body = "<p>" + "word " * 200 + "</p>"
    peaks = []
    for n in (1200, 4800):
        rows = [
            _row(
                Id=str(i), PostTypeId="1", CreationDate="2020-01-01T00:00:00", Title="t", Body=body
            )
            for i in range(1, n + 1)
        ]
        path = _posts_xml(tmp_path / str(n) / "Posts.xml", rows)
        count, peak = _peak_memory(path, mode)
        assert count == n
        peaks.append(peak)
    # Four times the rows (5 MB of XML), about the same peak: rows are cleared, not kept.
    assert peaks[1] < peaks[0] * 1.5 + 256 * 1024


def test_registered() -> None:
    connector = registry.get("stackexchange_v1")
    assert connector.kinds == ("forum",)
    assert connector.parse_options({"mode": "post", "site": "a.com"}).mode == "post"
    with pytest.raises(registry.ConnectorOptionError):
        connector.parse_options({"mode": "comments"})


def _questions(n: int) -> list[str]:
    return [_row(Id=str(i), PostTypeId="1", CreationDate="2020-01-01T00:00:00",
                 Title=f"Q{i}", Body=f"<p>Body {i}</p>") for i in range(1, n + 1)]


@pytest.mark.parametrize("mode", ["post", "thread"])
def test_one_bad_character_reference_loses_one_row_not_the_rest(tmp_path: Path,
                                                                mode: str) -> None:
    rows = _questions(1000)
    rows[499] = rows[499].replace('Title="Q500"', 'Title="Q500&#x1;"')
    path = _posts_xml(tmp_path / "Posts.xml", rows)
    items = _items(path, site="x.com", mode=mode)
    docs = [i for i in items if isinstance(i, RawDocument)]
    assert [d.native_id for d in docs] == [f"x.com:{i}" for i in range(1, 1001) if i != 500]
    [bad] = [i for i in items if isinstance(i, Quarantined)]
    assert (bad.reason, bad.location) == ("xml-malformed", "row 500 (line 502 column 77)")
    assert bad.detail.startswith("reference to invalid character number")
    assert (docs[499].file, docs[499].location) == (str(path), "row 501")


def test_broken_rows_of_every_kind_are_each_quarantined(tmp_path: Path) -> None:
    rows = _questions(8)
    rows[1] = rows[1].replace('Title="Q2"', 'Title="Q2')  # quote left open: eats the next `=`
    rows[3] = rows[3].replace('" />', "")  # the tag never ends before the next row
    rows[5] = rows[5].replace("<row ", "<row <")  # a `<` inside the tag
    rows[6] = rows[6] + "  &bogus;\n"  # junk between rows: the row before it is kept
    path = _posts_xml(tmp_path / "Posts.xml", rows)
    items = _items(path, site="x.com", mode="post")
    assert [i.native_id for i in items if isinstance(i, RawDocument)] == [
        "x.com:1", "x.com:3", "x.com:5", "x.com:7", "x.com:8"]
    bad = [(i.reason, i.location.split(" (")[0]) for i in items if isinstance(i, Quarantined)]
    assert bad == [("xml-malformed", "row 2"), ("xml-malformed", "row 4"),
                   ("xml-malformed", "row 6"), ("xml-malformed", "after row 7")]
    assert items == _items(path, site="x.com", mode="post")  # deterministic, for resumes


def test_a_row_over_the_size_limit_is_quarantined_and_reading_goes_on(tmp_path: Path) -> None:
    rows = _questions(5)
    rows[2] = rows[2].replace("Body 3", "x" * 3_000_000)  # spans several read blocks
    path = _posts_xml(tmp_path / "Posts.xml", rows)
    items = _items(path, site="x.com", mode="post", max_row_bytes=1_000_000)  # type: ignore
    assert [i.native_id for i in items if isinstance(i, RawDocument)] == [
        "x.com:1", "x.com:2", "x.com:4", "x.com:5"]
    [bad] = [i for i in items if isinstance(i, Quarantined)]
    assert (bad.reason, bad.location) == ("row-too-large", "row 3")
    assert len([i for i in _items(path, site="x.com", mode="post") if isinstance(
        i, RawDocument)]) == 5
    with pytest.raises(InputError, match="max_row_bytes must be positive"):
        _items(path, site="x.com", max_row_bytes=0)  # type: ignore[arg-type]


def test_utf16_is_refused_whole_rather_than_misread(tmp_path: Path) -> None:
    path = tmp_path / "Posts.xml"
    path.write_bytes(_posts_xml(path, _questions(2)).read_text().replace(
        'encoding="utf-8"', 'encoding="utf-16"').encode("utf-16"))
    with pytest.raises(InputError, match="UTF-16/32"):
        _items(path, site="x.com")


def test_a_posts_xml_linked_out_of_the_dump_folder_is_not_read(tmp_path: Path) -> None:
    elsewhere = _posts_xml(tmp_path / "elsewhere" / "Posts.xml", _questions(3))
    dump = tmp_path / "cooking.stackexchange.com"
    dump.mkdir()
    (dump / "Posts.xml").symlink_to(elsewhere)
    items = _items(dump, mode="post")
    assert [(type(i).__name__, i.reason) for i in items] == [("Quarantined", "path-escape")]
    assert len(_items(elsewhere, site="x.com", mode="post")) == 3


def test_bad_rows_one_after_another_are_located_in_the_file(tmp_path: Path) -> None:
    rows = _questions(4)
    rows[1] = rows[1].replace('Title="Q2"', 'Title="Q2&#x1;"')
    rows[2] = rows[2].replace('Title="Q3"', 'Title="Q3&#x1;"')
    path = _posts_xml(tmp_path / "Posts.xml", rows)
    items = _items(path, site="x.com", mode="post")
    column = path.read_text().splitlines()[3].index("&#x1;")
    assert [getattr(i, "location", None) for i in items] == [
        "row 1", f"row 2 (line 4 column {column})", f"row 3 (line 5 column {column})", "row 4"]
