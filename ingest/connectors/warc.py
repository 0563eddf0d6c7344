"""`warc_v1`: web crawls in WARC / WARC.gz / WET files, read with FastWARC.

Every record becomes exactly one item, in file order (plus one `truncated-gzip` item when a
.warc.gz was cut inside gzip framing that FastWARC reads past without complaint):

- `response` with status 2xx and an HTML payload → `RawDocument` (main-content text by
  `ingest.html`, HTTP-header and HTML consent signals, Creative Commons links);
- `response` for `/robots.txt`, `/.well-known/tdmrep.json` or `/ai.txt`, whatever its status
  (4xx and 5xx mean different things for robots) → `RobotsFound`;
- WET `conversion` → `RawDocument` with the crawler's plain text as is;
- `resource` with an HTML or plain-text block → `RawDocument` (no HTTP status or headers);
- everything else → `Skipped` with a fixed reason: `warc-<type>` for request, metadata,
  revisit, warcinfo, continuation records; `http-status-<n>xx` for non-2xx pages (redirects
  and error pages are not content; the redirect target is its own record); `non-html`;
  `warc-resource-non-text`; `empty-text` / `short-text` (under `min_text_chars`);
- unreadable records → `Quarantined` (`truncated-gzip`, `truncated-record`, `corrupt-gzip`,
  `corrupt-record`, `invalid-warc-header`, `bad-http-headers`, `payload-decode-error`,
  `oversized-record`, `html-parse-error`). After a corrupt record, reading resumes at the
  next record that can be found (the next gzip member, or the next `WARC/1.x` line in a plain file).

Locations are byte offsets of the record start in the file (for .warc.gz: of its gzip
member), as decimal strings. The output depends only on the file's bytes, so an
interrupted ingest can resume by skipping what it already has.
"""

from __future__ import annotations

import io
import mmap
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from fastwarc.stream_io import BrotliReader, ChunkedReader
from fastwarc.warc import ArchiveIterator, WarcRecord
from resiliparse.parse.encoding import bytes_to_str

from ingest.html import (
    EXTRACTOR,
    EXTRACTOR_VERSION,
    extract_text,
    header_signals,
    html_signals,
    html_title,
    parse_html,
)
from ingest.registry import Connector, register
from ingest.textio import iter_files
from ingest.types import Item, Quarantined, RawDocument, RobotsFound, Skipped

__all__ = ["WARC_SUFFIXES", "WarcOptions", "read_warc"]


@dataclass(frozen=True)
class WarcOptions:
    max_record_bytes: int = 50_000_000  # larger records are quarantined unread
    min_text_chars: int = 1  # documents with less extracted text are skipped


WARC_SUFFIXES = (".warc", ".warc.gz", ".wet", ".wet.gz")
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
WELL_KNOWN: dict[str, Literal["robots.txt", "tdmrep.json", "ai.txt"]] = {
    "/robots.txt": "robots.txt",
    "/.well-known/tdmrep.json": "tdmrep.json",
    "/ai.txt": "ai.txt",
}
_GZIP_MAGIC = b"\x1f\x8b\x08"
_MAX_HEADER = 64 * 1024  # a WARC header longer than this is not a header
_WARC_LINE = re.compile(rb"(?:^|\n)WARC/1\.[01]\r?\n")
_SKIPPED_TYPES = frozenset({"request", "metadata", "revisit", "warcinfo", "continuation"})


