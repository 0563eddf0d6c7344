from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest import registry
from ingest.connectors.gutenberg import (
    COPYRIGHTED,
    GUTENBERG_LICENSE,
    PD_US,
    GutenbergOptions,
    read,
    rights_expression,
)
from ingest.types import Quarantined, RawDocument, Skipped

MODERN = """\ufeffThe Project Gutenberg eBook of Moby-Dick; or The Whale, by Herman Melville

This ebook is for the use of anyone anywhere in the United States and
most other parts of the world at no cost and with almost no restrictions
whatsoever. You may copy it, give it away or re-use it under the terms
of the Project Gutenberg License included with this ebook or online
at www.gutenberg.org. If you are not located in the United States,
you will have to check the laws of the country where you are located
before using this eBook.

Title: Moby-Dick; or The Whale
       (an abridged test edition)

Author: Herman Melville

Release date: June 25, 2008 [eBook #2701]
                Most recently updated: January 18, 2021

Language: English

Credits: Daniel Lazarus, Jonesey, and David Widger


*** START OF THE PROJECT GUTENBERG EBOOK MOBY-DICK; OR THE WHALE ***

CHAPTER 1. Loomings.

Call me Ishmael. Some years ago--never mind how long precisely.

*** END OF THE PROJECT GUTENBERG EBOOK MOBY-DICK; OR THE WHALE ***

Section 1. General Terms of Use and Redistributing Project Gutenberg-tm
electronic works
"""

LEGACY = """The Project Gutenberg EBook of Alice's Adventures in Wonderland, by Lewis Carroll

This eBook is for the use of anyone anywhere at no cost and with
almost no restrictions whatsoever.  You may copy it, give it away or
re-use it under the terms of the Project Gutenberg License included
with this eBook or online at www.gutenberg.org


Title: Alice's Adventures in Wonderland

Author: Lewis Carroll

Posting Date: June 25, 2008 [EBook #11]
Release Date: March, 1994

Language: English


    ***START OF THIS PROJECT GUTENBERG EBOOK ALICE'S ADVENTURES IN WONDERLAND***

Alice was beginning to get very tired of sitting by her sister on the
bank.

End of Project Gutenberg's Alice's Adventures in Wonderland, by Lewis Carroll

  *** end of this project gutenberg ebook alice's adventures in wonderland ***
"""


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _one(path: Path, **options: object) -> RawDocument | Skipped | Quarantined:
    [item] = list(read(path, GutenbergOptions(**options)))  # type: ignore[arg-type]
    return item  # type: ignore[return-value]


def test_modern_book_header_and_boilerplate(tmp_path: Path) -> None:
    doc = _one(_write(tmp_path / "pg2701.txt", MODERN))
    assert isinstance(doc, RawDocument)
    assert doc.native_id == "gutenberg:2701"
    assert doc.url == "https://www.gutenberg.org/ebooks/2701"
    assert doc.title == "Moby-Dick; or The Whale (an abridged test edition)"
    assert doc.language == "en"
    assert doc.created_at == datetime(2008, 6, 25, tzinfo=UTC)
    assert doc.text == (
        "CHAPTER 1. Loomings.\n\nCall me Ishmael. Some years ago--never mind how long precisely."
    )
    meta = doc.metadata
    assert meta["author"] == "Herman Melville"
    assert meta["ebook_id"] == "2701"
    assert meta["encoding"] == "utf-8-sig"
    assert meta["language_declared"] == "English"
    assert meta["boilerplate_stripped"] is True
    assert meta["rights_statement"].startswith("This ebook is for the use of anyone anywhere in")
    assert "\n" not in meta["rights_statement"]
    [finding] = doc.licenses
    assert finding.detector == "gutenberg-header"
    assert finding.expression == PD_US
    assert finding.raw == meta["rights_statement"]


def test_legacy_markers_indented_lowercase_and_end_line(tmp_path: Path) -> None:
    doc = _one(_write(tmp_path / "alice.txt", LEGACY))
    assert isinstance(doc, RawDocument)
    assert doc.native_id == "gutenberg:11"
    assert doc.created_at == datetime(1994, 3, 1, tzinfo=UTC)  # release, not posting, date
    assert doc.metadata["release_date"] == "March, 1994"
    assert doc.text.startswith("Alice was beginning")
    assert doc.text.endswith("bank.")  # "End of Project Gutenberg's ..." line stripped too
    assert doc.metadata["encoding"] == "utf-8"
    assert doc.licenses[0].expression == GUTENBERG_LICENSE


def test_start_marker_wrapped_over_two_lines(tmp_path: Path) -> None:
    text = MODERN.replace(
        "*** START OF THE PROJECT GUTENBERG EBOOK MOBY-DICK; OR THE WHALE ***",
        "*** START OF THE PROJECT GUTENBERG EBOOK MOBY-DICK; OR\nTHE WHALE ***",
    )
    doc = _one(_write(tmp_path / "b.txt", text))
    assert isinstance(doc, RawDocument)
    assert doc.text.startswith("CHAPTER 1.")


