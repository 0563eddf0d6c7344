"""Licence evidence in source trees: `SPDX-License-Identifier:` headers and package manifests.

These are declarations, not conclusions: each comes back as a `LicenseFinding` with the text it
was read from. When the declared value is a valid SPDX expression it is normalised by
`common.spdx` (`mit` -> `MIT`, `GPL-2.0+` -> `GPL-2.0-or-later`); otherwise the finding
carries one of the references below and keeps the raw value, for a reviewer or a full-text
detector (scancode) to resolve:

- `LicenseRef-govcat-unparsed`  a value that is not an SPDX expression ("BSD 3-Clause License",
  "Apache 2.0", a licence's full text); `raw` holds it.
- `LicenseRef-govcat-see-file`  the manifest points at a file instead of naming a licence
  (`license = {file = "LICENSE"}`, Cargo `license-file`, npm `SEE LICENSE IN ...`);
  `extra["license_file"]` names it.
- `LicenseRef-govcat-unlicensed`  npm's `UNLICENSED`: the author grants no licence.

Manifests read: pyproject.toml (`project.license` as a PEP 639 expression or a `{text}` /
`{file}` table, and `tool.poetry.license`), setup.cfg (`[metadata] license`), package.json
(`license`, and the deprecated `{type}` / `licenses: [...]` forms), Cargo.toml
(`package.license` with the old `/` separator, `package.license-file`), composer.json
(`license` as a string or a list, which Composer defines as a disjunction) and `*.gemspec`
(`license = "..."` / `licenses = [...]` string literals only: a gemspec is Ruby code), and
Python core metadata (PKG-INFO / METADATA: `License-Expression`, `License`, `Classifier`).
Trove licence classifiers (`License :: ...`, also from pyproject and setup.cfg) become findings
of field `classifier`; a short GNU name that is not SPDX ("GPLv3+") is read by
`ingest.license_names`.

One manifest often says the same thing several times (PEP 639 `License-Expression`, the old
`License` field, classifiers). `package_declaration` reads those fields the way the metadata
standards rank them — an expression field over a free-text field over classifiers — and lets a
lower field only sharpen a GNU version the higher one left open (`GPL-3.0` and the classifier
`GPLv3+` say GPL-3.0-or-later).
"""

from __future__ import annotations

import configparser
import dataclasses
import json
import re
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

from common import spdx
from common.spdx import try_normalize
from ingest.license_names import classifier_license, gnu_license_name, is_license_classifier
from ingest.types import LicenseFinding

__all__ = [
    "MANIFEST_NAMES",
    "Declaration",
    "SEE_FILE",
    "UNLICENSED",
    "UNPARSED",
    "is_manifest",
    "package_declaration",
    "package_metadata_licenses",
    "spdx_header",
    "spdx_header_finding",
]

UNPARSED = "LicenseRef-govcat-unparsed"
SEE_FILE = "LicenseRef-govcat-see-file"
UNLICENSED = "LicenseRef-govcat-unlicensed"

CLASSIFIER = "classifier"

SPDX_HEADER_LINES = 30
_RAW_LIMIT = 2000  # a `{text = ...}` table may hold a whole licence; keep its start

_SPDX_TAG = re.compile(r"SPDX-License-Identifier:\s*(.*)", re.IGNORECASE)
# Comment closers and string quotes that trail the value in the various comment styles.
_TRAILERS = re.compile(r"(\*/|-->|--\}\}|#\}|\*\)|-\}|\"\"\"|'''|[\"';,])\s*$")


def spdx_header(text: str) -> str | None:
    """The value of an `SPDX-License-Identifier:` tag in the first 30 lines, any comment style."""
    for line in text.splitlines()[:SPDX_HEADER_LINES]:
        match = _SPDX_TAG.search(line)
        if not match:
            continue
        value = match.group(1).strip()
        while True:
            trimmed = _TRAILERS.sub("", value).strip()
            if trimmed == value:
                break
            value = trimmed
        if value:
            return value
    return None


def spdx_header_finding(text: str, *, location: str) -> LicenseFinding | None:
    """`spdx_header` as a finding (detector `spdx-header`), or None when the file has none."""
    raw = spdx_header(text)
    if raw is None:
        return None
    return _finding("spdx-header", raw, location=location)


