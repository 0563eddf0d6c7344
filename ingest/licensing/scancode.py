"""Licence detection with scancode-toolkit, for single files, texts and whole code trees.

One `LicenseFinding` per scancode *detection* (scancode's own grouping of nearby matches, after
its false-positive and licence-intro handling), with detector "scancode", the SPDX expression
scancode maps it to (`LicenseRef-scancode-...` for licences SPDX lacks), the matched text, a
score in 0..1 (scancode's 0..100 divided by 100) and in `extra`: `detector_version`,
`matched_text_sha256`, `rule` (the identifier of the longest match), `rules`, `matchers`,
`lines` ([first, last]), `scancode_expression` (scancode's own keys), `detection_id` and
`matches`: one entry per match of the detection (`expression` in SPDX, `lines`, `rule`, `kind`
— text, notice, reference, tag, intro or clue —, `score` and the start of its matched `text`),
so a reader can tell a licence text from a passing mention and the part of a file each match
covers (see `ingest.licensing.reading`).

Matching modes. scancode matches exactly (whole-file hash, SPDX ids, Aho-Corasick over its
rules) and then *approximately* (sequence alignment, which finds modified licence texts). The
approximate pass costs ~0.3 s median per source file against ~5 ms for the exact passes, and on
source code it almost never adds anything (1 file in 150 sampled from site-packages). So by
default (`approximate="prose"`) a tree gets approximate matching only where licence texts live:
licence files (LICENSE, COPYING...), documentation-like files (.txt, .md, .rst, .html, no
extension: NOTICE, README, AUTHORS) and package metadata; source files — even one named
`copyright.py` — get the exact passes. `"all"` is scancode's own behaviour,
`"none"` the exact passes only. The mode is part of the cache key.

scancode's licence index takes ~6 s and ~1.45 GB to load, once per process. `detect_tree`
therefore scans in a small pool of worker processes (default: min(cores, 2)), each loading
the index once, and consults a `LicenseCache` first so unchanged files are never rescanned — a
run that is interrupted resumes from the cache. Workers are forked where the platform allows,
so an index this process already loaded is shared rather than loaded again.

scancode-toolkit is imported lazily; without it these functions raise `ScancodeUnavailable`.
It needs `pluggy<1.7` (with 1.7 it fails at start: "did not find any 'pre_scan' hooks").
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from common.atomic import bytes_sha256, text_sha256
from ingest.licensing.cache import LicenseCache, finding_from_dict, finding_to_dict
from ingest.licensing.tree import is_license_file
from ingest.types import LicenseFinding, Quarantined, Skipped

__all__ = [
    "DETECTOR",
    "FINDINGS_FORMAT",
    "ScanInputError",
    "ScancodeUnavailable",
    "TreeFindings",
    "detect_file",
    "detect_text",
    "detect_tree",
    "detector_version",
    "load_index",
    "wants_approximate",
]

DETECTOR = "scancode"
# Bump when the way detections become findings changes: it is part of the cache key.
FINDINGS_FORMAT = 2
RAW_TEXT_LIMIT = 4096  # characters of matched text kept in `raw`; the hash covers all of it
DEFAULT_MAX_BYTES = 1_000_000
DEFAULT_FILE_TIMEOUT = 60.0  # seconds of matching per file before scancode stops early
_BINARY_SNIFF = 8192
_VCS_DIRS = frozenset({".git", ".hg", ".svn", ".bzr"})

Progress = Callable[[int, int], None]  # (files done, files to do)
Approximate = Literal["prose", "all", "none"]

_PROSE_SUFFIXES = frozenset({"", ".txt", ".md", ".markdown", ".rst", ".html", ".htm", ".adoc",
                             ".org", ".license", ".licence"})
_METADATA_NAMES = frozenset({"metadata", "pkg-info", "package.json", "pyproject.toml",
                             "setup.cfg", "setup.py", "cargo.toml", "composer.json", "pom.xml",
                             "debian/copyright"})


class ScancodeUnavailable(RuntimeError):
    """scancode-toolkit is not installed (or fails to import) in this environment."""


class ScanInputError(ValueError):
    """The path given to scan cannot be scanned."""


def _scancode() -> Any:
    try:
        from licensedcode import cache as licence_cache
    except ImportError as exc:
        raise ScancodeUnavailable(
            "scancode-toolkit is not installed: pip install 'scancode-toolkit' 'pluggy<1.7' "
            f"({exc})"
        ) from exc
    return licence_cache


@lru_cache(maxsize=1)
def detector_version() -> str:
    """scancode-toolkit's version (e.g. "32.5.0")."""
    try:
        from importlib.metadata import version

        return version("scancode-toolkit")
    except Exception as exc:  # PackageNotFoundError and broken metadata alike
        raise ScancodeUnavailable(f"scancode-toolkit is not installed ({exc})") from exc


