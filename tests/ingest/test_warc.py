import gzip
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator as WarcioIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from ingest import registry
from ingest.connectors.warc import WarcOptions, read_warc
from ingest.html import EXTRACTOR_VERSION
from ingest.textio import InputError
from ingest.types import ConsentSignal, Quarantined, RawDocument, RobotsFound, Skipped

DATE = "2024-03-01T12:30:00Z"
WHEN = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)

ARTICLE = (
    "Otters spend most of the day in the water and sleep in dens dug into the river bank. "
    "They hunt fish, frogs and crayfish, and a single otter can eat a fifth of its weight daily."
)
PAGE = f"""<!doctype html><html><head><meta charset="utf-8">
<title>River otters</title>
<meta name="robots" content="noindex, noai">
<meta name="tdm-reservation" content="1">
<link rel="license" href="https://creativecommons.org/licenses/by-sa/4.0/">
</head><body>
<nav><a href="/">Home</a> <a href="/animals">Animals</a></nav>
<article><h1>River otters</h1><p>{ARTICLE}</p></article>
<footer><a href="https://creativecommons.org/publicdomain/zero/1.0/">CC0 photo</a></footer>
</body></html>""".encode()

ROBOTS = b"User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
TDMREP = b'[{"location": "/", "tdm-reservation": 1}]'


@dataclass
class Written:
    """What the test wrote: record ids and offsets by URL, read back with warcio."""

    path: Path
    ids: dict[str, str]
    offsets: dict[str, int]
    types: list[str]


HTML = [("Content-Type", "text/html")]


def http(status: str, headers: list[tuple[str, str]]) -> StatusAndHeaders:
    return StatusAndHeaders(status, headers, protocol="HTTP/1.1")


def response(url: str, body: bytes, status: str = "200 OK", headers=HTML) -> dict:
    return {"type": "response", "url": url, "body": body, "http": http(status, headers)}


def write_crawl(path: Path, records: list[dict], *, gz: bool) -> Written:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=gz)
        for spec in records:
            kind = spec["type"]
            warc_headers = {"WARC-Date": spec.get("date", DATE)}
            if kind == "warcinfo":
                record = writer.create_warcinfo_record(path.name, {"software": "test"})
            elif kind == "revisit":
                record = writer.create_revisit_record(
                    spec["url"], "sha1:AAAA", spec["url"], DATE, warc_headers_dict=warc_headers
                )
            else:
                record = writer.create_warc_record(
                    spec["url"],
                    kind,
                    payload=io.BytesIO(spec.get("body", b"")),
                    http_headers=spec.get("http"),
                    warc_content_type=spec.get("content_type", ""),
                    warc_headers_dict=warc_headers,
                )
            writer.write_record(record)
    ids, offsets, types = {}, {}, []
    with path.open("rb") as fh:
        iterator = WarcioIterator(fh)
        for record in iterator:
            types.append(record.rec_type)
            uri = record.rec_headers.get_header("WARC-Target-URI")
            if record.rec_type in ("response", "resource", "conversion"):
                ids[uri] = record.rec_headers.get_header("WARC-Record-ID")
                offsets[uri] = iterator.get_record_offset()
    return Written(path, ids, offsets, types)