def _finding(
    detector: str,
    value: str,
    *,
    location: str,
    field: str | None = None,
    raw: str | None = None,
) -> LicenseFinding:
    """A finding for `value`; `raw` is the text as written when it differs from `value`."""
    extra: dict[str, Any] = {"field": field} if field else {}
    return LicenseFinding(
        detector=detector,
        expression=try_normalize(value) or UNPARSED,
        location=location,
        raw=(value if raw is None else raw)[:_RAW_LIMIT],
        extra=extra,
    )


def _see_file(file: str, *, location: str, field: str) -> LicenseFinding:
    return LicenseFinding(
        detector="package-metadata",
        expression=SEE_FILE,
        location=location,
        raw=file,
        extra={"field": field, "license_file": file},
    )


# ---------------------------------------------------------------- manifests


def _declared(value: str, *, location: str, field: str, raw: str | None = None) -> LicenseFinding:
    finding = _finding("package-metadata", value, location=location, field=field, raw=raw)
    if finding.expression == UNPARSED:
        gnu = gnu_license_name(value)
        if gnu is not None:
            return dataclasses.replace(finding, expression=gnu,
                                       extra={**finding.extra, "read_as": "GNU licence name"})
    return finding


def _classifiers(values: Iterable[str], location: str) -> list[LicenseFinding]:
    return [
        LicenseFinding(
            detector="package-metadata",
            expression=classifier_license(value) or UNPARSED,
            location=location,
            raw=value.strip(),
            extra={"field": CLASSIFIER},
        )
        for value in values
        if is_license_classifier(value)
    ]


def _from_pyproject(path: Path, location: str) -> list[LicenseFinding]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    found: list[LicenseFinding] = []
    license_ = data.get("project", {}).get("license")
    if isinstance(license_, str):
        found.append(_declared(license_, location=location, field="project.license"))
    elif isinstance(license_, dict):
        if isinstance(license_.get("text"), str):
            found.append(
                _declared(license_["text"], location=location, field="project.license.text")
            )
        if isinstance(license_.get("file"), str):
            found.append(
                _see_file(license_["file"], location=location, field="project.license.file")
            )
    poetry = data.get("tool", {}).get("poetry", {}).get("license")
    if isinstance(poetry, str):
        found.append(_declared(poetry, location=location, field="tool.poetry.license"))
    classifiers = data.get("project", {}).get("classifiers")
    if isinstance(classifiers, list):
        found.extend(_classifiers((c for c in classifiers if isinstance(c, str)), location))
    return found


def _from_setup_cfg(path: Path, location: str) -> list[LicenseFinding]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    value = parser.get("metadata", "license", fallback="").strip()
    found = [_declared(value, location=location, field="metadata.license")] if value else []
    classifiers = parser.get("metadata", "classifiers", fallback="")
    found.extend(_classifiers(classifiers.splitlines(), location))
    return found


def _from_core_metadata(path: Path, location: str) -> list[LicenseFinding]:
    """PKG-INFO (sdists) and METADATA (wheels): RFC 822 headers, per the core metadata spec."""
    headers = HeaderParser().parsestr(path.read_text(encoding="utf-8", errors="replace"))
    if headers.get("Metadata-Version") is None:
        return []  # a file of that name that is not Python package metadata
    found: list[LicenseFinding] = []
    expression = (headers.get("License-Expression") or "").strip()
    if expression:
        found.append(_declared(expression, location=location, field="License-Expression"))
    license_ = (headers.get("License") or "").strip()
    if license_ and license_.upper() != "UNKNOWN":
        found.append(_declared(license_, location=location, field="License"))
    found.extend(_classifiers(headers.get_all("Classifier") or [], location))
    return found


