"""Ingest into shards and the document index, on both databases."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from catalog.models import Document, LicenseEvidence, QuarantineRecord, RobotsSnapshot, Run, Shard
from catalog.shards import file_sha256
from ingest import registry
from ingest.documents import count_tokens, document_id
from ingest.types import LicenseFinding, Quarantined, RawDocument, RobotsFound, Skipped


@dataclass(frozen=True)
class _ProbeOptions:
    n: int = 3


def _probe_read(path: Path, options: _ProbeOptions):
    """A connector for the catalog side: every kind of item, from a tiny spec file."""
    when = datetime(2024, 5, 1, tzinfo=UTC)
    yield RobotsFound(host="Example.org", kind="robots.txt", fetched_at=when, status=200,
                      content="User-agent: GPTBot\nDisallow: /\n",
                      url="https://example.org/robots.txt")
    for i in range(options.n):
        cc = LicenseFinding(detector="cc-link", expression="CC-BY-4.0",
                            location="https://creativecommons.org/licenses/by/4.0/",
                            raw="<a rel=license>")
        yield RawDocument(native_id=f"probe-{i}", text=f"Document {i} text.",
                          url=f"https://example.org/{i}", host="example.org", collected_at=when,
                          licenses=[cc])
    yield Skipped(reason="warc-request", file=path.name, location="0")
    yield Quarantined(reason="corrupt-record", file=path.name, location="offset 99",
                      detail="bad header")


registry.register(registry.Connector(name="probe_v1", kinds=("other",), description="test",
                                     options_type=_ProbeOptions, read=_probe_read))


def _cat(cli):
    from catalog.context import Catalog
    from catalog.settings import Settings

    return Catalog(Settings(database_url=cli.db_url, home=cli.home))


def _scalar(cli, stmt):
    cat = _cat(cli)
    with cat.session() as s:
        value = s.execute(stmt).scalar_one()
    cat.dispose()
    return value


def _jsonl(path: Path, n: int, start: int = 0) -> Path:
    with path.open("w") as fh:
        for i in range(start, start + n):
            fh.write(json.dumps({"id": f"d{i}", "text": f"Text of document {i}, with words.",
                                 "url": f"https://h{i % 3}.example/{i}"}) + "\n")
    return path


def test_ingest_writes_shards_and_index(cli, tmp_path):
    assert cli("source", "add", "j", "--kind", "other", "--license", "MIT").exit_code == 0
    src = _jsonl(tmp_path / "a.jsonl", 25)
    r = cli("ingest", "j", str(src), "--shard-docs", "10", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["documents"], out["ingested"], out["shards"]) == (25, 25, 3)
    cat = _cat(cli)
    with cat.session() as s:
        shards = s.execute(select(Shard).order_by(Shard.id)).scalars().all()
        docs = {d.id: d for d in s.execute(select(Document)).scalars()}
        run = s.get(Run, out["run"])
    assert run.status == "completed" and run.stats["ingested"] == 25
    assert [sh.n_docs for sh in shards] == [10, 10, 5]
    for sh in shards:
        path = cli.home / sh.path
        assert file_sha256(path) == sh.sha256
        table = pq.read_table(path)
        assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
        for row, rec in enumerate(table.to_pylist()):
            doc = docs[rec["id"]]
            assert (doc.shard_id, doc.shard_row) == (sh.id, row)
            assert doc.n_tokens == count_tokens(rec["text"])
            assert doc.declared_license == "MIT"
            assert doc.host == rec["host"]
    assert document_id("j", "d7") in docs
    cat.dispose()


def test_ingesting_twice_adds_nothing(cli, tmp_path):
    assert cli("source", "add", "j", "--kind", "other").exit_code == 0
    src = _jsonl(tmp_path / "a.jsonl", 30)
    assert cli("ingest", "j", str(src)).exit_code == 0
    out = json.loads(cli("ingest", "j", str(src), "--json").stdout)
    assert (out["ingested"], out["already_present"], out["shards"]) == (0, 30, 0)
    more = _jsonl(tmp_path / "b.jsonl", 40)  # 30 known + 10 new
    out = json.loads(cli("ingest", "j", str(more), "--json").stdout)
    assert (out["ingested"], out["already_present"]) == (10, 30)
    assert _scalar(cli, select(func.count()).select_from(Document)) == 40


def test_every_item_kind_lands_in_the_catalog(cli, tmp_path):
    assert cli("source", "add", "p", "--kind", "other").exit_code == 0
    spec = tmp_path / "spec.txt"
    spec.write_text("x")
    out = json.loads(cli("ingest", "p", str(spec), "--format", "probe_v1", "-o", "n=4",
                         "--json").stdout)
    assert out["skipped"] == {"warc-request": 1}
    assert out["quarantined"] == {"corrupt-record": 1}
    assert out["robots_snapshots"] == 1
    assert _scalar(cli, select(func.count()).select_from(LicenseEvidence)
                   .where(LicenseEvidence.role == "finding")) == 4
    snap_host = _scalar(cli, select(RobotsSnapshot.content))
    assert "GPTBot" in snap_host
    # a second run records no duplicate snapshot, quarantine entry or evidence
    cli("ingest", "p", str(spec), "--format", "probe_v1", "-o", "n=4")
    assert _scalar(cli, select(func.count()).select_from(RobotsSnapshot)) == 1
    assert _scalar(cli, select(func.count()).select_from(QuarantineRecord)) == 1
    assert _scalar(cli, select(func.count()).select_from(LicenseEvidence)
                   .where(LicenseEvidence.role == "concluded")) == 4
    assert _scalar(cli, select(func.count()).select_from(LicenseEvidence)) == 8
    report = cli("ingest", "report", str(out["run"]))
    assert report.exit_code == 0
    assert "offset 99" in report.stdout and "corrupt-record" in report.stdout


def test_unusable_arguments_fail_the_command(cli, tmp_path):
    assert cli("source", "add", "j", "--kind", "other").exit_code == 0
    r = cli("ingest", "j", str(tmp_path / "missing.jsonl"))
    assert r.exit_code == 2 and "no such file" in r.stderr
    src = _jsonl(tmp_path / "a.jsonl", 1)
    r = cli("ingest", "nope", str(src))
    assert r.exit_code == 4 and "no source 'nope'" in r.stderr
    r = cli("ingest", "j", str(src), "--format", "tarball_v9")
    assert r.exit_code == 2 and "known formats" in r.stderr
    r = cli("ingest", "j", str(src), "-o", "colour=red")
    assert r.exit_code == 2 and "unknown option" in r.stderr
    assert _scalar(cli, select(func.count()).select_from(Document)) == 0


def test_list_formats(cli):
    r = cli("ingest", "--list-formats")
    assert r.exit_code == 0 and "jsonl_v1" in r.stdout


def test_an_arc_crawl_is_ingested_and_its_crawler_records_only_counted(cli, tmp_path):
    from tests.ingest.test_arc import crawl, version_block, write_arc

    assert cli("source", "add", "ia", "--kind", "web-crawl").exit_code == 0
    folder = tmp_path / "crawl"
    folder.mkdir()
    write_arc(folder / "IA-001102.arc.gz", crawl(), gz=True)
    write_arc(folder / "IA-001103.arc", [version_block("IA-001103.arc", "2 0 Alexa")], gz=False)
    r = cli("ingest", "ia", str(folder), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["formats"], out["documents"], out["ingested"]) == (["warc_v1"], 2, 2)
    assert out["robots_snapshots"] == 1
    assert out["skipped"] == {"crawl-metadata": 1, "dns": 1, "http-status-4xx": 1,
                              "non-html": 1, "warc-warcinfo": 1}
    assert out["quarantined"] == {"unsupported-format": 1}
    cat = _cat(cli)
    with cat.session() as s:
        urls = set(s.execute(select(Document.url)).scalars())
    cat.dispose()
    assert urls == {"http://www.dryswamp.edu:80/index.html",
                    "ftp://ftp.dryswamp.edu/pub/README.txt"}
    report = cli("ingest", "report", str(out["run"]))
    assert report.exit_code == 0
    assert "unsupported format: ARC version 2" in report.stdout


@pytest.mark.slow
def test_kill_9_mid_ingest_resumes_to_the_same_documents(cli, tmp_path):
    assert cli("source", "add", "k", "--kind", "other").exit_code == 0
    n = 60_000
    src = _jsonl(tmp_path / "big.jsonl", n)
    cmd = [sys.executable, "-m", "catalog.cli", "--db-url", cli.db_url, "--home", str(cli.home),
           "ingest", "k", str(src), "--shard-docs", "2000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "COLUMNS": "100"})
    deadline = time.time() + 60
    count = 0
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
        try:
            count = _scalar(cli, select(func.count()).select_from(Document))
        except Exception:  # the schema may not exist yet
            continue
        if count >= 4000:
            break
    assert proc.poll() is None, "ingest finished before it could be killed; make the input bigger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = _scalar(cli, select(func.count()).select_from(Document))
    assert 0 < partial < n
    r = cli("ingest", "k", str(src), "--shard-docs", "2000", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["already_present"] == partial and out["ingested"] == n - partial
    cat = _cat(cli)
    with cat.session() as s:
        ids = set(s.execute(select(Document.id)).scalars())
        shard_docs = s.execute(select(func.sum(Shard.n_docs))).scalar_one()
        statuses = sorted(s.execute(select(Run.status).where(Run.kind == "ingest")).scalars())
        paths = set(s.execute(select(Shard.path)).scalars())
    cat.dispose()
    assert ids == {document_id("k", f"d{i}") for i in range(n)}
    assert shard_docs == n
    assert statuses == ["completed", "interrupted"]
    on_disk = {str(p.relative_to(cli.home))
               for p in (cli.home / "shards").rglob("*") if p.is_file()}
    assert on_disk == paths  # no orphan or temporary shard left behind


# ---------------------------------------------------------------- hostile and broken input


def _quarantine(cli) -> list[tuple[str, str, str, str]]:
    cat = _cat(cli)
    with cat.session() as s:
        rows = s.execute(select(QuarantineRecord.file, QuarantineRecord.location,
                                QuarantineRecord.reason, QuarantineRecord.detail)
                         .order_by(QuarantineRecord.id)).all()
    cat.dispose()
    return [tuple(r) for r in rows]


def _doc_ids(cli) -> set[str]:
    cat = _cat(cli)
    with cat.session() as s:
        ids = set(s.execute(select(Document.id)).scalars())
    cat.dispose()
    return ids


def _ok(r):
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    return json.loads(r.stdout)


def test_records_the_catalog_cannot_store_are_quarantined_where_they_are(cli, tmp_path):
    assert cli("source", "add", "j", "--kind", "other").exit_code == 0
    records = [{"id": f"d{i}", "text": f"Text of document {i}.", "url": f"https://h.example/{i}",
                "title": f"T{i}", "license": "MIT"} for i in range(1, 21)]
    records[2]["text"] = "half of a pair: \ud800 alone"  # line 3
    records[4]["url"] = "https://h.example/\u0000x"  # line 5
    records[6]["id"] = "d\u00007"  # line 7
    records[8]["title"] = "a\u0000title"  # line 9
    records[9]["license"] = "MIT\u0000"  # line 10
    records[10]["url"] = "https://h.example/\udcff"  # line 11
    src = tmp_path / "a.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in records))  # \u escapes, ASCII
    args = ("ingest", "j", str(src), "--shard-docs", "4", "-o", "title_field=title",
            "-o", "license_field=license", "--json")
    out = _ok(cli(*args))
    assert out["quarantined"] == {"unstorable": 6}
    assert (out["documents"], out["ingested"]) == (20, 14)
    good = {document_id("j", f"d{i}") for i in range(1, 21) if i not in (3, 5, 7, 9, 10, 11)}
    assert _doc_ids(cli) == good
    bad = _quarantine(cli)
    assert [(f, loc, reason) for f, loc, reason, _ in bad] == [
        (str(src), f"line {n}", "unstorable") for n in (3, 5, 7, 9, 10, 11)]
    details = [d for *_, d in bad]
    assert details[0] == "text: a lone surrogate U+D800 at position 16 (not Unicode text)"
    assert details[1] == "url: a NUL character at position 18"
    assert details[2].startswith("native_id: a NUL") and details[3].startswith("title: a NUL")
    assert details[4].startswith("licence finding of source-field: a NUL")
    assert details[5].startswith("url: a lone surrogate U+DCFF")
    # Rerunning ends the same: nothing new, nothing failed, no duplicate quarantine.
    again = _ok(cli(*args))
    assert (again["ingested"], again["already_present"]) == (0, 14)
    assert again["quarantined"] == {"unstorable": 6}
    assert _doc_ids(cli) == good and _quarantine(cli) == bad
    report = cli("ingest", "report", str(out["run"]))
    assert report.exit_code == 0 and "line 5" in report.stdout


@dataclass(frozen=True)
class _HostileOptions:
    pass


def _hostile_read(path: Path, options: _HostileOptions):
    """What a crawl may hold that no catalog column takes, next to what it does."""
    yield RobotsFound(host="a.example", kind="robots.txt", fetched_at=None, status=200,
                      content="User-agent: *\x00\nDisallow: /\n", url="https://a.example/robots.txt")
    yield RobotsFound(host="b.example", kind="robots.txt", fetched_at=None, status=200,
                      content="User-agent: *\nDisallow: /\n", url="https://b.example/robots.txt")
    yield RawDocument(native_id="long-host", text="text", url="https://x/", host="h" * 300)
    yield RawDocument(native_id="good", text="good text", url="https://b.example/")
    yield Quarantined(reason="corrupt-record", file="cr\udcffawl.warc", location="offset 9\x00",
                      detail="id bad\x00id")


registry.register(registry.Connector(name="hostile_probe_v1", kinds=("other",),
                                     description="test", options_type=_HostileOptions,
                                     read=_hostile_read))


def test_unstorable_consent_files_hosts_and_quarantine_texts_do_not_fail_the_batch(cli,
                                                                                  tmp_path):
    assert cli("source", "add", "p", "--kind", "other").exit_code == 0
    spec = tmp_path / "spec.txt"
    spec.write_text("x")
    out = _ok(cli("ingest", "p", str(spec), "--format", "hostile_probe_v1", "--json"))
    assert out["quarantined"] == {"corrupt-record": 1, "unstorable": 2}
    assert (out["ingested"], out["robots_snapshots"]) == (1, 1)
    assert _doc_ids(cli) == {document_id("p", "good")}
    bad = {(f, loc, reason): d for f, loc, reason, d in _quarantine(cli)}
    assert bad[("https://a.example/robots.txt", "a.example", "unstorable")] == (
        "content: a NUL character at position 13")
    assert bad[(str(spec), "id long-host", "unstorable")] == (
        "host: 300 characters, over the 255 the index holds")
    # What the connector reported is kept, its NUL and undecodable byte written as escapes.
    assert bad[("cr\\udcffawl.warc", "offset 9\\x00", "corrupt-record")] == "id bad\\x00id"
    again = _ok(cli("ingest", "p", str(spec), "--format", "hostile_probe_v1", "--json"))
    assert again["ingested"] == 0 and len(_quarantine(cli)) == 3


def test_a_bad_character_reference_in_posts_xml_loses_that_row_only(cli, tmp_path):
    from tests.ingest.test_stackexchange import _posts_xml, _row

    assert cli("source", "add", "se", "--kind", "forum").exit_code == 0
    rows = [_row(Id=str(i), PostTypeId="1", CreationDate="2020-01-01T00:00:00", Title=f"Q{i}",
                 Body=f"<p>Body {i}</p>") for i in range(1, 1001)]
    rows[499] = rows[499].replace('Title="Q500"', 'Title="Q500&#x1;"')
    _posts_xml(tmp_path / "dump" / "Posts.xml", rows)
    out = _ok(cli("ingest", "se", str(tmp_path / "dump"), "-o", "site=x.com", "--json"))
    assert out["quarantined"] == {"xml-malformed": 1}
    assert out["ingested"] == 999
    assert _doc_ids(cli) == {document_id("se", f"x.com:{i}") for i in range(1, 1001) if i != 500}
    [(file, location, reason, detail)] = _quarantine(cli)
    assert file.endswith("Posts.xml") and location.startswith("row 500 (line 502 column")
    assert "reference to invalid character number" in detail


def test_a_link_out_of_a_books_folder_is_not_read(cli, tmp_path):
    from tests.ingest.test_gutenberg import MODERN

    assert cli("source", "add", "b", "--kind", "books").exit_code == 0
    secret = tmp_path / "outside" / "passwd"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    books = tmp_path / "books"
    books.mkdir()
    (books / "2701.txt").write_text(MODERN)
    (books / "passwd.txt").symlink_to(secret)
    (books / "etc.txt").symlink_to("/etc/passwd")
    out = _ok(cli("ingest", "b", str(books), "--json"))
    assert (out["ingested"], out["quarantined"]) == (1, {"path-escape": 2})
    assert _doc_ids(cli) == {document_id("b", "gutenberg:2701")}
    assert {(loc, reason) for _, loc, reason, _ in _quarantine(cli)} == {
        ("passwd.txt", "path-escape"), ("etc.txt", "path-escape")}
