"""ARC 1.0 files (.arc, .arc.gz): Internet Archive and Heritrix crawls from before WARC.

warcio parses each record's header line (`URL IP-address Archive-date Content-type
Archive-length`) and the file's version block; the record is then rewritten as the WARC
record it stands for and goes through the one record converter that WARC files use
(`ingest.connectors.warc_records`), so an ARC record and its WARC twin give the same item:

- the version block (`filedesc://`) → `warcinfo`;
- an `http:`/`https:` URL → `response` (an ARC block is the HTTP response as fetched);
- any other URL (`dns:`, `metadata://`, `ftp://`, `whois:`) → `resource` with the ARC
  content type, so `text/dns` and crawler metadata are skipped under their own reasons.

ARC has no record ids: a record's native id is a name-based UUID of its URL, archive date
and block digest, the same wherever and however often the file is read.

Framing: in a `.arc` records follow one another, each followed by a newline; in a
`.arc.gz` each record is its own gzip member (warcio requires this too). A member holding
more than one record (the whole file gzipped in one piece) is reported as an unsupported
format. Damage is reported as in WARC files (`ingest.connectors.warc`): a record cut short
by the end of the file is quarantined whole (`truncated-record`, `truncated-gzip`), and
after unreadable bytes reading resumes at the next record header or gzip member.
"""

from __future__ import annotations

import hashlib
import io
import mmap
import re
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from fastwarc.warc import ArchiveIterator, WarcRecord
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecordLoader
from warcio.timeutils import timestamp_to_iso_date

from ingest.connectors import gzip_members
from ingest.connectors.warc_records import RecordConverter, WarcOptions, crawler_reason, detail
from ingest.types import Item, Quarantined, Skipped

__all__ = ["arc_version", "read_arc", "starts_record"]

_MAX_HEADER = 64 * 1024  # an ARC header line (with the version block) longer than this is not one
_HEADER_LINE = re.compile(rb"[A-Za-z][A-Za-z0-9+.-]*:[^\n]* \S+ \d{8,17} \S+ \d+\r?\n")
_ANY_HEADER_LINE = re.compile(b"(?m)^" + _HEADER_LINE.pattern)
_HTTP = ("http:", "https:")
_CHUNK = 1 << 20


def arc_version(head: bytes) -> str | None:
    """The version an ARC file's version block declares ("1" for ARC 1.0), or None."""
    lines = head.split(b"\n", 2)
    if len(lines) < 2 or not lines[1].strip():
        return None
    return lines[1].split(None, 1)[0].decode("ascii", "replace")


def read_arc(path: Path, options: WarcOptions) -> Iterator[Item]:
    """Yield one item per record of the ARC file `path` (see the module docstring)."""
    reader = _GzipArc(path, options) if gzip_members.is_gzip(path) else _PlainArc(path, options)
    yield from reader.items()


class _ArcFile:
    gzipped = False

    def __init__(self, path: Path, options: WarcOptions) -> None:
        self.path = path
        self.file = str(path)
        self.options = options
        self.converter = RecordConverter(path, options, gzipped=self.gzipped)
        self.loader = ArcWarcRecordLoader(arc2warc=False)

    def _quarantine(self, reason: str, offset: int, why: str) -> Quarantined:
        return Quarantined(reason, self.file, str(offset), why)

    def _header(self, stream: IO[bytes], line: bytes) -> tuple[str, dict[str, str], int]:
        """Record type, header fields and block length of the record whose header `line`
        was just read from `stream` (which is left at the block's first byte)."""
        try:
            parsed = self.loader.parse_record_stream(
                stream, statusline=line, known_format="arc", no_record_parse=True)
        except (ArchiveLoadFailed, EOFError, ValueError) as exc:
            raise _BadRecord(detail(exc)) from None
        fields = {name: value for name, value in parsed.rec_headers.headers}
        if not fields.get("length", "").isdigit():
            raise _BadRecord(f"ARC record length {fields.get('length')!r} is not a number")
        return parsed.rec_type, fields, max(parsed.length or 0, 0)

    def _too_big(self, declared: int) -> bool:
        return declared > self.options.max_record_bytes

    def _oversized(self, fields: dict[str, str], declared: int, offset: int) -> Item:
        """A record too big to hold: skipped if the crawler wrote it, else quarantined unread."""
        reason = crawler_reason(fields.get("uri", ""), fields.get("content-type", ""))
        if reason is not None:
            return Skipped(reason, self.file, str(offset))
        limit = self.options.max_record_bytes
        return self._quarantine("oversized-record", offset,
                                f"{declared} bytes > max_record_bytes={limit}")

    def _item(self, rec_type: str, fields: dict[str, str], block: bytes, offset: int) -> Item:
        try:
            record = _as_warc(rec_type, fields, block)
        except (OSError, StopIteration) as exc:
            return self._quarantine(self.converter.corrupt, offset,
                                    f"not readable as a WARC record: {detail(exc)}")
        return self.converter.item(record, offset)


