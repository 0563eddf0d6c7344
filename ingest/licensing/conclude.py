"""From licence findings to a file's *concluded* licence, kept apart from its *declared* one.

The most specific evidence decides, in this order:

1. the file's own `SPDX-License-Identifier:` header;
2. other licence notices inside the file (scancode detections);
3. the nearest licence file: LICENSE / LICENCE / COPYING / COPYRIGHT / UNLICENSE files in the
   closest ancestor directory that has one;
4. package metadata (the manifest in the closest ancestor directory that has one);
5. the repository's licence (e.g. what the hosting service reports, or go-license-detector);
6. the source's declaration (what the catalog was told when the source was registered).

A licence file or a file's notices are *read* (`ingest.licensing.reading`): licences quoted
for parts (history, documentation, bundled or vendored code, named files) are kept as
`secondary` evidence instead of concluded; a GPL/LGPL/AGPL text is `-or-later` when a notice
or the package metadata says so and `-only` (with a note) when nothing does; a file that offers
a choice ("either ... or", "dual licensed") concludes OR. Package metadata is read as one
declaration per manifest (`ingest.code_licenses.package_declaration`: License-Expression over
License over classifiers). Other findings at one level all apply, joined with AND. Findings below
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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from common import spdx
from ingest.code_licenses import UNPARSED, Declaration, package_declaration
from ingest.licensing.reading import Reading, read
from ingest.licensing.tree import (
    DEFERRING,
    LicenseFileIndex,
    TreeTexts,
    ancestors,
    is_header_finding,
    is_license_file,
    metadata_by_dir,
    nearest_license_files,
)
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

_READ_LEVELS = frozenset({"notices in the file", "nearest licence file"})
_METADATA_LEVEL = "package metadata"
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
    # Licences the concluding files quote for parts (documentation, bundled code, history),
    # each with `extra["scope"]` and `extra["context"]`: evidence, not the conclusion.
    secondary: list[LicenseFinding] = field(default_factory=list)


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
        elif expression.lower() in DEFERRING:
            level.notes.append(f"{level.name}: {_describe(finding)} points elsewhere")
        elif expression.lower() in _UNIDENTIFIED:
            level.unidentified.append((finding, expression))
        else:
            level.identified.append((finding, expression))
    return level


@dataclass(slots=True)
class _Concluded:
    expression: str
    evidence: list[LicenseFinding]
    secondary: list[LicenseFinding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


_Memo = dict[tuple, Reading]


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
    texts: Mapping[str, str] | None = None,
) -> Conclusion:
    """The concluded licence of the file at `path` (see the module docstring for the order).

    `texts` maps a finding's `location` to the text of that file (the file itself, its licence
    files), for reading which licence a file grants; without it every finding is primary."""
    return _conclude(path=path, header=header, nearest_license_file=nearest_license_file,
                     package_metadata=package_metadata, repository=repository,
                     source_declared=source_declared, file_findings=file_findings,
                     min_score=min_score, texts=texts, memo=None)


def _conclude(
    *, path: str, header: LicenseFinding | None, nearest_license_file: Sequence[LicenseFinding],
    package_metadata: Sequence[LicenseFinding], repository: Sequence[LicenseFinding],
    source_declared: str | None, file_findings: Sequence[LicenseFinding], min_score: float,
    texts: Mapping[str, str] | None, memo: _Memo | None,
) -> Conclusion:
    declared = _declared(source_declared, path)
    levels = [
        _sort(_Level(name, list(findings)), min_score)
        for name, findings in (
            ("file header", [header] if header is not None else []),
            ("notices in the file", file_findings),
            ("nearest licence file", nearest_license_file),
            (_METADATA_LEVEL, package_metadata),
            ("repository licence", repository),
        )
    ]
    metadata = package_declaration([f for f, _ in levels[3].identified])
    chain = [note for level in levels for note in level.notes]
    chosen = next((lv for lv in levels if lv.identified), None)
    if chosen is not None:
        got = _level_expression(chosen, texts, metadata, memo)
        chain.append(f"{chosen.name}: " + "; ".join(_describe(f) for f in got.evidence))
        chain.extend(f"{chosen.name}: {note}" for note in got.notes)
        primary = {f.expression for f in got.evidence if f.detector != "package-metadata"
                   or chosen.name == _METADATA_LEVEL}
        if len(primary) > 1 and " OR " not in got.expression:
            chain.append(f"{chosen.name}: all {len(primary)} findings apply, joined with AND")
        expression = got.expression
        if len(expression) > spdx.MAX_EXPRESSION_CHARS:
            expression = UNPARSED
            chain.append(f"{chosen.name}: joined, they exceed the {spdx.MAX_EXPRESSION_CHARS}"
                         "-character limit of a licence expression: not identified")
        chain.extend(_overridden(levels, chosen, expression, texts, metadata, memo))
        if chosen.name != "file header" and any(lv.unidentified for lv in levels[:2]):
            chain.append("the file also holds licence text that could not be identified")
        conclusion = _finish(path, expression, chain, got.evidence, declared, chosen.name)
        conclusion.secondary = got.secondary
        return conclusion
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


def _level_expression(
    level: _Level, texts: Mapping[str, str] | None, metadata: Declaration, memo: _Memo | None,
) -> _Concluded:
    """A level's expression: licence files and notices read, package metadata as one
    declaration, any other level's findings joined with AND."""
    findings = [f for f, _ in level.identified]
    if level.name == _METADATA_LEVEL and metadata.expression is not None:
        return _Concluded(metadata.expression, metadata.findings, notes=metadata.notes)
    if level.name not in _READ_LEVELS:
        return _Concluded(spdx.and_all(e for _, e in level.identified), findings)
    key = (level.name, tuple(id(f) for f in findings), metadata.expression)
    reading = memo.get(key) if memo is not None else None
    if reading is None:
        reading = read(findings, texts, metadata)
        if memo is not None:
            memo[key] = reading
    if reading.expression is None:  # only pointers and introductions: as the detector said
        return _Concluded(spdx.and_all(e for _, e in level.identified), findings)
    return _Concluded(reading.expression, reading.primary + reading.metadata, reading.secondary,
                      reading.notes)


def _declared(source_declared: str | None, path: str) -> str | None:
    if source_declared is None or not source_declared.strip():
        return None
    normalised = _normalise(source_declared)
    if normalised is None:
        raise DeclaredLicenseError(
            f"{path}: the source declares {source_declared!r}, which is not an SPDX expression"
        )
    return normalised


def _overridden(
    levels: list[_Level], chosen: _Level, expression: str, texts: Mapping[str, str] | None,
    metadata: Declaration, memo: _Memo | None,
) -> list[str]:
    notes = []
    for level in levels[levels.index(chosen) + 1 :]:
        if not level.identified:
            continue
        other = _level_expression(level, texts, metadata, memo).expression
        if len(other) > spdx.MAX_EXPRESSION_CHARS:
            other = UNPARSED
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
    manifests = metadata_by_dir(root, package_metadata)
    texts = TreeTexts(root)
    memo: _Memo = {}
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
            (manifests[d] for d in ancestors(relpath) if d in manifests), []
        )
        out[relpath] = _conclude(
            path=relpath,
            header=header,
            file_findings=notices,
            nearest_license_file=nearest,
            package_metadata=metadata,
            repository=repository,
            source_declared=source_declared,
            min_score=min_score,
            texts=texts,
            memo=memo,
        )
    return out
