"""go-license-detector as a second opinion on a project's licence, through its CLI.

`license-detector -f json PATH` prints, per project::

    [{"project": "PATH", "matches": [{"license": "MIT", "confidence": 0.98, "file": "LICENSE"}]},
     {"project": "OTHER", "error": "no license file was found"}]

Each match becomes a `LicenseFinding` (detector "go-license-detector", score = confidence);
a project with an "error" yields no finding and is logged. The tool reports whole files, so
`matched_text_sha256` is the sha256 of the reported file when `detect` can read it.

The binary is often absent (it is not packaged for Debian and needs the Go module proxy to
build). Then `detect` logs one warning per process and returns no findings; `available()` says
which case holds. The binary carries no version flag, so `detector_version` is the sha256 of
the executable.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

from common.atomic import file_sha256
from ingest.types import LicenseFinding

__all__ = [
    "BINARY",
    "DETECTOR",
    "GoLicenseDetectorError",
    "available",
    "detect",
    "parse_output",
]

log = logging.getLogger(__name__)

DETECTOR = "go-license-detector"
BINARY = "license-detector"
ABSENT_MESSAGE = "license-detector not on PATH; skipping go-license-detector"
DEFAULT_TIMEOUT = 120.0

_warned_absent = False


class GoLicenseDetectorError(ValueError):
    """license-detector failed, or printed something that is not its documented JSON."""


def available() -> bool:
    return shutil.which(BINARY) is not None


def detect(path: Path | str, *, timeout: float = DEFAULT_TIMEOUT) -> list[LicenseFinding]:
    """Findings for the project directory at `path`; none (with one warning) without the tool."""
    global _warned_absent
    executable = shutil.which(BINARY)
    if executable is None:
        if not _warned_absent:
            log.warning(ABSENT_MESSAGE)
            _warned_absent = True
        return []
    try:
        done = subprocess.run(
            [executable, "-f", "json", str(path)],
            capture_output=True, text=True, timeout=timeout, check=False,
        )
    except subprocess.TimeoutExpired:
        raise GoLicenseDetectorError(f"{path}: license-detector ran over {timeout:g}s") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise GoLicenseDetectorError(
            f"{path}: license-detector exited with {done.returncode}: {detail[0]}"
        )
    version = _executable_digest(executable)
    findings = parse_output(done.stdout, detector_version=version)
    return [_with_file_hash(f) for f in findings]


def parse_output(json_text: str, *, detector_version: str = "unknown") -> list[LicenseFinding]:
    """Findings from license-detector's JSON output (the shape in the module docstring)."""
    try:
        data = json.loads(json_text)
    except json.JSONDecodeError as exc:
        raise GoLicenseDetectorError(f"license-detector output is not JSON ({exc})") from None
    if not isinstance(data, list):
        raise GoLicenseDetectorError("license-detector output is not a JSON array of projects")
    findings: list[LicenseFinding] = []
    for index, project in enumerate(data):
        if not isinstance(project, dict) or "project" not in project:
            raise GoLicenseDetectorError(f"license-detector output item {index} has no 'project'")
        name = str(project["project"])
        if project.get("error"):
            log.info("license-detector on %s: %s", name, project["error"])
            continue
        for match in project.get("matches") or []:
            findings.append(_finding(name, match, index, detector_version))
    return findings


def _finding(project: str, match: Any, index: int, version: str) -> LicenseFinding:
    if not isinstance(match, dict) or not match.get("license"):
        raise GoLicenseDetectorError(f"license-detector project {project!r}: match without licence")
    confidence = match.get("confidence")
    if confidence is not None and not isinstance(confidence, int | float):
        raise GoLicenseDetectorError(
            f"license-detector project {project!r}: confidence {confidence!r} is not a number"
        )
    file = str(match.get("file") or "")
    location = f"{project.rstrip('/')}/{file}" if file else project
    return LicenseFinding(
        detector=DETECTOR,
        expression=str(match["license"]),
        location=location,
        raw=file,
        score=float(confidence) if confidence is not None else None,
        extra={
            "detector_version": version,
            "matched_text_sha256": None,
            "rule": str(match["license"]),
            "lines": None,
            "project": project,
            "file": file,
        },
    )


def _with_file_hash(finding: LicenseFinding) -> LicenseFinding:
    path = Path(finding.location)
    if not finding.extra.get("file") or not path.is_file():
        return finding
    return replace(finding, extra={**finding.extra, "matched_text_sha256": file_sha256(path)})


def _executable_digest(executable: str) -> str:
    return "sha256:" + file_sha256(executable)[:16]
