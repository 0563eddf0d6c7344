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
(`license = "..."` / `licenses = [...]` string literals only: a gemspec is Ruby code).
"""

from __future__ import annotations

import configparser
import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common.spdx import try_normalize
from ingest.types import LicenseFinding

__all__ = [
    "MANIFEST_NAMES",
    "SEE_FILE",
    "UNLICENSED",
    "UNPARSED",
    "is_manifest",
    "package_metadata_licenses",
    "spdx_header",
    "spdx_header_finding",
]

UNPARSED = "LicenseRef-govcat-unparsed"
SEE_FILE = "LicenseRef-govcat-see-file"
UNLICENSED = "LicenseRef-govcat-unlicensed"

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
    return _finding("package-metadata", value, location=location, field=field, raw=raw)


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
    return found


def _from_setup_cfg(path: Path, location: str) -> list[LicenseFinding]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    value = parser.get("metadata", "license", fallback="").strip()
    return [_declared(value, location=location, field="metadata.license")] if value else []


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
