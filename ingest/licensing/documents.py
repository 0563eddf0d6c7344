"""Concluding a document's licence from the evidence found at ingest, most specific first.

Code folders: scancode-toolkit scans the tree once (in parallel, cached by file hash), and
`ingest.licensing.conclude_tree` picks per file: its own header, the nearest licence file,
package metadata, the repository licence, then the source's declaration. Other documents:
their own declaration (post date, book header, dump field), then Creative Commons links on
the page, then the source's declaration. A pure library: the catalog's ingest service calls
it and stores what it returns.
"""

from __future__ import annotations

import subprocess
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.spdx import LicenseExpressionError, license_keys, normalize
from ingest.licensing.cache import LicenseCache
from ingest.licensing.conclude import Conclusion, conclude, conclude_tree
from ingest.types import LicenseFinding, RawDocument

# Licence findings that state the licence of the document itself (not a hint found in it).
DOCUMENT_DECLARING = frozenset({"stackexchange-date", "gutenberg-header", "metadata-field",
                                "source-dump"})


@dataclass
class TreeLicences:
    prefix: str  # the scanned folder's path inside its repository ("" at the top)
    conclusions: dict[str, Conclusion]
    scanned: int
    cache_hits: int

    def for_path(self, repo_path: str) -> Conclusion | None:
        rel = repo_path[len(self.prefix):] if repo_path.startswith(self.prefix) else repo_path
        return self.conclusions.get(rel)


def _git_prefix(path: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(path), "rev-parse", "--show-prefix"],
                             capture_output=True, text=True, timeout=30)
    except OSError:
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def scan_tree(root: Path, *, cache_dir: Path, source_declared: str | None,
              workers: int | None = None,
              progress: Callable[[int], None] | None = None) -> TreeLicences | None:
    """Scan a code folder with scancode; None (with one warning) when scancode is absent."""
    from ingest.code_licenses import package_metadata_licenses
    from ingest.licensing import scancode

    try:
        findings = scancode.detect_tree(root, workers=workers, cache=LicenseCache(
            cache_dir), progress=progress)
    except scancode.ScancodeUnavailable as exc:
        warnings.warn(f"scancode-toolkit unavailable ({exc}); licences concluded from "
                      "headers and package metadata only. Install it: pip install "
                      "'govcat[license]'", stacklevel=2)
        return None
    metadata = package_metadata_licenses(root)
    conclusions = conclude_tree(root, findings, metadata, _safe(source_declared))
    return TreeLicences(_git_prefix(root), conclusions, getattr(findings, "scanned", 0),
                        getattr(findings, "cache_hits", 0))


def _safe(expression: str | None) -> str | None:
    if not expression:
        return None
    try:
        return normalize(expression)
    except LicenseExpressionError:
        return None


def _same(a: str, b: str) -> bool:
    return license_keys(a) == license_keys(b)


def conclude_document(doc: RawDocument, *, source_declared: str | None,
                      tree: TreeLicences | None = None) -> tuple[str | None, dict[str, Any]]:
    """(concluded SPDX expression or None, a record of how) for one ingested document."""
    path = doc.metadata.get("path")
    if tree is not None and path:
        c = tree.for_path(path)
        if c is not None:
            return c.expression, _record(c)
    if path is not None:  # code without a scan: header, then package metadata
        header = next((f for f in doc.licenses if f.detector == "spdx-header"), None)
        meta = [f for f in doc.licenses if f.detector == "package-metadata"]
        c = conclude(path=path, header=header, nearest_license_file=[], package_metadata=meta,
                     repository=[], source_declared=_safe(source_declared))
        return c.expression, _record(c)
    own = [f for f in doc.licenses if f.detector in DOCUMENT_DECLARING]
    links = [f for f in doc.licenses if f.detector == "cc-link"]
    chain: list[str] = []
    concluded: str | None = None
    conflict = False
    if own:
        concluded = _safe(own[0].expression) or own[0].expression
        chain.append(f"document declares {concluded} ({own[0].detector})")
    elif links:
        exprs = sorted({f.expression for f in links})
        if len(exprs) == 1:
            concluded = exprs[0]
            how = ("rel=license" if any((f.extra or {}).get("rel_license") for f in links)
                   else "link")
            chain.append(f"the page links {concluded} ({how})")
        else:
            conflict = True
            concluded = " AND ".join(exprs)
            chain.append(f"the page links several licences ({', '.join(exprs)}): all apply")
    declared = _safe(source_declared)
    if concluded is None and declared:
        concluded = declared
        chain.append(f"no document-level evidence; the source declares {declared}")
    if concluded and declared and not _same(concluded, declared):
        conflict = True
        chain.append(f"conflict: the source declares {declared}")
    evidence = own[:1] or links
    return concluded, {"chain": chain, "conflict": conflict,
                       "evidence": [_finding(f) for f in evidence]}


def _finding(f: LicenseFinding) -> dict[str, Any]:
    return {"detector": f.detector, "expression": f.expression, "location": f.location,
            "score": f.score}


def _record(c: Conclusion) -> dict[str, Any]:
    chain = list(c.reason_chain)
    if c.conflict and c.conflict_detail:
        chain.append(f"conflict: {c.conflict_detail}")
    return {"chain": chain, "conflict": c.conflict, "level": c.level,
            "evidence": [_finding(f) for f in c.evidence],
            # licences the files quote for bundled, vendored or historical parts
            "secondary": [_finding(f) | {"scope": (f.extra or {}).get("scope")}
                          for f in getattr(c, "secondary", ())]}


def conclude_path(path: Path) -> dict[str, Any]:
    """`govcat tools license`: the conclusion for one file, or for every file of a folder."""
    from ingest.code_licenses import spdx_header_finding
    from ingest.licensing import scancode
    from ingest.licensing.golicense import available, detect

    path = Path(path)
    if path.is_dir():
        findings = scancode.detect_tree(path, workers=0 if _small(path) else None)
        from ingest.code_licenses import package_metadata_licenses

        conclusions = conclude_tree(path, findings, package_metadata_licenses(path), None)
        out: dict[str, Any] = {"path": str(path), "files": {
            rel: {"expression": c.expression, **_record(c)} for rel, c in conclusions.items()}}
        if available():
            out["go_license_detector"] = [_finding(f) for f in detect(path)]
        return out
    text = path.read_text(encoding="utf-8", errors="replace")
    header = spdx_header_finding(text, location=path.name)
    found = scancode.detect_file(path, location=path.name)
    c = conclude(path=path.name, header=header, nearest_license_file=[], package_metadata=[],
                 repository=[], source_declared=None, file_findings=found,
                 texts={path.name: text})
    return {"path": str(path), "expression": c.expression, **_record(c)}


def _small(path: Path, limit: int = 50) -> bool:
    return sum(1 for _ in zip(range(limit + 1), path.rglob("*"), strict=False)) <= limit