def _from_package_json(path: Path, location: str) -> list[LicenseFinding]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    values: list[tuple[str, str]] = []
    license_ = data.get("license")
    if isinstance(license_, str):
        values.append((license_, "license"))
    elif isinstance(license_, dict) and isinstance(license_.get("type"), str):
        values.append((license_["type"], "license.type"))
    for entry in data.get("licenses") or []:
        if isinstance(entry, dict) and isinstance(entry.get("type"), str):
            values.append((entry["type"], "licenses[].type"))
    found: list[LicenseFinding] = []
    for value, field in values:
        see = re.match(r"SEE LICENSE IN\s+(.+)", value.strip(), re.IGNORECASE)
        if see:
            found.append(_see_file(see.group(1).strip(), location=location, field=field))
        elif value.strip() == "UNLICENSED":
            found.append(
                LicenseFinding(
                    "package-metadata", UNLICENSED, location, raw=value, extra={"field": field}
                )
            )
        else:
            found.append(_declared(value, location=location, field=field))
    return found


def _from_cargo(path: Path, location: str) -> list[LicenseFinding]:
    package = tomllib.loads(path.read_text(encoding="utf-8")).get("package", {})
    found: list[LicenseFinding] = []
    license_ = package.get("license")
    if isinstance(license_, str):
        # Cargo accepted "MIT/Apache-2.0" before SPDX syntax; it means OR.
        value = " OR ".join(p.strip() for p in license_.split("/")) if "/" in license_ else license_
        found.append(_declared(value, location=location, field="package.license", raw=license_))
    if isinstance(package.get("license-file"), str):
        found.append(
            _see_file(package["license-file"], location=location, field="package.license-file")
        )
    return found


def _from_composer(path: Path, location: str) -> list[LicenseFinding]:
    data = json.loads(path.read_text(encoding="utf-8"))
    license_ = data.get("license") if isinstance(data, dict) else None
    if isinstance(license_, str):
        return [_declared(license_, location=location, field="license")]
    if isinstance(license_, list) and license_ and all(isinstance(x, str) for x in license_):
        joined = " OR ".join(f"({x})" if " " in x.strip() else x for x in license_)
        return [_declared(joined, location=location, field="license", raw=json.dumps(license_))]
    return []


_GEM_LICENSE = re.compile(r"""\.license\s*=\s*(["'])(.+?)\1""")
_GEM_LICENSES = re.compile(r"""\.licenses\s*=\s*\[([^\]]*)\]""")
_QUOTED = re.compile(r"""(["'])(.+?)\1""")


def _from_gemspec(path: Path, location: str) -> list[LicenseFinding]:
    text = path.read_text(encoding="utf-8")
    found = [
        _declared(m.group(2), location=location, field="license")
        for m in _GEM_LICENSE.finditer(text)
    ]
    for m in _GEM_LICENSES.finditer(text):
        found.extend(
            _declared(q.group(2), location=location, field="licenses")
            for q in _QUOTED.finditer(m.group(1))
        )
    return found


_READERS: dict[str, Callable[[Path, str], list[LicenseFinding]]] = {
    "pyproject.toml": _from_pyproject,
    "setup.cfg": _from_setup_cfg,
    "package.json": _from_package_json,
    "Cargo.toml": _from_cargo,
    "composer.json": _from_composer,
    "PKG-INFO": _from_core_metadata,
    "METADATA": _from_core_metadata,
}
MANIFEST_NAMES = frozenset(_READERS)


def is_manifest(name: str) -> bool:
    """Whether a file of this name is one `package_metadata_licenses` reads."""
    return name in _READERS or name.endswith(".gemspec")


def package_metadata_licenses(
    root: Path, *, prefix: str = "", errors: list[tuple[str, str]] | None = None
) -> list[LicenseFinding]:
    """Licences declared by the package manifests directly in `root` (not in subfolders).

    Findings have detector `package-metadata` and location `<prefix><manifest name>`, with the
    manifest field in `extra["field"]`. A manifest that cannot be parsed adds
    `(location, one-line message)` to `errors` (when given) and contributes nothing.
    """
    found: list[LicenseFinding] = []
    if not root.is_dir():
        return found
    for path in sorted(root.iterdir(), key=lambda p: p.name):
        if not (is_manifest(path.name) and path.is_file()):
            continue
        reader = _from_gemspec if path.name.endswith(".gemspec") else _READERS[path.name]
        try:
            found.extend(reader(path, prefix + path.name))
        except (ValueError, OSError, configparser.Error, AttributeError) as exc:
            # tomllib/json errors are ValueErrors; AttributeError covers a field of the wrong
            # shape (e.g. `project = "x"`), which is as malformed as bad syntax.
            if errors is not None:
                location = prefix + path.name
                errors.append((location, f"{location}: cannot read licence metadata: {exc}"))
    return found


