"""scancode-toolkit detection. The licence index loads once for the module (~6 s)."""

import hashlib
import json
import multiprocessing
import os
from pathlib import Path

import pytest

from ingest.licensing import scancode
from ingest.licensing.cache import LicenseCache
from ingest.licensing.conclude import conclude_tree
from ingest.types import LicenseFinding

MIT = """Copyright (c) 2024 Example Authors

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


@pytest.fixture(scope="module")
def index():
    pytest.importorskip("licensedcode", reason="scancode-toolkit is not installed")
    scancode.load_index()


@pytest.fixture(scope="module")
def licence_texts(index):
    from licensedcode.cache import get_licenses_db

    return get_licenses_db()


def test_mit_text(index):
    [finding] = scancode.detect_text(MIT, "LICENSE")
    assert finding.detector == "scancode"
    assert finding.expression == "MIT"
    assert finding.location == "LICENSE"
    assert finding.score == 1.0
    extra = finding.extra
    assert extra["detector_version"] == scancode.detector_version()
    assert extra["detector_version"].split(".")[0].isdigit()
    assert extra["matched_text_sha256"] == hashlib.sha256(finding.raw.encode()).hexdigest()
    assert extra["rule"].startswith("mit")
    assert extra["lines"][0] >= 1 and extra["lines"][1] >= 19
    assert "Permission is hereby granted" in finding.raw


@pytest.mark.parametrize("key,spdx", [
    ("apache-2.0", "Apache-2.0"),
    ("gpl-2.0", "GPL-2.0-only"),
    ("gpl-3.0", "GPL-3.0-only"),
    ("lgpl-2.1", "LGPL-2.1-only"),
    ("bsd-new", "BSD-3-Clause"),
    ("mpl-2.0", "MPL-2.0"),
    ("cc-by-sa-4.0", "CC-BY-SA-4.0"),
    ("cc-by-nc-4.0", "CC-BY-NC-4.0"),
    ("cc0-1.0", "CC0-1.0"),
])
def test_full_licence_texts_from_scancodes_own_data(licence_texts, key, spdx):
    text = licence_texts[key].text
    assert len(text) > 1000
    found = scancode.detect_text(text, f"{key}.txt")
    assert [f.expression for f in found] == [spdx]
    assert found[0].score >= 0.99


@pytest.mark.parametrize("line,expected", [
    ("// SPDX-License-Identifier: Apache-2.0", "Apache-2.0"),
    ("# SPDX-License-Identifier: GPL-2.0-or-later", "GPL-2.0-or-later"),
    ("/* SPDX-License-Identifier: MIT OR Apache-2.0 */", "MIT OR Apache-2.0"),
    ("-- SPDX-License-Identifier: BSD-3-Clause", "BSD-3-Clause"),
])
def test_spdx_headers(index, line, expected):
    found = scancode.detect_text(f"{line}\n\nint main() {{ return 0; }}\n", "src/x.c")
    assert [f.expression for f in found] == [expected]
    assert found[0].extra["matchers"] == ["1-spdx-id"]
    assert found[0].extra["lines"] == [1, 1]


MODIFIED_MIT = (
    MIT.replace("free of charge", "at no cost").replace("merge, publish", "merge, print")
    .replace("substantial portions", "large parts").replace("NONINFRINGEMENT", "NON-VIOLATION")
)


def test_modified_licence_text_needs_approximate_matching(index):
    [fuzzy] = scancode.detect_text(MODIFIED_MIT, "LICENSE")
    assert fuzzy.expression == "MIT" and 0.9 < fuzzy.score < 1.0
    assert fuzzy.extra["matchers"] == ["3-seq"] and fuzzy.extra["approximate"] is True
    exact = scancode.detect_text(MODIFIED_MIT, "LICENSE", approximate=False)
    assert "MIT" not in [f.expression for f in exact]


@pytest.mark.parametrize("relpath,expected", [
    ("LICENSE", True), ("pkg/COPYING.LESSER", True), ("README.md", True), ("docs/x.rst", True),
    ("NOTICE", True), ("foo.dist-info/METADATA", True), ("package.json", True),
    ("src/a.py", False), ("src/x.c", False), ("lib/license.py", False),
    ("cluecode/copyrights.py", False), ("NOTICE.txt", True), ("AUTHORS", True),
])
def test_which_files_get_approximate_matching(relpath, expected):
    assert scancode.wants_approximate(relpath) is expected


def test_tree_matching_modes(index, tmp_path):
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "LICENSE").write_text(MODIFIED_MIT, encoding="utf-8")
    (root / "src" / "vendored.py").write_text(
        "".join(f"# {line}\n" for line in MODIFIED_MIT.splitlines()) + "X = 1\n",
        encoding="utf-8",
    )
    cache = LicenseCache(tmp_path / "cache")

    def mit(result):
        return {path for path, found in result.items() if "MIT" in [f.expression for f in found]}

    prose = scancode.detect_tree(root, workers=0, cache=cache)
    assert mit(prose) == {"LICENSE"}
    assert prose["LICENSE"][0].extra["approximate"] is True
    everything = scancode.detect_tree(root, workers=0, cache=cache, approximate="all")
    assert mit(everything) == {"LICENSE", "src/vendored.py"}
    assert (everything.cache_hits, everything.scanned) == (1, 1)  # the mode is in the key
    assert mit(scancode.detect_tree(root, workers=0, approximate="none")) == set()
    with pytest.raises(scancode.ScanInputError, match="approximate must be"):
        scancode.detect_tree(root, workers=0, approximate="fuzzy")


def test_text_without_licence(index):
    assert scancode.detect_text("def add(a, b):\n    return a + b\n", "add.py") == []
    assert scancode.detect_text("   \n", "blank") == []


def test_detect_file(index, tmp_path):
    path = tmp_path / "COPYING"
    path.write_text(MIT, encoding="utf-8")
    [finding] = scancode.detect_file(path)
    assert finding.expression == "MIT" and finding.location == str(path)


def _code_folder(root: Path) -> Path:
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "LICENSE").write_text(MIT, encoding="utf-8")
    (root / "pkg" / "plain.py").write_text("def f():\n    return 1\n", encoding="utf-8")
    (root / "pkg" / "sub" / "deep.py").write_text("X = 2\n", encoding="utf-8")
    (root / "pkg" / "gpl.py").write_text(
        "# SPDX-License-Identifier: GPL-2.0-only\nimport os\n", encoding="utf-8"
    )
    (root / "pkg" / "copy_of_gpl.py").write_bytes((root / "pkg" / "gpl.py").read_bytes())
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (root / "big.txt").write_text("a" * 5000, encoding="utf-8")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n", encoding="utf-8")
    if hasattr(os, "symlink"):
        (root / "LICENSE.link").symlink_to(root / "LICENSE")
    return root


def test_tree_findings_skips_and_cache(index, tmp_path):
    root = _code_folder(tmp_path / "repo")
    cache = LicenseCache(tmp_path / "cache")
    seen: list[tuple[int, int]] = []
    cold = scancode.detect_tree(
        root, workers=0, cache=cache, max_bytes=4000, progress=lambda d, t: seen.append((d, t))
    )
    assert sorted(cold) == ["LICENSE", "pkg/copy_of_gpl.py", "pkg/gpl.py", "pkg/plain.py",
                            "pkg/sub/deep.py"]
    assert [f.expression for f in cold["LICENSE"]] == ["MIT"]
    assert [f.expression for f in cold["pkg/gpl.py"]] == ["GPL-2.0-only"]
    assert cold["pkg/plain.py"] == []
    assert {(s.reason, s.file) for s in cold.skipped} == {
        ("binary", "logo.png"), ("too-large", "big.txt"), ("vcs-directory", ".git"),
        ("symlink", "LICENSE.link"),
    }
    assert cold.quarantined == [] and cold.scanned == 5 and cold.cache_hits == 0
    assert seen[-1] == (5, 5)

    warm = scancode.detect_tree(root, workers=0, cache=cache, max_bytes=4000)
    assert warm.cache_hits == 5 and warm.scanned == 0
    assert dict(warm) == dict(cold)
    # the same bytes under two paths: one cache entry, each finding keeps its own path
    assert warm["pkg/copy_of_gpl.py"][0].location == "pkg/copy_of_gpl.py"
    assert warm["pkg/gpl.py"][0].location == "pkg/gpl.py"
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 4


def test_tree_in_worker_processes_matches_in_process(index, tmp_path):
    root = _code_folder(tmp_path / "repo")
    in_process = scancode.detect_tree(root, workers=0)
    parallel = scancode.detect_tree(root, workers=2)
    assert dict(parallel) == dict(in_process)
    assert list(parallel) == sorted(parallel)  # deterministic order whatever the workers do
    assert parallel.scanned == 6  # big.txt too: no max_bytes here


def test_tree_root_must_be_a_directory(tmp_path):
    with pytest.raises(scancode.ScanInputError, match="not a directory"):
        scancode.detect_tree(tmp_path / "missing", workers=0)


def test_code_folder_concluded_per_file(index, tmp_path):
    root = _code_folder(tmp_path / "repo")
    findings = scancode.detect_tree(root, workers=0)
    conclusions = conclude_tree(root, findings, package_metadata=[], source_declared="MIT")

    plain = conclusions["pkg/plain.py"]
    assert plain.expression == "MIT" and not plain.conflict
    assert plain.evidence[0].location == "LICENSE"
    assert conclusions["pkg/sub/deep.py"].expression == "MIT"
    assert conclusions["LICENSE"].expression == "MIT"

    gpl = conclusions["pkg/gpl.py"]
    assert gpl.expression == "GPL-2.0-only"
    assert gpl.declared == "MIT"
    assert gpl.conflict
    assert "only declared: MIT" in gpl.conflict_detail
    assert "only concluded: GPL-2.0-only" in gpl.conflict_detail
    assert any("nearest licence file (MIT)" in step for step in gpl.reason_chain)


# ----------------------------------------------------------------------------- cache


def _finding(expression: str = "MIT") -> LicenseFinding:
    return LicenseFinding(
        detector="scancode", expression=expression, location="x", raw="text", score=0.9,
        extra={"detector_version": "1", "lines": [1, 2]},
    )


SHA = "ab" * 32


def test_cache_round_trip_and_miss(tmp_path):
    cache = LicenseCache(tmp_path)
    assert cache.get("scancode", "1", SHA, location="a") is None
    cache.put("scancode", "1", SHA, [_finding()])
    [got] = cache.get("scancode", "1", SHA, location="b/c.py")
    assert got.location == "b/c.py" and got.expression == "MIT" and got.extra["lines"] == [1, 2]
    assert cache.get("scancode", "2", SHA, location="a") is None  # other version
    assert cache.get("other", "1", SHA, location="a") is None  # other detector
    cache.put("scancode", "1", "cd" * 32, [])
    assert cache.get("scancode", "1", "cd" * 32, location="a") == []  # "nothing found" is cached
    assert (cache.hits, cache.misses) == (2, 3)
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_cache_treats_a_corrupt_entry_as_a_miss(tmp_path):
    cache = LicenseCache(tmp_path)
    path = cache.put("scancode", "1", SHA, [_finding()])
    path.write_text("{truncated", encoding="utf-8")
    assert cache.get("scancode", "1", SHA, location="a") is None
    with pytest.raises(ValueError):
        cache.path_for("scancode", "1", "../../etc/passwd")


def _hammer(directory: str, expression: str) -> None:
    cache = LicenseCache(Path(directory))
    for _ in range(200):
        cache.put("scancode", "1", SHA, [_finding(expression)] * 20)


def test_cache_is_safe_for_parallel_writers(tmp_path, caplog):
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_hammer, args=(str(tmp_path), e)) for e in ("MIT", "ISC")]
    for w in writers:
        w.start()
    cache = LicenseCache(tmp_path)
    reads = 0
    while any(w.is_alive() for w in writers):
        got = cache.get("scancode", "1", SHA, location="a")
        if got is not None:
            assert len(got) == 20 and len({f.expression for f in got}) == 1
            reads += 1
    for w in writers:
        w.join()
        assert w.exitcode == 0
    path = cache.path_for("scancode", "1", SHA)
    assert len(json.loads(path.read_text())["findings"]) == 20
    assert reads > 0
    assert "unreadable" not in caplog.text  # a reader never saw half an entry
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


# ------------------------------------------- scancode's findings, read by the conclusion step

GPL3_NOTICE = """frob - frobnicates widgets
Copyright (C) 2021  Jane Doe

