"""One WARC record → one item: the conversion both web-archive readers share.

`ingest.connectors.warc` hands it the records FastWARC reads from WARC files;
`ingest.connectors.arc` hands it ARC records rewritten as WARC ones. The item kinds and
reasons are listed in `ingest.connectors.warc`'s docstring.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from fastwarc.stream_io import BrotliReader, ChunkedReader
from fastwarc.warc import WarcRecord
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
from ingest.types import Item, Quarantined, RawDocument, RobotsFound, Skipped

__all__ = [
    "RecordConverter", "RecordError", "WarcOptions", "crawler_reason", "declared_length", "detail",
]


@dataclass(frozen=True)
class WarcOptions:
    max_record_bytes: int = 50_000_000  # larger records are quarantined unread
    min_text_chars: int = 1  # documents with less extracted text are skipped


HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
WELL_KNOWN: dict[str, Literal["robots.txt", "tdmrep.json", "ai.txt"]] = {
    "/robots.txt": "robots.txt",
    "/.well-known/tdmrep.json": "tdmrep.json",
    "/ai.txt": "ai.txt",
}
_SKIPPED_TYPES = frozenset({"request", "metadata", "revisit", "warcinfo", "continuation"})
# Records in which the crawler describes itself, whatever their WARC type: wget and
# NetarchiveSuite's Heritrix write logs, arguments and manifests under metadata:// URIs,
# wpull (grab-site) its log as urn:X-wpull:log; Heritrix stores DNS and WHOIS lookups as
# responses. None is web content, and a WHOIS answer is mostly personal data.
_CRAWLER_SCHEMES = {"metadata": "crawl-metadata", "dns": "dns", "whois": "whois"}
_CRAWLER_URI_PREFIXES = {"urn:x-wpull:": "crawl-metadata"}


class RecordError(Exception):
    """A record that cannot be turned into an item; becomes a `Quarantined`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class RecordConverter:
    """Turns the records of one file into items; `gzipped` names its truncation reasons."""

    def __init__(self, path: Path, options: WarcOptions, *, gzipped: bool) -> None:
        self.path = path
        self.file = str(path)
        self.options = options
        self.truncated = "truncated-gzip" if gzipped else "truncated-record"
        self.corrupt = "corrupt-gzip" if gzipped else "corrupt-record"

    def item(self, record: WarcRecord, offset: int) -> Item:
        """The item for `record`, which starts at byte `offset` of the file."""
        location = str(offset)
        try:
            return self._convert(record, offset)
        except RecordError as err:
            return Quarantined(err.reason, self.file, location, err.detail)
        except OSError as exc:  # the payload could not be read from the stream
            return Quarantined(self.corrupt, self.file, location, detail(exc))

    def _convert(self, record: WarcRecord, offset: int) -> Item:
        declared = declared_length(record)
        if declared is None:
            # FastWARC hands over a record whose header was cut off by the end of the file.
            raise RecordError(self.truncated, "WARC header without a valid Content-Length")
        crawler = _crawler_record(record)
        if crawler is not None:
            return self._skip(record, crawler, offset)
        rtype = str(record.record_type)  # "response", "request", ...
        if rtype == "response":
            return self._response(record, offset, declared)
        if rtype == "conversion":
            return self._plain_document(record, offset, declared, source="warc-conversion")
        if rtype == "resource":
            return self._resource(record, offset, declared)
        if rtype in _SKIPPED_TYPES:
            return self._skip(record, f"warc-{rtype}", offset)
        return self._skip(record, "warc-unknown-type", offset)

    def _response(self, record: WarcRecord, offset: int, declared: int) -> Item:
        url = _target_uri(record)
        try:
            record.parse_http(auto_decode="none")
        except (OSError, ValueError) as exc:
            raise RecordError("bad-http-headers", detail(exc)) from None
        http = record.http_headers
        status = http.status_code if http is not None else None
        if status is None:
            raise RecordError("bad-http-headers", "no HTTP status line")
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
            return self._skip(record, f"http-status-{status // 100}xx", offset)
        content_type = (record.http_content_type or "").lower()
        if content_type and content_type not in HTML_TYPES:
            return self._skip(record, "non-html", offset)
        payload = self._payload(record, declared)
        if not content_type and not _looks_like_html(payload):
            return Skipped("non-html", self.file, str(offset))
        return self._html_document(
            record,
            offset,
            payload,
            url=url,
            charset=record.http_charset,
            metadata={"content_type": content_type or None, "http_status": status},
            signals=header_signals(http),
        )

    def _resource(self, record: WarcRecord, offset: int, declared: int) -> Item:
        content_type = _warc_content_type(record)
        if content_type in HTML_TYPES:
            payload = self._block(record, declared)
            return self._html_document(
                record,
                offset,
                payload,
                url=_target_uri(record),
                charset=None,
                metadata={"content_type": content_type, "http_status": None},
                signals=[],
            )
        if content_type == "text/plain":
            return self._plain_document(record, offset, declared, source="warc-resource")
        return self._skip(record, "warc-resource-non-text", offset)

    def _html_document(
        self,
        record: WarcRecord,
        offset: int,
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
            raise RecordError("html-parse-error", detail(exc)) from None
        short = self._too_short(text, offset)
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
                "warc_offset": offset,
                "extractor": EXTRACTOR,
                "extractor_version": EXTRACTOR_VERSION,
            },
            signals=[*signals, *page_signals],
            licenses=licenses,
        )

    def _plain_document(self, record: WarcRecord, offset: int, declared: int, *, source: str
                        ) -> Item:
        url = _target_uri(record)
        block = self._block(record, declared)
        text = bytes_to_str(block, "utf-8").strip()
        short = self._too_short(text, offset)
        if short is not None:
            return short
        metadata: dict[str, Any] = {
            "content_type": _warc_content_type(record) or None,
            "http_status": None,
            "warc_file": self.path.name,
            "warc_offset": offset,
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

    def _skip(self, record: WarcRecord, reason: str, offset: int) -> Skipped:
        """Skip the rest of the record, but notice when the file ends inside it."""
        expected = record.content_length
        read = record.reader.consume()
        if read < expected:
            raise RecordError(self.truncated, f"record has {read} of {expected} bytes left")
        return Skipped(reason, self.file, str(offset))

    def _too_short(self, text: str, offset: int) -> Skipped | None:
        if len(text) >= max(self.options.min_text_chars, 1):
            return None
        return Skipped("short-text" if text else "empty-text", self.file, str(offset))

    # --- payload reading ----------------------------------------------------------------

    def _check_size(self, declared: int) -> None:
        if declared > self.options.max_record_bytes:
            raise RecordError(
                "oversized-record",
                f"{declared} bytes > max_record_bytes={self.options.max_record_bytes}",
            )

    def _block(self, record: WarcRecord, declared: int) -> bytes:
        """The whole record block (no HTTP parsing), checked for truncation."""
        self._check_size(declared)
        block = record.reader.read()
        if len(block) < declared:
            raise RecordError(self.truncated, f"block has {len(block)} of {declared} bytes")
        return block

    def _payload(self, record: WarcRecord, declared: int) -> bytes:
        """HTTP payload with transfer and content encodings undone, checked for truncation."""
        self._check_size(declared)
        expected = record.content_length  # what is left of the block after the HTTP headers
        raw = record.reader.read()
        if len(raw) < expected:
            raise RecordError(self.truncated, f"payload has {len(raw)} of {expected} bytes")
        http = record.http_headers
        try:
            return _decode_payload(
                raw,
                transfer=http.get("Transfer-Encoding", ""),
                content=http.get("Content-Encoding", ""),
                limit=self.options.max_record_bytes,
            )
        except RecordError:
            raise
        except (OSError, ValueError, zlib.error) as exc:
            raise RecordError("payload-decode-error", detail(exc)) from None


# --- helpers ------------------------------------------------------------------------------


def _crawler_record(record: WarcRecord) -> str | None:
    return crawler_reason(record.headers.get("WARC-Target-URI") or "", _warc_content_type(record))


def crawler_reason(uri: str, content_type: str) -> str | None:
    """The skip reason of a record in which the crawler describes itself, else None."""
    if content_type.split(";", 1)[0].strip().lower() == "text/dns":
        return "dns"
    uri = uri.strip().strip("<>").lower()
    scheme, colon, _ = uri.partition(":")
    if colon and scheme in _CRAWLER_SCHEMES:
        return _CRAWLER_SCHEMES[scheme]
    for prefix, reason in _CRAWLER_URI_PREFIXES.items():
        if uri.startswith(prefix):
            return reason
    return None


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
            raise RecordError("payload-decode-error", f"unsupported Content-Encoding {coding!r}")
        if len(raw) > limit:
            raise RecordError("oversized-record", f"decoded payload > {limit} bytes")
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
        raise RecordError("oversized-record", f"decoded payload > {limit} bytes")
    if not inflater.eof:
        raise RecordError("payload-decode-error", "compressed payload is incomplete")
    return out


def declared_length(record: WarcRecord) -> int | None:
    value = record.headers.get("Content-Length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _record_id(record: WarcRecord) -> str:
    record_id = record.record_id
    if not record_id:
        raise RecordError("invalid-warc-header", "missing WARC-Record-ID")
    return record_id


def _target_uri(record: WarcRecord) -> str:
    uri = (record.headers.get("WARC-Target-URI") or "").strip()
    if uri.startswith("<") and uri.endswith(">"):  # WARC 1.0 drafts bracket the URI
        uri = uri[1:-1]
    if not uri:
        raise RecordError("invalid-warc-header", "missing WARC-Target-URI")
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


def detail(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