def _cache_version(approximate: bool) -> str:
    mode = "approx" if approximate else "exact"
    return f"{detector_version()}+f{FINDINGS_FORMAT}+{mode}"


def load_index() -> None:
    """Load scancode's licence index in this process now (otherwise on first detection)."""
    _scancode().get_index()


def wants_approximate(relpath: str) -> bool:
    """Whether a file is where licence texts live (see "Matching modes" above)."""
    pure = PurePosixPath(relpath)
    name = pure.name.lower()
    return (
        is_license_file(relpath)
        or pure.suffix.lower() in _PROSE_SUFFIXES  # NOTICE, README.md, AUTHORS.rst, docs...
        or name in _METADATA_NAMES
    )


def detect_text(
    text: str, location: str, *, approximate: bool = True,
    timeout: float = DEFAULT_FILE_TIMEOUT,
) -> list[LicenseFinding]:
    """Licences stated in `text`; `location` says where the text came from."""
    if not text.strip():
        return []
    return _detect(location=location, query_string=text, approximate=approximate,
                   timeout=timeout)


def detect_file(
    path: Path | str, *, location: str | None = None, approximate: bool = True,
    timeout: float = DEFAULT_FILE_TIMEOUT,
) -> list[LicenseFinding]:
    """Licences stated in one file (read and decoded by scancode)."""
    path = Path(path)
    return _detect(location=location or str(path), path=path, approximate=approximate,
                   timeout=timeout)


def _detect(
    *, location: str, approximate: bool, timeout: float, path: Path | None = None,
    query_string: str | None = None,
) -> list[LicenseFinding]:
    _scancode()
    from licensedcode.detection import detect_licenses

    version = detector_version()
    detections = detect_licenses(
        location=str(path) if path is not None else None,
        query_string=query_string,
        approximate=approximate,
        deadline=time.time() + timeout,
    )
    return [
        _finding(d, location=location, version=version, approximate=approximate)
        for d in detections
        if d.license_expression  # expression-less detections are "clues", not statements
    ]


def _finding(
    detection: Any, *, location: str, version: str, approximate: bool
) -> LicenseFinding:
    matches = list(detection.matches)
    texts = [m.matched_text(whole_lines=False, highlight=False) for m in matches]
    matched = "\n".join(texts)
    longest = max(matches, key=lambda m: m.len())
    start, end = detection.get_start_end_line()
    return LicenseFinding(
        detector=DETECTOR,
        expression=detection.license_expression_spdx or detection.license_expression,
        location=location,
        raw=matched[:RAW_TEXT_LIMIT],
        score=_score(matches),
        extra={
            "detector_version": version,
            "matched_text_sha256": text_sha256(matched),
            "rule": longest.rule.identifier,
            "rules": [m.rule.identifier for m in matches],
            "matchers": sorted({m.matcher for m in matches}),
            "lines": [start, end],
            "scancode_expression": detection.license_expression,
            "detection_id": detection.identifier,
            "matches": [_match(m, t) for m, t in zip(matches, texts, strict=True)],
            "raw_truncated": len(matched) > RAW_TEXT_LIMIT,
            "approximate": approximate,
        },
    )


_RULE_KINDS = ("text", "notice", "reference", "tag", "intro", "clue")


_MATCH_TEXT_LIMIT = 200  # enough to find the sentence a match sits in


def _match(match: Any, text: str) -> dict[str, Any]:
    rule = match.rule
    kind = next((k for k in _RULE_KINDS if getattr(rule, f"is_license_{k}", False)), "other")
    return {
        "expression": _spdx(rule.license_expression),
        "lines": [match.start_line, match.end_line],
        "rule": rule.identifier,
        "kind": kind,
        "score": round(match.score() / 100.0, 4),
        "text": text[:_MATCH_TEXT_LIMIT],
    }


@lru_cache(maxsize=4096)
def _spdx(scancode_expression: str) -> str:
    from licensedcode.cache import build_spdx_license_expression

    return str(build_spdx_license_expression(scancode_expression, licensing=_licensing()))


def _licensing() -> Any:
    return _scancode().get_cache().licensing


def _score(matches: list[Any]) -> float:
    # scancode's detection score (match scores weighted by matched length), in 0..1. Computed
    # here because `LicenseDetection.score()` fails in scancode 32.5 (no `length` attribute).
    total = sum(m.len() for m in matches) or 1
    return round(min(100.0, sum(m.score() * m.len() for m in matches) / total) / 100.0, 4)


class TreeFindings(dict[str, list[LicenseFinding]]):
    """Findings by path relative to the scanned root (every scanned file has a key, possibly
    with no findings), plus what was not scanned and why."""

    def __init__(self) -> None:
        super().__init__()
        self.skipped: list[Skipped] = []
        self.quarantined: list[Quarantined] = []
        self.cache_hits = 0
        self.scanned = 0  # files scancode actually ran on (cache misses)


