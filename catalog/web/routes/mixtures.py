"""Mixtures: components and sign-off history, the compliance review with every finding's
evidence linked, and the sign-off form (reviewers). The review and the sign-off are the
mixture services' (catalog/services/mixtures.py); this module only shows and forwards."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from catalog.web.auth import require
from catalog.web.render import page, to_json, wants_json
from catalog.web.routes.releases import data_url

router = APIRouter()


@router.get("/mixtures")
def mixtures(request: Request):
    from catalog.services import mixtures as svc

    return page(request, "mixtures.html", svc.listing(request.state.catalog), title="Mixtures")


@router.get("/mixtures/{name}")
def mixture(request: Request, name: str):
    from catalog.services import mixtures as svc

    data = svc.show(request.state.catalog, name=name)
    return page(request, "mixture.html", data, title=f"Mixture {name}")


def _q(value: Any) -> str:
    return quote(str(value), safe="@")


def evidence_links(key: str, item: dict[str, Any]) -> list[tuple[str, str]]:
    """Where an evidence item can be read in full: its source, host, snapshots, release."""
    links: list[tuple[str, str]] = []
    if item.get("component"):
        links.append((f"release {item['component']}", f"/releases/{_q(item['component'])}"))
    if item.get("source"):
        links.append((f"source {item['source']}", f"/sources/{_q(item['source'])}"))
    if key.startswith("license") and item.get("license") and item["license"] != "(none)":
        links.append((f"documents under {item['license']}",
                      f"/documents?license={quote(item['license'])}"
                      + (f"&source={quote(item['source'])}" if item.get("source") else "")))
    if item.get("host"):
        links.append((f"host {item['host']}", f"/hosts/{_q(item['host'])}"))
    for group in ("snapshots_at_collection", "snapshot_at_cut", "snapshot_now"):
        for ref in (item.get(group) or {}).values():
            if isinstance(ref, dict) and ref.get("id") is not None:
                day = str(ref.get("fetched_at"))[:10]
                links.append((f"{ref.get('kind', 'snapshot')} {ref['id']} ({day})",
                              f"/snapshots/{int(ref['id'])}"))
    if item.get("request"):
        links.append((f"opt-out {item['request']}",
                      f"/audit?entity=optout:{quote(str(item['request']).split('-')[-1])}"))
    return list(dict.fromkeys(links))


def _evidence(finding: dict[str, Any]) -> list[dict[str, Any]]:
    """A finding's evidence, one entry per item: its line (as the CLI and the reports write
    it) and its links."""
    from reports.mixture_review import evidence_lines, family_title

    out = []
    for key, cited in (finding.get("evidence") or {}).items():
        items = []
        for item in cited.get("items", []):
            line = evidence_lines({"evidence": {key: {"items": [item], "more": 0}}})[0]
            items.append({"text": line, "links": evidence_links(key, item)})
        out.append({"key": key, "title": family_title(key), "entries": items,
                    "more": cited.get("more", 0)})
    return out


def _charts(doc: dict[str, Any]) -> list[dict[str, str]]:
    from reports.charts import bar_chart, timeline_chart

    comp = doc.get("composition") or {}
    charts = []
    for key, title in (("by_license_class", "Effective tokens by licence class"),
                       ("by_source", "Effective tokens by source")):
        values = comp.get(key) or {}
        if values:
            charts.append({"title": title, "src": data_url(bar_chart(
                title, list(values), list(values.values()), unit="effective tokens"))})
    tl = doc.get("consent_timeline") or {}
    if tl.get("dates"):
        title = "Hosts of the mixture disallowing each AI agent"
        charts.append({"title": title, "src": data_url(timeline_chart(
            title, tl["dates"], tl.get("series") or {}))})
    return charts


@router.get("/mixtures/{name}/review")
def review(request: Request, name: str):
    from catalog.services import mixtures as svc

    doc = svc.review(request.state.catalog, name=name)
    if wants_json(request):
        return to_json(doc)
    evidence = {i: _evidence(f) for i, f in enumerate(doc["findings"])}
    return page(request, "review.html", doc, title=f"Review of {name}", evidence=evidence,
                charts=_charts(doc), decisions=svc.DECISIONS)


@router.post("/mixtures/{name}/sign-off", dependencies=[Depends(require("sign-off"))])
def sign_off(request: Request, name: str, decision: str = Form(""), note: str = Form(""),
             conditions: str = Form(""), override: str = Form(""),
             review_sha256: str = Form("")):
    from catalog.services import mixtures as svc

    state = svc.sign_off(request.state.catalog, name=name, decision=decision, note=note,
                         conditions=[line for line in conditions.splitlines() if line.strip()],
                         override=override or None, review_sha256=review_sha256 or None)
    if wants_json(request):
        return to_json(state)
    return RedirectResponse(f"/mixtures/{_q(name)}#signoff", status_code=303)
