"""Where a file of a code tree finds its licence evidence: licence files, nearest ancestors,
manifests by directory, and the texts of files read on demand for `ingest.licensing.reading`."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath

from common import spdx
from ingest.code_licenses import SEE_FILE
from ingest.licensing.reading import POINTER
from ingest.types import LicenseFinding

__all__ = [
    "DEFERRING",
    "LicenseFileIndex",
    "TreeTexts",
    "ancestors",
    "defers",
    "is_header_finding",
    "is_license_file",
    "manifest_dir",
    "metadata_by_dir",
    "nearest_license_files",
]

# Findings that point at another place instead of naming a licence.
DEFERRING = frozenset(
    key.lower()
    for key in (
        SEE_FILE,
        POINTER,
    )
)
_LICENSE_STEM = re.compile(
    r"^(?:(?:un)?licen[cs]e|copying|copyright|[a-z0-9.]+[-_]licen[cs]e)(?P<rest>.*)$",
    re.IGNORECASE,
)
_TEXT_EXTENSIONS = frozenset({"txt", "md", "markdown", "rst", "html", "htm", "adoc", "org"})
_TAG = re.compile(r"^[A-Z][A-Za-z0-9.+-]*$")
_TEXT_LIMIT = 1_000_000  # bytes of a file read for its notices; scancode's own default cap


def is_license_file(relpath: str) -> bool:
    """LICENSE, LICENCE.md, COPYING.LESSER, UNLICENSE, LICENSE-MIT, MIT-LICENSE.txt... but not
    source code that happens to be named so (`license.py`)."""
    match = _LICENSE_STEM.match(PurePosixPath(relpath).name)
    if match is None:
        return False
    rest = match["rest"]
    if not rest or rest[0] in "-_":
        return True
    if rest[0] != ".":
        return False
    extension = rest[1:]
    # A text extension, or a tag that starts upper-case: COPYING.LESSER, LICENSE.MIT,
    # LICENSE.GPLv3.
    return extension.lower() in _TEXT_EXTENSIONS or extension.isupper() or bool(
        _TAG.match(extension))


def is_header_finding(finding: LicenseFinding) -> bool:
    """An `SPDX-License-Identifier:` line: from the header reader or scancode's SPDX matcher."""
    if finding.detector == "spdx-header":
        return True
    matchers = finding.extra.get("matchers") if finding.extra else None
    return bool(matchers) and set(matchers) == {"1-spdx-id"}


def defers(finding: LicenseFinding) -> bool:
    """A finding that points at another place ("see LICENSE") instead of naming a licence."""
    try:
        expression = spdx.canonical(finding.expression)
    except spdx.LicenseExpressionError:
        return False
    return expression.lower() in DEFERRING


def ancestors(relpath: str) -> list[str]:
    """Directories from the file's own up to the root (""), as posix relpaths."""
    parent = PurePosixPath(relpath).parent
    out = []
    while True:
        out.append("" if str(parent) == "." else str(parent))
        if str(parent) in (".", "/", ""):
            return out
        parent = parent.parent


class LicenseFileIndex:
    """Licence files of a tree by directory, for nearest-ancestor lookups in O(depth)."""

    def __init__(self, tree_findings: Mapping[str, Sequence[LicenseFinding]]):
        self._by_dir: dict[str, list[str]] = {}
        self._findings = tree_findings
        for relpath in sorted(tree_findings):
            # A licence file that only points elsewhere ("see ../LICENSE") is not the nearest.
            if is_license_file(relpath) and any(not defers(f) for f in tree_findings[relpath]):
                self._by_dir.setdefault(ancestors(relpath)[0], []).append(relpath)

    def nearest(self, relpath: str) -> tuple[list[str], list[LicenseFinding]]:
        """The licence files of the closest ancestor directory that has any, and their findings."""
        for directory in ancestors(relpath):
            files = self._by_dir.get(directory)
            if files:
                return files, [f for file in files for f in self._findings[file]]
        return [], []


def nearest_license_files(
    tree_findings: Mapping[str, Sequence[LicenseFinding]], path: str
) -> list[LicenseFinding]:
    """The findings of the licence files nearest to `path` (see `LicenseFileIndex`)."""
    return LicenseFileIndex(tree_findings).nearest(path)[1]


class TreeTexts(Mapping[str, str]):
    """The texts of files under a root by relpath, read when a reading first asks (a file that
    cannot be read, or is too large, has none)."""

    def __init__(self, root: Path):
        self._root = root
        self._read: dict[str, str | None] = {}

    def __getitem__(self, relpath: str) -> str:
        if relpath not in self._read:
            self._read[relpath] = self._load(relpath)
        text = self._read[relpath]
        if text is None:
            raise KeyError(relpath)
        return text

    def _load(self, relpath: str) -> str | None:
        path = Path(relpath) if Path(relpath).is_absolute() else self._root / relpath
        try:
            if path.stat().st_size > _TEXT_LIMIT:
                return None
            return path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def __iter__(self) -> Iterator[str]:
        return iter(k for k, v in self._read.items() if v is not None)

    def __len__(self) -> int:
        return sum(1 for v in self._read.values() if v is not None)


def metadata_by_dir(
    root: Path, findings: Sequence[LicenseFinding]
) -> dict[str, list[LicenseFinding]]:
    out: dict[str, list[LicenseFinding]] = {}
    for finding in findings:
        out.setdefault(manifest_dir(root, finding.location), []).append(finding)
    return out


def manifest_dir(root: Path, location: str) -> str:
    path = Path(location)
    if path.is_absolute():
        try:
            path = path.relative_to(root)
        except ValueError:
            return ""  # outside the tree: applies to all of it
    parent = PurePosixPath(path.as_posix()).parent
    return "" if str(parent) == "." else str(parent)
