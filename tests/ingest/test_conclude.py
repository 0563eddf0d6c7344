"""Concluding a licence from findings built by hand (no detector runs here)."""

import pytest

from ingest.licensing.conclude import (
    DeclaredLicenseError,
    LicenseFileIndex,
    conclude,
    conclude_tree,
    is_license_file,
    nearest_license_files,
)
from ingest.types import LicenseFinding


def finding(expression, location="LICENSE", detector="scancode", score=1.0, **extra):
    return LicenseFinding(detector=detector, expression=expression, location=location,
                          score=score, extra=extra)


def header(expression, location="a.py"):
    return finding(expression, location, detector="spdx-header", score=None)


def run(**overrides):
    args = dict(path="a.py", header=None, nearest_license_file=[], package_metadata=[],
                repository=[], source_declared=None)
    args.update(overrides)
    return conclude(**args)


def test_most_specific_level_wins_in_order():
    levels = dict(
        header=header("GPL-2.0-only"),
        file_findings=[finding("Apache-2.0", "a.py")],
        nearest_license_file=[finding("MIT")],
        package_metadata=[finding("ISC", "pyproject.toml", detector="package-metadata",
                                  score=None)],
        repository=[finding("BSD-3-Clause", "github", detector="repository", score=None)],
        source_declared="Zlib",
    )
    expected = [("header", "GPL-2.0-only", "file header"),
                ("file_findings", "Apache-2.0", "notices in the file"),
                ("nearest_license_file", "MIT", "nearest licence file"),
                ("package_metadata", "ISC", "package metadata"),
                ("repository", "BSD-3-Clause", "repository licence"),
                ("source_declared", "Zlib", "source declaration")]
    args = dict(levels)
    for key, expression, level in expected:
        got = run(**args)
        assert (got.expression, got.level) == (expression, level)
        args[key] = None if key in ("header", "source_declared") else []


def test_agreeing_declaration_is_no_conflict():
    got = run(nearest_license_file=[finding("MIT")], source_declared="mit")
    assert got.expression == "MIT" and got.declared == "MIT"
    assert not got.conflict and got.conflict_detail is None
    assert got.evidence == [finding("MIT")]


def test_conflict_between_declared_and_concluded():
    got = run(header=header("GPL-2.0-only"), nearest_license_file=[finding("MIT")],
              source_declared="MIT")
    assert got.expression == "GPL-2.0-only" and got.conflict
    assert got.conflict_detail == (
        "declared MIT, concluded GPL-2.0-only from the file header; only declared: MIT; "
        "only concluded: GPL-2.0-only"
    )
    assert "more specific than the nearest licence file (MIT)" in got.reason_chain
    assert got.reason_chain[-1].startswith("conflict:")


def test_equivalent_expressions_do_not_conflict():
    got = run(nearest_license_file=[finding("Apache-2.0"), finding("MIT", "LICENSE-MIT")],
              source_declared="MIT AND Apache-2.0")
    assert got.expression == "Apache-2.0 AND MIT" and not got.conflict
    assert any("joined with AND" in step for step in got.reason_chain)
    same_keys = run(nearest_license_file=[finding("MIT AND Apache-2.0")],
                    source_declared="MIT OR Apache-2.0")
    assert same_keys.conflict
    assert "same licences, combined differently" in same_keys.conflict_detail


def test_low_scores_and_pointers_do_not_conclude():
    got = run(
        file_findings=[finding("GPL-3.0-only", "a.py", score=0.3),
                       finding("LicenseRef-scancode-unknown-license-reference", "a.py")],
        nearest_license_file=[finding("MIT")],
    )
    assert got.expression == "MIT"
    assert any("score below 0.75" in step for step in got.reason_chain)
    assert any("points elsewhere" in step for step in got.reason_chain)


def test_unidentified_licence_concludes_only_as_a_last_resort():
    unparsed = finding("LicenseRef-govcat-unparsed", "setup.cfg", detector="package-metadata",
                       score=None)
    assert run(package_metadata=[unparsed], source_declared="MIT").expression == "MIT"
    got = run(package_metadata=[unparsed])
    assert got.expression == "LicenseRef-govcat-unparsed" and got.evidence == [unparsed]
    assert "not identified" in got.reason_chain[-1]