class _BadRecord(Exception):
    """A header line that is not an ARC record's."""


class _PlainArc(_ArcFile):
    def items(self) -> Iterator[Item]:
        with self.path.open("rb") as fh, _mapped(fh) as mm:
            size, position = len(mm), 0
            while position < size:
                fh.seek(position)
                line = fh.readline(_MAX_HEADER)
                if not line.strip():
                    position += len(line)  # the newline after a record
                    continue
                if not line.endswith(b"\n") and fh.tell() >= size:
                    yield self._quarantine("truncated-record", position,
                                           "the file ends inside an ARC record header")
                    return
                try:
                    rec_type, fields, declared = self._header(fh, line)
                except _BadRecord as exc:
                    yield self._quarantine("corrupt-record", position, str(exc))
                    found = _ANY_HEADER_LINE.search(mm, position + 1)
                    if found is None:
                        return
                    position = found.start()
                    continue
                start = fh.tell()
                if size - start < declared:
                    yield self._quarantine("truncated-record", position,
                                           f"block has {size - start} of {declared} bytes")
                    return
                if self._too_big(declared):
                    yield self._oversized(fields, declared, position)
                else:
                    yield self._item(rec_type, fields, fh.read(declared), position)
                position = start + declared


class _GzipArc(_ArcFile):
    gzipped = True

    def items(self) -> Iterator[Item]:
        with self.path.open("rb") as fh, _mapped(fh) as mm:
            size, position = len(mm), 0
            while position < size:
                if mm[position : position + 3] != gzip_members.GZIP_MAGIC:
                    if size - position <= 4096 and not mm[position:].strip(b"\0 \t\r\n"):
                        return  # padding after the last member
                    yield self._quarantine("corrupt-gzip", position, "not a gzip member")
                    resume = gzip_members.next_member(mm, position + 1, accept=starts_record)
                    if resume is None:
                        return
                    position = resume
                    continue
                try:
                    data, end = self._inflate(mm, position)
                except zlib.error as exc:
                    yield self._quarantine("corrupt-gzip", position, detail(exc))
                    resume = gzip_members.next_member(mm, position + 1, accept=starts_record)
                    if resume is None:
                        return
                    position = resume
                    continue
                yield from self._member(data, position, end)
                if end is None:
                    return
                position = end

    def _member(self, data: bytes, position: int, end: int | None) -> Iterator[Item]:
        """The item of the record in one gzip member; `end` is None when the file ends in it."""
        cut = end is None
        stream = io.BytesIO(data)
        line = stream.readline(_MAX_HEADER)
        if not line.endswith(b"\n"):
            yield self._quarantine("truncated-gzip" if cut else "corrupt-record", position,
                                   "no complete ARC record header in this gzip member")
            return
        try:
            rec_type, fields, declared = self._header(stream, line)
        except _BadRecord as exc:
            yield self._quarantine("truncated-gzip" if cut else "corrupt-record", position,
                                   str(exc))
            return
        if self._too_big(declared):
            yield self._oversized(fields, declared, position)
            if cut:
                yield self._quarantine("truncated-gzip", position,
                                       "the file ends inside this gzip member")
            return
        block = stream.read(declared)
        if len(block) < declared:
            yield self._quarantine("truncated-gzip" if cut else "corrupt-record", position,
                                   f"block has {len(block)} of {declared} bytes")
            return
        yield self._item(rec_type, fields, block, position)
        if cut:
            yield self._quarantine("truncated-gzip", position,
                                   "the last gzip member ends without its trailer "
                                   "(file cut short)")
        elif stream.read(_MAX_HEADER).strip():
            yield self._quarantine(
                "unsupported-format", position,
                "unsupported format: a gzip member holding more than one ARC record (the "
                "whole file gzipped in one piece; `warcio recompress` rewrites it one member "
                "per record)")

    def _inflate(self, mm: mmap.mmap, position: int) -> tuple[bytes, int | None]:
        """The inflated gzip member at `position` (at most a record's worth of it), and the
        offset just after the member, or None when the file ends inside it."""
        cap = self.options.max_record_bytes + _MAX_HEADER
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        out = bytearray()
        at, step, data = position, 1 << 14, b""  # most members are a few kB
        while True:
            if not data:
                if at >= len(mm):
                    return bytes(out), None
                data = mm[at : at + step]
                at, step = at + len(data), min(step * 2, _CHUNK)
            piece = inflater.decompress(data, _CHUNK)
            if len(out) < cap:
                out += piece[: cap - len(out)]
            if inflater.eof:
                return bytes(out), at - len(inflater.unused_data)
            data = inflater.unconsumed_tail


