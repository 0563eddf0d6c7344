"""`govcat report`: every report of a release the test cuts, on SQLite and Postgres."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from reports.metadata import FIELDS
from tests.catalog.test_process import _ingest, _run

pytestmark = pytest.mark.slow  # a small corpus is processed and cut first (a few seconds)

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "release.yaml"
DATE = "2025-07-01"


@pytest.fixture
def release(cli, tmp_path) -> Path:
    _ingest(cli, tmp_path)
    out = _run(cli, "--workers", "1")
    r = cli("release", "cut", str(out["run"]), "--name", "demo", "--version", "1.0.0")
    assert r.exit_code == 0, r.output
    return cli.home / "releases" / "demo" / "1.0.0"


def test_reports_of_a_release(cli, release, tmp_path):
    """One release per database (processing it is the slow part), every report checked."""
    _all_deterministic(cli, release, tmp_path)
    _numbers_match_the_manifest(cli, release)
    _attribution_lists_the_cc_by_documents(cli, release)
    _check_lists_exactly_the_missing_fields(cli, release, tmp_path)
    _one_line_errors(cli)


def _all_deterministic(cli, release, tmp_path):
    manifest_before = (release / "manifest.json").read_bytes()
    r = cli("report", "all", "demo", "--meta", str(SAMPLE), "--date", DATE)
    assert r.exit_code == 0, r.output
    folder = release / "reports"
    assert f"datasheet: {folder / 'datasheet.html'}" in r.stdout
    index = json.loads((folder / "reports-manifest.json").read_text())
    written = {f["path"] for f in index["files"]}
    assert {"datasheet.md", "datasheet.html", "ai-act-summary.md", "ai-act-summary.html",
            "attribution.csv", "attribution.md"} <= written
    for f in index["files"]:
        from common.atomic import file_sha256

        assert file_sha256(folder / f["path"]) == f["sha256"]
    for skipped in index["skipped"]:  # card / croissant while their renderers are missing
        assert skipped["report"] in ("card", "croissant") and skipped["reason"]
    assert (release / "manifest.json").read_bytes() == manifest_before
    assert cli("release", "verify", "demo").exit_code == 0  # reports/ is outside the release
    # The same release, metadata and date: the same bytes, written elsewhere too.
    other = tmp_path / "again"
    assert cli("report", "all", "demo", "--meta", str(SAMPLE), "--date", DATE,
               "--out", str(other)).exit_code == 0
    for name in written | {"reports-manifest.json"}:
        assert (other / name).read_bytes() == (folder / name).read_bytes(), name


def _numbers_match_the_manifest(cli, release):
    manifest = json.loads((release / "manifest.json").read_text())
    r = cli("report", "datasheet", "demo", "--meta", str(SAMPLE), "--date", DATE)
    assert r.exit_code == 0, r.output
    md = r.stdout
    assert len(re.findall(r"^## \d\. ", md, flags=re.M)) == 7
    assert f"{manifest['documents']:,} documents, {manifest['tokens']:,} tokens" in md
    for slug, c in manifest["counts"]["by_source"].items():
        assert f"| {slug} | {c['documents']:,} | {c['tokens']:,} |" in md
    dedup = next(f for f in manifest["funnel"] if f["stage"] == "dedup")
    assert f"{sum(dedup['dropped'].values()):,} near-duplicate documents" in md
    for entity, spans in manifest["redacted"].items():
        cell = re.escape(entity.replace("_", "\\_"))
        assert re.search(rf"\| {cell} \| \d+ \| {spans} \|", md)
    assert manifest["merkle"]["root"] in md
    html = cli("report", "datasheet", "demo", "--format", "html", "--date", DATE).stdout
    assert html.count("<svg ") == 6 and "<script" not in html
    ai = cli("report", "ai-act", "demo", "--meta", str(SAMPLE), "--date", DATE).stdout
    assert "Example AI Lab" in ai and "| c | – | other | 3 |" in ai
    assert f"{manifest['tokens']:,} tokens" in ai


def _attribution_lists_the_cc_by_documents(cli, release):
    r = cli("report", "attribution", "demo", "--date", DATE)
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    manifest = json.loads((release / "manifest.json").read_text())
    docs = [row for row in rows if row["level"] == "document"]
    assert len(docs) == manifest["counts"]["by_license"]["CC-BY-4.0"]["documents"]
    assert all(row["license"] == "CC-BY-4.0" and row["url"].startswith("https://h.example/")
               for row in docs)
    assert [row["source"] for row in rows if row["level"] == "source"] == ["c"]


def _check_lists_exactly_the_missing_fields(cli, release, tmp_path):
    meta = tmp_path / "release.yaml"
    meta.write_text("motivation: testing\nprovider:\n  name: Lab\ncitation: x\n")
    r = cli("report", "check", "demo", "--meta", str(meta))
    assert r.exit_code == 2 and "Traceback" not in r.output
    listed = [line.strip() for line in r.stderr.splitlines()[1:]]
    expected = [f.name for f in FIELDS if f.required and f.kind != "mapping"
                and f.name not in ("motivation", "provider.name", "citation")]
    assert listed == expected
    assert cli("report", "check", "demo", "--meta", str(SAMPLE)).exit_code == 0
    meta.write_text("motivation: x\nmotivaton: y\n")
    bad = cli("report", "check", "demo", "--meta", str(meta))
    assert bad.exit_code == 2 and f"{meta}:2: motivaton: unknown field" in bad.stderr


def _one_line_errors(cli):
    r = cli("report", "datasheet", "nope")
    assert r.exit_code == 4 and r.stderr.count("\n") == 1 and "no release" in r.stderr
    r = cli("report", "datasheet", "demo", "--format", "pdf")
    assert r.exit_code == 2 and "md, html" in r.stderr
    r = cli("report", "datasheet", "demo", "--date", "July")
    assert r.exit_code == 2 and "YYYY-MM-DD" in r.stderr
