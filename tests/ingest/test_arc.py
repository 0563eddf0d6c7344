"""ARC 1.0 files, written here by hand from the format's spec the way Internet Archive and
Heritrix wrote them: a version block, then `URL IP-address Archive-date Content-type
Archive-length` record lines each followed by the record and a newline; .arc.gz compresses
each record as its own gzip member."""

import gzip
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from ingest import registry
from ingest.connectors.warc import WarcOptions, read_warc
from ingest.types import Quarantined, RawDocument, RobotsFound, Skipped

DATE = "19961104142103"
WHEN = datetime(1996, 11, 4, 14, 21, 3, tzinfo=UTC)
ARTICLE = "Dry swamps hold water only in spring, when frogs lay their eggs in the shallow pools."
PAGE = f"""<html><head><title>Dry swamps</title>
<meta name="robots" content="noai"></head>
<body><p>{ARTICLE}</p>
<a rel="license" href="http://creativecommons.org/licenses/by/2.0/">CC BY</a></body></html>"""


def http_block(body: bytes, status: str = "200 OK", content_type: str = "text/html") -> bytes:
    head = (f"HTTP/1.0 {status}\r\nServer: NCSA/1.4.1\r\nContent-type: {content_type}\r\n"
            f"Content-length: {len(body)}\r\n\r\n")
    return head.encode() + body


def record(url: str, block: bytes, content_type: str = "text/html", date: str = DATE,
           ip: str = "127.10.100.2") -> bytes:
    return f"{url} {ip} {date} {content_type} {len(block)}\n".encode() + block + b"\n"


def version_block(name: str, version: str = "1 0 Alexa Internet") -> bytes:
    body = f"{version}\nURL IP-address Archive-date Content-type Archive-length\n\n".encode()
    line = f"filedesc://{name} 0.0.0.0 19961104142100 text/plain {len(body)}\n"
    return line.encode() + body + b"\n"


@dataclass
class Arc:
    path: Path
    offsets: list[int]  # of each record (its gzip member in an .arc.gz)


def write_arc(path: Path, records: list[bytes], *, gz: bool) -> Arc:
    pieces = [gzip.compress(r, mtime=0) if gz else r for r in records]
    offsets, at = [], 0
    for piece in pieces:
        offsets.append(at)
        at += len(piece)
    path.write_bytes(b"".join(pieces))
    return Arc(path, offsets)


def crawl() -> list[bytes]:
    return [
        version_block("IA-001102.arc"),
        record("dns:www.dryswamp.edu", b"19961104142103\nwww.dryswamp.edu.\t300\tIN\tA\t"
               b"127.10.100.2\n", content_type="text/dns"),
        record("http://www.dryswamp.edu:80/robots.txt",
               http_block(b"User-agent: *\nDisallow: /cgi-bin/\n", content_type="text/plain")),
        record("http://www.dryswamp.edu:80/index.html", http_block(PAGE.encode())),
        record("http://www.dryswamp.edu:80/logo.gif", http_block(b"GIF89a" + bytes(40),
                                                                 content_type="image/gif"),
               content_type="image/gif"),
        record("http://www.dryswamp.edu:80/gone.html",
               http_block(b"<html>Not here</html>", status="404 Not Found")),
        record("ftp://ftp.dryswamp.edu/pub/README.txt",
               b"This archive holds field notes on dry swamps.\n", content_type="text/plain"),
        record("metadata://netarkivet.dk/crawl/logs/crawl.log?heritrixVersion=1.14.4",
               b"1996-11-04T14:21:03.000Z 200 139 http://www.dryswamp.edu/ - - text/html\n",
               content_type="text/plain"),
    ]


EXPECTED = [
    ("Skipped", "warc-warcinfo"),  # the version block
    ("Skipped", "dns"),
    ("RobotsFound", "robots.txt"),
    ("RawDocument", "http://www.dryswamp.edu:80/index.html"),
    ("Skipped", "non-html"),
    ("Skipped", "http-status-4xx"),
    ("RawDocument", "ftp://ftp.dryswamp.edu/pub/README.txt"),
    ("Skipped", "crawl-metadata"),
]