class _RecordError(Exception):
    """A record that cannot be turned into an item; becomes a `Quarantined`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def read_warc(path: Path, options: WarcOptions | None = None) -> Iterator[Item]:
    """Yield one item per WARC record of `path` (see the module docstring).

    `path` is a WARC/WET file (read whatever its name), or a folder whose `.warc`,
    `.warc.gz`, `.wet`, `.wet.gz` files are read in name order (other files are
    `Skipped("unsupported-file")`). A missing path raises `InputError`; bad data never raises.
    """
    options = options or WarcOptions()
    path = Path(path)
    for file, supported in iter_files(path, WARC_SUFFIXES):
        if not supported and file != path:
            yield Skipped("unsupported-file", str(file))
            continue
        yield from _WarcReader(file, options).items()


class _WarcReader:
    def __init__(self, path: Path, options: WarcOptions) -> None:
        self.path = path
        self.file = str(path)
        self.options = options
        with path.open("rb") as fh:
            self.gzipped = fh.read(3) == _GZIP_MAGIC
        self.truncated = "truncated-gzip" if self.gzipped else "truncated-record"
        self.corrupt = "corrupt-gzip" if self.gzipped else "corrupt-record"

    def items(self) -> Iterator[Item]:
        start = 0
        last: WarcRecord | None = None  # last record taken from the current iterator
        last_item: Item | None = None
        while True:
            try:
                for record in self._iterate(start):
                    last, last_item = record, self._item(record)
                    yield last_item
                break
            except OSError as exc:
                # The iterator cannot go on: bad gzip data or an unparsable WARC header.
                if last is None:
                    # Nothing readable since `start`: the file's beginning is bad, or a
                    # resume point was a false match (its region is already reported).
                    if start == 0:
                        yield Quarantined(self._failure_at(0), self.file, "0", _detail(exc))
                    resume_from = start + 1
                elif _is_stream_failure(last_item):
                    resume_from = last.stream_pos + 1  # that record was reported already
                else:
                    bad_at = self._end_of(last)
                    yield Quarantined(
                        self._failure_at(bad_at), self.file, str(bad_at), _detail(exc)
                    )
                    resume_from = bad_at + 1
                resume = self._next_record_start(resume_from)
                if resume is None:
                    return
                start, last, last_item = resume, None, None
        complete = not (isinstance(last_item, Quarantined) and last_item.reason == self.truncated)
        if self.gzipped and last is not None and complete:
            yield from self._check_gzip_end(last.stream_pos)

    def _iterate(self, start: int) -> Iterator[WarcRecord]:
        # Local files only: FastWARC's own reader is faster than going through fsspec.
        if start == 0:
            yield from ArchiveIterator(str(self.path), parse_http=False, fsspec_args=False)
            return
        with self.path.open("rb") as fh:
            fh.seek(start)
            yield from ArchiveIterator(fh, parse_http=False, fsspec_args=False)

    # --- one record -------------------------------------------------------------------

    def _item(self, record: WarcRecord) -> Item:
        location = str(record.stream_pos)
        try:
            return self._convert(record, location)
        except _RecordError as err:
            return Quarantined(err.reason, self.file, location, err.detail)
        except OSError as exc:  # the payload could not be read from the stream
            return Quarantined(self.corrupt, self.file, location, _detail(exc))

    def _convert(self, record: WarcRecord, location: str) -> Item:
        declared = _declared_length(record)
        if declared is None:
            # FastWARC hands over a record whose header was cut off by the end of the file.
            raise _RecordError(self.truncated, "WARC header without a valid Content-Length")
        rtype = str(record.record_type)  # "response", "request", ...
        if rtype == "response":
            return self._response(record, location, declared)
        if rtype == "conversion":
            return self._plain_document(record, location, declared, source="warc-conversion")
        if rtype == "resource":
            return self._resource(record, location, declared)
        if rtype in _SKIPPED_TYPES:
            return self._skip(record, f"warc-{rtype}", location)
        return self._skip(record, "warc-unknown-type", location)

    def _response(self, record: WarcRecord, location: str, declared: int) -> Item:
        url = _target_uri(record)
        try:
            record.parse_http(auto_decode="none")
        except (OSError, ValueError) as exc:
            raise _RecordError("bad-http-headers", _detail(exc)) from None
        http = record.http_headers
        status = http.status_code if http is not None else None
        if status is None:
            raise _RecordError("bad-http-headers", "no HTTP status line")
        parts = urlsplit(url)
        well_known = WELL_KNOWN.get(parts.path)
        if well_known is not None:
            payload = self._payload(record, declared)
            return RobotsFound(
                host=(parts.hostname or "").lower(),
                kind=well_known,
                fetched_at=_utc(record),
                status=status,
                content=bytes_to_str(payload, "utf-8"),
                url=url,
            )
        if not 200 <= status < 300:
            return self._skip(record, f"http-status-{status // 100}xx", location)
        content_type = (record.http_content_type or "").lower()
        if content_type and content_type not in HTML_TYPES:
            return self._skip(record, "non-html", location)
        payload = self._payload(record, declared)
        if not content_type and not _looks_like_html(payload):
            return Skipped("non-html", self.file, location)
        return self._html_document(
            record,
            location,
            payload,
            url=url,
            charset=record.http_charset,
            metadata={"content_type": content_type or None, "http_status": status},
            signals=header_signals(http),
        )

    def _resource(self, record: WarcRecord, location: str, declared: int) -> Item:
        content_type = _warc_content_type(record)
        if content_type in HTML_TYPES:
            payload = self._block(record, declared)
            return self._html_document(
                record,
                location,
                payload,
                url=_target_uri(record),
                charset=None,
                metadata={"content_type": content_type, "http_status": None},
                signals=[],
            )
        if content_type == "text/plain":
            return self._plain_document(record, location, declared, source="warc-resource")
        return self._skip(record, "warc-resource-non-text", location)

    def _html_document(
        self,
        record: WarcRecord,
        location: str,
        payload: bytes,
        *,
        url: str,
        charset: str | None,
        metadata: dict[str, Any],
        signals: list,
    ) -> Item:
        try:
            tree = parse_html(payload, encoding=charset)
            text = extract_text(tree)
            page_signals, licenses = html_signals(tree)
            title = html_title(tree)
        except (ValueError, RuntimeError) as exc:  # resiliparse's parser exceptions
            raise _RecordError("html-parse-error", _detail(exc)) from None
        short = self._too_short(text, location)
        if short is not None:
            return short
        return RawDocument(
            native_id=_record_id(record),
            text=text,
            url=url,
            host=_host(url),
            collected_at=_utc(record),
            title=title,
            metadata={
                **metadata,
                "warc_file": self.path.name,
                "warc_offset": record.stream_pos,
                "extractor": EXTRACTOR,
                "extractor_version": EXTRACTOR_VERSION,
            },
            signals=[*signals, *page_signals],
            licenses=licenses,
        )

    def _plain_document(
        self, record: WarcRecord, location: str, declared: int, *, source: str
    ) -> Item:
        url = _target_uri(record)
        block = self._block(record, declared)
        text = bytes_to_str(block, "utf-8").strip()
        short = self._too_short(text, location)
        if short is not None:
            return short
        metadata: dict[str, Any] = {
            "content_type": _warc_content_type(record) or None,
            "http_status": None,
            "warc_file": self.path.name,
            "warc_offset": record.stream_pos,
            "extractor": source,  # the text came ready-made from the crawler
            "extractor_version": None,
        }
        refers_to = record.headers.get("WARC-Refers-To")
        if refers_to:
            metadata["refers_to"] = refers_to
        # Common Crawl's language guess (CLD2): detected, not declared, so not `language`.
        identified = record.headers.get("WARC-Identified-Content-Language")
        if identified:
            metadata["identified_content_language"] = identified
        return RawDocument(
            native_id=_record_id(record),
            text=text,
            url=url,
            host=_host(url),
            collected_at=_utc(record),
            metadata=metadata,
        )

    def _skip(self, record: WarcRecord, reason: str, location: str) -> Skipped:
        """Skip the rest of the record, but notice when the file ends inside it."""
        expected = record.content_length
        read = record.reader.consume()
        if read < expected:
            raise _RecordError(self.truncated, f"record has {read} of {expected} bytes left")
        return Skipped(reason, self.file, location)

    def _too_short(self, text: str, location: str) -> Skipped | None:
        if len(text) >= max(self.options.min_text_chars, 1):
            return None
        return Skipped("short-text" if text else "empty-text", self.file, location)

    # --- payload reading ----------------------------------------------------------------

    def _check_size(self, declared: int) -> None:
        if declared > self.options.max_record_bytes:
            raise _RecordError(
                "oversized-record",
                f"{declared} bytes > max_record_bytes={self.options.max_record_bytes}",
            )

    def _block(self, record: WarcRecord, declared: int) -> bytes:
        """The whole record block (no HTTP parsing), checked for truncation."""
        self._check_size(declared)
        block = record.reader.read()
        if len(block) < declared:
            raise _RecordError(self.truncated, f"block has {len(block)} of {declared} bytes")
        return block

    def _payload(self, record: WarcRecord, declared: int) -> bytes:
        """HTTP payload with transfer and content encodings undone, checked for truncation."""
        self._check_size(declared)
        expected = record.content_length  # what is left of the block after the HTTP headers
        raw = record.reader.read()
        if len(raw) < expected:
            raise _RecordError(self.truncated, f"payload has {len(raw)} of {expected} bytes")
        http = record.http_headers
        try:
            return _decode_payload(
                raw,
                transfer=http.get("Transfer-Encoding", ""),
                content=http.get("Content-Encoding", ""),
                limit=self.options.max_record_bytes,
            )
        except _RecordError:
            raise
        except (OSError, ValueError, zlib.error) as exc:
            raise _RecordError("payload-decode-error", _detail(exc)) from None

    # --- resynchronisation --------------------------------------------------------------

    def _end_of(self, record: WarcRecord) -> int:
        """Byte offset just after `record` (where the unreadable data begins)."""
        with self.path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            if self.gzipped:
                nxt = _next_gzip_member(mm, record.stream_pos + 1, verify=False)
                return nxt if nxt is not None else len(mm)
            header_end = mm.find(b"\r\n\r\n", record.stream_pos)
            declared = _declared_length(record) or 0
            if header_end < 0:
                return len(mm)
            return min(header_end + 4 + declared + 4, len(mm))

    def _failure_at(self, position: int) -> str:
        """`truncated-record` when a plain file ends inside a WARC header, else corrupt."""
        if self.gzipped:
            return self.corrupt  # cut .warc.gz files read silently; see _check_gzip_end
        with self.path.open("rb") as fh:
            fh.seek(position)
            rest = fh.read(_MAX_HEADER + 1)
        starts_header = rest.startswith(b"WARC/") or b"WARC/1.".startswith(rest)
        if rest and starts_header and len(rest) <= _MAX_HEADER and b"\r\n\r\n" not in rest:
            return self.truncated
        return self.corrupt

    def _next_record_start(self, position: int) -> int | None:
        with self.path.open("rb") as fh:
            if fh.seek(0, io.SEEK_END) <= position:
                return None
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                if self.gzipped:
                    return _next_gzip_member(mm, position, verify=True)
                match = _WARC_LINE.search(mm, position)
                if match is None:
                    return None
                return match.start() + (1 if mm[match.start() : match.start() + 1] == b"\n" else 0)

    def _check_gzip_end(self, member_start: int) -> Iterator[Item]:
        """Check what FastWARC passes over without complaint at the end of a .warc.gz.

        A last gzip member that lost its trailer, or a member cut so short that it holds
        no complete WARC header, ends the iteration silently; inflate the tail to see.
        """
        with self.path.open("rb") as fh:
            fh.seek(member_start)
            if fh.read(3) != _GZIP_MAGIC:
                return  # whole-file gzip: offsets are not member starts, nothing cheap to do
            fh.seek(member_start)
            position, fed = member_start, 0  # current member's start, bytes fed to it
            inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
            data = b""
            while True:
                if not data:
                    data = fh.read(1 << 20)
                    if not data:
                        break
                try:
                    inflater.decompress(data, 1 << 20)  # only whether it ends matters
                except zlib.error as exc:
                    yield Quarantined(self.corrupt, self.file, str(position), _detail(exc))
                    return
                if inflater.eof:
                    position += fed + len(data) - len(inflater.unused_data)
                    data, fed = inflater.unused_data, 0
                    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
                else:
                    fed += len(data) - len(inflater.unconsumed_tail)
                    data = inflater.unconsumed_tail
        if fed:
            detail = (
                "the last gzip member ends without its trailer (file cut short)"
                if position == member_start
                else "a gzip member at the end of the file is cut short"
            )
            yield Quarantined("truncated-gzip", self.file, str(position), detail)


# --- helpers ------------------------------------------------------------------------------


def _is_stream_failure(item: Item | None) -> bool:
    return isinstance(item, Quarantined) and item.reason in ("corrupt-gzip", "corrupt-record")


def _next_gzip_member(mm: mmap.mmap, position: int, *, verify: bool) -> int | None:
    """Offset of the next gzip member at or after `position` (that inflates to a WARC header)."""
    while True:
        found = mm.find(_GZIP_MAGIC, position)
        if found < 0:
            return None
        if not verify or _inflates_to_warc(mm[found : found + 4096]):
            return found
        position = found + 1


def _inflates_to_warc(head: bytes) -> bool:
    try:
        return zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(head, 16).startswith(b"WARC/")
    except zlib.error:
        return False


def _decode_payload(raw: bytes, *, transfer: str, content: str, limit: int) -> bytes:
    if "chunked" in transfer.lower():
        raw = ChunkedReader(io.BytesIO(raw)).read()
    # Content codings apply in the order listed, so undo them in reverse.
    for coding in reversed([c.strip().lower() for c in content.split(",") if c.strip()]):
        if coding in ("gzip", "x-gzip", "deflate"):
            raw = _inflate(raw, gzip=coding != "deflate", limit=limit)
        elif coding == "br":
            raw = BrotliReader(io.BytesIO(raw)).read()
        elif coding not in ("identity", "none"):
            raise _RecordError("payload-decode-error", f"unsupported Content-Encoding {coding!r}")
        if len(raw) > limit:
            raise _RecordError("oversized-record", f"decoded payload > {limit} bytes")
    return raw


def _inflate(raw: bytes, *, gzip: bool, limit: int) -> bytes:
    if gzip and not raw.startswith(b"\x1f\x8b"):
        return raw  # some crawlers store the decoded body but keep the header
    wbits = zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS
    if not gzip and raw[:1] != b"\x78":
        wbits = -zlib.MAX_WBITS  # "deflate" sent as a raw stream, a common server bug
    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(raw, limit + 1)
    if len(out) > limit:
        raise _RecordError("oversized-record", f"decoded payload > {limit} bytes")
    if not inflater.eof:
        raise _RecordError("payload-decode-error", "compressed payload is incomplete")
    return out


def _declared_length(record: WarcRecord) -> int | None:
    value = record.headers.get("Content-Length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _record_id(record: WarcRecord) -> str:
    record_id = record.record_id
    if not record_id:
        raise _RecordError("invalid-warc-header", "missing WARC-Record-ID")
    return record_id


def _target_uri(record: WarcRecord) -> str:
    uri = (record.headers.get("WARC-Target-URI") or "").strip()
    if uri.startswith("<") and uri.endswith(">"):  # WARC 1.0 drafts bracket the URI
        uri = uri[1:-1]
    if not uri:
        raise _RecordError("invalid-warc-header", "missing WARC-Target-URI")
    return uri


def _host(url: str) -> str | None:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower() if host else None


def _utc(record: WarcRecord) -> datetime | None:
    when = record.record_date  # None when WARC-Date is missing or unparsable
    if when is None:
        return None
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def _warc_content_type(record: WarcRecord) -> str:
    return (record.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()


def _looks_like_html(payload: bytes) -> bool:
    head = payload[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def _detail(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


register(
    Connector(
        name="warc_v1",
        kinds=("web-crawl",),
        description="Web crawls: .warc, .warc.gz and WET files (FastWARC + resiliparse)",
        options_type=WarcOptions,
        read=read_warc,
        version="1",
    )
)
