"""`govcat audit`: read and verify the hash-chained audit log."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from catalog.cli.common import JsonOption, Table, catalog, console, print_json
from catalog.errors import IntegrityError

app = typer.Typer(help="The append-only audit log.", no_args_is_help=True)


@app.command("log")
def log(
    ctx: typer.Context,
    entity: Annotated[str | None, typer.Option(
        help="TYPE or TYPE:ID, e.g. source or source:cc-2024.")] = None,
    limit: Annotated[int, typer.Option(help="Show the newest N events (0 = all).")] = 50,
    json_out: JsonOption = False,
) -> None:
    """Show audit events, oldest first."""
    from catalog import audit as audit_log

    etype, _, eid = (entity or "").partition(":")
    with catalog(ctx).uow() as uow:
        events = list(audit_log.iter_events(uow.session, entity_type=etype or None,
                                            entity_id=eid or None))
    if limit:
        events = events[-limit:]
    if json_out:
        print_json([
            {"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action,
             "entity_type": e.entity_type, "entity_id": e.entity_id,
             "before": json.loads(e.before) if e.before else None,
             "after": json.loads(e.after) if e.after else None, "hash": e.hash}
            for e in events])
        return
    table = Table("#", "when", "actor", "action", "entity", "hash",
                  ids={"actor", "entity", "hash"}, title=f"{len(events)} audit event(s)")
    for e in events:
        table.add_row(str(e.seq), e.at, e.actor, e.action, f"{e.entity_type}:{e.entity_id}",
                      e.hash[:12])
    console.print(table)


@app.command("verify")
def verify(ctx: typer.Context) -> None:
    """Recompute the hash chain; exit 6 naming the first event that was edited or removed."""
    from catalog import audit as audit_log

    with catalog(ctx).uow() as uow:
        result = audit_log.verify(uow.session)
    if not result.ok:
        raise IntegrityError(f"audit chain broken: {result.problem}")
    console.print(f"audit chain intact: {result.events} event(s), head {result.head_hash}",
                  markup=False)
