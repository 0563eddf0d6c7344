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


# ------------------------------------------------- reading licence files as a lawyer does
# Findings shaped like scancode's (one entry per match in extra["matches"]), over texts the
# tests write; tests/ingest/test_scancode.py runs scancode itself on such texts.


def detection(location, *matches, score=1.0):
    """A scancode-like finding: matches are (expression, first line, last line, kind, text)."""
    entries = [{"expression": e, "lines": [a, b], "kind": k, "text": t, "rule": f"{e}.RULE",
                "score": score} for e, a, b, k, t in matches]
    expression = " AND ".join(dict.fromkeys(m[0] for m in matches))
    lines = [min(m[1] for m in matches), max(m[2] for m in matches)]
    return LicenseFinding(detector="scancode", expression=expression, location=location,
                          score=score, extra={"matches": entries, "lines": lines})


def licence_text(name, lines=12):
    """Placeholder lines standing for a licence's full text (its wording does not matter here:
    the detection says which licence it is)."""
    return [f"{name} terms, paragraph {i}: permission is granted under conditions."
            for i in range(1, lines + 1)]


def numbered(lines):
    return "\n".join(lines) + "\n", {i: line for i, line in enumerate(lines, 1)}


def read_file(texts, *findings, metadata=()):
    return run(nearest_license_file=list(findings), package_metadata=list(metadata),
               texts=texts)


def test_a_bare_gpl_text_is_this_version_only_with_a_note():
    text, _ = numbered(licence_text("GNU GPL version 3"))
    got = read_file({"COPYING": text},
                    detection("COPYING", ("GPL-3.0-only", 1, 12, "text", "GNU GPL version 3")))
    assert got.expression == "GPL-3.0-only"
    assert any("does not say 'or any later version'" in step and "this version only" in step
               for step in got.reason_chain)


def test_a_later_version_notice_beside_the_text_concludes_or_later():
    lines = ["frob - frobnicates widgets", "",
             "This program is free software: you can redistribute it and/or modify it under",
             "the terms of the GNU General Public License as published by the Free Software",
             "Foundation, either version 3 of the License, or (at your option) any later version.",
             "", *licence_text("GNU GPL version 3")]
    text, _ = numbered(lines)
    found = detection("COPYING",
                      ("GPL-3.0-or-later", 3, 5, "notice", "This program is free software"),
                      ("GPL-3.0-only", 7, 18, "text", "GNU GPL version 3 terms"))
    got = read_file({"COPYING": text}, found)
    assert got.expression == "GPL-3.0-or-later"
    assert any("read as GPL-3.0-or-later: a notice in the same files" in s
               for s in got.reason_chain)
    # The notice's "either version 3 ... or (at your option)" is not a choice of licences.
    assert " OR " not in got.expression


def test_or_later_said_in_the_sentence_scancode_read_as_only():
    text = "Licensed under the GNU Lesser General Public License v2.1 or later.\n"
    got = read_file({"LICENSE": text}, detection(
        "LICENSE", ("LGPL-2.1-only", 1, 1, "reference", "GNU Lesser General Public License v2.1")))
    assert got.expression == "LGPL-2.1-or-later"
    assert any("its sentence says or later" in s for s in got.reason_chain)


@pytest.mark.parametrize("field,raw,expected", [
    ("classifier", "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)",
     "GPL-3.0-or-later"),
    ("License-Expression", "GPL-3.0-or-later", "GPL-3.0-or-later"),
    ("License-Expression", "GPL-3.0-only", "GPL-3.0-only"),
])
def test_package_metadata_decides_the_gnu_version_of_a_bare_text(field, raw, expected):
    text, _ = numbered(licence_text("GNU GPL version 3"))
    meta = LicenseFinding("package-metadata", spdx_or_later(raw), "METADATA", raw=raw,
                          extra={"field": field})
    got = read_file({"COPYING": text},
                    detection("COPYING", ("GPL-3.0-only", 1, 12, "text", "GNU GPL")),
                    metadata=[meta])
    assert got.expression == expected
    assert (meta in got.evidence) is (expected == "GPL-3.0-or-later")


def spdx_or_later(raw):
    from ingest.license_names import classifier_license

    return classifier_license(raw) or raw


def test_a_dual_licence_notice_gives_or_not_and():
    text = ("This project is available under the terms of either the MIT License or the\n"
            "GNU General Public License, version 2 or (at your option) any later version.\n")
    got = read_file({"LICENSE": text}, detection(
        "LICENSE", ("MIT", 1, 1, "reference", "the MIT License"),
        ("GPL-2.0-or-later", 2, 2, "notice", "GNU General Public License, version 2")))
    assert got.expression == "MIT OR GPL-2.0-or-later"
    assert any("offer a choice" in s for s in got.reason_chain)


def test_either_express_or_implied_is_not_a_choice():
    lines = ["Licensed under the Apache License, Version 2.0 (the License). Distributed on an",
             "AS IS BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or",
             "implied.", "", "Also under the MIT license."]
    text, _ = numbered(lines)
    got = read_file({"LICENSE": text}, detection(
        "LICENSE", ("Apache-2.0", 1, 3, "notice", "Licensed under the Apache License"),
        ("MIT", 5, 5, "reference", "the MIT license")))
    assert got.expression == "Apache-2.0 AND MIT"


