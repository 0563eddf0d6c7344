"""`govcat optout`: record opt-out requests; admission denies matching documents from then on."""

from __future__ import annotations

from typing import Annotated

import typer

from catalog.cli.common import JsonOption, Table, catalog, console, print_json
from catalog.cli.dates import parse_when
from catalog.errors import InvalidInput

app = typer.Typer(help="Opt-out requests from rights holders.", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    requester: Annotated[str, typer.Option(help="Who asked (name, e-mail, organisation).")],
    received: Annotated[str, typer.Option(help="When the request arrived (YYYY-MM-DD).")],
    domain: Annotated[str | None, typer.Option(help="A domain and its subdomains.")] = None,
    url_prefix: Annotated[str | None, typer.Option(help="URLs starting with this.")] = None,
    doc_id: Annotated[str | None, typer.Option(help="One document id.")] = None,
    content_sha256: Annotated[str | None, typer.Option(
        help="Documents with this content hash.")] = None,
    note: Annotated[str | None, typer.Option(help="Free text.")] = None,
) -> None:
    """Record an opt-out request (give exactly one of the four match options)."""
    from catalog.services import optouts as svc

    given = {k: v for k, v in {"domain": domain, "url-prefix": url_prefix, "doc-id": doc_id,
                               "content-sha256": content_sha256}.items() if v}
    if len(given) != 1:
        raise InvalidInput("give exactly one of --domain, --url-prefix, --doc-id, "
                           "--content-sha256")
    (kind, value), = given.items()
    with catalog(ctx).uow() as uow:
        req = svc.add(uow, kind=kind, value=value, requester=requester,
                      received=parse_when(received, option="--received"), note=note)
        uow.commit()
    console.print(f"opt-out request optout-{req.id} recorded: {kind} {req.value} "
                  f"(from {req.requester})", markup=False)


@app.command("list")
def list_(ctx: typer.Context, json_out: JsonOption = False) -> None:
    """All opt-out requests."""
    from catalog.services import optouts as svc

    with catalog(ctx).uow() as uow:
        rows = svc.listing(uow.session)
    if json_out:
        print_json(rows)
        return
    table = Table("request", "kind", "value", "requester", "received", "status",
                  ids={"request", "value"}, title=f"{len(rows)} opt-out request(s)")
    for r in rows:
        table.add_row(r["request"], r["kind"], r["value"], r["requester"],
                      r["received_at"][:10], r["status"])
    console.print(table)


@app.command("withdraw")
def withdraw(ctx: typer.Context, request_id: int,
             reason: Annotated[str, typer.Option(help="Why it no longer applies.")]) -> None:
    """Withdraw a request (kept, marked withdrawn)."""
    from catalog.services import optouts as svc

    with catalog(ctx).uow() as uow:
        svc.withdraw(uow, request_id=request_id, reason=reason)
        uow.commit()
    console.print(f"opt-out request optout-{request_id} withdrawn")