@dataclass(frozen=True, slots=True)
class _Job:
    relpath: str
    path: str
    sha256: str
    approximate: bool
    timeout: float

    @property
    def cache_version(self) -> str:
        return _cache_version(self.approximate)


def detect_tree(
    root: Path | str,
    *,
    workers: int | None = None,
    cache: LicenseCache | None = None,
    progress: Progress | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_FILE_TIMEOUT,
    approximate: Approximate = "prose",
) -> TreeFindings:
    """Scan every text file under `root`; `workers=0` scans in this process.

    Binary files, files over `max_bytes`, symlinks and VCS directories are `Skipped` (in
    `.skipped`); files that cannot be read or make scancode fail are `Quarantined`.
    """
    root = Path(root)
    if not root.is_dir():
        raise ScanInputError(f"{root}: not a directory")
    if workers is None:
        workers = min(os.cpu_count() or 1, 2)
    if approximate not in ("prose", "all", "none"):
        raise ScanInputError(f"approximate must be prose, all or none, not {approximate!r}")
    detector_version()  # fail before walking when scancode is missing
    result = TreeFindings()
    jobs: list[_Job] = []
    for relpath, path in _walk(root, result):
        fuzzy = approximate == "all" or (approximate == "prose" and wants_approximate(relpath))
        job = _prepare(relpath, path, max_bytes, result, fuzzy, timeout)
        if job is None:
            continue
        cached = (
            cache.get(DETECTOR, job.cache_version, job.sha256, location=relpath)
            if cache else None
        )
        if cached is not None:
            result[relpath] = cached
            result.cache_hits += 1
        else:
            jobs.append(job)
    total = len(result) + len(jobs)
    done = len(result)
    if progress:
        progress(done, total)
    for job, found, error in _run(jobs, workers=workers):
        relpath = job.relpath
        done += 1
        if error is not None:
            result.quarantined.append(
                Quarantined(reason="scancode-error", file=relpath, location="", detail=error)
            )
        else:
            result[relpath] = found
            result.scanned += 1
            if cache is not None:
                cache.put(DETECTOR, job.cache_version, job.sha256, found)
        if progress:
            progress(done, total)
    # Workers finish in any order; hand back a deterministic one.
    ordered = sorted(result.items())
    result.clear()
    result.update(ordered)
    result.quarantined.sort(key=lambda q: q.file)
    return result


def _walk(root: Path, result: TreeFindings) -> Iterator[tuple[str, Path]]:
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        for name in sorted(dirnames):
            rel = (here / name).relative_to(root).as_posix()
            if name in _VCS_DIRS:
                result.skipped.append(Skipped(reason="vcs-directory", file=rel))
                dirnames.remove(name)
            elif (here / name).is_symlink():
                result.skipped.append(Skipped(reason="symlink", file=rel))
        dirnames.sort()
        for name in sorted(filenames):
            path = here / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                result.skipped.append(Skipped(reason="symlink", file=rel))
                continue
            yield rel, path


def _prepare(
    relpath: str, path: Path, max_bytes: int, result: TreeFindings, approximate: bool,
    timeout: float,
) -> _Job | None:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            result.skipped.append(Skipped(reason="too-large", file=relpath, location=str(size)))
            return None
        data = path.read_bytes()
    except OSError as exc:
        result.quarantined.append(
            Quarantined(reason="unreadable", file=relpath, location="", detail=str(exc))
        )
        return None
    if b"\x00" in data[:_BINARY_SNIFF]:
        result.skipped.append(Skipped(reason="binary", file=relpath))
        return None
    return _Job(relpath=relpath, path=str(path), sha256=bytes_sha256(data),
                approximate=approximate, timeout=timeout)


_Outcome = tuple[_Job, list[LicenseFinding], str | None]


def _run(jobs: list[_Job], *, workers: int) -> Iterator[_Outcome]:
    if not jobs:
        return
    if workers <= 0:
        for job in jobs:
            yield _decode(_scan_job(job))
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with context.Pool(processes=workers, initializer=_init_worker) as pool:
        chunk = max(1, min(16, len(jobs) // (workers * 8) or 1))
        for raw in pool.imap_unordered(_scan_job, jobs, chunksize=chunk):
            yield _decode(raw)


def _init_worker() -> None:
    load_index()


def _scan_job(job: _Job) -> tuple[_Job, list[dict[str, Any]], str | None]:
    # Runs in a worker: plain dicts cross the process boundary.
    try:
        found = detect_file(
            job.path, location=job.relpath, approximate=job.approximate, timeout=job.timeout
        )
    except ScancodeUnavailable:
        raise
    except Exception as exc:  # scancode failing on one file must not stop the tree
        return job, [], f"{type(exc).__name__}: {exc}"
    return job, [finding_to_dict(f) for f in found], None


def _decode(raw: tuple[_Job, list[dict[str, Any]], str | None]) -> _Outcome:
    job, found, error = raw
    return job, [finding_from_dict(d) for d in found], error
