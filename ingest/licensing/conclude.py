"""From licence findings to a file's *concluded* licence, kept apart from its *declared* one.

The most specific evidence decides, in this order:

1. the file's own `SPDX-License-Identifier:` header;
2. other licence notices inside the file (scancode detections);
3. the nearest licence file: LICENSE / LICENCE / COPYING / COPYRIGHT / UNLICENSE files in the
   closest ancestor directory that has one;
4. package metadata (the manifest in the closest ancestor directory that has one);
5. the repository's licence (e.g. what the hosting service reports, or go-license-detector);
6. the source's declaration (what the catalog was told when the source was registered).

Several findings at one level all apply, so they are joined with AND. Findings below
`min_score` are ignored, and some findings are not conclusions: a pointer elsewhere ("see
LICENSE", scancode's `unknown-license-reference`, a manifest's `license = {file = ...}`) never
concludes, and an unidentified licence (scancode's `unknown`, a manifest value that is not
SPDX) concludes only when nothing identified — not even the source declaration — is available.
Every step taken or skipped is written to `reason_chain`.

The declared licence is the source's declaration. A conflict is flagged when the concluded
expression is not equivalent to the declared one (license-expression's boolean equivalence
over normalised keys: `MIT` vs `mit` agree, `MIT` vs `GPL-2.0-only` conflict).

Exception tree::

    ValueError
    └── DeclaredLicenseError   the source declaration is not a valid licence expression
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from common import spdx
from ingest.code_licenses import SEE_FILE, UNPARSED
from ingest.types import LicenseFinding

__all__ = [
    "DEFAULT_MIN_SCORE",
    "Conclusion",
    "DeclaredLicenseError",
    "LicenseFileIndex",
    "conclude",
    "conclude_tree",
    "is_header_finding",
    "is_license_file",
    "nearest_license_files",
]

DEFAULT_MIN_SCORE = 0.75  # go-license-detector's own default threshold; scancode scores 0..1

# Findings that point at another place instead of naming a licence.
_DEFERRING = frozenset(
    key.lower()
    for key in (
        SEE_FILE,
        "LicenseRef-scancode-unknown-license-reference",
    )
)
# Findings that say "some licence, not identified".
_UNIDENTIFIED = frozenset(
    key.lower()
    for key in (
        UNPARSED,
        "LicenseRef-scancode-unknown",
        "LicenseRef-Unknown",
        "NOASSERTION",
    )
)

_LICENSE_STEM = re.compile(
    r"^(?:(?:un)?licen[cs]e|copying|copyright|[a-z0-9.]+[-_]licen[cs]e)(?P<rest>.*)$",
    re.IGNORECASE,
)
_TEXT_EXTENSIONS = frozenset({"txt", "md", "markdown", "rst", "html", "htm", "adoc", "org"})


class DeclaredLicenseError(ValueError):
    """A source declaration that is not a valid SPDX expression."""


@dataclass(slots=True)
class Conclusion:
    expression: str | None  # the concluded licence; None when there is no evidence at all
    reason_chain: list[str]
    evidence: list[LicenseFinding]  # the findings the conclusion rests on
    declared: str | None  # the source's declaration, normalised
    conflict: bool = False
    conflict_detail: str | None = None
    level: str | None = None  # which level concluded ("file header", ...)


@dataclass(slots=True)
class _Level:
    name: str
    findings: list[LicenseFinding] = field(default_factory=list)
    identified: list[tuple[LicenseFinding, str]] = field(default_factory=list)
    unidentified: list[tuple[LicenseFinding, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _normalise(expression: str) -> str | None:
    # Evidence keeps ids SPDX does not know (NOASSERTION, scancode keys): they say something.
    try:
        return spdx.canonical(expression)
    except spdx.LicenseExpressionError:
        return None


def _and(expressions: Iterable[str]) -> str:
    """All of a level's findings apply; more than one expression can hold is unidentified."""
    joined = spdx.and_all(expressions)
    return joined if len(joined) <= spdx.MAX_EXPRESSION_CHARS else UNPARSED


def _describe(finding: LicenseFinding) -> str:
    score = f", score {finding.score:.2f}" if finding.score is not None else ""
    version = finding.extra.get("detector_version") if finding.extra else None
    detector = f"{finding.detector} {version}" if version else finding.detector
    return f"{finding.expression} ({detector} at {finding.location}{score})"


