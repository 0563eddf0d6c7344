from pathlib import Path

import pytest

from ingest.code_licenses import (
    SEE_FILE,
    UNLICENSED,
    UNPARSED,
    package_metadata_licenses,
    spdx_header,
    spdx_header_finding,
)
from ingest.types import LicenseFinding


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# SPDX-License-Identifier: MIT\nimport os\n", "MIT"),
        ("// SPDX-License-Identifier: Apache-2.0 OR MIT\n", "Apache-2.0 OR MIT"),
        ("/* SPDX-License-Identifier: GPL-2.0-only */\nint x;\n", "GPL-2.0-only"),
        ("<!-- SPDX-License-Identifier: CC-BY-4.0 -->\n<p>", "CC-BY-4.0"),
        ("-- SPDX-License-Identifier: BSD-3-Clause\n", "BSD-3-Clause"),
        ('#!/bin/sh\n"""\nSPDX-License-Identifier: MPL-2.0"""\n', "MPL-2.0"),
        ("{# SPDX-License-Identifier: ISC #}\n", "ISC"),
        (" * spdx-license-identifier: LGPL-2.1-or-later\n", "LGPL-2.1-or-later"),
        ("x = 1\n", None),
        ("SPDX-License-Identifier:\n", None),
    ],
)
def test_spdx_header_reads_any_comment_style(text: str, expected: str | None) -> None:
    assert spdx_header(text) == expected


def test_spdx_header_only_looks_at_the_first_30_lines() -> None:
    assert spdx_header("\n" * 29 + "# SPDX-License-Identifier: MIT\n") == "MIT"
    assert spdx_header("\n" * 30 + "# SPDX-License-Identifier: MIT\n") is None


def test_spdx_header_finding_normalises_and_keeps_raw() -> None:
    finding = spdx_header_finding("# SPDX-License-Identifier: gpl-2.0+\n", location="src/a.py")
    assert finding is not None
    assert finding.detector == "spdx-header"
    assert finding.expression == "GPL-2.0-or-later"
    assert finding.raw == "gpl-2.0+"
    assert finding.location == "src/a.py"
    odd = spdx_header_finding("# SPDX-License-Identifier: Apache 2\n", location="b.py")
    assert odd is not None and odd.expression == UNPARSED and odd.raw == "Apache 2"


def test_a_whole_licence_text_is_unparsed_and_its_raw_value_cut(tmp_path: Path) -> None:
    text = "Permission is hereby granted, free of charge, to any person obtaining a copy. " * 60
    _write(tmp_path, "pyproject.toml", f'[project]\nlicense = {{text = "{text}"}}\n')
    [finding] = package_metadata_licenses(tmp_path)
    assert finding.expression == UNPARSED
    assert finding.raw == text[:2000]


def _write(root: Path, name: str, text: str) -> None:
    (root / name).write_text(text, encoding="utf-8")


def _by_field(findings: list[LicenseFinding]) -> dict[tuple[str, str | None], LicenseFinding]:
    return {(f.location, f.extra.get("field")): f for f in findings}