def test_bundled_and_documentation_licences_are_secondary_evidence():
    lines = ["Copyright (c) 2019 Jane Doe", "", *licence_text("MIT"), "",
             "The documentation in the docs/ folder is licensed under the Creative Commons",
             "Attribution-ShareAlike 4.0 International License.", "",
             "The file src/sha1.c is in the public domain."]
    text, _ = numbered(lines)
    found = [detection("LICENSE", ("MIT", 3, 14, "text", "MIT terms, paragraph 1")),
             detection("LICENSE",
                       ("CC-BY-SA-4.0", 16, 17, "reference", "Creative Commons Attribution"),
                       ("LicenseRef-scancode-public-domain", 19, 19, "text",
                        "is in the public domain."))]
    got = read_file({"LICENSE": text}, *found)
    assert got.expression == "MIT"
    assert got.evidence == [found[0]]
    assert {(f.expression, f.extra["scope"]) for f in got.secondary} == {
        ("CC-BY-SA-4.0", "documentation"), ("LicenseRef-scancode-public-domain", "named files")}
    assert all(f.extra["context"] for f in got.secondary)
    assert not got.conflict and "joined with AND" not in " ".join(got.reason_chain)


def test_a_history_section_quotes_licences_it_does_not_grant():
    lines = ["A. HISTORY OF THE SOFTWARE", "==========================", "",
             "Early releases were distributed under the GNU GPL; later ones were not.", "",
             "B. TERMS AND CONDITIONS", "=======================", "",
             "This software and its documentation are licensed under the PSF License.", "",
             *licence_text("PSF")]
    text, _ = numbered(lines)
    found = [detection("LICENSE", ("GPL-1.0-or-later", 4, 4, "reference", "the GNU GPL")),
             detection("LICENSE", ("PSF-2.0", 9, 9, "notice", "licensed under the PSF License")),
             detection("LICENSE", ("PSF-2.0", 11, 22, "text", "PSF terms"))]
    got = read_file({"LICENSE": text}, *found)
    assert got.expression == "PSF-2.0"
    assert [(f.expression, f.extra["scope"]) for f in got.secondary] == [
        ("GPL-1.0-or-later", "history")]


def test_a_notice_pointing_at_licence_files_takes_their_licences():
    notice = ("This software is made available under the terms of *either* of the licenses\n"
              "found in LICENSE.APACHE or LICENSE.BSD. Contributions are made under both.\n")
    apache, _ = numbered(licence_text("Apache 2.0"))
    bsd, _ = numbered(licence_text("BSD 2-clause"))
    found = [detection("LICENSE", ("BSD-3-Clause OR Apache-2.0", 1, 2, "notice",
                                   "This software is made available")),
             detection("LICENSE.APACHE", ("Apache-2.0", 1, 12, "text", "Apache")),
             detection("LICENSE.BSD", ("BSD-2-Clause", 1, 12, "text", "BSD"))]
    got = read_file({"LICENSE": notice, "LICENSE.APACHE": apache, "LICENSE.BSD": bsd}, *found)
    assert got.expression == "Apache-2.0 OR BSD-2-Clause"
    assert any("points at LICENSE.APACHE, LICENSE.BSD" in s for s in got.reason_chain)


def test_package_metadata_says_how_separate_licence_files_combine():
    mit, _ = numbered(licence_text("MIT"))
    apache, _ = numbered(licence_text("Apache 2.0"))
    found = [detection("LICENSE-MIT", ("MIT", 1, 12, "text", "MIT")),
             detection("LICENSE-APACHE", ("Apache-2.0", 1, 12, "text", "Apache"))]
    texts = {"LICENSE-MIT": mit, "LICENSE-APACHE": apache}
    assert read_file(texts, *found).expression == "MIT AND Apache-2.0"
    meta = LicenseFinding("package-metadata", "MIT OR Apache-2.0", "Cargo.toml",
                          extra={"field": "package.license"})
    got = read_file(texts, *found, metadata=[meta])
    assert got.expression == "MIT OR Apache-2.0" and meta in got.evidence
    assert any("says how they combine" in s for s in got.reason_chain)


def test_when_every_licence_is_for_a_part_all_apply():
    text = "Portions derived from zlib are under the zlib licence.\n"
    got = read_file({"LICENSE": text},
                    detection("LICENSE", ("Zlib", 1, 1, "reference", "the zlib licence")))
    assert got.expression == "Zlib" and got.secondary == []
    assert any("none is stated for the whole" in s for s in got.reason_chain)


def test_without_texts_every_finding_is_primary():
    found = detection("LICENSE", ("MIT", 1, 12, "text", "MIT"),
                      ("CC-BY-SA-4.0", 14, 14, "reference", "CC BY-SA"))
    got = read_file(None, found)
    assert got.expression == "MIT AND CC-BY-SA-4.0" and got.secondary == []


def test_conclude_tree_reads_licence_files_from_disk(tmp_path):
    lines = [*licence_text("MIT"), "", "The bundled jquery.js is under the MIT and GPL-2.0."]
    (tmp_path / "LICENSE").write_text("\n".join(lines) + "\n", encoding="utf-8")
    tree = {"LICENSE": [detection("LICENSE", ("MIT", 1, 12, "text", "MIT terms")),
                        detection("LICENSE", ("GPL-2.0-only", 14, 14, "reference", "GPL-2.0"))],
            "a.py": []}
    got = conclude_tree(tmp_path, tree, [], source_declared=None)["a.py"]
    assert got.expression == "MIT"
    assert [(f.expression, f.extra["scope"]) for f in got.secondary] == [
        ("GPL-2.0-only", "bundled code")]


def test_a_gnu_notice_for_the_whole_program_stays_primary():
    text = ("This file is part of Frob.\n\nFrob is free software: you can redistribute it "
            "and/or modify it under the\nterms of the GNU General Public License as published by "
            "the Free Software\nFoundation, either version 2 of the License, or (at your option) "
            "any later version.\n")
    got = read_file({"COPYING": text}, detection(
        "COPYING", ("GPL-2.0-or-later", 3, 6, "notice", "Frob is free software")))
    assert got.expression == "GPL-2.0-or-later" and got.secondary == []
