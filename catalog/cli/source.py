"""`govcat source`: register, import, list, show, review, approve and reject sources."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from catalog.cli.common import JsonOption, Table, catalog, console, print_json
from catalog.vocabulary import PERSONAL_DATA, ROBOTS_HANDLING, SOURCE_KINDS, TOS_VERDICTS

app = typer.Typer(help="Register and review data sources.", no_args_is_help=True)


def _choices(values: tuple[str, ...]) -> str:
    return ", ".join(values)


@app.command("add")
def add(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="Short unique name, e.g. cc-2024-10.")],
    kind: Annotated[str, typer.Option(help=f"One of: {_choices(SOURCE_KINDS)}.")],
    title: Annotated[str | None, typer.Option(help="Human title.")] = None,
    uri: Annotated[str | None, typer.Option(help="Where the source lives (URL or path).")] = None,
    steward: Annotated[str | None, typer.Option(help="Who answers for it.")] = None,
    acquisition_method: Annotated[str | None, typer.Option(
        help="How it was obtained (crawl, download, licence deal...).")] = None,
    acquisition_date: Annotated[str | None, typer.Option(
        help="When it was obtained (YYYY-MM-DD).")] = None,
    license: Annotated[str | None, typer.Option(
        "--license", help="Declared licence, an SPDX expression (LicenseRef-... allowed).")] = None,
    license_evidence_url: Annotated[str | None, typer.Option(
        help="Where the source states its licence.")] = None,
    tos_url: Annotated[str | None, typer.Option(help="Terms of service URL.")] = None,
    tos_verdict: Annotated[str, typer.Option(help=f"One of: {_choices(TOS_VERDICTS)}.")] = (
        "unknown"),
    tos_quote: Annotated[str | None, typer.Option(
        help="The ToS clause the verdict rests on, quoted.")] = None,
    robots_handling: Annotated[str, typer.Option(
        help=f"One of: {_choices(ROBOTS_HANDLING)}.")] = "unknown",
    jurisdiction: Annotated[str | None, typer.Option(help="e.g. EU, US, UK.")] = None,
    personal_data: Annotated[str, typer.Option(
        help=f"One of: {_choices(PERSONAL_DATA)}.")] = "unknown",
    json_out: JsonOption = False,
) -> None:
    """Register one source with its licence, terms of service and robots metadata."""
    from catalog.services import sources as svc

    data = svc.validate_source(dict(
        slug=slug, kind=kind, title=title, uri=uri, steward=steward,
        acquisition_method=acquisition_method, acquisition_date=acquisition_date,
        declared_license=license, license_evidence_url=license_evidence_url, tos_url=tos_url,
        tos_verdict=tos_verdict, tos_quote=tos_quote, robots_handling=robots_handling,
        jurisdiction=jurisdiction, personal_data=personal_data,
    ))
    with catalog(ctx).uow() as uow:
        source = svc.register_source(uow, data=data)
        uow.commit()
    if json_out:
        print_json(svc.source_record(source))
    else:
        lic = f", licence {source.declared_license}" if source.declared_license else ""
        console.print(f"registered source {source.slug} ({source.kind}{lic})", markup=False)


@app.command("import")
def import_(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Registry file: .yaml/.yml (a list, or "
                                          "`sources:` with a list) or .csv with a header row.")],
) -> None:
    """Register many sources from a registry file, all or nothing."""
    from catalog.services import sources as svc

    with catalog(ctx).uow() as uow:
        created = svc.import_sources(uow, path=path)
        uow.commit()
    console.print(f"imported {len(created)} source(s) from {path}", markup=False)


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="pending, approved or rejected.")] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    json_out: JsonOption = False,
) -> None:
    """List registered sources."""
    if json_out:
        from catalog.repositories import SourceRepository
        from catalog.services.sources import source_record

        with catalog(ctx).uow() as uow:
            print_json([source_record(s)
                        for s in SourceRepository(uow.session).list(status=status, kind=kind)])
        return
    rows = _listed(ctx, status=status, kind=kind)
    table = Table("slug", "kind", "licence", "ToS", "robots", "personal data", "status",
                  ids={"slug", "licence"}, title=f"{len(rows)} source(s)")
    for s in rows:
        table.add_row(s.slug, s.kind, s.declared_license or "-", s.tos_verdict,
                      s.robots_handling, s.personal_data, s.status)
    console.print(table)


def _listed(ctx: typer.Context, *, status: str | None, kind: str | None) -> list:
    """The listed columns of the sources, read with SQLAlchemy Core.

    The ORM models (and pydantic under them) take longer to import than the whole command
    needs otherwise; a listing reads plain rows.
    """
    from sqlalchemy import column, select, table

    sources = table("sources", *(column(name) for name in (
        "slug", "kind", "declared_license", "tos_verdict", "robots_handling", "personal_data",
        "status")))
    stmt = select(sources).order_by(sources.c.slug)
    if status:
        stmt = stmt.where(sources.c.status == status)
    if kind:
        stmt = stmt.where(sources.c.kind == kind)
    with catalog(ctx).engine.connect() as conn:
        return list(conn.execute(stmt))


@app.command("show")
def show(ctx: typer.Context, slug: str, json_out: JsonOption = False) -> None:
    """Every field of a source, its evidence, reviews, counts and audit history."""
    from catalog.services import sources as svc

    with catalog(ctx).uow() as uow:
        details = svc.source_details(uow, slug=slug)
    if json_out:
        print_json(details)
        return
    src = details["source"]
    table = Table(show_header=False, title=f"source {slug}")
    table.add_column("field", style="bold")
    table.add_column("value", identifier=True)
    for key, value in src.items():
        table.add_row(key.replace("_", " "), "-" if value is None else str(value))
    for key, value in details["counts"].items():
        table.add_row(key, f"{value:,}")
    console.print(table)
    if details["license_evidence"]:
        ev = Table("role", "detector", "expression", "score", "location",
                   ids={"expression", "location"}, title="licence evidence")
        for e in details["license_evidence"]:
            ev.add_row(e["role"], e["detector"], e["expression"],
                       "-" if e["score"] is None else f"{e['score']:.2f}", e["location"] or "-")
        console.print(ev)
    if details["tos_reviews"]:
        rv = Table("when", "reviewer", "verdict", "quote", ids={"reviewer"},
                   title="terms-of-service reviews")
        for r in details["tos_reviews"]:
            rv.add_row(r["reviewed_at"], r["reviewer"], r["verdict"], r["quote"] or "-")
        console.print(rv)
    hist = Table("#", "when", "actor", "action", ids={"actor"}, title="audit history")
    for h in details["history"]:
        hist.add_row(str(h["seq"]), h["at"], h["actor"], h["action"])
    console.print(hist)


@app.command("review")
def review(
    ctx: typer.Context,
    slug: str,
    verdict: Annotated[str, typer.Option(help=f"One of: {_choices(TOS_VERDICTS)}.")],
    quote: Annotated[str | None, typer.Option(help="The clause, quoted.")] = None,
    reviewer: Annotated[str | None, typer.Option(help="Default: the actor.")] = None,
    url: Annotated[str | None, typer.Option(help="ToS URL reviewed.")] = None,
    snapshot_sha256: Annotated[str | None, typer.Option(
        help="sha256 of the ToS snapshot reviewed.")] = None,
) -> None:
    """Record a terms-of-service review of a source."""
    from catalog.services import sources as svc

    with catalog(ctx).uow() as uow:
        rev = svc.review_source(uow, slug=slug, verdict=verdict, quote=quote,
                                reviewer=reviewer, url=url, snapshot_sha256=snapshot_sha256)
        uow.commit()
    console.print(f"source {slug}: ToS verdict {rev.verdict} (reviewer {rev.reviewer})",
                  markup=False)


ReasonOption = Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")]


@app.command("approve")
def approve(ctx: typer.Context, slug: str, reason: ReasonOption) -> None:
    """Approve a source for use."""
    from catalog.services import sources as svc

    with catalog(ctx).uow() as uow:
        svc.set_source_status(uow, slug=slug, status="approved", reason=reason)
        uow.commit()
    console.print(f"source {slug}: approved", markup=False)


@app.command("reject")
def reject(ctx: typer.Context, slug: str, reason: ReasonOption) -> None:
    """Reject a source."""
    from catalog.services import sources as svc

    with catalog(ctx).uow() as uow:
        svc.set_source_status(uow, slug=slug, status="rejected", reason=reason)
        uow.commit()
    console.print(f"source {slug}: rejected", markup=False)
