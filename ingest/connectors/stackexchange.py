"""`stackexchange_v1`: a Stack Exchange data dump's `Posts.xml`, as threads or single posts.

The file is streamed row by row (`defusedxml`'s parser, keeping only each `<row>`'s
attributes), so memory does not grow with the dump; `row N` is the Nth `<row` tag of the file.
A part the parser refuses is quarantined with its row and line, and reading resumes at the
next row, so one bad character reference loses one row, not the rest of the dump:
`xml-malformed` (a bad character or reference, a row cut short or left unclosed, the file
ending early), `xml-entity` (`defusedxml` refuses entity declarations and external references,
so an XML bomb or an XXE attempt is never expanded; the rows after the DTD are read without
it, and a row that uses its entities is quarantined), `row-too-large` (over `max_row_bytes`).
A row without a usable `Id`, `PostTypeId` or `CreationDate` is quarantined as `bad-row` and
the rest goes on; rows of other post types (tag wikis, nominations...) are skipped as
`post-type-N`. The input is UTF-8 (as the dumps are); a UTF-16/32 file is refused whole.

Modes:

- `post`: one document per question or answer, streamed in dump order.
- `thread` (default): one document per question holding its title, body and then its answers,
  ordered by score (highest first; ties by creation date, then id) or, with
  `answer_order=date`, by creation date. Answers may come before or after their question in
  the dump, so posts (converted to text) are spooled to a temporary SQLite file and read back
  grouped by question id, in question-id order: memory holds one thread at a time, the disk
  about the size of the extracted text. Answers whose question is not in the file are skipped
  as `orphan-answer`.

Licences: the licence in force at the post's creation date, as Stack Exchange relicensed its
content (detector `stackexchange-date`): CC-BY-SA-2.5 before 2011-04-08, CC-BY-SA-3.0 before
2018-05-02, CC-BY-SA-4.0 from 2018-05-02 (00:00 UTC) on. Newer dumps also state a
`ContentLicense` per post; it is kept as a second finding (detector `source-dump`). A thread
carries one finding per distinct licence among its posts, with their ids in
`extra["post_ids"]`.

Personal data: the author's display name is not kept; the numeric `OwnerUserId` is, since
CC BY-SA attribution on Stack Exchange means linking the author's profile.
"""

from __future__ import annotations

import json
import re
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from resiliparse.extract.html2text import extract_plain_text

from common.spdx import try_normalize
from ingest.code_licenses import UNPARSED
from ingest.registry import Connector, register
from ingest.textio import InputError, outside_root
from ingest.types import Item, LicenseFinding, Quarantined, RawDocument, Skipped

CC_BY_SA_3_FROM = datetime(2011, 4, 8, tzinfo=UTC)
CC_BY_SA_4_FROM = datetime(2018, 5, 2, tzinfo=UTC)
QUESTION, ANSWER = 1, 2
_SPOOL_BATCH = 1000


@dataclass(frozen=True)
class StackExchangeOptions:
    site: str = ""  # e.g. "stackoverflow.com"; default: the dump folder's name, if a domain
    mode: Literal["post", "thread"] = "thread"
    answer_order: Literal["score", "date"] = "score"
    spool_dir: str = ""  # thread mode's temporary SQLite file goes here (default: TMPDIR)
    max_row_bytes: int = 64 * 1024 * 1024  # a longer row is quarantined, not held in memory


@dataclass(slots=True)
class Post:
    """The fields of one `<row>` that a document needs, body already turned into text."""

    id: int
    post_type: int
    parent_id: int | None
    created: str  # ISO 8601, UTC
    score: int
    title: str | None
    tags: list[str]
    accepted_answer_id: int | None
    text: str
    owner_user_id: int | None
    last_edit: str | None
    content_license: str | None
    view_count: int | None
    answer_count: int | None
    comment_count: int | None
    row: int

    @property
    def created_at(self) -> datetime:
        return datetime.fromisoformat(self.created)