def test_cp1252_book_is_detected_and_recorded(tmp_path: Path) -> None:
    body = (
        "\u201cC\u2019est la vie,\u201d said the caf\u00e9 owner \u2014 na\u00efve, "
        "but r\u00e9sum\u00e9s \u2018aside\u2019, he smiled.\n"
    ) * 40
    text = MODERN.replace("\ufeff", "").replace("Call me Ishmael.", body)
    doc = _one(_write(tmp_path / "cp.txt", text, "cp1252"))
    assert isinstance(doc, RawDocument)
    assert doc.metadata["encoding"] == "cp1252"
    assert "\u201cC\u2019est la vie,\u201d said the caf\u00e9 owner \u2014" in doc.text


def test_latin1_book_decodes(tmp_path: Path) -> None:
    body = "Der Bär aß große Äpfel und süße Öle für König Müller. " * 40
    text = MODERN.replace("\ufeff", "").replace("Call me Ishmael.", body)
    doc = _one(_write(tmp_path / "de.txt", text, "latin-1"))
    assert isinstance(doc, RawDocument)
    assert doc.metadata["encoding"] != "utf-8"
    assert "Der Bär aß große Äpfel" in doc.text


def test_book_without_markers_is_kept_whole(tmp_path: Path) -> None:
    text = "Title: Notes\nAuthor: Someone\n\nJust a plain text with no markers.\n"
    doc = _one(_write(tmp_path / "notes.txt", text))
    assert isinstance(doc, RawDocument)
    assert doc.metadata["boilerplate_stripped"] is False
    assert doc.text == text.rstrip("\n")
    assert doc.native_id == "gutenberg:notes.txt"  # no ebook number: the file name
    assert doc.title == "Notes"
    assert doc.url is None and doc.licenses == []


def test_copyrighted_and_public_domain_statements() -> None:
    assert rights_expression("*** This is a COPYRIGHTED Project Gutenberg eBook ***") == COPYRIGHTED
    assert rights_expression("This book is in the public domain in the USA.") == PD_US
    assert rights_expression("for the use of anyone anywhere at no cost") == GUTENBERG_LICENSE


def test_undecodable_file_is_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(bytes(range(256)) * 20)
    item = _one(path)
    assert isinstance(item, Quarantined)
    assert item.reason == "undecodable"
    assert item.file == str(path)


def test_folder_is_walked_in_order_and_other_files_counted(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    _write(tmp_path / "b" / "pg2701.txt", MODERN)
    _write(tmp_path / "a.txt", LEGACY)
    (tmp_path / "cover.jpg").write_bytes(b"\xff\xd8\xff")
    _write(
        tmp_path / "empty.txt",
        MODERN.split("CHAPTER")[0] + "*** END OF THE PROJECT GUTENBERG EBOOK X",
    )
    items = list(read(tmp_path, GutenbergOptions()))
    assert [type(i).__name__ for i in items] == ["RawDocument", "RawDocument", "Skipped", "Skipped"]
    assert [i.native_id for i in items if isinstance(i, RawDocument)] == [
        "gutenberg:11",
        "gutenberg:2701",
    ]
    assert [i.reason for i in items if isinstance(i, Skipped)] == ["not-txt", "empty-text"]
    assert items == list(read(tmp_path, GutenbergOptions()))  # deterministic for resumes


def test_oversized_book_is_skipped(tmp_path: Path) -> None:
    item = _one(_write(tmp_path / "big.txt", MODERN), max_file_bytes=100)
    assert isinstance(item, Skipped) and item.reason == "oversized"


def test_registered_with_options() -> None:
    connector = registry.get("gutenberg_v1")
    assert connector.kinds == ("books",)
    assert connector.parse_options({"max-file-bytes": "10"}) == GutenbergOptions(10)
    with pytest.raises(registry.ConnectorOptionError):
        connector.parse_options({"nope": "1"})


def test_links_out_of_a_books_folder_are_quarantined_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    _write(outside / "passwd", "root:x:0:0:root:/root:/bin/bash\n")
    books = tmp_path / "books"
    (books / "b").mkdir(parents=True)
    _write(books / "pg2701.txt", MODERN)
    (books / "etc.txt").symlink_to("/etc/passwd")
    (books / "b" / "up.txt").symlink_to("../../outside/passwd")
    (books / "same.txt").symlink_to(books / "pg2701.txt")  # inside the folder: read
    items = list(read(books, GutenbergOptions()))
    assert [(type(i).__name__, getattr(i, "location", None)) for i in items] == [
        ("Quarantined", "b/up.txt"), ("Quarantined", "etc.txt"),
        ("RawDocument", "pg2701.txt"), ("RawDocument", "same.txt")]
    assert {i.reason for i in items if isinstance(i, Quarantined)} == {"path-escape"}
    assert "root:x" not in repr([i for i in items if isinstance(i, RawDocument)])
    assert items[2].file == str(books / "pg2701.txt")