def summary(items) -> list[tuple[str, str]]:
    label = {RawDocument: lambda i: i.url, Skipped: lambda i: i.reason,
             Quarantined: lambda i: i.reason, RobotsFound: lambda i: i.kind}
    return [(type(i).__name__, label[type(i)](i)) for i in items]


@pytest.fixture(params=[True, False], ids=["arc.gz", "arc"])
def arc(request, tmp_path) -> Arc:
    gz = request.param
    return write_arc(tmp_path / ("IA-001102.arc.gz" if gz else "IA-001102.arc"), crawl(), gz=gz)


def test_every_arc_record_becomes_one_item_in_order(arc):
    items = list(read_warc(arc.path))
    assert summary(items) == EXPECTED
    assert [int(i.location) for i in items if not isinstance(i, (RawDocument, RobotsFound))] == [
        arc.offsets[n] for n in (0, 1, 4, 5, 7)]


def test_arc_page_keeps_its_date_signals_licence_and_offset(arc):
    items = list(read_warc(arc.path))
    page = items[3]
    assert ARTICLE in page.text and page.title == "Dry swamps"
    assert page.host == "www.dryswamp.edu"
    assert page.collected_at == WHEN
    assert [(s.kind, s.value) for s in page.signals] == [("meta-robots", "noai")]
    assert [f.expression for f in page.licenses] == ["CC-BY-2.0"]
    assert page.metadata["warc_file"] == arc.path.name
    assert page.metadata["warc_offset"] == arc.offsets[3]
    assert page.metadata["http_status"] == 200
    robots = items[2]
    assert (robots.host, robots.status, robots.fetched_at) == ("www.dryswamp.edu", 200, WHEN)
    assert "Disallow: /cgi-bin/" in robots.content
    readme = items[6]
    assert readme.text == "This archive holds field notes on dry swamps."
    assert readme.metadata["content_type"] == "text/plain"


def test_native_ids_depend_on_the_record_not_the_file(tmp_path):
    plain = write_arc(tmp_path / "a.arc", crawl(), gz=False)
    packed = write_arc(tmp_path / "renamed.arc.gz", crawl(), gz=True)
    ids = [d.native_id for d in read_warc(plain.path) if isinstance(d, RawDocument)]
    assert ids == [d.native_id for d in read_warc(packed.path) if isinstance(d, RawDocument)]
    assert ids == [d.native_id for d in read_warc(plain.path) if isinstance(d, RawDocument)]
    assert len(set(ids)) == 2 and all(i.startswith("<urn:uuid:") for i in ids)
    later = crawl()
    later[3] = record("http://www.dryswamp.edu:80/index.html", http_block(PAGE.encode()),
                      date="19971104142103")
    relisted = write_arc(tmp_path / "b.arc", later, gz=False)
    again = [d.native_id for d in read_warc(relisted.path) if isinstance(d, RawDocument)]
    assert again[0] != ids[0] and again[1] == ids[1]


def test_an_arc_record_gives_what_its_warc_twin_gives(tmp_path):
    arc = write_arc(tmp_path / "a.arc", crawl(), gz=False)
    twin = tmp_path / "a.warc"
    with twin.open("wb") as fh:
        writer = WARCWriter(fh, gzip=False)
        headers = StatusAndHeaders("200 OK", [("Server", "NCSA/1.4.1"),
                                              ("Content-type", "text/html")],
                                   protocol="HTTP/1.0")
        writer.write_record(writer.create_warc_record(
            "http://www.dryswamp.edu:80/index.html", "response",
            payload=io.BytesIO(PAGE.encode()), http_headers=headers,
            warc_headers_dict={"WARC-Date": "1996-11-04T14:21:03Z"}))
    (from_arc,) = [d for d in read_warc(arc.path) if isinstance(d, RawDocument) and d.title]
    (from_warc,) = list(read_warc(twin))
    for field in ("text", "title", "url", "host", "collected_at", "signals", "licenses"):
        assert getattr(from_arc, field) == getattr(from_warc, field), field


