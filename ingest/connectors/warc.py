"""`warc_v1`: web crawls in WARC / WARC.gz / WET files (FastWARC) and ARC / ARC.gz (warcio).

What a file holds is read from its first bytes, not its name: WARC (1.0, 1.1 and the 0.17 /
0.18 drafts) is read with FastWARC; ARC 1.0 (Internet Archive and Heritrix crawls before
WARC) with warcio, its records rewritten as WARC ones (`ingest.connectors.arc`). A file in
another format (ARC 2, ZIP/WACZ, bzip2, xz, 7-Zip, tar, PDF, Parquet, HAR...) is one
`Quarantined("unsupported-format")` whose detail reads "unsupported format: ...".

Every record becomes exactly one item, in file order (plus one `truncated-gzip` item when a
.warc.gz was cut inside gzip framing that FastWARC reads past without complaint):

- `response` with status 2xx and an HTML payload → `RawDocument` (main-content text by
  `ingest.html`, HTTP-header and HTML consent signals, Creative Commons links);
- `response` for `/robots.txt`, `/.well-known/tdmrep.json` or `/ai.txt`, whatever its status
  (4xx and 5xx mean different things for robots) → `RobotsFound`;
- WET `conversion` → `RawDocument` with the crawler's plain text as is;
- `resource` with an HTML or plain-text block → `RawDocument` (no HTTP status or headers);
- the crawler describing itself, whatever the record type → `Skipped`: `crawl-metadata`
  for `metadata://` URIs (wget's `wget.log`, `wget_arguments.txt`, `MANIFEST.txt`;
  NetarchiveSuite's Heritrix logs and settings) and wpull's `urn:X-wpull:log`; `dns` for
  `dns:` URIs or `text/dns` blocks; `whois` for `whois:` URIs;
- everything else → `Skipped` with a fixed reason: `warc-<type>` for request, metadata,
  revisit, warcinfo (an ARC file's version block too), continuation records;
  `http-status-<n>xx` for non-2xx pages (redirects and error pages are not content; the
  redirect target is its own record); `non-html`; `warc-resource-non-text`; `empty-text` /
  `short-text` (under `min_text_chars`);
- unreadable records → `Quarantined` (`truncated-gzip`, `truncated-record`, `corrupt-gzip`,
  `corrupt-record`, `invalid-warc-header`, `bad-http-headers`, `payload-decode-error`,
  `oversized-record`, `html-parse-error`). After a corrupt record, reading resumes at the
  next record that can be found (the next gzip member, or the next record header line).

A record cut short by the end of a truncated file is quarantined whole — `truncated-record`
(`truncated-gzip` in a gzip file) at the record's offset — not kept in part: the part lost
holds what decides the page's use (licence links and notices sit at the end of a page).

Locations are byte offsets of the record start in the file (for .gz: of its gzip member),
as decimal strings. The output depends only on the file's bytes, so an interrupted ingest
can resume by skipping what it already has.
"""

from __future__ import annotations

import io
import mmap
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from fastwarc.warc import ArchiveIterator, WarcRecord

from ingest.connectors import arc, gzip_members
from ingest.connectors.warc_records import RecordConverter, WarcOptions, declared_length, detail
from ingest.registry import Connector, register
from ingest.textio import iter_files, outside_root
from ingest.types import Item, Quarantined, Skipped

__all__ = ["WARC_SUFFIXES", "WarcOptions", "read_warc"]

WARC_SUFFIXES = (".warc", ".warc.gz", ".wet", ".wet.gz", ".arc", ".arc.gz")
# Web-archive files met in crawl folders that govcat does not read: reported, not passed over.
_UNREADABLE_SUFFIXES = (".wacz", ".warc.bz2", ".warc.xz", ".arc.bz2", ".arc.xz")
_MAX_HEADER = 64 * 1024  # a WARC header longer than this is not a header
_WARC_LINE = re.compile(rb"(?:^|\n)WARC/(?:1\.[01]|0\.1[78])\r?\n")
_WARC_VERSIONS = (b"WARC/1.0\r", b"WARC/1.1\r", b"WARC/0.17\r", b"WARC/0.18\r",
                  b"WARC/1.0\n", b"WARC/1.1\n", b"WARC/0.17\n", b"WARC/0.18\n")