def test_pyproject_pep639_text_file_and_poetry(tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml", '[project]\nname = "a"\nlicense = "MIT OR Apache-2.0"\n')
    [finding] = package_metadata_licenses(tmp_path)
    assert finding.detector == "package-metadata"
    assert finding.expression == "MIT OR Apache-2.0"
    assert finding.location == "pyproject.toml"
    assert finding.extra == {"field": "project.license"}

    _write(tmp_path, "pyproject.toml", '[project]\nlicense = {text = "BSD-3-Clause"}\n')
    [finding] = package_metadata_licenses(tmp_path)
    assert (finding.expression, finding.extra["field"]) == ("BSD-3-Clause", "project.license.text")

    _write(tmp_path, "pyproject.toml", '[project]\nlicense = {file = "LICENSE.txt"}\n')
    [finding] = package_metadata_licenses(tmp_path)
    assert finding.expression == SEE_FILE
    assert finding.extra["license_file"] == "LICENSE.txt"

    _write(tmp_path, "pyproject.toml", '[tool.poetry]\nname = "a"\nlicense = "Apache-2.0"\n')
    [finding] = package_metadata_licenses(tmp_path)
    assert (finding.expression, finding.extra["field"]) == ("Apache-2.0", "tool.poetry.license")


def test_setup_cfg_package_json_cargo_composer_gemspec(tmp_path: Path) -> None:
    _write(tmp_path, "setup.cfg", "[metadata]\nname = a\nlicense = BSD 3-Clause License\n")
    _write(tmp_path, "package.json", '{"name": "a", "license": "(ISC OR MIT)"}')
    _write(tmp_path, "Cargo.toml", '[package]\nname = "a"\nlicense = "MIT/Apache-2.0"\n')
    _write(tmp_path, "composer.json", '{"license": ["LGPL-2.1-only", "GPL-3.0-or-later"]}')
    _write(
        tmp_path,
        "a.gemspec",
        'Gem::Specification.new do |s|\n  s.licenses = ["MIT", "Ruby"]\nend\n',
    )
    found = _by_field(package_metadata_licenses(tmp_path))
    assert found[("setup.cfg", "metadata.license")].expression == UNPARSED
    assert found[("setup.cfg", "metadata.license")].raw == "BSD 3-Clause License"
    assert found[("package.json", "license")].expression == "ISC OR MIT"
    cargo = found[("Cargo.toml", "package.license")]
    assert (cargo.expression, cargo.raw) == ("MIT OR Apache-2.0", "MIT/Apache-2.0")
    assert found[("composer.json", "license")].expression == "LGPL-2.1-only OR GPL-3.0-or-later"
    gem = [f for f in package_metadata_licenses(tmp_path) if f.location == "a.gemspec"]
    assert [f.expression for f in gem] == ["MIT", "Ruby"]


def test_package_json_special_values(tmp_path: Path) -> None:
    _write(tmp_path, "package.json", '{"license": "UNLICENSED"}')
    assert [f.expression for f in package_metadata_licenses(tmp_path)] == [UNLICENSED]
    _write(tmp_path, "package.json", '{"license": "SEE LICENSE IN EULA.md"}')
    [finding] = package_metadata_licenses(tmp_path)
    assert (finding.expression, finding.extra["license_file"]) == (SEE_FILE, "EULA.md")
    _write(tmp_path, "package.json", '{"licenses": [{"type": "MIT"}, {"type": "GPL-2.0"}]}')
    assert [f.expression for f in package_metadata_licenses(tmp_path)] == ["MIT", "GPL-2.0-only"]


def test_cargo_license_file_and_prefix(tmp_path: Path) -> None:
    _write(tmp_path, "Cargo.toml", '[package]\nname = "a"\nlicense-file = "COPYING"\n')
    [finding] = package_metadata_licenses(tmp_path, prefix="crates/a/")
    assert finding.location == "crates/a/Cargo.toml"
    assert finding.expression == SEE_FILE


def test_malformed_manifest_is_reported_not_raised(tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml", "[project\nlicense = ")
    _write(tmp_path, "package.json", '{"license": "MIT"}')
    errors: list[tuple[str, str]] = []
    found = package_metadata_licenses(tmp_path, errors=errors)
    assert [f.expression for f in found] == ["MIT"]
    assert len(errors) == 1 and errors[0][0] == "pyproject.toml"
    assert "cannot read licence metadata" in errors[0][1]


def test_no_manifest_no_findings(tmp_path: Path) -> None:
    _write(tmp_path, "README.md", "license: MIT")
    assert package_metadata_licenses(tmp_path) == []
    assert package_metadata_licenses(tmp_path / "absent") == []


# ------------------------------------------------------- core metadata, classifiers, GNU names

from ingest.code_licenses import package_declaration  # noqa: E402
from ingest.license_names import classifier_license, gnu_license_name  # noqa: E402

GPL3_PLUS = "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)"


@pytest.mark.parametrize(("value", "expected"), [
    ("GPLv3+", "GPL-3.0-or-later"),
    ("GPL v2 or later", "GPL-2.0-or-later"),
    ("GNU GPL version 2 or any later version", "GPL-2.0-or-later"),
    ("LGPLv2.1+", "LGPL-2.1-or-later"),
    ("GNU Lesser General Public License v3 or later (LGPLv3+)", "LGPL-3.0-or-later"),
    ("AGPLv3", "AGPL-3.0-only"),
    ("GPLv2", "GPL-2.0-only"),
    ("GPL", None),  # no version: not one licence
    ("GPL-2.0 or MIT", None),
    ("GPLv2 with classpath exception", None),
    ("BSD", None),
])
def test_gnu_licence_names(value, expected):
    assert gnu_license_name(value) == expected


@pytest.mark.parametrize(("classifier", "expected"), [
    (GPL3_PLUS, "GPL-3.0-or-later"),
    ("License :: OSI Approved :: GNU General Public License v2 (GPLv2)", "GPL-2.0-only"),
    ("License :: OSI Approved :: MIT License", "MIT"),
    ("License :: OSI Approved :: Python Software Foundation License", "PSF-2.0"),
    ("License :: OSI Approved :: BSD License", None),  # which BSD?
    ("License :: OSI Approved :: GNU General Public License (GPL)", None),
    ("Programming Language :: Python", None),
])
def test_licence_classifiers(classifier, expected):
    assert classifier_license(classifier) == expected


def test_core_metadata_fields_and_classifiers(tmp_path: Path) -> None:
    _write(tmp_path, "METADATA", "Metadata-Version: 2.4\nName: a\nLicense-Expression: MIT\n"
           "License: MIT License\nClassifier: License :: OSI Approved :: MIT License\n"
           "Classifier: Programming Language :: Python\n")
    found = _by_field(package_metadata_licenses(tmp_path))
    assert found[("METADATA", "License-Expression")].expression == "MIT"
    assert found[("METADATA", "License")].expression == UNPARSED
    assert found[("METADATA", "classifier")].expression == "MIT"
    assert len(found) == 3
    _write(tmp_path, "METADATA", "name = a\nlicense = MIT\n")  # not core metadata
    assert package_metadata_licenses(tmp_path) == []


def test_pkg_info_gnu_name_and_pyproject_setup_cfg_classifiers(tmp_path: Path) -> None:
    _write(tmp_path, "PKG-INFO", "Metadata-Version: 1.1\nName: a\nLicense: GPLv3+\n")
    [finding] = package_metadata_licenses(tmp_path)
    assert finding.expression == "GPL-3.0-or-later" and finding.raw == "GPLv3+"
    assert finding.extra == {"field": "License", "read_as": "GNU licence name"}
    (tmp_path / "PKG-INFO").unlink()
    _write(tmp_path, "pyproject.toml", f'[project]\nname = "a"\nclassifiers = ["{GPL3_PLUS}"]\n')
    _write(tmp_path, "setup.cfg", "[metadata]\nclassifiers =\n  License :: OSI Approved :: "
           "ISC License (ISCL)\n  Topic :: Utilities\n")
    found = _by_field(package_metadata_licenses(tmp_path))
    assert found[("pyproject.toml", "classifier")].expression == "GPL-3.0-or-later"
    assert found[("setup.cfg", "classifier")].expression == "ISC"


def _meta(expression: str, field: str, raw: str | None = None, location: str = "METADATA"):
    return LicenseFinding("package-metadata", expression, location, raw=raw or expression,
                          extra={"field": field})


def test_declaration_ranks_expression_over_text_over_classifiers() -> None:
    got = package_declaration([_meta("Apache-2.0", "classifier"), _meta("MIT", "License"),
                               _meta("0BSD", "License-Expression")])
    assert got.expression == "0BSD"
    assert [f.expression for f in got.findings] == ["0BSD"]
    assert "supersedes" in got.notes[0]
    unparsed_first = package_declaration([_meta(UNPARSED, "License-Expression", "BSD"),
                                          _meta("MIT", "classifier")])
    assert unparsed_first.expression == "MIT"
    assert package_declaration([_meta(UNPARSED, "License")]).expression is None


def test_declaration_sharpens_an_open_gnu_version_only() -> None:
    open_version = package_declaration([_meta("GPL-3.0-only", "License", raw="GPL-3.0"),
                                        _meta("GPL-3.0-or-later", "classifier", raw=GPL3_PLUS)])
    assert open_version.expression == "GPL-3.0-or-later"
    assert any("says or later" in n for n in open_version.notes)
    explicit = package_declaration([_meta("GPL-3.0-only", "License-Expression"),
                                    _meta("GPL-3.0-or-later", "classifier", raw=GPL3_PLUS)])
    assert explicit.expression == "GPL-3.0-only"


def test_several_classifiers_are_a_choice_and_manifests_all_apply() -> None:
    got = package_declaration([_meta("MIT", "classifier"), _meta("Apache-2.0", "classifier")])
    assert got.expression == "MIT OR Apache-2.0"
    assert "read as a choice" in got.notes[0]
    both = package_declaration([_meta("MIT", "license", location="package.json"),
                                _meta("ISC", "project.license", location="pyproject.toml")])
    assert both.expression == "MIT AND ISC"
