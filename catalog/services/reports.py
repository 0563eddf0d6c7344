"""Reports of a release: gather the facts once, render each report, write the files.

    render(catalog, "web-en@1.0.0", "datasheet", fmt="html", meta=Path("release.yaml"),
           date="2025-07-01")                        # -> [Rendered(name, text)]
    write_all(catalog, "web-en@1.0.0", meta=..., date=...)   # into the folder's reports/

The renderers in reports/ are pure functions of the facts and the metadata, so the same
release, metadata and date give byte-identical files. `write_all` writes every report into
the release folder's `reports/` with their sha256 in `reports/reports-manifest.json`; the
release's own manifest is never touched (reports/ sits outside what it and the signature
cover, docs/release-format.md). Library errors become the catalog's typed errors here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from catalog.errors import InvalidInput, InvalidMetadata

KINDS = ("datasheet", "card", "croissant", "ai-act", "attribution")
FORMATS: dict[str, tuple[str, ...]] = {  # the first is the default
    "datasheet": ("md", "html"),
    "card": ("md",),
    "croissant": ("json",),
    "ai-act": ("md", "html"),
    "attribution": ("csv", "md"),
}
FILE_NAMES = {("datasheet", "md"): "datasheet.md", ("datasheet", "html"): "datasheet.html",
              ("card", "md"): "README.md", ("croissant", "json"): "croissant.json",
              ("ai-act", "md"): "ai-act-summary.md", ("ai-act", "html"): "ai-act-summary.html",
              ("attribution", "csv"): "attribution.csv", ("attribution", "md"): "attribution.md"}
REPORTS_MANIFEST = "reports-manifest.json"
Progress = Callable[[str], None]


@dataclass
class Rendered:
    report: str
    format: str
    name: str  # file name
    text: str


class _Skipped(Exception):
    """A report whose renderer is not available in this build."""


def parse_date(value: str | None) -> str:
    """The report date: YYYY-MM-DD as given, else today (UTC)."""
    if value is None:
        return datetime.now(UTC).date().isoformat()
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise InvalidInput(f"--date {value!r}: expected YYYY-MM-DD") from None


def load_meta(path: Path | None) -> dict[str, Any]:
    from reports.metadata import MetadataError, load_metadata

    if path is None:
        return {}
    try:
        return load_metadata(path)
    except MetadataError as exc:
        if len(exc.problems) == 1:
            raise InvalidMetadata(exc.problems[0], []) from None
        raise InvalidMetadata(exc.message, exc.problems) from None


def check(catalog, ref: str, meta: Path) -> dict[str, Any]:
    """The required metadata fields still missing (the release must exist)."""
    from catalog.services.releases import find
    from reports.metadata import required_missing

    with catalog.session() as s:
        release = find(s, ref)
        name = f"{release.name}@{release.version}"
    missing = required_missing(load_meta(meta))
    return {"release": name, "metadata": str(meta), "missing": missing, "ok": not missing}


def _renderer(kind: str):
    """The function of the report `kind`, or _Skipped when this build lacks it."""
    import importlib

    module, attribute = {"card": ("reports.card", "render_card"),
                         "croissant": ("reports.croissant", "render_croissant")}[kind]
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError):
        raise _Skipped(f"{module}.{attribute} is not available in this build") from None


def _render_one(catalog, facts, data: dict[str, Any], meta: dict[str, Any], kind: str,
                fmt: str, day: str, existing: str | None) -> Rendered:
    from reports.errors import ReportsError

    try:
        if kind == "datasheet":
            from reports.datasheet import render_datasheet

            text = render_datasheet(data, meta, date=day, fmt=fmt)
        elif kind == "ai-act":
            from reports.ai_act import render_ai_act

            text = render_ai_act(data, meta, date=day, fmt=fmt)
        elif kind == "attribution":
            from catalog.services.report_facts import attribution_entries
            from reports.attribution import render_attribution

            text = render_attribution(data, meta, attribution_entries(catalog, facts),
                                      date=day, fmt=fmt)
        elif kind == "card":
            text = _renderer("card")(data, meta, existing=existing)
        else:
            text = _renderer("croissant")(data, meta)
    except ReportsError as exc:
        raise InvalidInput(str(exc)) from None
    return Rendered(kind, fmt, FILE_NAMES[(kind, fmt)], text)


def _check_kind(kind: str, fmt: str | None) -> str:
    if kind not in KINDS:
        raise InvalidInput(f"unknown report {kind!r}; expected one of {', '.join(KINDS)}")
    fmt = fmt or FORMATS[kind][0]
    if fmt not in FORMATS[kind]:
        raise InvalidInput(f"report {kind} comes as {', '.join(FORMATS[kind])}, not {fmt!r}")
    return fmt


def render(catalog, ref: str, kind: str, *, fmt: str | None = None, meta: Path | None = None,
           date: str | None = None, existing: str | None = None) -> Rendered:
    """One report of release `ref`. `existing` is the card to regenerate over (the card
    keeps the fields it does not own)."""
    from catalog.services.report_facts import gather

    fmt = _check_kind(kind, fmt)
    day = parse_date(date)
    metadata = load_meta(meta)
    facts = gather(catalog, ref)
    try:
        return _render_one(catalog, facts, facts.to_dict(), metadata, kind, fmt, day, existing)
    except _Skipped as exc:
        raise InvalidInput(f"report {kind}: {exc}") from None


def write(rendered: Rendered, out: Path) -> Path:
    from common.atomic import write_bytes_atomic

    path = out / rendered.name
    write_bytes_atomic(rendered.text.encode("utf-8"), path)
    return path


def write_all(catalog, ref: str, *, meta: Path | None = None, date: str | None = None,
              out: Path | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Every report, into `out` (default: the release folder's reports/), and their hashes in
    reports-manifest.json. A report whose renderer this build lacks, or that refuses the
    metadata given (Croissant needs a creator), is listed as skipped with the reason."""
    from catalog.services.report_facts import gather
    from common.atomic import text_sha256, write_bytes_atomic

    day = parse_date(date)
    metadata = load_meta(meta)
    facts = gather(catalog, ref)
    data = facts.to_dict()
    folder = out or Path(facts.folder) / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    card = folder / FILE_NAMES[("card", "md")]
    existing = card.read_text(encoding="utf-8") if card.exists() else None
    files, skipped = [], []
    for kind in KINDS:
        for fmt in FORMATS[kind]:
            if progress:
                progress(f"{kind} ({fmt})")
            try:
                rendered = _render_one(catalog, facts, data, metadata, kind, fmt, day, existing)
            except (_Skipped, InvalidInput) as exc:  # e.g. metadata too thin for Croissant
                skipped.append({"report": kind, "format": fmt, "reason": str(exc)})
                continue
            body = rendered.text.encode("utf-8")
            write_bytes_atomic(body, folder / rendered.name)
            files.append({"path": rendered.name, "report": kind, "format": fmt,
                          "sha256": text_sha256(rendered.text), "bytes": len(body)})
    manifest = {
        "format": "govcat-reports/1", "release": facts.release,
        "release_manifest_sha256": _file_sha(Path(facts.folder) / "manifest.json"),
        "merkle_root": facts.merkle_root, "date": day,
        "metadata_sha256": text_sha256(json.dumps(metadata, sort_keys=True, ensure_ascii=False))
        if metadata else None,
        "metadata_missing": _missing(metadata), "files": files, "skipped": skipped,
    }
    path = folder / REPORTS_MANIFEST
    write_bytes_atomic((json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False)
                        + "\n").encode("utf-8"), path)
    return {"release": facts.release, "folder": str(folder), "manifest": str(path),
            "files": [str(folder / f["path"]) for f in files], "skipped": skipped,
            "datasheet": str(folder / FILE_NAMES[("datasheet", "html")]),
            "metadata_missing": manifest["metadata_missing"]}


def _file_sha(path: Path) -> str:
    from common.atomic import file_sha256

    return file_sha256(path)


def _missing(metadata: dict[str, Any]) -> list[str]:
    from reports.metadata import required_missing

    return required_missing(metadata)


__all__ = ["FORMATS", "KINDS", "Rendered", "check", "load_meta", "parse_date", "render",
           "write", "write_all"]