def crawl_records() -> list[dict]:
    html = [("Content-Type", "text/html; charset=utf-8")]
    page_headers = [
        *html,
        ("X-Robots-Tag", "noai"),
        ("tdm-reservation", "1"),
        ("TDM-Policy", "https://example.org/tdm-policy.json"),
        ("Content-Signal", "ai-train=no"),
    ]
    request = StatusAndHeaders(
        "GET /otters HTTP/1.1", [("Host", "Example.ORG")], is_http_request=True
    )
    return [
        {"type": "warcinfo"},
        {"type": "request", "url": "https://Example.ORG/otters", "http": request},
        {
            "type": "response",
            "url": "https://Example.ORG/otters",
            "body": PAGE,
            "http": http("200 OK", page_headers),
        },
        {
            "type": "metadata",
            "url": "https://Example.ORG/otters",
            "body": b"fetchTimeMs: 12\r\n",
            "content_type": "application/warc-fields",
        },
        {"type": "revisit", "url": "https://example.org/otters-again"},
        {
            "type": "response",
            "url": "https://example.org/robots.txt",
            "body": ROBOTS,
            "http": http("200 OK", [("Content-Type", "text/plain")]),
        },
        {
            "type": "response",
            "url": "https://example.org/.well-known/tdmrep.json",
            "body": TDMREP,
            "http": http("200 OK", [("Content-Type", "application/json")]),
        },
        {
            "type": "response",
            "url": "https://other.example/ai.txt",
            "body": b"<html>not found</html>",
            "http": http("404 Not Found", html),
        },
        {
            "type": "response",
            "url": "https://example.org/robots.txt.bak",
            "body": b"User-agent: *",
            "http": http("200 OK", [("Content-Type", "text/plain")]),
        },
        {
            "type": "response",
            "url": "https://example.org/logo.png",
            "body": b"\x89PNG\r\n\x1a\n" + bytes(64),
            "http": http("200 OK", [("Content-Type", "image/png")]),
        },
        {
            "type": "response",
            "url": "https://example.org/missing",
            "body": b"<html><body><p>Sorry, this page does not exist.</p></body></html>",
            "http": http("404 Not Found", html),
        },
        {
            "type": "response",
            "url": "https://example.org/old",
            "body": b"",
            "http": http("301 Moved Permanently", [("Location", "https://example.org/new")]),
        },
        {
            "type": "response",
            "url": "https://example.org/blank",
            "body": b"<html><head><title>Blank</title></head><body></body></html>",
            "http": http("200 OK", html),
        },
        {
            "type": "resource",
            "url": "https://example.org/photo.jpg",
            "body": b"\xff\xd8\xff" + bytes(32),
            "content_type": "image/jpeg",
        },
    ]


EXPECTED_KINDS = [
    ("Skipped", "warc-warcinfo"),
    ("Skipped", "warc-request"),
    ("RawDocument", "https://Example.ORG/otters"),
    ("Skipped", "warc-metadata"),
    ("Skipped", "warc-revisit"),
    ("RobotsFound", "robots.txt"),
    ("RobotsFound", "tdmrep.json"),
    ("RobotsFound", "ai.txt"),
    ("Skipped", "non-html"),  # robots.txt.bak: not the well-known path
    ("Skipped", "non-html"),
    ("Skipped", "http-status-4xx"),
    ("Skipped", "http-status-3xx"),
    ("Skipped", "empty-text"),
    ("Skipped", "warc-resource-non-text"),
]


def summary(items) -> list[tuple[str, str]]:
    out = []
    for item in items:
        label = {
            RawDocument: lambda i: i.url,
            Skipped: lambda i: i.reason,
            Quarantined: lambda i: i.reason,
            RobotsFound: lambda i: i.kind,
        }[type(item)](item)
        out.append((type(item).__name__, label))
    return out


@pytest.fixture(params=[True, False], ids=["gz", "plain"])
def crawl(request, tmp_path) -> Written:
    gz = request.param
    return write_crawl(tmp_path / ("crawl.warc.gz" if gz else "crawl.warc"), crawl_records(), gz=gz)


def test_every_record_becomes_one_item_in_order(crawl):
    items = list(read_warc(crawl.path))
    assert len(items) == len(crawl.types)
    assert summary(items) == EXPECTED_KINDS


def test_html_response_document_fields(crawl):
    (doc,) = [i for i in read_warc(crawl.path) if isinstance(i, RawDocument)]
    url = "https://Example.ORG/otters"
    assert doc.native_id == crawl.ids[url]
    assert doc.native_id.startswith("<urn:uuid:")
    assert doc.url == url
    assert doc.host == "example.org"
    assert doc.collected_at == WHEN
    assert doc.collected_at.tzinfo is not None
    assert doc.collected_at.utcoffset().total_seconds() == 0
    assert doc.title == "River otters"
    assert ARTICLE in doc.text
    assert "Animals" not in doc.text
    assert doc.metadata == {
        "content_type": "text/html",
        "http_status": 200,
        "warc_file": crawl.path.name,
        "warc_offset": crawl.offsets[url],
        "extractor": "resiliparse",
        "extractor_version": EXTRACTOR_VERSION,
    }
    assert doc.signals == [
        ConsentSignal("x-robots-tag", "noai", "http-header"),
        ConsentSignal("tdm-reservation-header", "1", "http-header"),
        ConsentSignal("tdm-policy-header", "https://example.org/tdm-policy.json", "http-header"),
        ConsentSignal("content-signal", "ai-train=no", "http-header"),
        ConsentSignal("meta-robots", "noindex, noai", "html"),
        ConsentSignal("tdm-reservation-meta", "1", "html"),
    ]
    assert [(f.expression, f.extra["rel_license"], f.extra["conflict"]) for f in doc.licenses] == [
        ("CC-BY-SA-4.0", True, True),
        ("CC0-1.0", False, True),
    ]
    assert doc.licenses[0].location == "https://creativecommons.org/licenses/by-sa/4.0/"
    assert doc.licenses[0].extra["version"] == "4.0"


