"""`gutenberg_v1`: Project Gutenberg plain-text books, one document per `.txt` file.

The header above the `*** START OF THE PROJECT GUTENBERG EBOOK ... ***` marker gives the
title, author, release date with the `[EBook #N]` number, language and the rights statement;
the text between the START and END markers is the document. A book without markers is kept
whole, with `metadata["boilerplate_stripped"] = False`. A file of a folder that links out of it
(a symlink to /etc/passwd, or through `..`) is quarantined as `path-escape`, never read.

The rights statement becomes a `LicenseFinding(detector="gutenberg-header")` whose expression
is one of these references, defined here:

- `LicenseRef-PD-US-Gutenberg`  the header says the book is free of restrictions in the United
  States ("for the use of anyone anywhere in the United States ...", "public domain in the
  USA"): public domain in the USA, Project Gutenberg License and trademark terms on the
  distribution.
- `LicenseRef-Gutenberg-License`  the older wording ("for the use of anyone anywhere at no
  cost and with almost no restrictions whatsoever ...") that cites the Project Gutenberg
  License without stating public-domain status.
- `LicenseRef-Gutenberg-Copyrighted`  the header marks a copyrighted eBook: the rights holder's
  terms in the file apply.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingest.registry import Connector, register
from ingest.textio import decode_text, iter_files, outside_root
from ingest.types import Item, LicenseFinding, Quarantined, RawDocument, Skipped

PD_US = "LicenseRef-PD-US-Gutenberg"
GUTENBERG_LICENSE = "LicenseRef-Gutenberg-License"
COPYRIGHTED = "LicenseRef-Gutenberg-Copyrighted"

HOST = "www.gutenberg.org"
_HEADER_LINES_WITHOUT_MARKER = 100

_START = re.compile(
    r"^\s*\*{3}\s*START\s+OF\s+(?:THE|THIS)\s+PROJECT\s+GUTENBERG\s+E-?BOOK\b(.*)$",
    re.IGNORECASE,
)
_END = re.compile(
    r"^\s*\*{3}\s*END\s+OF\s+(?:THE|THIS)\s+PROJECT\s+GUTENBERG\s+E-?BOOK\b", re.IGNORECASE
)
# The "End of the Project Gutenberg EBook of X" / "End of Project Gutenberg's X" line that
# older books put just above the END marker is boilerplate too.
_END_LINE = re.compile(r"^\s*End of (?:the )?Project Gutenberg", re.IGNORECASE)
_FIELD = re.compile(r"^(Title|Author|Release Date|Language|Posting Date)\s*:\s*(.*)$", re.I)
_EBOOK_ID = re.compile(r"\[\s*e-?book\s*#\s*(\d+)\s*\]", re.IGNORECASE)
_DATE_FORMATS = ("%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%B, %Y", "%b, %Y", "%B %Y", "%Y-%m-%d")

_LANGUAGES = {
    "english": "en", "french": "fr", "german": "de", "finnish": "fi", "dutch": "nl",
    "italian": "it", "spanish": "es", "portuguese": "pt", "chinese": "zh", "latin": "la",
    "swedish": "sv", "danish": "da", "norwegian": "no", "greek": "el", "hungarian": "hu",
    "esperanto": "eo", "polish": "pl", "russian": "ru", "japanese": "ja", "catalan": "ca",
    "czech": "cs", "welsh": "cy", "icelandic": "is", "irish": "ga", "tagalog": "tl",
}  # fmt: skip


@dataclass(frozen=True)
class GutenbergOptions:
    max_file_bytes: int = 64 * 1024 * 1024  # larger files are skipped as "oversized"


@dataclass(slots=True)
class Header:
    title: str | None = None
    author: str | None = None
    release_date: datetime | None = None
    release_date_raw: str | None = None
    ebook_id: str | None = None
    language: str | None = None
    rights_statement: str | None = None


def read(path: Path, options: GutenbergOptions) -> Iterator[Item]:
    """Yield one document per `.txt` book at `path` (a file or a folder walked in name order)."""
    root = path if path.is_dir() else path.parent
    for file, is_txt in iter_files(path, (".txt",)):
        name = file.relative_to(root).as_posix()
        if (escaped := outside_root(file, path, location=name)) is not None:
            yield escaped
        elif not is_txt:
            yield Skipped("not-txt", str(file))
        else:
            yield _read_book(file, name, options)


def _read_book(file: Path, name: str, options: GutenbergOptions) -> Item:
    size = file.stat().st_size
    if size > options.max_file_bytes:
        return Skipped("oversized", str(file), f"{size} bytes")
    try:
        data = file.read_bytes()
    except OSError as exc:
        return Quarantined("unreadable", str(file), "", str(exc))
    decoded = decode_text(data) if b"\x00" not in data else None
    if decoded is None:
        return Quarantined("undecodable", str(file), "", "neither UTF-8 nor a detectable charset")
    lines = decoded.text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start, end = _find_markers(lines)
    header_lines = lines[:start] if start is not None else lines[:_HEADER_LINES_WITHOUT_MARKER]
    header = parse_header(header_lines)
    body_from = _after_start(lines, start) if start is not None else 0
    body_to = end if end is not None else len(lines)
    while body_to > body_from and not lines[body_to - 1].strip():
        body_to -= 1
    if end is not None and body_to > body_from and _END_LINE.match(lines[body_to - 1]):
        body_to -= 1
    text = "\n".join(lines[body_from:body_to]).strip("\n")
    if not text.strip():
        return Skipped("empty-text", str(file))

    metadata = {
        "author": header.author,
        "ebook_id": header.ebook_id,
        "encoding": decoded.encoding,
        "rights_statement": header.rights_statement,
        "release_date": header.release_date_raw,
        "language_declared": header.language,
        "boilerplate_stripped": start is not None or end is not None,
        "start_marker": start is not None,
        "end_marker": end is not None,
        "file": name,
    }
    licenses = []
    if header.rights_statement:
        licenses.append(
            LicenseFinding(
                detector="gutenberg-header",
                expression=rights_expression(header.rights_statement),
                location="header",
                raw=header.rights_statement,
            )
        )
    return RawDocument(
        native_id=f"gutenberg:{header.ebook_id or name}",
        text=text,
        url=f"https://{HOST}/ebooks/{header.ebook_id}" if header.ebook_id else None,
        host=HOST if header.ebook_id else None,
        created_at=header.release_date,
        title=header.title,
        language=_language_code(header.language),
        metadata=metadata,
        licenses=licenses,
        file=str(file),
        location=name,
    )


def _find_markers(lines: list[str]) -> tuple[int | None, int | None]:
    start = next((i for i, line in enumerate(lines) if _START.match(line)), None)
    end = next(
        (i for i in range(start or 0, len(lines)) if _END.match(lines[i])),
        None,
    )
    return start, end


def _after_start(lines: list[str], start: int) -> int:
    """The first body line: a long title can wrap the START marker's closing `***` onto the
    next non-blank lines."""
    rest = _START.match(lines[start])
    if rest is None or rest.group(1).rstrip().endswith("***"):
        return start + 1
    for i in range(start + 1, min(start + 3, len(lines))):
        if not lines[i].strip():
            break
        if lines[i].rstrip().endswith("***"):
            return i + 1
    return start + 1


def parse_header(lines: list[str]) -> Header:
    """Read the `Key: value` fields and the rights paragraph of a Gutenberg header."""
    header = Header()
    fields: dict[str, str] = {}
    key: str | None = None
    for line in lines:
        match = _FIELD.match(line)
        if match:
            key = match.group(1).lower()
            fields.setdefault(key, match.group(2).strip())
        elif key and line[:1].isspace() and line.strip() and key in ("title", "author"):
            fields[key] = f"{fields[key]} {line.strip()}"  # wrapped value
        else:
            key = None
    header.title = fields.get("title") or None
    header.author = fields.get("author") or None
    header.language = fields.get("language") or None
    date_field = fields.get("release date") or fields.get("posting date")
    header_text = "\n".join(lines)
    id_match = _EBOOK_ID.search(date_field or "") or _EBOOK_ID.search(header_text)
    header.ebook_id = id_match.group(1) if id_match else None
    if date_field:
        raw = _EBOOK_ID.sub("", date_field).strip()
        header.release_date_raw = raw or None
        header.release_date = _parse_date(raw)
    header.rights_statement = _rights_statement(lines)
    return header


def _parse_date(raw: str) -> datetime | None:
    cleaned = re.sub(r"\s+", " ", raw).strip().rstrip(".")
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


_RIGHTS_HINTS = ("for the use of anyone anywhere", "public domain", "copyright")


def _rights_statement(lines: list[str]) -> str | None:
    """The header paragraph that states the book's rights, whitespace collapsed."""
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paragraphs[-1].append(line.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    found = [
        " ".join(p)
        for p in paragraphs
        if p and any(hint in " ".join(p).lower() for hint in _RIGHTS_HINTS)
    ]
    return " ".join(found) if found else None


def rights_expression(statement: str) -> str:
    """Which of this module's licence references a rights statement amounts to."""
    lowered = statement.lower()
    if "copyrighted project gutenberg" in lowered or "copyrighted ebook" in lowered:
        return COPYRIGHTED
    if "united states" in lowered or "public domain in the us" in lowered:
        return PD_US
    return GUTENBERG_LICENSE


def _language_code(declared: str | None) -> str | None:
    if declared is None:
        return None
    return _LANGUAGES.get(declared.strip().lower(), declared.strip())


register(
    Connector(
        name="gutenberg_v1",
        kinds=("books",),
        description="Project Gutenberg .txt books: header metadata and rights, boilerplate "
        "stripped",
        options_type=GutenbergOptions,
        read=read,
    )
)
