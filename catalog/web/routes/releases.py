"""Releases: the listing, one release (manifest summary, composition charts, files, reports),
its verification, and its report files."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from catalog.web.render import page
from common.storage import as_path

router = APIRouter()
# A report is a page of its own (a datasheet inlines its CSS and charts): shown in a sandbox
# with no script, no network and no form, whatever its text holds.
REPORT_CSP = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "form-action 'none'; frame-ancestors 'none'")
_TYPES = {".html": "text/html; charset=utf-8", ".json": "application/json",
          ".md": "text/plain; charset=utf-8", ".csv": "text/plain; charset=utf-8",
          ".yaml": "text/plain; charset=utf-8", ".txt": "text/plain; charset=utf-8"}


def data_url(svg: str) -> str:
    """An SVG chart as an image URL: drawn by the browser as an image, never as a document."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


@router.get("/releases")
def releases(request: Request):
    from catalog.services import releases as svc

    return page(request, "releases.html", svc.listing(request.state.catalog), title="Releases")


def _reports(folder: Path) -> dict[str, Any]:
    """The reports written into the release folder, as their manifest lists them."""
    from catalog.services.reports import REPORTS_MANIFEST

    path = folder / "reports" / REPORTS_MANIFEST
    if not path.is_file():
        return {"files": [], "skipped": [], "date": None}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"files": [], "skipped": [], "date": None,
                "error": f"{REPORTS_MANIFEST} cannot be read"}
    return {"files": [f for f in manifest.get("files", []) if isinstance(f, dict)],
            "skipped": manifest.get("skipped", []), "date": manifest.get("date")}


def _charts(data: dict[str, Any]) -> list[dict[str, str]]:
    from reports.charts import bar_chart, funnel_chart

    charts = []
    for key, title in (("by_license", "Tokens by licence"), ("by_source", "Tokens by source"),
                       ("by_language", "Tokens by language")):
        counts = data["counts"].get(key) or {}
        if counts:
            charts.append({"title": title, "src": data_url(bar_chart(
                title, list(counts), [v["tokens"] for v in counts.values()]))})
    if data.get("funnel"):
        charts.append({"title": "Documents per stage",
                       "src": data_url(funnel_chart(data["funnel"]))})
    return charts


def _known(catalog, ref: str) -> tuple[str, Path]:
    """A release the catalog holds, and its folder. The services also take a folder path for
    a release; from a URL only a release name is accepted, so no request reaches another
    folder."""
    from catalog.services import releases as svc

    with catalog.session() as s:
        row = svc.find(s, ref)
        return f"{row.name}@{row.version}", catalog.layout.absolute(row.path)


@router.get("/releases/{ref}")
def release(request: Request, ref: str):
    from catalog.services import releases as svc

    label, _ = _known(request.state.catalog, ref)
    data = svc.show(request.state.catalog, label)
    for key, counts in list(data["counts"].items()):
        if key.startswith("by_") and isinstance(counts, dict):
            data["counts"][key] = dict(sorted(counts.items(),
                                              key=lambda kv: (-kv[1]["tokens"], kv[0])))
    data["reports"] = _reports(as_path(data["folder"]))
    return page(request, "release.html", data, title=f"Release {data['release']}",
                charts=_charts(data) if "application/json" not in
                request.headers.get("accept", "") else [])


@router.get("/releases/{ref}/verify")
def verify(request: Request, ref: str, deep: bool = False):
    from catalog.services import releases as svc

    label, folder = _known(request.state.catalog, ref)
    data = svc.verify(request.state.catalog, str(folder), deep=deep)
    data["release"] = label
    return page(request, "verify.html", data, title=f"Verify {ref}")


@router.get("/releases/{ref}/reports/{name}")
def report_file(request: Request, ref: str, name: str):
    from catalog.errors import NotFound

    _, release_folder = _known(request.state.catalog, ref)
    folder = release_folder / "reports"
    listed = {f.get("path") for f in _reports(folder.parent)["files"]}
    path = folder / name
    if name not in listed or "/" in name or name.startswith(".") or not path.is_file():
        raise NotFound(f"release {ref} has no report {name!r}")
    return Response(path.read_bytes(), media_type=_TYPES.get(path.suffix.lower(), "text/plain"),
                    headers={"content-security-policy": REPORT_CSP,
                             "content-disposition": f'inline; filename="{name}"'})