def test_well_known_files_become_robots_found(crawl):
    found = [i for i in read_warc(crawl.path) if isinstance(i, RobotsFound)]
    assert found == [
        RobotsFound("example.org", "robots.txt", WHEN, 200, ROBOTS.decode(),
                    "https://example.org/robots.txt"),
        RobotsFound("example.org", "tdmrep.json", WHEN, 200, TDMREP.decode(),
                    "https://example.org/.well-known/tdmrep.json"),
        RobotsFound("other.example", "ai.txt", WHEN, 404, "<html>not found</html>",
                    "https://other.example/ai.txt"),
    ]  # fmt: skip


def test_skipped_items_name_file_and_offset(crawl):
    skipped = [i for i in read_warc(crawl.path) if isinstance(i, Skipped)]
    assert {s.file for s in skipped} == {str(crawl.path)}
    non_html = [s for s in skipped if s.reason == "non-html"][1]
    assert non_html.location == str(crawl.offsets["https://example.org/logo.png"])


def test_output_is_deterministic(crawl):
    assert list(read_warc(crawl.path)) == list(read_warc(crawl.path))


def test_registered_as_warc_v1(crawl):
    connector = registry.get("warc_v1")
    assert connector.kinds == ("web-crawl",)
    options = connector.parse_options({"max-record-bytes": "1000", "min-text-chars": "5"})
    assert options == WarcOptions(max_record_bytes=1000, min_text_chars=5)
    assert summary(connector.read(crawl.path, options)) == EXPECTED_KINDS


def test_missing_path_raises_input_error(tmp_path):
    with pytest.raises(InputError, match="nope.warc.gz"):
        list(read_warc(tmp_path / "nope.warc.gz"))


def test_folder_is_read_in_name_order_and_other_files_skipped(tmp_path):
    page = b"<p>Enough words in this paragraph to be a page.</p>"
    write_crawl(tmp_path / "b.warc", [response("https://b.example/", page)], gz=False)
    write_crawl(tmp_path / "sub" / "a.warc.gz", [response("https://a.example/", page)], gz=True)
    (tmp_path / "notes.txt").write_text("not a crawl")
    items = list(read_warc(tmp_path))
    assert summary(items) == [
        ("RawDocument", "https://b.example/"),
        ("Skipped", "unsupported-file"),
        ("RawDocument", "https://a.example/"),
    ]
    assert items[1].file == str(tmp_path / "notes.txt")
    assert items[2].metadata["warc_file"] == "a.warc.gz"


def test_a_file_named_explicitly_is_read_whatever_its_name(tmp_path):
    written = five_pages(tmp_path, gz=True)
    renamed = written.path.rename(tmp_path / "crawl-00001.bin")
    assert len(list(read_warc(renamed))) == 5


def test_oversized_record_quarantined_and_reading_goes_on(tmp_path):
    big = b"<html><body><p>" + b"word " * 5000 + b"</p></body></html>"
    small = b"<html><body><p>A short but real paragraph of text.</p></body></html>"
    written = write_crawl(
        tmp_path / "big.warc.gz",
        [response("https://a.example/big", big), response("https://a.example/small", small)],
        gz=True,
    )
    items = list(read_warc(written.path, WarcOptions(max_record_bytes=10_000)))
    assert summary(items) == [
        ("Quarantined", "oversized-record"),
        ("RawDocument", "https://a.example/small"),
    ]
    assert items[0].location == str(written.offsets["https://a.example/big"])
    assert "max_record_bytes=10000" in items[0].detail


def test_min_text_chars_skips_short_documents(tmp_path):
    body = b"<html><body><p>Tiny.</p></body></html>"
    written = write_crawl(
        tmp_path / "short.warc",
        [response("https://a.example/", body)],
        gz=False,
    )
    assert summary(read_warc(written.path, WarcOptions(min_text_chars=100))) == [
        ("Skipped", "short-text")
    ]
    assert summary(read_warc(written.path)) == [("RawDocument", "https://a.example/")]


