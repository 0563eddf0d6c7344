import gzip
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest import registry
from ingest.connectors.reddit import RedditOptions, read
from ingest.types import Item, Quarantined, RawDocument, Skipped

SUBMISSION = {
    "id": "abc12",
    "name": "t3_abc12",
    "title": "What is a monad?",
    "selftext": "Asking for a friend.",
    "subreddit": "haskell",
    "score": 42,
    "author": "some_user",
    "created_utc": 1546300800,
    "permalink": "/r/haskell/comments/abc12/what_is_a_monad/",
    "is_self": True,
    "url": "https://www.reddit.com/r/haskell/comments/abc12/what_is_a_monad/",
    "over_18": False,
}
COMMENT = {
    "id": "c1",
    "body": "A monoid in the category of endofunctors.",
    "subreddit": "haskell",
    "score": 7,
    "author": "other_user",
    "created_utc": "1546304400",
    "link_id": "t3_abc12",
    "parent_id": "t3_abc12",
}


def _lines(*objs: object) -> bytes:
    return b"".join((o if isinstance(o, bytes) else json.dumps(o).encode()) + b"\n" for o in objs)


def _items(path: Path, **options: object) -> list[Item]:
    return list(read(path, RedditOptions(**options)))  # type: ignore[arg-type]


def test_submissions_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "RS_2019-01.jsonl"
    path.write_bytes(_lines(SUBMISSION, COMMENT))
    sub, com = _items(path)
    assert isinstance(sub, RawDocument) and isinstance(com, RawDocument)
    assert sub.native_id == "t3_abc12"
    assert sub.text == "What is a monad?\n\nAsking for a friend."
    assert sub.title == "What is a monad?"
    assert sub.url == "https://www.reddit.com/r/haskell/comments/abc12/what_is_a_monad/"
    assert sub.host == "www.reddit.com"
    assert sub.created_at == datetime(2019, 1, 1, tzinfo=UTC)
    assert sub.metadata["subreddit"] == "haskell"
    assert sub.metadata["score"] == 42
    assert sub.metadata["kind"] == "submission"
    assert sub.metadata["permalink"] == SUBMISSION["permalink"]

    assert com.native_id == "t1_c1"
    assert com.text == COMMENT["body"]
    assert com.title is None
    assert com.created_at == datetime(2019, 1, 1, 1, tzinfo=UTC)
    assert com.url == "https://www.reddit.com/r/haskell/comments/abc12/_/c1/"
    assert com.metadata["link_id"] == "t3_abc12"
    assert com.metadata["parent_id"] == "t3_abc12"
    for doc in (sub, com):
        assert "author" not in doc.metadata and "author_hash" not in doc.metadata
        assert "some_user" not in repr(doc) and "other_user" not in repr(doc)


def test_author_kept_only_as_keyed_hash(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(_lines(COMMENT))
    [doc] = _items(path, author_hash_key="k3y")
    assert isinstance(doc, RawDocument)
    expected = hmac.new(b"k3y", b"other_user", hashlib.sha256).hexdigest()
    assert doc.metadata["author_hash"] == expected
    assert "other_user" not in repr(doc)


def test_deleted_and_removed_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(
        _lines(
            {**COMMENT, "id": "d1", "body": "[deleted]"},
            {**SUBMISSION, "id": "r1", "selftext": "[removed]"},
            {**COMMENT, "id": "ok", "author": "[deleted]"},  # the text is still there
        )
    )
    items = _items(path)
    assert [(i.reason, i.location) for i in items if isinstance(i, Skipped)] == [
        ("deleted", "line 1 (t1_d1)"),
        ("removed", "line 2 (t3_r1)"),
    ]
    assert isinstance(items[2], RawDocument) and items[2].native_id == "t1_ok"


def test_bad_lines_are_quarantined_and_reading_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(
        _lines(
            b'{"id": "x", "body": ',  # bad JSON
            b'{"id": "y", "body": "caf\xe9"}',  # latin-1 byte: invalid UTF-8
            {"body": "no id"},
            {"id": "z", "other": 1},
            {**COMMENT, "id": "t", "created_utc": "not a time"},
            [1, 2],
            {**COMMENT, "id": "long", "body": "x" * 5000},
            COMMENT,
        )
    )
    items = _items(path, max_line_bytes=1000)
    assert [(i.reason, i.location) for i in items if isinstance(i, Quarantined)] == [
        ("bad-json", "line 1"),
        ("invalid-utf8", "line 2"),
        ("missing-id", "line 3"),
        ("unknown-record", "line 4"),
        ("bad-date", "line 5"),
        ("not-an-object", "line 6"),
        ("line-too-long", "line 7"),
    ]
    assert isinstance(items[-1], RawDocument) and items[-1].native_id == "t1_c1"


def test_gzip_truncated(tmp_path: Path) -> None:
    path = tmp_path / "RC.jsonl.gz"
    payload = _lines(*({**COMMENT, "id": f"c{i}"} for i in range(200)))
    path.write_bytes(gzip.compress(payload)[:-200])
    items = _items(path)
    docs = [i for i in items if isinstance(i, RawDocument)]
    assert 0 < len(docs) < 200
    assert [d.native_id for d in docs] == [f"t1_c{i}" for i in range(len(docs))]
    last = items[-1]
    assert isinstance(last, Quarantined)
    assert last.reason == "truncated-compressed"
    assert last.location == f"line {len(docs) + 1}"


def test_zstd_pushshift_dump(tmp_path: Path) -> None:
    zstandard = pytest.importorskip("zstandard")
    path = tmp_path / "RS_2019-01.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(_lines(SUBMISSION, COMMENT)))
    assert [i.native_id for i in _items(path) if isinstance(i, RawDocument)] == [
        "t3_abc12",
        "t1_c1",
    ]


def test_folder_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b.jsonl").write_bytes(_lines(COMMENT))
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(_lines(SUBMISSION)))
    (tmp_path / "notes.md").write_text("hello")
    items = _items(tmp_path)
    assert [getattr(i, "native_id", None) or i.reason for i in items] == [  # type: ignore[union-attr]
        "t3_abc12",
        "t1_c1",
        "unsupported-file",
    ]


def test_registered() -> None:
    connector = registry.get("reddit_v1")
    assert connector.kinds == ("forum",)
    assert connector.parse_options({"max-line-bytes": "100"}).max_line_bytes == 100


def test_links_out_of_a_dump_folder_are_quarantined_not_read(tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "RC_x.jsonl").write_bytes(json.dumps(COMMENT).encode() + b"\n")
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    (dumps / "RS_a.jsonl").write_bytes(json.dumps(SUBMISSION).encode() + b"\n")
    (dumps / "RC_b.jsonl").symlink_to("../outside/RC_x.jsonl")
    items = list(read(dumps, RedditOptions()))
    assert [type(i).__name__ for i in items] == ["Quarantined", "RawDocument"]
    assert items[0].reason == "path-escape" and items[1].native_id == "t3_abc12"
    assert (items[1].file, items[1].location) == (str(dumps / "RS_a.jsonl"), "line 1")


def test_an_author_name_that_is_not_unicode_is_hashed_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "RC.jsonl"
    path.write_bytes(json.dumps({**COMMENT, "author": "bad\ud800"}).encode() + b"\n")
    [doc] = read(path, RedditOptions(author_hash_key="k"))
    assert isinstance(doc, RawDocument) and len(doc.metadata["author_hash"]) == 64