# Leading bytes of formats a crawl folder may hold instead of WARC or ARC.
_FOREIGN_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive (a WACZ package is one: unpack it and ingest the WARC "
                    "files of its archive/ folder)"),
    (b"BZh", "bzip2-compressed data (decompress it first)"),
    (b"\xfd7zXZ\x00", "xz-compressed data (decompress it first)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"%PDF-", "a PDF document"),
    (b"PAR1", "a Parquet file (read it with --format parquet_v1)"),
)
Kind = Literal["warc", "arc", "unsupported"]


def read_warc(path: Path, options: WarcOptions | None = None) -> Iterator[Item]:
    """Yield one item per record of `path` (see the module docstring).

    `path` is a WARC, WET or ARC file (read whatever its name), or a folder whose `.warc`,
    `.warc.gz`, `.wet`, `.wet.gz`, `.arc`, `.arc.gz` files are read in name order (a
    `.wacz`, `.warc.bz2`... file is reported as an unsupported format, other files are
    `Skipped("unsupported-file")`). A missing path raises `InputError`; bad data never raises.
    """
    options = options or WarcOptions()
    path = Path(path)
    for file, supported in iter_files(path, WARC_SUFFIXES + _UNREADABLE_SUFFIXES):
        if file != path and (escaped := outside_root(file, path)) is not None:
            yield escaped  # a link or `..` out of the input folder is never followed
            continue
        if not supported and file != path:
            yield Skipped("unsupported-file", str(file))
            continue
        kind, what = sniff(file)
        if kind == "unsupported":
            yield Quarantined("unsupported-format", str(file), "0", f"unsupported format: {what}")
        elif kind == "arc":
            yield from arc.read_arc(file, options)
        else:
            yield from _WarcReader(file, options).items()


def sniff(path: Path) -> tuple[Kind, str]:
    """What `path` holds, from its first bytes (inflated when gzip), and a phrase naming it.

    Bytes that are neither a known foreign format nor WARC or ARC go to the WARC reader,
    which quarantines them as corrupt and looks for records further on.
    """
    with path.open("rb") as fh:
        head = fh.read(8192)
    compressed = head.startswith(gzip_members.GZIP_MAGIC)
    if compressed:
        inflated = gzip_members.inflate_head(head, 512)
        if inflated is None:  # a bad first member: the reader reports it and resynchronises
            return ("arc" if path.name.lower().endswith(".arc.gz") else "warc"), "corrupt gzip"
        head = inflated
    kind, what = _sniff_plain(head)
    if compressed and kind == "unsupported":
        what = f"gzip-compressed {what}"
    return kind, what


def _sniff_plain(head: bytes) -> tuple[Kind, str]:
    if head.startswith(b"WARC/"):
        if head.startswith(_WARC_VERSIONS):
            return "warc", "WARC"
        version = head.split(b"\n", 1)[0].strip().decode("ascii", "replace")
        return "unsupported", f"{version} (govcat reads WARC/1.0, 1.1, 0.17 and 0.18)"
    if head.startswith(b"filedesc://"):
        version = arc.arc_version(head)
        if version in ("1", None):  # None: cut inside the version block, the reader says so
            return "arc", "ARC"
        return "unsupported", f"ARC version {version} (govcat reads ARC version 1)"
    if arc.starts_record(head):
        return "arc", "ARC"  # a part of an ARC file, without its version block
    for magic, what in _FOREIGN_MAGIC:
        if head.startswith(magic):
            return "unsupported", what
    if head[257:262] == b"ustar":
        return "unsupported", "a tar archive (unpack it and ingest its files)"
    if head.lstrip().startswith(b"{") and b'"log"' in head[:512]:
        return "unsupported", "a HAR capture (JSON)"
    return "warc", "WARC"