def test_content_and_transfer_encodings_are_undone(tmp_path):
    page = b"<html><body><p>" + b"Compressed paragraph about birds. " * 20 + b"</p></body></html>"
    encoded = gzip.compress(page)
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(encoded), encoded)
    headers = [
        ("Content-Type", "text/html"),
        ("Content-Encoding", "gzip"),
        ("Transfer-Encoding", "chunked"),
    ]
    written = write_crawl(
        tmp_path / "enc.warc",
        [response("https://a.example/birds", chunked, headers=headers)],
        gz=False,
    )
    (doc,) = list(read_warc(written.path))
    assert doc.text.startswith("Compressed paragraph about birds.")


def test_incomplete_compressed_payload_quarantined(tmp_path):
    encoded = gzip.compress(b"<html><body><p>" + b"x y z " * 200 + b"</p></body></html>")
    headers = [("Content-Type", "text/html"), ("Content-Encoding", "gzip")]
    written = write_crawl(
        tmp_path / "cut.warc",
        [response("https://a.example/cut", encoded[: len(encoded) // 2], headers=headers)],
        gz=False,
    )
    assert summary(read_warc(written.path)) == [("Quarantined", "payload-decode-error")]


def test_wet_conversion_records_keep_plain_text(tmp_path):
    text = "Plain text of a page.\nSecond line of the page.\n"
    written = write_crawl(
        tmp_path / "crawl.warc.wet.gz",
        [
            {"type": "warcinfo"},
            {
                "type": "conversion",
                "url": "https://News.example/story",
                "body": text.encode(),
                "content_type": "text/plain",
            },
            {
                "type": "conversion",
                "url": "https://news.example/empty",
                "body": b"  \n",
                "content_type": "text/plain",
            },
        ],
        gz=True,
    )
    items = list(read_warc(written.path))
    assert summary(items) == [
        ("Skipped", "warc-warcinfo"),
        ("RawDocument", "https://News.example/story"),
        ("Skipped", "empty-text"),
    ]
    doc = items[1]
    assert doc.text == text.strip()
    assert doc.native_id == written.ids["https://News.example/story"]
    assert doc.host == "news.example"
    assert doc.collected_at == WHEN
    assert doc.title is None
    assert doc.signals == [] and doc.licenses == []
    assert doc.metadata["content_type"] == "text/plain"
    assert doc.metadata["warc_offset"] == written.offsets["https://News.example/story"]
    assert doc.metadata["extractor"] == "warc-conversion"


def test_html_resource_record_is_a_document(tmp_path):
    written = write_crawl(
        tmp_path / "res.warc",
        [
            {
                "type": "resource",
                "url": "https://a.example/saved",
                "body": PAGE,
                "content_type": "text/html",
            }
        ],
        gz=False,
    )
    (doc,) = list(read_warc(written.path))
    assert isinstance(doc, RawDocument)
    assert doc.metadata["http_status"] is None
    assert [s.kind for s in doc.signals] == ["meta-robots", "tdm-reservation-meta"]


# --- damaged files --------------------------------------------------------------------


def five_pages(tmp_path: Path, *, gz: bool) -> Written:
    records = [
        response(f"https://a.example/p{n}", b"<p>Page %d has a paragraph of its own.</p>" % n)
        for n in range(5)
    ]
    return write_crawl(tmp_path / ("five.warc.gz" if gz else "five.warc"), records, gz=gz)


def damaged(written: Written, data: bytes) -> Path:
    path = written.path.with_name("damaged" + "".join(written.path.suffixes))
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("cut", [3, 40, 120, 0.5, 0.9])
def test_truncated_gzip_mid_record_quarantined_and_file_ends(tmp_path, cut):
    written = five_pages(tmp_path, gz=True)
    data = written.path.read_bytes()
    start, end = written.offsets["https://a.example/p3"], written.offsets["https://a.example/p4"]
    at = start + (cut if isinstance(cut, int) else int((end - start) * cut))
    items = list(read_warc(damaged(written, data[:at])))
    assert summary(items) == [
        *[("RawDocument", f"https://a.example/p{n}") for n in range(3)],
        ("Quarantined", "truncated-gzip"),
    ]
    assert items[3].location == str(start)
    assert items[3].file.endswith("damaged.warc.gz")


def test_truncated_gzip_trailer_quarantined(tmp_path):
    written = five_pages(tmp_path, gz=True)
    items = list(read_warc(damaged(written, written.path.read_bytes()[:-6])))
    assert summary(items) == [
        *[("RawDocument", f"https://a.example/p{n}") for n in range(5)],
        ("Quarantined", "truncated-gzip"),
    ]
    assert items[-1].location == str(written.offsets["https://a.example/p4"])


@pytest.mark.parametrize("cut", [3, 40, 300, 0.9])
def test_truncated_plain_warc_quarantined(tmp_path, cut):
    written = five_pages(tmp_path, gz=False)
    data = written.path.read_bytes()
    start = written.offsets["https://a.example/p4"]
    at = start + (cut if isinstance(cut, int) else int((len(data) - start) * cut))
    items = list(read_warc(damaged(written, data[:at])))
    assert summary(items) == [
        *[("RawDocument", f"https://a.example/p{n}") for n in range(4)],
        ("Quarantined", "truncated-record"),
    ]
    assert items[4].location == str(start)


def test_corrupt_gzip_member_quarantined_then_reading_resumes(tmp_path):
    written = five_pages(tmp_path, gz=True)
    data = bytearray(written.path.read_bytes())
    start = written.offsets["https://a.example/p2"]
    for i in range(start + 30, start + 90):
        data[i] ^= 0x5A
    items = list(read_warc(damaged(written, bytes(data))))
    assert summary(items) == [
        ("RawDocument", "https://a.example/p0"),
        ("RawDocument", "https://a.example/p1"),
        ("Quarantined", "corrupt-gzip"),
        ("RawDocument", "https://a.example/p3"),
        ("RawDocument", "https://a.example/p4"),
    ]
    assert items[2].location == str(start)
    assert items[2].detail
    assert items[3].metadata["warc_offset"] == written.offsets["https://a.example/p3"]


def test_corrupt_plain_record_header_quarantined_then_reading_resumes(tmp_path):
    written = five_pages(tmp_path, gz=False)
    data = bytearray(written.path.read_bytes())
    start = written.offsets["https://a.example/p1"]
    data[start : start + 8] = b"GARBAGE!"
    items = list(read_warc(damaged(written, bytes(data))))
    assert summary(items) == [
        ("RawDocument", "https://a.example/p0"),
        ("Quarantined", "corrupt-record"),
        *[("RawDocument", f"https://a.example/p{n}") for n in range(2, 5)],
    ]
    assert items[1].location == str(start)
    assert items[2].metadata["warc_offset"] == written.offsets["https://a.example/p2"]


def test_not_a_warc_at_all_is_quarantined(tmp_path):
    path = tmp_path / "notes.warc"
    path.write_text("these are not the records you are looking for\n" * 20)
    items = list(read_warc(path))
    assert summary(items) == [("Quarantined", "corrupt-record")]
    assert items[0].location == "0"


def test_response_without_http_status_line_quarantined(tmp_path):
    path = tmp_path / "nohttp.warc"
    block = b"this is not an HTTP response\r\n\r\n<html></html>"
    header = (
        "WARC/1.0\r\nWARC-Type: response\r\n"
        "WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000001>\r\n"
        f"WARC-Target-URI: https://a.example/\r\nWARC-Date: {DATE}\r\n"
        "Content-Type: application/http; msgtype=response\r\n"
        f"Content-Length: {len(block)}\r\n\r\n"
    ).encode()
    path.write_bytes(header + block + b"\r\n\r\n")
    assert summary(read_warc(path)) == [("Quarantined", "bad-http-headers")]


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "plain"])
def test_file_ending_inside_a_skipped_record_is_noticed(tmp_path, gz):
    image = response(
        "https://a.example/big.png", bytes(4000), headers=[("Content-Type", "image/png")]
    )
    written = write_crawl(
        tmp_path / ("img.warc.gz" if gz else "img.warc"),
        [response("https://a.example/", b"<p>A page with some text on it.</p>"), image],
        gz=gz,
    )
    data = written.path.read_bytes()
    start = written.offsets["https://a.example/big.png"]
    items = list(read_warc(damaged(written, data[: start + (len(data) - start) // 2])))
    assert summary(items) == [
        ("RawDocument", "https://a.example/"),
        ("Quarantined", "truncated-gzip" if gz else "truncated-record"),
    ]
    assert items[1].location == str(start)


def test_missing_content_type_is_sniffed(tmp_path):
    written = write_crawl(
        tmp_path / "sniff.warc",
        [
            response(
                "https://a.example/page", b"<!DOCTYPE html><p>Sniffed as a page.</p>", headers=[]
            ),
            response("https://a.example/blob", b"\x00\x01binary", headers=[]),
        ],
        gz=False,
    )
    items = list(read_warc(written.path))
    assert summary(items) == [("RawDocument", "https://a.example/page"), ("Skipped", "non-html")]
    assert items[0].metadata["content_type"] is None


def test_decompression_bomb_is_oversized(tmp_path):
    bomb = gzip.compress(b"<p>" + b"a" * 200_000 + b"</p>")
    headers = [("Content-Type", "text/html"), ("Content-Encoding", "gzip")]
    written = write_crawl(
        tmp_path / "bomb.warc", [response("https://a.example/", bomb, headers=headers)], gz=False
    )
    items = list(read_warc(written.path, WarcOptions(max_record_bytes=50_000)))
    assert summary(items) == [("Quarantined", "oversized-record")]
    assert len(bomb) < 50_000  # the record itself was small


# --- the crawler's own records ----------------------------------------------------------------

WGET_LOG = (b"--2024-03-01 12:30:00--  https://example.org/otters\n"
            b"Resolving example.org (example.org)... 93.184.216.34\n"
            b"HTTP request sent, awaiting response... 200 OK\n")


def wget_crawl() -> list[dict]:
    """What `wget --warc-file` writes: its page records, then its manifest, arguments and log
    (wget 1.19 wrote the metadata URIs in angle brackets)."""
    meta = "metadata://gnu.org/software/wget/warc/"
    return [
        {"type": "warcinfo"},
        response("https://example.org/otters", PAGE),
        {"type": "metadata", "url": meta + "MANIFEST.txt", "body": b"<urn:uuid:0001>\n",
         "content_type": "text/plain"},
        {"type": "resource", "url": meta + "wget_arguments.txt",
         "body": b'"wget" "--warc-file=crawl" "https://example.org/otters"\n',
         "content_type": "text/plain"},
        {"type": "resource", "url": f"<{meta}wget.log>", "body": WGET_LOG,
         "content_type": "text/plain"},
    ]


def heritrix_crawl() -> list[dict]:
    """What Heritrix writes: DNS and WHOIS lookups as responses, per-page metadata, and (in
    NetarchiveSuite's metadata files) its logs under metadata:// URIs; wpull its log."""
    return [
        {"type": "warcinfo"},
        {"type": "response", "url": "dns:example.org",
         "body": b"20240301123000\nexample.org.\t300\tIN\tA\t93.184.216.34\n",
         "content_type": "text/dns"},
        {"type": "response", "url": "whois:whois.iana.org/example.org",
         "body": b"domain: EXAMPLE.ORG\nregistrant: Jane Doe, 1 Main St\n",
         "content_type": "text/plain"},
        response("https://example.org/otters", PAGE),
        {"type": "metadata", "url": "https://example.org/otters",
         "body": b"via: https://example.org/\nhopsFromSeed: L\n",
         "content_type": "application/warc-fields"},
        {"type": "resource",
         "url": "metadata://netarkivet.dk/crawl/logs/crawl.log?heritrixVersion=3.4.0",
         "body": b"2024-03-01T12:30:00.000Z 200 1234 https://example.org/otters - - text/html\n",
         "content_type": "text/plain"},
        {"type": "resource", "url": "urn:X-wpull:log", "body": b"INFO Fetching.\n",
         "content_type": "text/plain"},
    ]


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "plain"])
def test_wget_logs_arguments_and_manifest_are_not_documents(tmp_path, gz):
    written = write_crawl(tmp_path / ("wget.warc.gz" if gz else "wget.warc"), wget_crawl(), gz=gz)
    items = list(read_warc(written.path))
    assert summary(items) == [
        ("Skipped", "warc-warcinfo"),
        ("RawDocument", "https://example.org/otters"),
        ("Skipped", "crawl-metadata"),
        ("Skipped", "crawl-metadata"),
        ("Skipped", "crawl-metadata"),
    ]
    assert not any("Resolving" in i.text for i in items if isinstance(i, RawDocument))


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "plain"])
def test_heritrix_dns_whois_and_logs_are_skipped_under_their_own_reasons(tmp_path, gz):
    name = "heritrix.warc.gz" if gz else "heritrix.warc"
    written = write_crawl(tmp_path / name, heritrix_crawl(), gz=gz)
    items = list(read_warc(written.path))
    assert summary(items) == [
        ("Skipped", "warc-warcinfo"),
        ("Skipped", "dns"),
        ("Skipped", "whois"),
        ("RawDocument", "https://example.org/otters"),
        ("Skipped", "warc-metadata"),
        ("Skipped", "crawl-metadata"),
        ("Skipped", "crawl-metadata"),
    ]
    assert items[1].location == str(written.offsets["dns:example.org"])


def test_a_crawl_log_cut_by_the_end_of_the_file_is_still_noticed(tmp_path):
    written = write_crawl(tmp_path / "cut.warc", wget_crawl(), gz=False)
    data = written.path.read_bytes()
    written.path.write_bytes(data[: len(data) - len(WGET_LOG) // 2])
    assert summary(read_warc(written.path))[-1] == ("Quarantined", "truncated-record")


# --- formats govcat does not read -------------------------------------------------------------


def _zip(crawl_bytes: bytes) -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:  # a WACZ package: WARCs inside a ZIP
        zf.writestr("archive/data.warc.gz", crawl_bytes)
        zf.writestr("datapackage.json", "{}")
    return out.getvalue()


def _tar_gz(crawl_bytes: bytes) -> bytes:
    import tarfile

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tf:
        info = tarfile.TarInfo("crawl.warc")
        info.size = len(crawl_bytes)
        tf.addfile(info, io.BytesIO(crawl_bytes))
    return out.getvalue()


def _bz2(data: bytes) -> bytes:
    import bz2

    return bz2.compress(data)


def _xz(data: bytes) -> bytes:
    import lzma

    return lzma.compress(data)


@pytest.mark.parametrize(
    ("name", "make", "phrase"),
    [
        ("crawl.wacz", _zip, "ZIP archive"),
        ("crawl.warc.bz2", _bz2, "bzip2"),
        ("crawl.warc.xz", _xz, "xz"),
        ("crawl.warc.gz", _tar_gz, "gzip-compressed a tar archive"),
        ("crawl.warc", lambda data: data.replace(b"WARC/1.0", b"WARC/2.0"), "WARC/2.0"),
        ("crawl.warc", lambda data: b"%PDF-1.7\n" + data, "PDF"),
    ],
    ids=["wacz", "bzip2", "xz", "tar.gz", "warc-2", "pdf"],
)
def test_a_format_govcat_cannot_read_is_unsupported_not_corrupt(tmp_path, name, make, phrase):
    written = five_pages(tmp_path, gz=False)
    path = tmp_path / name
    path.write_bytes(make(written.path.read_bytes()))
    (item,) = list(read_warc(path))
    assert isinstance(item, Quarantined)
    assert (item.reason, item.file, item.location) == ("unsupported-format", str(path), "0")
    assert item.detail.startswith("unsupported format: ") and phrase in item.detail
    assert "corrupt" not in item.detail


def test_unreadable_web_archives_in_a_folder_are_reported_not_passed_over(tmp_path):
    five_pages(tmp_path, gz=True)
    (tmp_path / "more.wacz").write_bytes(_zip(b"WARC/1.0\r\n"))
    (tmp_path / "notes.txt").write_text("not a crawl")
    items = list(read_warc(tmp_path))
    assert summary(items) == [
        *[("RawDocument", f"https://a.example/p{n}") for n in range(5)],
        ("Quarantined", "unsupported-format"),
        ("Skipped", "unsupported-file"),
    ]


def test_pre_iso_warc_0_18_is_read(tmp_path):
    written = five_pages(tmp_path, gz=False)
    old = tmp_path / "old.warc"
    old.write_bytes(written.path.read_bytes().replace(b"WARC/1.0\r\n", b"WARC/0.18\r\n"))
    assert summary(read_warc(old)) == [
        ("RawDocument", f"https://a.example/p{n}") for n in range(5)]


def test_a_link_out_of_the_input_folder_is_not_followed(tmp_path):
    from ingest.connectors.warc import read_warc
    from ingest.types import Quarantined

    crawl = tmp_path / "crawl"
    crawl.mkdir()
    outside = tmp_path / "secret.warc"
    outside.write_bytes(b"WARC/1.0\r\n\r\n")
    (crawl / "linked.warc").symlink_to(outside)
    items = list(read_warc(crawl))
    assert [type(i) for i in items] == [Quarantined]
    assert items[0].reason == "path-escape"