# ---------------------------------------------------------------- one declaration per manifest

# How the metadata standards rank a manifest's licence fields (PEP 639: License-Expression
# supersedes License and the classifiers; npm, Cargo and Composer have one expression field).
_EXPRESSION_FIELDS = frozenset({
    "License-Expression", "project.license", "tool.poetry.license", "license", "license.type",
    "licenses[].type", "package.license", "licenses",
})
_TEXT_FIELDS = frozenset({"License", "project.license.text", "metadata.license"})
_NOT_A_LICENCE = frozenset({UNPARSED, SEE_FILE})
_GNU = re.compile(r"^(?P<base>(?:A|L)?GPL-\d\.\d)-(?P<range>only|or-later)$")


@dataclass(slots=True)
class Declaration:
    """What a package's manifests declare, as one expression, with the findings it rests on."""

    expression: str | None
    findings: list[LicenseFinding] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)


def _rank(finding: LicenseFinding) -> int:
    name = (finding.extra or {}).get("field")
    if name == CLASSIFIER:
        return 2
    return 1 if name in _TEXT_FIELDS else 0


def package_declaration(findings: Sequence[LicenseFinding]) -> Declaration:
    """One expression for the package-metadata findings (several manifests: all apply)."""
    by_location: dict[str, list[LicenseFinding]] = {}
    for finding in findings:
        by_location.setdefault(finding.location, []).append(finding)
    parts: list[Declaration] = [_one_manifest(loc, fs) for loc, fs in by_location.items()]
    parts = [p for p in parts if p.expression is not None]
    if not parts:
        return Declaration(None)
    return Declaration(
        spdx.and_all(p.expression for p in parts if p.expression),
        [f for p in parts for f in p.findings],
        [n for p in parts for n in p.notes],
    )


def _one_manifest(location: str, findings: list[LicenseFinding]) -> Declaration:
    identified = [f for f in findings if f.expression not in _NOT_A_LICENCE
                  and try_normalize(f.expression) is not None]
    if not identified:
        return Declaration(None)
    top = min(_rank(f) for f in identified)
    chosen = [f for f in identified if _rank(f) == top]
    lower = [f for f in identified if _rank(f) > top]
    notes: list[str] = []
    if top == 2 and len({f.expression for f in chosen}) > 1:
        # Classifiers do not say how they combine; packages list several for a choice.
        expression = spdx.or_all(f.expression for f in chosen)
        notes.append(f"{location}: {len(chosen)} licence classifiers and no licence field: "
                     f"read as a choice ({expression})")
    else:
        expression = spdx.and_all(f.expression for f in chosen)
    if lower:
        notes.append(f"{location}: {_fields(chosen)} supersedes {_fields(lower)}")
    expression, used = _sharpen_gnu(expression, chosen, lower, location, notes)
    return Declaration(expression, chosen + used, notes)


def _fields(findings: Iterable[LicenseFinding]) -> str:
    return ", ".join(dict.fromkeys(str((f.extra or {}).get("field")) for f in findings))


def _sharpen_gnu(
    expression: str, chosen: list[LicenseFinding], lower: list[LicenseFinding], location: str,
    notes: list[str],
) -> tuple[str, list[LicenseFinding]]:
    """`GPL-3.0` (which SPDX reads as -only) beside a lower field that says "or later"."""
    explicit_only = any("only" in f.raw.lower() for f in chosen)
    used: list[LicenseFinding] = []
    for key in sorted(spdx.license_keys(expression)):
        match = _GNU.match(key)
        if match is None or match["range"] != "only" or explicit_only:
            continue
        later = f"{match['base']}-or-later"
        sharper = next((f for f in lower if later in spdx.license_keys(f.expression)), None)
        if sharper is not None:
            expression = spdx.canonical(re.sub(rf"(?<![\w.-]){re.escape(key)}(?![\w.-])", later,
                                               expression))
            used.append(sharper)
            notes.append(f"{location}: {key} does not say 'only'; its "
                         f"{(sharper.extra or {}).get('field')} {sharper.raw!r} says or later")
    return expression, used
