"""A release's manifest.json and the folder layout it describes (docs/release-format.md).

The manifest is canonical JSON (sorted keys, two-space indent, UTF-8 without escapes, one
trailing newline) so that the same release always has the same manifest bytes, and so its
sha256 can be quoted and signed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from typing import Any

from common.atomic import WrittenFile, write_bytes_atomic
from common.storage import as_path
from reports.errors import ManifestError

FORMAT = "govcat-release/1"
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "release.sig"
REPORTS_DIR = "reports"
DATA_DIR = "data"
INDEX_NAME = "index.parquet"
DECISIONS_NAME = "decisions.parquet"
EXCLUDED_NAME = "excluded.parquet"
# Not listed in files[]: the manifest itself, the signature over the folder, and the reports
# generated after the cut (they describe the release; they are not part of it).
UNLISTED = (MANIFEST_NAME, SIGNATURE_NAME, REPORTS_DIR)
MERKLE_ALGORITHM = "rfc6962-sha256"

_HEX64 = re.compile(r"[0-9a-f]{64}")


def canonical_json(obj: Any) -> bytes:
    """The canonical text of a JSON value: what manifest.json and proof files hold."""
    try:
        text = json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ManifestError(f"not representable as canonical JSON: {exc}") from None
    return (text + "\n").encode("utf-8")


def canonical_sha256(obj: Any) -> str:
    """sha256 of a value's compact canonical JSON (sorted keys, no spaces): e.g. config_sha256."""
    try:
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ManifestError(f"not representable as canonical JSON: {exc}") from None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    return canonical_json(dict(manifest))


def write_manifest(release_dir: str | os.PathLike[str],
                   manifest: Mapping[str, Any]) -> WrittenFile:
    """Write manifest.json atomically; "format" is filled in when absent."""
    body = dict(manifest)
    body.setdefault("format", FORMAT)
    if body["format"] != FORMAT:
        raise ManifestError(f"manifest format {body['format']!r} is not {FORMAT!r}")
    return write_bytes_atomic(manifest_bytes(body), as_path(release_dir) / MANIFEST_NAME)


def load_manifest(release_dir: str | os.PathLike[str]) -> dict[str, Any]:
    path = as_path(release_dir) / MANIFEST_NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(f"{path}: no manifest (is this a release folder?)") from None
    except OSError as exc:
        raise ManifestError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: holds {type(data).__name__}, expected a JSON object")
    if data.get("format") != FORMAT:
        raise ManifestError(
            f"{path}: format is {data.get('format')!r}, expected {FORMAT!r}")
    return data


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def manifest_problems(manifest: Mapping[str, Any]) -> list[str]:
    """What keeps a loaded manifest from being checked against its folder, one line each."""
    problems: list[str] = []
    files = manifest.get("files")
    if not isinstance(files, list):
        problems.append("files: missing or not a list")
        files = []
    seen: set[str] = set()
    for i, entry in enumerate(files):
        if not isinstance(entry, dict):
            problems.append(f"files[{i}]: not an object")
            continue
        path = entry.get("path")
        if not isinstance(path, str) or not path or path.startswith("/") or ".." in path.split(
                "/") or path.split("/")[0] in UNLISTED:
            problems.append(f"files[{i}]: path {path!r} is not a relative path inside the "
                            "release")
            continue
        if path in seen:
            problems.append(f"files[{i}]: {path} is listed twice")
        seen.add(path)
        if not isinstance(entry.get("sha256"), str) or not _HEX64.fullmatch(entry["sha256"]):
            problems.append(f"{path}: sha256 is missing or not 64 lowercase hex")
        if not _is_int(entry.get("bytes")):
            problems.append(f"{path}: bytes is missing or not a count")
        if not isinstance(entry.get("kind"), str):
            problems.append(f"{path}: kind is missing")
        for key in ("documents", "tokens"):
            if key in entry and not _is_int(entry[key]):
                problems.append(f"{path}: {key} is not a count")
    for key in ("documents", "tokens", "bytes"):
        if not _is_int(manifest.get(key)):
            problems.append(f"{key}: missing or not a count")
    merkle = manifest.get("merkle")
    if not isinstance(merkle, dict):
        problems.append("merkle: missing or not an object")
    else:
        if merkle.get("algorithm") != MERKLE_ALGORITHM:
            problems.append(f"merkle.algorithm is {merkle.get('algorithm')!r}, "
                            f"expected {MERKLE_ALGORITHM!r}")
        if not isinstance(merkle.get("root"), str) or not _HEX64.fullmatch(merkle["root"]):
            problems.append("merkle.root: missing or not 64 lowercase hex")
        if not _is_int(merkle.get("tree_size")):
            problems.append("merkle.tree_size: missing or not a count")
    return problems


__all__ = [
    "DATA_DIR",
    "DECISIONS_NAME",
    "EXCLUDED_NAME",
    "FORMAT",
    "INDEX_NAME",
    "MANIFEST_NAME",
    "MERKLE_ALGORITHM",
    "REPORTS_DIR",
    "SIGNATURE_NAME",
    "UNLISTED",
    "canonical_json",
    "canonical_sha256",
    "load_manifest",
    "manifest_bytes",
    "manifest_problems",
    "write_manifest",
]
