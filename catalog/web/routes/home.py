"""The start page: what the catalog holds, with a link to each page group."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import func, select

from catalog.web.render import page

router = APIRouter()


@router.get("/")
def home(request: Request):
    from catalog import audit
    from catalog.models import Document, Mixture, Release, Source

    with request.state.catalog.session() as s:
        counts = {name: int(s.execute(select(func.count()).select_from(model)).scalar_one())
                  for name, model in (("sources", Source), ("releases", Release),
                                      ("mixtures", Mixture))}
        counts["documents"] = int(s.execute(select(func.count(Document.id))).scalar_one())
        events, head = audit.head(s)
    data = {"user": request.state.user, "counts": counts,
            "audit_head": {"events": events, "hash": head}}
    return page(request, "home.html", data, title="govcat")
