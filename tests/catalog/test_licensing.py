"""Concluded licences at ingest, `license report`, and the one-input tools, on both databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("scancode", reason="scancode-toolkit is the `license` extra")

MIT = """MIT License

Copyright (c) 2026 Example Authors

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def _code_folder(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "LICENSE").write_text(MIT)
    (root / "pkg" / "plain.py").write_text("def add(a, b):\n    return a + b\n")
    (root / "pkg" / "old.py").write_text(
        "# SPDX-License-Identifier: GPL-2.0-only\n\ndef sub(a, b):\n    return a - b\n")
    return root


def test_code_folder_licences_differ_per_file(cli, tmp_path):
    folder = _code_folder(tmp_path / "repo")
    assert cli("source", "add", "code", "--kind", "code", "--license", "MIT").exit_code == 0
    r = cli("ingest", "code", str(folder), "--option", "use-git=false", "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(cli("license", "report", "code", "--json").stdout)
    by_licence = {e["license"]: e for e in report["licenses"]}
    assert by_licence["MIT"]["documents"] == 2  # LICENSE and pkg/plain.py
    assert by_licence["GPL-2.0-only"]["documents"] == 1
    assert by_licence["GPL-2.0-only"]["share_alike"] is True
    assert report["declared_vs_concluded_differ"] == 1
    old = [d for d in _explained(cli) if d["document"]["concluded_license"] == "GPL-2.0-only"]
    [doc] = old
    concluded = [e for e in doc["license_evidence"] if e["role"] == "concluded"
                 and e["scope"] == "document"]
    assert concluded and concluded[0]["expression"] == "GPL-2.0-only"
    assert doc["facts_now"]["license.conflict"] is True


def _doc_ids(cli) -> list[str]:
    from sqlalchemy import select

    from catalog.context import Catalog
    from catalog.models import Document
    from catalog.settings import Settings

    cat = Catalog(Settings(database_url=cli.db_url, home=cli.home))
    with cat.session() as s:
        ids = list(s.execute(select(Document.id)).scalars())
    cat.dispose()
    return ids


def _explained(cli):
    for doc_id in _doc_ids(cli):
        yield json.loads(cli("explain", doc_id, "--json").stdout)


def test_web_page_licence_comes_from_its_cc_link(cli):
    sample = Path(__file__).resolve().parents[2] / "samples" / "crawl" / "sample.warc.gz"
    assert cli("source", "add", "web", "--kind", "web-crawl").exit_code == 0
    assert cli("ingest", "web", str(sample)).exit_code == 0
    report = json.loads(cli("license", "report", "web", "--json").stdout)
    by_licence = {e["license"]: e["documents"] for e in report["licenses"]}
    assert by_licence["CC-BY-4.0"] == 2 and by_licence[None] == 6


def test_tools_license_file_folder_and_batch(cli, tmp_path):
    folder = _code_folder(tmp_path / "repo")
    r = cli("tools", "license", str(folder / "pkg" / "old.py"), "--json")
    assert json.loads(r.stdout)["expression"] == "GPL-2.0-only"
    r = cli("tools", "license", str(folder), "--json")
    files = json.loads(r.stdout)["files"]
    assert files["pkg/plain.py"]["expression"] == "MIT"
    assert files["pkg/old.py"]["expression"] == "GPL-2.0-only"
    batch = tmp_path / "b.jsonl"
    batch.write_text(json.dumps({"path": str(folder / "LICENSE")}) + "\n{}\n")
    lines = [json.loads(x) for x in cli("tools", "license", "--batch", str(batch))
             .stdout.splitlines()]
    assert lines[0]["expression"] == "MIT" and "error" in lines[1]


def test_stage_tools(cli, tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("The cat sat on the mat. Write to a.b@example.org for more.\n")
    assert json.loads(cli("tools", "langid", str(text), "--json").stdout)["lang"] == "en"
    q = json.loads(cli("tools", "quality", str(text), "--json").stdout)
    assert q["gopher_word_count"] > 0 and "fineweb_line_punct_ratio" in q
    p = json.loads(cli("tools", "pii", str(text), "--json").stdout)
    assert p["pii_counts"]["EMAIL_ADDRESS"] == 1
    batch = tmp_path / "b.jsonl"
    batch.write_text(json.dumps({"id": "x", "text": "Bonjour tout le monde, comment allez-vous"
                                 " aujourd'hui ?"}) + "\n")
    [line] = cli("tools", "langid", "--batch", str(batch)).stdout.splitlines()
    assert json.loads(line)["id"] == "x" and json.loads(line)["lang"] == "fr"

