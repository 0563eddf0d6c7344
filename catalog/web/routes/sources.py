"""Sources (fields, licence evidence, ToS reviews, robots verdicts per AI agent over time),
hosts and their consent snapshots; approving and rejecting a source (admins)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from catalog.web.auth import require
from catalog.web.render import page, to_json, wants_json

router = APIRouter()
HOSTS_SHOWN = 10  # hosts of a source whose robots verdicts its page shows


@router.get("/sources")
def sources(request: Request, status: str | None = None, kind: str | None = None):
    from catalog.repositories import SourceRepository
    from catalog.services.sources import source_record

    with request.state.catalog.session() as s:
        rows = [source_record(x) for x in SourceRepository(s).list(status=status or None,
                                                                    kind=kind or None)]
    return page(request, "sources.html", rows, title="Sources", status_filter=status or "",
                kind_filter=kind or "")


@router.get("/sources/{slug}")
def source(request: Request, slug: str):
    from catalog.errors import NotFound
    from catalog.repositories import SourceRepository
    from catalog.services.consent import host_consent
    from catalog.services.sources import source_details

    cat = request.state.catalog
    agents = list(cat.settings.agents)
    with cat.uow() as uow:
        data = source_details(uow, slug=slug)
        hosts = SourceRepository(uow.session).hosts(data["source"]["id"], limit=HOSTS_SHOWN)
        consent = []
        for host, documents in hosts:
            try:
                found = host_consent(uow.session, host=host, agents=agents)
            except NotFound:  # no snapshot of this host yet
                found = {"snapshots": []}
            consent.append({"host": host, "documents": documents, "robots": [
                {k: s[k] for k in ("id", "fetched_at", "status", "verdicts")}
                for s in found["snapshots"] if s["kind"] == "robots.txt"]})
    data["consent"] = {"agents": agents, "hosts": consent}
    return page(request, "source.html", data, title=f"Source {slug}")


def _decide(request: Request, slug: str, status: str, reason: str):
    from catalog.services.sources import set_source_status, source_record

    with request.state.catalog.uow() as uow:
        row = set_source_status(uow, slug=slug, status=status, reason=reason)
        uow.commit()
        record = source_record(row)
    if wants_json(request):
        return to_json(record)
    return RedirectResponse(f"/sources/{slug}", status_code=303)


@router.post("/sources/{slug}/approve", dependencies=[Depends(require("approve-sources"))])
def approve(request: Request, slug: str, reason: str = Form("")):
    return _decide(request, slug, "approved", reason)


@router.post("/sources/{slug}/reject", dependencies=[Depends(require("approve-sources"))])
def reject(request: Request, slug: str, reason: str = Form("")):
    return _decide(request, slug, "rejected", reason)


@router.get("/hosts/{host}")
def host(request: Request, host: str):
    from catalog.services.consent import host_consent

    cat = request.state.catalog
    with cat.session() as s:
        data = host_consent(s, host=host, agents=list(cat.settings.agents))
    return page(request, "host.html", data, title=f"Host {data['host']}")


@router.get("/snapshots/{snapshot_id}")
def snapshot(request: Request, snapshot_id: int):
    """One consent file as it was fetched: the evidence a verdict rests on."""
    from catalog.errors import NotFound
    from catalog.models import Host, RobotsSnapshot
    from catalog.timeutil import iso_utc

    with request.state.catalog.session() as s:
        row = s.get(RobotsSnapshot, snapshot_id)
        if row is None:
            raise NotFound(f"no consent snapshot {snapshot_id}")
        host_name = s.get(Host, row.host_id).name
        data = {"id": row.id, "host": host_name, "kind": row.kind,
                "fetched_at": iso_utc(row.fetched_at), "status": row.status,
                "sha256": row.sha256, "origin": row.origin, "content": row.content}
    return page(request, "snapshot.html", data,
                title=f"{data['kind']} of {host_name}, snapshot {snapshot_id}")
