"""`reddit_v1`: Pushshift-style Reddit dumps, one JSON object per line.

Reads `.jsonl` / `.ndjson` / `.json`, gzip (`.gz`) and, when the optional `zstandard` package is
installed, zstd (`.zst`, as the monthly `RS_*.zst` / `RC_*.zst` dumps ship). A path may be a
file or a folder (walked in name order; other files are skipped as `unsupported-file`).

A submission (has `title`) becomes `t3_<id>` with text `title` + blank line + `selftext`; a
comment (has `body`) becomes `t1_<id>`. A submission whose `selftext`, or a comment whose
`body`, is `[deleted]` / `[removed]` is skipped with that reason: the author or a moderator
took it down. Bad lines (`bad-json`, `invalid-utf8`, `line-too-long` over `max_line_bytes`,
`not-an-object`), records without an id or of neither kind, and an unreadable `created_utc`
are quarantined by line number; a truncated or corrupt compressed file ends with one
`truncated-compressed` / `corrupt-compressed` item. A file of a folder that links out of it is
quarantined as `path-escape`, never read.

Author names are personal data and are not kept. With option `author_hash_key` set, metadata
gets `author_hash`, an HMAC-SHA256 of the name under that key (a plain hash of a user name is
reversible by trying names); without it, nothing about the author is kept.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.registry import Connector, register
from ingest.textio import (
    DEFAULT_MAX_LINE_BYTES,
    JsonRecord,
    iter_files,
    iter_json_lines,
    outside_root,
    parse_timestamp,
)
from ingest.types import Item, Quarantined, RawDocument, Skipped

HOST = "www.reddit.com"
SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz", ".gz", ".zst")
TAKEN_DOWN = {"[deleted]": "deleted", "[removed]": "removed"}
_UNNAMED_AUTHORS = frozenset({"", "[deleted]", "[removed]"})


@dataclass(frozen=True)
class RedditOptions:
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    author_hash_key: str = ""  # when set, keep an HMAC of the author name (never the name)


def read(path: Path, options: RedditOptions) -> Iterator[Item]:
    """Yield one item per line of the dump file(s) at `path`."""
    for file, supported in iter_files(path, SUFFIXES):
        if (escaped := outside_root(file, path)) is not None:
            yield escaped
            continue
        if not supported:
            yield Skipped("unsupported-file", str(file))
            continue
        for record in iter_json_lines(file, max_line_bytes=options.max_line_bytes):
            if isinstance(record, Quarantined):
                yield record
            else:
                yield to_item(record, file=str(file), options=options)


def to_item(record: JsonRecord, *, file: str, options: RedditOptions) -> Item:
    """The document (or skip/quarantine) for one decoded dump line."""
    obj = record.value
    where = f"line {record.line}"
    raw_id = obj.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or raw_id == "":
        return Quarantined("missing-id", file, where, "no 'id' field")
    post_id = str(raw_id)
    if "title" in obj:
        prefix, body_key = "t3", "selftext"
    elif "body" in obj:
        prefix, body_key = "t1", "body"
    else:
        return Quarantined("unknown-record", file, where, f"id {post_id}: neither title nor body")
    body = obj.get(body_key) or ""
    title = obj.get("title") if prefix == "t3" else None
    if not isinstance(body, str) or not isinstance(title, str | None):
        return Quarantined("bad-field", file, where, f"id {post_id}: text is not a string")
    if body.strip() in TAKEN_DOWN:
        return Skipped(TAKEN_DOWN[body.strip()], file, f"{where} ({prefix}_{post_id})")
    try:
        created_at = parse_timestamp(obj.get("created_utc"))
    except ValueError as exc:
        return Quarantined("bad-date", file, where, f"id {post_id}: created_utc: {exc}")
    text = "\n\n".join(part for part in (title, body) if part and part.strip()).strip()
    if not text:
        return Skipped("empty-text", file, f"{where} ({prefix}_{post_id})")

    metadata: dict[str, Any] = {
        "kind": "submission" if prefix == "t3" else "comment",
        "subreddit": obj.get("subreddit"),
        "score": obj.get("score"),
        "permalink": obj.get("permalink"),
        "link_id": obj.get("link_id"),
        "parent_id": obj.get("parent_id"),
    }
    if prefix == "t3":
        metadata["link_url"] = obj.get("url") if not obj.get("is_self") else None
        metadata["over_18"] = obj.get("over_18")
    author = obj.get("author")
    if options.author_hash_key and isinstance(author, str) and author not in _UNNAMED_AUTHORS:
        metadata["author_hash"] = hmac.new(
            options.author_hash_key.encode(), author.encode("utf-8", "surrogatepass"),
            hashlib.sha256,
        ).hexdigest()
    return RawDocument(
        native_id=f"{prefix}_{post_id}",
        text=text,
        url=_url(obj, prefix, post_id),
        host=HOST,
        created_at=created_at,
        title=title,
        metadata=metadata,
        file=file,
        location=where,
    )


def _url(obj: dict[str, Any], prefix: str, post_id: str) -> str | None:
    permalink = obj.get("permalink")
    if isinstance(permalink, str) and permalink.startswith("/"):
        return f"https://{HOST}{permalink}"
    subreddit, link_id = obj.get("subreddit"), obj.get("link_id")
    if prefix == "t3" and subreddit:
        return f"https://{HOST}/r/{subreddit}/comments/{post_id}/"
    if prefix == "t1" and subreddit and isinstance(link_id, str):
        return f"https://{HOST}/r/{subreddit}/comments/{link_id.removeprefix('t3_')}/_/{post_id}/"
    return None


register(
    Connector(
        name="reddit_v1",
        kinds=("forum",),
        description="Pushshift Reddit submissions/comments (JSONL, .gz, .zst); no author names",
        options_type=RedditOptions,
        read=read,
    )
)