def _sort(level: _Level, min_score: float) -> _Level:
    for finding in level.findings:
        expression = _normalise(finding.expression)
        if expression is None:
            level.notes.append(f"{level.name}: ignored unparseable {_describe(finding)}")
        elif finding.score is not None and finding.score < min_score:
            level.notes.append(
                f"{level.name}: ignored {_describe(finding)}: score below {min_score:.2f}"
            )
        elif expression.lower() in _DEFERRING:
            level.notes.append(f"{level.name}: {_describe(finding)} points elsewhere")
        elif expression.lower() in _UNIDENTIFIED:
            level.unidentified.append((finding, expression))
        else:
            level.identified.append((finding, expression))
    return level


def conclude(
    *,
    path: str,
    header: LicenseFinding | None,
    nearest_license_file: Sequence[LicenseFinding],
    package_metadata: Sequence[LicenseFinding],
    repository: Sequence[LicenseFinding],
    source_declared: str | None,
    file_findings: Sequence[LicenseFinding] = (),
    min_score: float = DEFAULT_MIN_SCORE,
) -> Conclusion:
    """The concluded licence of the file at `path` (see the module docstring for the order)."""
    declared = _declared(source_declared, path)
    levels = [
        _sort(_Level(name, list(findings)), min_score)
        for name, findings in (
            ("file header", [header] if header is not None else []),
            ("notices in the file", file_findings),
            ("nearest licence file", nearest_license_file),
            ("package metadata", package_metadata),
            ("repository licence", repository),
        )
    ]
    chain = [note for level in levels for note in level.notes]
    chosen = next((lv for lv in levels if lv.identified), None)
    if chosen is not None:
        expression = _and(expr for _, expr in chosen.identified)
        evidence = [f for f, _ in chosen.identified]
        chain.append(f"{chosen.name}: " + "; ".join(_describe(f) for f in evidence))
        if len(evidence) > 1:
            chain.append(f"{chosen.name}: all {len(evidence)} findings apply, joined with AND")
        if expression == UNPARSED and len(evidence) > 1:
            chain.append(f"{chosen.name}: joined, they exceed the {spdx.MAX_EXPRESSION_CHARS}"
                         "-character limit of a licence expression: not identified")
        chain.extend(_overridden(levels, chosen, expression))
        if chosen.name != "file header" and any(lv.unidentified for lv in levels[:2]):
            chain.append("the file also holds licence text that could not be identified")
        return _finish(path, expression, chain, evidence, declared, chosen.name)
    if declared is not None:
        chain.append(f"no identified licence evidence; the source declares {declared}")
        return _finish(path, declared, chain, [], declared, "source declaration")
    fallback = next((lv for lv in levels if lv.unidentified), None)
    if fallback is not None:
        expression = _and(expr for _, expr in fallback.unidentified)
        evidence = [f for f, _ in fallback.unidentified]
        chain.append(
            f"{fallback.name}: licence present but not identified: "
            + "; ".join(_describe(f) for f in evidence)
        )
        return _finish(path, expression, chain, evidence, declared, fallback.name)
    chain.append("no licence evidence and no source declaration")
    return Conclusion(expression=None, reason_chain=chain, evidence=[], declared=None)


def _declared(source_declared: str | None, path: str) -> str | None:
    if source_declared is None or not source_declared.strip():
        return None
    normalised = _normalise(source_declared)
    if normalised is None:
        raise DeclaredLicenseError(
            f"{path}: the source declares {source_declared!r}, which is not an SPDX expression"
        )
    return normalised


def _overridden(levels: list[_Level], chosen: _Level, expression: str) -> list[str]:
    notes = []
    for level in levels[levels.index(chosen) + 1 :]:
        if not level.identified:
            continue
        other = _and(expr for _, expr in level.identified)
        if not spdx.is_equivalent(other, expression):
            notes.append(f"more specific than the {level.name} ({other})")
    return notes