def test_no_evidence_at_all():
    got = run()
    assert got.expression is None and got.evidence == [] and not got.conflict
    assert got.reason_chain == ["no licence evidence and no source declaration"]


def test_unparseable_finding_is_ignored_with_a_reason():
    got = run(nearest_license_file=[finding("MIT AND (")], repository=[finding("ISC", "repo")])
    assert got.expression == "ISC"
    assert any("ignored unparseable" in step for step in got.reason_chain)


def test_invalid_declaration_is_a_typed_error():
    with pytest.raises(DeclaredLicenseError, match="a.py: the source declares"):
        run(source_declared="MIT AND")


@pytest.mark.parametrize("name,expected", [
    ("LICENSE", True), ("LICENCE.md", True), ("COPYING", True), ("COPYING.LESSER", True),
    ("UNLICENSE", True), ("LICENSE-MIT", True), ("MIT-LICENSE.txt", True), ("Copyright", True),
    ("LICENSE.MIT", True), ("license.rst", True), ("license.py", False),
    ("licenses.py", False), ("README.md", False), ("NOTICE", False), ("LICENSEE", False),
])
def test_license_file_names(name, expected):
    assert is_license_file(f"some/dir/{name}") is expected


def test_nearest_licence_file_is_the_closest_ancestor():
    tree = {
        "LICENSE": [finding("MIT")],
        "vendor/lib/COPYING": [finding("GPL-2.0-only", "vendor/lib/COPYING")],
        "vendor/lib/LICENSE.txt": [],  # a licence file where nothing was detected
        "docs/COPYING": [finding("LicenseRef-scancode-unknown-license-reference",
                                 "docs/COPYING")],  # "see ../LICENSE": not the nearest
        "docs/LICENSE": [],
        "vendor/lib/x/y.c": [],
        "docs/a.md": [],
        "top.py": [],
    }
    assert [f.expression for f in nearest_license_files(tree, "vendor/lib/x/y.c")] == [
        "GPL-2.0-only"
    ]
    assert [f.expression for f in nearest_license_files(tree, "docs/a.md")] == ["MIT"]
    assert [f.expression for f in nearest_license_files(tree, "top.py")] == ["MIT"]
    files, _ = LicenseFileIndex(tree).nearest("vendor/lib/x/y.c")
    assert files == ["vendor/lib/COPYING"]
    assert nearest_license_files({"a.py": []}, "a.py") == []


def test_conclude_tree_uses_nearest_manifest_and_headers(tmp_path):
    tree = {
        "LICENSE": [finding("MIT")],
        "a.py": [],
        "b.py": [finding("BSD-3-Clause", "b.py", matchers=["1-spdx-id"])],
        "sub/c.py": [],
        "sub/d.py": [finding("Apache-2.0", "sub/d.py", matchers=["2-aho"])],
    }
    metadata = [
        finding("ISC", "sub/package.json", detector="package-metadata", score=None),
        finding("MIT", str(tmp_path / "pyproject.toml"), detector="package-metadata",
                score=None),
    ]
    got = conclude_tree(tmp_path, tree, metadata, source_declared=None)
    assert {path: (c.expression, c.level) for path, c in got.items()} == {
        "LICENSE": ("MIT", "nearest licence file"),
        "a.py": ("MIT", "nearest licence file"),
        "b.py": ("BSD-3-Clause", "file header"),
        "sub/c.py": ("MIT", "nearest licence file"),
        "sub/d.py": ("Apache-2.0", "notices in the file"),
    }
    no_license_file = conclude_tree(tmp_path, {"sub/c.py": [], "e.py": []}, metadata, None)
    assert no_license_file["sub/c.py"].expression == "ISC"
    assert no_license_file["e.py"].expression == "MIT"


def test_findings_too_many_for_one_expression_conclude_unidentified():
    from common.spdx import MAX_EXPRESSION_CHARS, licensing

    ids = [k for k, s in licensing().known_symbols.items()
           if not s.is_exception and not k.startswith("LicenseRef")][:200]
    assert len(" AND ".join(ids)) > MAX_EXPRESSION_CHARS
    got = run(nearest_license_file=[finding(i) for i in ids])
    assert got.expression == "LicenseRef-govcat-unparsed"
    assert any("exceed the 2000-character limit" in step for step in got.reason_chain)
    few = run(nearest_license_file=[finding(i) for i in ids[:3]])
    assert few.expression == " AND ".join(ids[:3])