This program is free software: you can redistribute it and/or modify
it under the terms of the GNU General Public License as published by
the Free Software Foundation, either version 3 of the License, or
(at your option) any later version.
"""


def _read(text: str, *, metadata=()) -> object:
    from ingest.licensing.conclude import conclude

    found = scancode.detect_text(text, "LICENSE")
    return conclude(path="a.py", header=None, nearest_license_file=found,
                    package_metadata=list(metadata), repository=[], source_declared=None,
                    texts={"LICENSE": text})


def test_findings_keep_each_match_with_its_kind(index):
    [finding] = scancode.detect_text(MIT, "LICENSE")
    [match] = finding.extra["matches"]
    assert match["expression"] == "MIT" and match["kind"] == "text"
    assert match["lines"] == finding.extra["lines"]
    assert MIT.split("\n")[2].startswith(match["text"][:20])


def test_gnu_versions_as_notices_sentences_and_metadata_say(index, licence_texts):
    assert _read(GPL3_NOTICE).expression == "GPL-3.0-or-later"
    later = _read("This library is licensed under the GNU Lesser General Public License "
                  "v2.1 or later.\n")
    assert later.expression == "LGPL-2.1-or-later"
    bare = _read(licence_texts["gpl-3.0"].text)
    assert bare.expression == "GPL-3.0-only"
    assert any("this version only" in step for step in bare.reason_chain)
    classifier = LicenseFinding(
        "package-metadata", "GPL-3.0-or-later", "PKG-INFO", extra={"field": "classifier"},
        raw="License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)")
    with_metadata = _read(licence_texts["gpl-3.0"].text, metadata=[classifier])
    assert with_metadata.expression == "GPL-3.0-or-later" and classifier in with_metadata.evidence


def test_dual_notices_and_bundled_quotes(index):
    dual = _read("This project is available under the terms of either the MIT License or the\n"
                 "GNU General Public License, version 2 or (at your option) any later version.\n")
    assert dual.expression == "MIT OR GPL-2.0-or-later"
    # scancode makes one detection of all three; the reading splits it by what each covers.
    bundled = _read(MIT + "\nThe documentation is licensed under CC-BY-SA-4.0.\n\n"
                    "The file src/sha1.c is in the public domain.\n")
    assert bundled.expression == "MIT"
    assert {f.expression for f in bundled.secondary} == {
        "CC-BY-SA-4.0", "LicenseRef-scancode-public-domain"}
    assert {f.extra["scope"] for f in bundled.secondary} == {"documentation", "named files"}