def _finish(
    path: str, expression: str, chain: list[str], evidence: list[LicenseFinding],
    declared: str | None, level: str,
) -> Conclusion:
    conclusion = Conclusion(
        expression=expression, reason_chain=chain, evidence=evidence, declared=declared,
        level=level,
    )
    if declared is not None and not spdx.is_equivalent(declared, expression):
        declared_keys = spdx.license_keys(declared)
        found_keys = spdx.license_keys(expression)
        only_declared = sorted(declared_keys - found_keys)
        only_found = sorted(found_keys - declared_keys)
        parts = [f"declared {declared}, concluded {expression} from the {level}"]
        if only_declared:
            parts.append(f"only declared: {', '.join(only_declared)}")
        if only_found:
            parts.append(f"only concluded: {', '.join(only_found)}")
        if not only_declared and not only_found:
            parts.append("same licences, combined differently")
        conclusion.conflict = True
        conclusion.conflict_detail = "; ".join(parts)
        chain.append(f"conflict: {conclusion.conflict_detail}")
    return conclusion


# ------------------------------------------------------------------------- code trees


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
    # A text extension, or an upper-case tag as in COPYING.LESSER / LICENSE.MIT.
    return extension.lower() in _TEXT_EXTENSIONS or extension.isupper()


def is_header_finding(finding: LicenseFinding) -> bool:
    """An `SPDX-License-Identifier:` line: from the header reader or scancode's SPDX matcher."""
    if finding.detector == "spdx-header":
        return True
    matchers = finding.extra.get("matchers") if finding.extra else None
    return bool(matchers) and set(matchers) == {"1-spdx-id"}


def _defers(finding: LicenseFinding) -> bool:
    expression = _normalise(finding.expression)
    return expression is not None and expression.lower() in _DEFERRING


def _ancestors(relpath: str) -> list[str]:
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
            if is_license_file(relpath) and any(not _defers(f) for f in tree_findings[relpath]):
                self._by_dir.setdefault(_ancestors(relpath)[0], []).append(relpath)

    def nearest(self, relpath: str) -> tuple[list[str], list[LicenseFinding]]:
        """The licence files of the closest ancestor directory that has any, and their findings."""
        for directory in _ancestors(relpath):
            files = self._by_dir.get(directory)
            if files:
                return files, [f for file in files for f in self._findings[file]]
        return [], []


def nearest_license_files(
    tree_findings: Mapping[str, Sequence[LicenseFinding]], path: str
) -> list[LicenseFinding]:
    """The findings of the licence files nearest to `path` (see `LicenseFileIndex`)."""
    return LicenseFileIndex(tree_findings).nearest(path)[1]


def conclude_tree(
    root: Path | str,
    findings_by_path: Mapping[str, Sequence[LicenseFinding]],
    package_metadata: Sequence[LicenseFinding],
    source_declared: str | None,
    *,
    repository: Sequence[LicenseFinding] = (),
    min_score: float = DEFAULT_MIN_SCORE,
) -> dict[str, Conclusion]:
    """A conclusion for every file in `findings_by_path` (relpaths under `root`, e.g. from
    `scancode.detect_tree`). Package metadata is located by its finding's `location` (a
    manifest path relative to `root`, or absolute under it); the closest manifest applies."""
    root = Path(root)
    licence_files = LicenseFileIndex(findings_by_path)
    manifests = _metadata_by_dir(root, package_metadata)
    out: dict[str, Conclusion] = {}
    for relpath in sorted(findings_by_path):
        own = list(findings_by_path[relpath])
        if is_license_file(relpath):
            own = []  # a licence file is its own nearest licence file
        headers = [f for f in own if is_header_finding(f)]
        notices = [f for f in own if not is_header_finding(f)]
        header = headers[0] if headers else None
        if len(headers) > 1:
            notices = headers[1:] + notices  # several SPDX tags: the first is the header
        _, nearest = licence_files.nearest(relpath)
        metadata = next(
            (manifests[d] for d in _ancestors(relpath) if d in manifests), []
        )
        out[relpath] = conclude(
            path=relpath,
            header=header,
            file_findings=notices,
            nearest_license_file=nearest,
            package_metadata=metadata,
            repository=repository,
            source_declared=source_declared,
            min_score=min_score,
        )
    return out


def _metadata_by_dir(
    root: Path, findings: Sequence[LicenseFinding]
) -> dict[str, list[LicenseFinding]]:
    out: dict[str, list[LicenseFinding]] = {}
    for finding in findings:
        out.setdefault(_manifest_dir(root, finding.location), []).append(finding)
    return out


def _manifest_dir(root: Path, location: str) -> str:
    path = Path(location)
    if path.is_absolute():
        try:
            path = path.relative_to(root)
        except ValueError:
            return ""  # outside the tree: applies to all of it
    parent = PurePosixPath(path.as_posix()).parent
    return "" if str(parent) == "." else str(parent)