def test_http_headers_ended_by_bare_newlines_are_read(tmp_path):
    body = b"<html><body><p>A page from a server that ended its header lines with LF.</p>"
    block = b"HTTP/1.0 200 OK\nServer: NCSA/1.4\nContent-type: text/html\n\n" + body
    arc = write_arc(tmp_path / "lf.arc", [version_block("lf.arc"),
                                          record("http://old.example/", block)], gz=False)
    doc = list(read_warc(arc.path))[1]
    assert isinstance(doc, RawDocument) and doc.text == body[15:-4].decode()
    assert doc.metadata["content_type"] == "text/html"


def test_a_folder_reads_arc_and_warc_files_alike(tmp_path):
    write_arc(tmp_path / "a.arc.gz", crawl(), gz=True)
    write_arc(tmp_path / "b.ARC", crawl()[:4], gz=False)
    items = list(read_warc(tmp_path))
    assert summary(items) == EXPECTED + EXPECTED[:4]


def test_registered_help_says_what_becomes_of_a_cut_record():
    description = registry.get("warc_v1").description
    assert "ARC" in description and "truncated-record" in description


# --- damaged and unreadable files -----------------------------------------------------------


def pages(n: int = 4) -> list[bytes]:
    body = "<html><body><p>Page {} has a paragraph of its own about swamps.</p></body></html>"
    return [version_block("pages.arc")] + [
        record(f"http://a.example/p{i}", http_block(body.format(i).encode())) for i in range(n)]


def page_urls(n: int) -> list[tuple[str, str]]:
    return [("RawDocument", f"http://a.example/p{i}") for i in range(n)]


@pytest.mark.parametrize("cut", [5, 60, 0.5, 0.95])
def test_plain_arc_cut_inside_the_last_record_quarantines_it_whole(tmp_path, cut):
    arc = write_arc(tmp_path / "pages.arc", pages(), gz=False)
    data = arc.path.read_bytes()
    start = arc.offsets[-1]
    at = start + (cut if isinstance(cut, int) else int((len(data) - start) * cut))
    arc.path.write_bytes(data[:at])
    items = list(read_warc(arc.path))
    assert summary(items) == [("Skipped", "warc-warcinfo"), *page_urls(3),
                              ("Quarantined", "truncated-record")]
    assert items[-1].location == str(start)


@pytest.mark.parametrize("cut", [10, 0.5, -6])
def test_arc_gz_cut_inside_the_last_member_quarantines_it(tmp_path, cut):
    arc = write_arc(tmp_path / "pages.arc.gz", pages(), gz=True)
    data = arc.path.read_bytes()
    start = arc.offsets[-1]
    if cut == -6:  # only the gzip trailer lost: the record is whole, the file is not
        expected = [*page_urls(4), ("Quarantined", "truncated-gzip")]
        at = len(data) - 6
    else:
        expected = [*page_urls(3), ("Quarantined", "truncated-gzip")]
        at = start + (cut if isinstance(cut, int) else int((len(data) - start) * cut))
    arc.path.write_bytes(data[:at])
    items = list(read_warc(arc.path))
    assert summary(items) == [("Skipped", "warc-warcinfo"), *expected]
    assert items[-1].location == str(start)