def starts_record(head: bytes) -> bool:
    """Whether `head` begins with an ARC version block or record line."""
    return head.startswith(b"filedesc://") or _HEADER_LINE.match(head) is not None


def _mapped(fh: IO[bytes]) -> mmap.mmap:
    return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)


def _as_warc(rec_type: str, fields: dict[str, str], block: bytes) -> WarcRecord:
    """The WARC record an ARC record stands for, read back by FastWARC."""
    uri = fields.get("uri", "")
    try:
        date = timestamp_to_iso_date(fields.get("archive-date", ""))
    except (ValueError, IndexError):
        date = None
    digest = hashlib.sha1(block).hexdigest()
    record_id = uuid.uuid5(uuid.NAMESPACE_URL, f"arc:{uri} {date} {digest}")
    headers = [("WARC-Record-ID", f"<urn:uuid:{record_id}>")]
    if rec_type == "arc_header":
        headers += [("WARC-Type", "warcinfo"), ("WARC-Filename", uri.removeprefix("filedesc://")),
                    ("Content-Type", fields.get("content-type", ""))]
    elif uri.lower().startswith(_HTTP):
        headers += [("WARC-Type", "response"), ("WARC-Target-URI", uri),
                    ("Content-Type", "application/http; msgtype=response")]
        block = _crlf_http_head(block)
    else:
        headers += [("WARC-Type", "resource"), ("WARC-Target-URI", uri),
                    ("Content-Type", fields.get("content-type", ""))]
    if date:
        headers.append(("WARC-Date", date))
    if fields.get("ip-address"):
        headers.append(("WARC-IP-Address", fields["ip-address"]))
    headers.append(("Content-Length", str(len(block))))
    head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    data = head.encode("utf-8", "surrogateescape") + block + b"\r\n\r\n"
    return next(iter(ArchiveIterator(io.BytesIO(data), parse_http=False)))


def _crlf_http_head(block: bytes) -> bytes:
    """`block` with its HTTP header lines ended by CRLF.

    Servers of the ARC years often ended them with a bare LF, and FastWARC then finds no
    headers and no body.
    """
    head_end = block.find(b"\n\n", 0, _MAX_HEADER)
    crlf_end = block.find(b"\r\n\r\n", 0, _MAX_HEADER)
    if head_end < 0 or 0 <= crlf_end < head_end:
        return block
    head = block[:head_end].rstrip(b"\r").replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return head + b"\r\n\r\n" + block[head_end + 2 :]