class _WarcReader:
    """FastWARC over one WARC file, resuming after damage (see the module docstring)."""

    def __init__(self, path: Path, options: WarcOptions) -> None:
        self.path = path
        self.file = str(path)
        self.gzipped = gzip_members.is_gzip(path)
        self.converter = RecordConverter(path, options, gzipped=self.gzipped)
        self.truncated = self.converter.truncated
        self.corrupt = self.converter.corrupt

    def items(self) -> Iterator[Item]:
        start = 0
        last: WarcRecord | None = None  # last record taken from the current iterator
        last_item: Item | None = None
        while True:
            try:
                for record in self._iterate(start):
                    last, last_item = record, self.converter.item(record, record.stream_pos)
                    yield last_item
                break
            except OSError as exc:
                # The iterator cannot go on: bad gzip data or an unparsable WARC header.
                if last is None:
                    # Nothing readable since `start`: the file's beginning is bad, or a
                    # resume point was a false match (its region is already reported).
                    if start == 0:
                        yield Quarantined(self._failure_at(0), self.file, "0", detail(exc))
                    resume_from = start + 1
                elif _is_stream_failure(last_item):
                    resume_from = last.stream_pos + 1  # that record was reported already
                else:
                    bad_at = self._end_of(last)
                    yield Quarantined(self._failure_at(bad_at), self.file, str(bad_at), detail(exc))
                    resume_from = bad_at + 1
                resume = self._next_record_start(resume_from)
                if resume is None:
                    return
                start, last, last_item = resume, None, None
        complete = not (isinstance(last_item, Quarantined) and last_item.reason == self.truncated)
        if self.gzipped and last is not None and complete:
            yield from gzip_members.check_end(self.path, last.stream_pos, corrupt=self.corrupt)

    def _iterate(self, start: int) -> Iterator[WarcRecord]:
        # Local files only: FastWARC's own reader is faster than going through fsspec.
        if start == 0:
            yield from ArchiveIterator(str(self.path), parse_http=False, fsspec_args=False)
            return
        with self.path.open("rb") as fh:
            fh.seek(start)
            yield from ArchiveIterator(fh, parse_http=False, fsspec_args=False)

    # --- resynchronisation --------------------------------------------------------------

    def _end_of(self, record: WarcRecord) -> int:
        """Byte offset just after `record` (where the unreadable data begins)."""
        with self.path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            if self.gzipped:
                nxt = gzip_members.next_member(mm, record.stream_pos + 1)
                return nxt if nxt is not None else len(mm)
            header_end = mm.find(b"\r\n\r\n", record.stream_pos)
            declared = declared_length(record) or 0
            if header_end < 0:
                return len(mm)
            return min(header_end + 4 + declared + 4, len(mm))

    def _failure_at(self, position: int) -> str:
        """`truncated-record` when a plain file ends inside a WARC header, else corrupt."""
        if self.gzipped:
            return self.corrupt  # cut .warc.gz files read silently; see gzip_members.check_end
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
                    return gzip_members.next_member(
                        mm, position, accept=lambda head: head.startswith(b"WARC/"))
                match = _WARC_LINE.search(mm, position)
                if match is None:
                    return None
                return match.start() + (1 if mm[match.start() : match.start() + 1] == b"\n" else 0)


def _is_stream_failure(item: Item | None) -> bool:
    return isinstance(item, Quarantined) and item.reason in ("corrupt-gzip", "corrupt-record")


register(
    Connector(
        name="warc_v1",
        kinds=("web-crawl",),
        description=(
            "Web crawls: .warc, .warc.gz, WET (FastWARC + resiliparse) and ARC 1.0 .arc, "
            ".arc.gz (warcio). Crawler logs, manifests (metadata://) and DNS records are "
            "skipped, not documents. A record cut short by the end of the file is "
            "quarantined whole as truncated-record / truncated-gzip at its offset, not "
            "kept in part. Other formats: quarantined as unsupported-format."
        ),
        options_type=WarcOptions,
        read=read_warc,
        version="1",
    )
)
