"""Document search (the `docs list` filters as a form, one page at a time) and a document's
life (what `govcat explain` prints, with links)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from catalog.web.render import page

router = APIRouter()
FIELDS = ("source", "host", "license", "language", "run", "stage", "effect", "rule",
          "collected_after", "collected_before")


@router.get("/documents")
def search(request: Request, source: list[str] = Query(default=[]),
           host: list[str] = Query(default=[]), license: str | None = None,
           language: list[str] = Query(default=[]), run: str | None = None,
           stage: str | None = None, effect: str | None = None, rule: str | None = None,
           collected_after: str | None = None, collected_before: str | None = None,
           limit: int | None = None, after: str | None = None):
    from catalog.cli.dates import parse_when
    from catalog.errors import InvalidInput
    from catalog.services import documents as svc
    from policies.model import EFFECTS, STAGES

    def blank(value: str | None) -> str | None:
        return value.strip() if value and value.strip() else None

    run_text = blank(run)
    if run_text is not None and not run_text.isdigit():
        raise InvalidInput(f"run {run_text[:40]!r}: give a run id (a number)")
    after_date, before_date = blank(collected_after), blank(collected_before)
    filters = svc.DocumentFilter(
        sources=tuple(source), hosts=tuple(host), license=blank(license),
        languages=tuple(language), run=int(run_text) if run_text else None,
        stage=blank(stage), effect=blank(effect), rule=blank(rule),
        collected_after=parse_when(after_date, option="collected after") if after_date else None,
        collected_before=(parse_when(before_date, option="collected before")
                          if before_date else None))
    result = svc.list_documents(request.state.catalog, filters=filters,
                                limit=limit or svc.DEFAULT_LIMIT, after=blank(after))
    data = result.to_dict()
    form = {"source": ",".join(source), "host": ",".join(host), "license": license or "",
            "language": ",".join(language), "run": run_text or "", "stage": stage or "",
            "effect": effect or "", "rule": rule or "", "collected_after": after_date or "",
            "collected_before": before_date or "", "limit": limit or ""}
    effects = list(dict.fromkeys(e for s in STAGES for e in EFFECTS[s]))
    return page(request, "documents.html", data, title="Documents", form=form,
                stages=STAGES, effects=effects, classes=svc.LICENSE_CLASSES)


@router.get("/documents/{doc_id:path}")
def document(request: Request, doc_id: str):
    from catalog.services.explain import explain

    cat = request.state.catalog
    data = explain(cat, doc_id=doc_id, agents=cat.settings.agents)
    return page(request, "document.html", data, title=f"Document {data['document']['id']}")