def test_a_bad_record_line_in_a_plain_arc_is_quarantined_and_reading_resumes(tmp_path):
    arc = write_arc(tmp_path / "pages.arc", pages(), gz=False)
    data = arc.path.read_bytes()
    start = arc.offsets[2]  # record p1: its record line becomes garbage of the same length
    line_end = data.index(b"\n", start)
    arc.path.write_bytes(data[:start] + b"#" * (line_end - start) + data[line_end:])
    items = list(read_warc(arc.path))
    assert summary(items) == [("Skipped", "warc-warcinfo"), ("RawDocument", "http://a.example/p0"),
                              ("Quarantined", "corrupt-record"),
                              ("RawDocument", "http://a.example/p2"),
                              ("RawDocument", "http://a.example/p3")]
    assert items[2].location == str(start)


def test_a_corrupt_gzip_member_is_quarantined_and_reading_resumes(tmp_path):
    arc = write_arc(tmp_path / "pages.arc.gz", pages(), gz=True)
    data = bytearray(arc.path.read_bytes())
    start = arc.offsets[2]
    for i in range(start + 20, start + 60):
        data[i] ^= 0x5A
    arc.path.write_bytes(bytes(data))
    items = list(read_warc(arc.path))
    assert summary(items) == [("Skipped", "warc-warcinfo"), ("RawDocument", "http://a.example/p0"),
                              ("Quarantined", "corrupt-gzip"),
                              ("RawDocument", "http://a.example/p2"),
                              ("RawDocument", "http://a.example/p3")]
    assert items[2].location == str(start)
    assert items[3].metadata["warc_offset"] == arc.offsets[3]


def test_oversized_records_are_not_read(tmp_path):
    records = pages(1) + [record("metadata://netarkivet.dk/crawl/logs/crawl.log",
                                 b"x" * 5000, content_type="text/plain"),
                          record("http://a.example/big", http_block(b"<p>" + b"w " * 5000))]
    arc = write_arc(tmp_path / "big.arc.gz", records, gz=True)
    items = list(read_warc(arc.path, WarcOptions(max_record_bytes=2000)))
    assert summary(items) == [("Skipped", "warc-warcinfo"), *page_urls(1),
                              ("Skipped", "crawl-metadata"), ("Quarantined", "oversized-record")]
    assert "max_record_bytes=2000" in items[-1].detail


def test_a_whole_file_gzip_arc_is_an_unsupported_format(tmp_path):
    path = tmp_path / "one-piece.arc.gz"
    path.write_bytes(gzip.compress(b"".join(pages())))
    items = list(read_warc(path))
    assert summary(items) == [("Skipped", "warc-warcinfo"), ("Quarantined", "unsupported-format")]
    assert items[-1].detail.startswith("unsupported format: a gzip member holding more than one")


@pytest.mark.parametrize("gz", [True, False])
def test_arc_version_2_is_an_unsupported_format(tmp_path, gz):
    records = [version_block("v2.arc", version="2 0 InternetArchive")]
    arc = write_arc(tmp_path / ("v2.arc.gz" if gz else "v2.arc"), records, gz=gz)
    (item,) = list(read_warc(arc.path))
    assert (item.reason, item.location) == ("unsupported-format", "0")
    assert item.detail.startswith("unsupported format: ")
    assert "ARC version 2" in item.detail


def test_an_arc_part_without_its_version_block_is_read(tmp_path):
    arc = write_arc(tmp_path / "part.arc", pages()[2:], gz=False)
    assert summary(read_warc(arc.path)) == [("RawDocument", f"http://a.example/p{i}")
                                            for i in (1, 2, 3)]


def test_bytes_between_gzip_members_are_quarantined_and_reading_resumes(tmp_path):
    arc = write_arc(tmp_path / "pages.arc.gz", pages(), gz=True)
    data = arc.path.read_bytes()
    at = arc.offsets[2]
    arc.path.write_bytes(data[:at] + b"junk that is not gzip" + data[at:] + b"\0" * 16)
    items = list(read_warc(arc.path))
    assert summary(items) == [("Skipped", "warc-warcinfo"), ("RawDocument", "http://a.example/p0"),
                              ("Quarantined", "corrupt-gzip"), *page_urls(4)[1:]]
    assert items[2].location == str(at)
