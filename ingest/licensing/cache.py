"""A content-addressed cache of licence findings, so a file is scanned once per detector version.

Key: (detector, detector version, sha256 of the file's bytes). Value: the findings without their
location — the same bytes found under two paths are one entry, and `get` puts the asking
path back. Layout: `<dir>/<detector>/<version>/<sha[:2]>/<sha>.json`.

Every entry is written with `common.atomic` (the one atomic writer), so a reader never sees half
an entry and parallel writers of the same key (same bytes, same detector: same content) simply
replace each other. An unreadable entry counts as a miss.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from common.atomic import write_bytes_atomic
from ingest.types import LicenseFinding

__all__ = ["LicenseCache", "finding_from_dict", "finding_to_dict"]

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


def finding_to_dict(finding: LicenseFinding) -> dict[str, Any]:
    return {
        "detector": finding.detector,
        "expression": finding.expression,
        "location": finding.location,
        "raw": finding.raw,
        "score": finding.score,
        "extra": finding.extra,
    }


def finding_from_dict(data: dict[str, Any]) -> LicenseFinding:
    return LicenseFinding(
        detector=data["detector"],
        expression=data["expression"],
        location=data.get("location", ""),
        raw=data.get("raw", ""),
        score=data.get("score"),
        extra=dict(data.get("extra") or {}),
    )


class LicenseCache:
    """Findings by (detector, detector_version, file sha256), as JSON files under `directory`."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.hits = 0
        self.misses = 0

    def path_for(self, detector: str, detector_version: str, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError(f"not a lower-case hex sha256: {sha256!r}")
        return (
            self.directory / _UNSAFE.sub("_", detector) / _UNSAFE.sub("_", detector_version)
            / sha256[:2] / f"{sha256}.json"
        )

    def get(
        self, detector: str, detector_version: str, sha256: str, *, location: str
    ) -> list[LicenseFinding] | None:
        """The cached findings (possibly none) with `location` filled in, or None on a miss."""
        path = self.path_for(detector, detector_version, sha256)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            findings = [finding_from_dict(item) for item in data["findings"]]
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable licence cache entry %s: %s", path, exc)
            self.misses += 1
            return None
        self.hits += 1
        return [replace(f, location=location) for f in findings]

    def put(
        self, detector: str, detector_version: str, sha256: str,
        findings: list[LicenseFinding],
    ) -> Path:
        path = self.path_for(detector, detector_version, sha256)
        payload = {
            "detector": detector,
            "detector_version": detector_version,
            "sha256": sha256,
            "findings": [{**finding_to_dict(f), "location": ""} for f in findings],
        }
        data = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
        write_bytes_atomic(data, path)
        return path