def license_for_date(created: datetime) -> str:
    """The CC BY-SA version Stack Exchange content created at `created` is under."""
    if created < CC_BY_SA_3_FROM:
        return "CC-BY-SA-2.5"
    if created < CC_BY_SA_4_FROM:
        return "CC-BY-SA-3.0"
    return "CC-BY-SA-4.0"


def parse_tags(raw: str | None) -> list[str]:
    """Tags from either dump form: `<a><b>` (older) or `|a|b|` (newer)."""
    if not raw:
        return []
    if raw.startswith("<"):
        return re.findall(r"<([^<>]+)>", raw)
    return [t for t in raw.split("|") if t]


def html_to_text(html: str) -> str:
    return extract_plain_text(html, main_content=False).strip() if html else ""


def read(path: Path, options: StackExchangeOptions) -> Iterator[Item]:
    """Yield documents for the `Posts.xml` at `path` (the file, or the dump folder holding it)."""
    file = path / "Posts.xml" if path.is_dir() else path
    if not file.is_file():
        raise InputError(f"{file}: no such file (stackexchange_v1 reads an extracted Posts.xml)")
    if options.max_row_bytes <= 0:
        raise InputError(f"max_row_bytes must be positive, got {options.max_row_bytes}")
    if (escaped := outside_root(file, path)) is not None:
        yield escaped
        return
    with file.open("rb") as head:
        start = head.read(4)
    if start[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in start:
        # Rows are found by their bytes, which UTF-16 and UTF-32 spell differently.
        raise InputError(f"{file}: UTF-16/32 XML; stackexchange_v1 reads the dumps' UTF-8 "
                         "(convert it first, e.g. with iconv -t UTF-8)")
    site = options.site or _site_from_folder(file)
    if options.mode == "post":
        for item in _posts(file, options.max_row_bytes):
            yield _post_document(item, site, file) if isinstance(item, Post) else item
        return
    with tempfile.TemporaryDirectory(dir=options.spool_dir or None) as spool:
        yield from _threads(file, site, Path(spool) / "posts.sqlite", options.answer_order,
                            options.max_row_bytes)


def _site_from_folder(file: Path) -> str:
    name = file.resolve().parent.name
    match = re.fullmatch(r"([a-z0-9-]+(?:\.[a-z0-9-]+)+)(?:-posts)?", name, re.IGNORECASE)
    if match is None:
        raise InputError(
            f"{file}: cannot tell the site from folder {name!r}; give option site=<domain>"
        )
    return match.group(1).lower()


# ---------------------------------------------------------------- reading rows

# Where a row tag starts. `<` cannot occur inside an attribute value, so in the dump's text
# this marks the next row whatever the row before it holds.
_ROW_START = re.compile(rb"<row[\s/>]")
_BLOCK = 1024 * 1024
_XML_DECL = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*<\?xml\s[^<>]*\?>")
_START_TAG = re.compile(rb"<([A-Za-z_][\w.:-]*)[\s/>]")


def _pieces(stream: IO[bytes], max_row_bytes: int) -> Iterator[tuple[int, bytes | None]]:
    """The file cut before each `<row`: `(n, bytes)` with n the row the bytes belong to (0 for
    the prolog), one piece a row. A row over `max_row_bytes` comes as `(n, None)`, its bytes
    read through and dropped."""
    number, buf, dropping = 0, b"", False
    searched = 0  # bytes of `buf` already searched for the next row start
    while True:
        block = stream.read(_BLOCK)
        buf += block
        pos = 0
        for match in _ROW_START.finditer(buf, max(searched - 5, 1 if number else 0)):
            if not dropping:
                yield number, buf[pos:match.start()]
            number, pos, dropping = number + 1, match.start(), False
        buf = buf[pos:]
        if not block:
            if buf and not dropping:
                yield number, buf
            return
        if len(buf) > max_row_bytes and not dropping:
            dropping = True
            yield number, None
        if dropping:
            buf = buf[-5:]  # enough to find a `<row ` that straddles two blocks
        searched = len(buf)


class _RowTarget:
    """Parser target keeping the attributes of each `<row>` start tag, nothing else."""

    def __init__(self) -> None:
        self.rows: list[dict[str, str]] = []

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if tag == "row":
            self.rows.append(dict(attrib))


class _Reader:
    """One XML parser over the pieces; after a refused part, a fresh one from the next row.

    A parser started mid-file first reads a stand-in prolog: the file's XML declaration (its
    encoding) and root start tag, never its DTD.
    """

    def __init__(self) -> None:
        self.line, self.column = 1, 0  # where the next piece starts
        self.parser: Any = None
        self.target = _RowTarget()
        self.prolog = b""

    def start(self, mid_file: bool) -> None:
        self.target = _RowTarget()
        self.parser = SafeET.XMLParser(target=self.target, forbid_entities=True,
                                       forbid_external=True)
        self.first_line, self.first_column, self.stand_in = self.line, self.column, b""
        if mid_file:
            decl = _XML_DECL.match(self.prolog)
            roots = _START_TAG.findall(self.prolog)
            self.stand_in = ((decl.group(0) if decl else b"") + b"<"
                             + (roots[-1] if roots else b"posts") + b">")
            self.parser.feed(self.stand_in)

    def feed(self, data: bytes) -> tuple[list[dict[str, str]], Exception | None]:
        """The rows `data` holds, and what the parser refused in it (or None)."""
        self.piece_line = self.line
        self.line += data.count(b"\n")
        last = data.rfind(b"\n")
        self.column = len(data) - last - 1 if last >= 0 else self.column + len(data)
        try:
            self.parser.feed(data)
            error = None
        except (ParseError, DefusedXmlException) as exc:
            error = exc
        rows, self.target.rows = self.target.rows, []
        return rows, error

    def where(self, exc: Exception | None) -> str:
        position = getattr(exc, "position", None)
        if not position:
            return f"line {self.piece_line}"
        line, column = position
        if line == 1:  # the parser's first line starts within the file's line
            column += self.first_column - len(self.stand_in)
        return f"line {self.first_line + line - 1} column {column}"


def _rows(file: Path, max_row_bytes: int) -> Iterator[tuple[int, dict[str, str]] | Quarantined]:
    """Each `<row>`'s attributes with its number (the Nth `<row` tag of the file). A part the
    parser refuses (a bad character reference, an entity declaration, a row cut short) is
    quarantined, and reading resumes at the next row."""
    reader = _Reader()
    completed = 0  # the last row the parser accepted
    with file.open("rb") as stream:
        for number, data in _pieces(stream, max_row_bytes):
            if data is None:
                yield Quarantined("row-too-large", str(file), f"row {number}",
                                  f"over max_row_bytes={max_row_bytes}; skipped")
                reader.parser = None
                continue
            if number == 0:
                reader.prolog = data[:64 * 1024]
            if reader.parser is None:
                reader.start(mid_file=number > 0)
            rows, error = reader.feed(data)
            for attrs in rows:
                completed = number
                yield number, attrs
            if error is None and (number == 0 or completed == number):
                continue
            # A row whose start tag did not end before the next row (a quote left open, a
            # cut) is refused too: the parser would only fail on the row after it.
            reason = "xml-entity" if isinstance(error, DefusedXmlException) else "xml-malformed"
            what = "prolog" if number == 0 else (
                f"after row {number}" if completed == number else f"row {number}")
            # The parser's own line numbers count from where it started; `where` has the file's.
            detail = (repr(error) if reason == "xml-entity"
                      else str(error).rsplit(": line ", 1)[0] if error
                      else "the row's tag is not closed (a quote left open, or a cut)")
            yield Quarantined(reason, str(file), f"{what} ({reader.where(error)})",
                              f"{detail}; reading resumes at the next row")
            reader.parser = None
        if reader.parser is not None:
            try:
                reader.parser.close()
            except (ParseError, DefusedXmlException) as exc:
                yield Quarantined("xml-malformed", str(file),
                                  f"end of file after row {completed} ({reader.where(exc)})",
                                  str(exc))


def _int(attrs: dict[str, str], key: str) -> int | None:
    value = attrs.get(key)
    return int(value) if value not in (None, "") else None


def _date(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _posts(file: Path, max_row_bytes: int) -> Iterator[Post | Skipped | Quarantined]:
    for item in _rows(file, max_row_bytes):
        if isinstance(item, Quarantined):
            yield item
            continue
        number, attrs = item
        where = f"row {number}"
        try:
            post_id = _int(attrs, "Id")
            post_type = _int(attrs, "PostTypeId")
            if post_id is None or post_type is None:
                raise ValueError("missing Id or PostTypeId")
            created = attrs.get("CreationDate")
            if not created:
                raise ValueError("missing CreationDate")
            created_at = _date(created)
            last_edit = attrs.get("LastEditDate")
            post = Post(
                id=post_id,
                post_type=post_type,
                parent_id=_int(attrs, "ParentId"),
                created=created_at.isoformat(),
                score=_int(attrs, "Score") or 0,
                title=attrs.get("Title"),
                tags=parse_tags(attrs.get("Tags")),
                accepted_answer_id=_int(attrs, "AcceptedAnswerId"),
                text="",
                owner_user_id=_int(attrs, "OwnerUserId"),
                last_edit=_date(last_edit).isoformat() if last_edit else None,
                content_license=attrs.get("ContentLicense"),
                view_count=_int(attrs, "ViewCount"),
                answer_count=_int(attrs, "AnswerCount"),
                comment_count=_int(attrs, "CommentCount"),
                row=number,
            )
        except ValueError as exc:
            yield Quarantined("bad-row", str(file), where, f"Id={attrs.get('Id')!r}: {exc}")
            continue
        if post_type not in (QUESTION, ANSWER):
            yield Skipped(f"post-type-{post_type}", str(file), f"{where} (Id {post_id})")
            continue
        if post_type == ANSWER and post.parent_id is None:
            yield Quarantined("bad-row", str(file), where, f"Id={post_id}: answer without ParentId")
            continue
        post.text = html_to_text(attrs.get("Body", ""))
        if post_type == QUESTION and post.title:
            post.text = f"{post.title}\n\n{post.text}".strip()
        if not post.text:
            yield Skipped("empty-body", str(file), f"{where} (Id {post_id})")
            continue
        yield post


# ---------------------------------------------------------------- documents


def _licenses(posts: Iterable[Post], site: str) -> list[LicenseFinding]:
    by_date: dict[str, list[Post]] = {}
    stated: dict[str, list[Post]] = {}
    for post in posts:
        by_date.setdefault(license_for_date(post.created_at), []).append(post)
        if post.content_license:
            stated.setdefault(post.content_license, []).append(post)
    findings = [
        LicenseFinding(
            detector="stackexchange-date",
            expression=expression,
            location=f"{site}:{group[0].id}",
            raw=group[0].created,
            extra={"post_ids": [p.id for p in group]},
        )
        for expression, group in by_date.items()
    ]
    for raw, group in stated.items():
        spdx = re.sub(r"^CC BY-SA (\d\.\d)$", r"CC-BY-SA-\1", raw.strip())
        findings.append(
            LicenseFinding(
                detector="source-dump",
                expression=try_normalize(spdx) or UNPARSED,
                location=f"{site}:{group[0].id}",
                raw=raw,
                extra={"field": "ContentLicense", "post_ids": [p.id for p in group]},
            )
        )
    return findings


def _common_metadata(post: Post, site: str) -> dict[str, Any]:
    return {
        "site": site,
        "post_id": post.id,
        "score": post.score,
        "tags": post.tags,
        "accepted_answer_id": post.accepted_answer_id,
        "owner_user_id": post.owner_user_id,
        "last_edit_date": post.last_edit,
        "view_count": post.view_count,
        "answer_count": post.answer_count,
        "comment_count": post.comment_count,
    }


def _post_document(post: Post, site: str, file: Path) -> RawDocument:
    is_question = post.post_type == QUESTION
    metadata = _common_metadata(post, site)
    metadata["post_type"] = "question" if is_question else "answer"
    metadata["parent_id"] = post.parent_id
    return RawDocument(
        native_id=f"{site}:{post.id}",
        text=post.text,
        url=f"https://{site}/{'q' if is_question else 'a'}/{post.id}",
        host=site,
        created_at=post.created_at,
        title=post.title,
        metadata=metadata,
        licenses=_licenses([post], site),
        file=str(file),
        location=f"row {post.row}",
    )


def _thread_document(
    question: Post, answers: list[Post], site: str, order: str, file: Path
) -> RawDocument:
    metadata = _common_metadata(question, site)
    metadata["post_type"] = "thread"
    metadata["answer_order"] = order
    metadata["answers"] = [
        {
            "id": a.id,
            "score": a.score,
            "created_at": a.created,
            "accepted": a.id == question.accepted_answer_id,
            "owner_user_id": a.owner_user_id,
        }
        for a in answers
    ]
    return RawDocument(
        native_id=f"{site}:{question.id}",
        text="\n\n".join([question.text, *(a.text for a in answers)]),
        url=f"https://{site}/q/{question.id}",
        host=site,
        created_at=question.created_at,
        title=question.title,
        metadata=metadata,
        licenses=_licenses([question, *answers], site),
        file=str(file),
        location=f"row {question.row}",
    )


# ---------------------------------------------------------------- thread mode spool


def _threads(file: Path, site: str, spool: Path, order: str,
             max_row_bytes: int) -> Iterator[Item]:
    db = sqlite3.connect(spool)
    try:
        db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
            "CREATE TABLE post (thread INTEGER, is_answer INTEGER, score INTEGER,"
            " created TEXT, id INTEGER, data TEXT);"
        )
        batch: list[tuple[Any, ...]] = []
        for item in _posts(file, max_row_bytes):
            if not isinstance(item, Post):
                yield item
                continue
            is_answer = item.post_type == ANSWER
            thread = item.parent_id if is_answer else item.id
            data = json.dumps(asdict(item))
            batch.append((thread, int(is_answer), item.score, item.created, item.id, data))
            if len(batch) >= _SPOOL_BATCH:
                db.executemany("INSERT INTO post VALUES (?, ?, ?, ?, ?, ?)", batch)
                batch.clear()
        db.executemany("INSERT INTO post VALUES (?, ?, ?, ?, ?, ?)", batch)
        answer_key = "score DESC, created, id" if order == "score" else "created, id"
        # An index in output order lets SQLite stream the rows without a sort of its own.
        db.execute(f"CREATE INDEX post_order ON post (thread, is_answer, {answer_key})")
        rows = db.execute(
            f"SELECT thread, is_answer, data FROM post ORDER BY thread, is_answer, {answer_key}"
        )
        yield from _group_threads(rows, file, site, order)
    finally:
        db.close()


def _group_threads(
    rows: Iterable[tuple[int, int, str]], file: Path, site: str, order: str
) -> Iterator[Item]:
    current: int | None = None
    question: Post | None = None
    answers: list[Post] = []
    for thread, is_answer, data in rows:
        if thread != current:
            if question is not None:
                yield _thread_document(question, answers, site, order, file)
            current, question, answers = thread, None, []
        post = Post(**json.loads(data))
        if not is_answer:
            if question is None:
                question = post
            else:
                yield Quarantined(
                    "duplicate-id", str(file), f"row {post.row}", f"Id={post.id} seen before"
                )
        elif question is None:
            yield Skipped("orphan-answer", str(file), f"row {post.row} (Id {post.id})")
        else:
            answers.append(post)
    if question is not None:
        yield _thread_document(question, answers, site, order, file)


register(
    Connector(
        name="stackexchange_v1",
        kinds=("forum",),
        description="Stack Exchange Posts.xml (streamed, entity-safe) as threads or posts, "
        "CC BY-SA version by post date",
        options_type=StackExchangeOptions,
        read=read,
    )
)
