"""`govcat audit`: read and verify the hash-chained audit log."""

from __future__ import annotations

import json
from pathlib import Path
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


@app.command("head")
def head(ctx: typer.Context, json_out: JsonOption = False) -> None:
    """The chain's head: event count and hash. Save it outside the catalog; later,
    `audit verify --expect-head SEQ:HASH` tells whether the chain still extends it."""
    from catalog import audit as audit_log

    with catalog(ctx).session() as session:
        seq, digest = audit_log.head(session)
    if json_out:
        print_json({"events": seq, "hash": digest, "anchor": f"{seq}:{digest}"})
        return
    console.print(f"{seq}:{digest}", markup=False)


@app.command("verify")
def verify(
    ctx: typer.Context,
    expect_head: Annotated[list[str] | None, typer.Option(
        "--expect-head", help="A head saved earlier (SEQ:HASH or HASH): the chain must still "
                              "extend it. Repeatable.")] = None,
    expect_file: Annotated[Path | None, typer.Option(
        "--expect-file", help="A file of heads saved earlier, one a line.")] = None,
    against_release: Annotated[str | None, typer.Option(
        "--against-release", help="NAME[@X.Y.Z]: the head its manifest recorded at cut time "
                                  "must still be in the chain.")] = None,
) -> None:
    """Recompute the hash chain; exit 6 naming the first event that was edited or removed,
    or a saved head the chain no longer extends."""
    from catalog import audit as audit_log
    from catalog.errors import ChecksFailed, InvalidInput

    anchors: list[tuple[int | None, str]] = []
    texts = list(expect_head or [])
    if expect_file is not None:
        try:
            texts += [line for line in expect_file.read_text().splitlines() if line.strip()]
        except OSError as exc:
            raise InvalidInput(f"{expect_file}: cannot be read ({exc.strerror})") from None
    for text in texts:
        try:
            anchors.append(audit_log.parse_anchor(text))
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
    cat = catalog(ctx)
    if against_release is not None:
        from catalog.services.releases import recorded_audit_head

        anchors.append(recorded_audit_head(cat, against_release))
    with cat.uow() as uow:
        result = audit_log.verify(uow.session)
        problems = audit_log.check_anchors(uow.session, anchors) if result.ok else []
    if not result.ok:
        raise IntegrityError(f"audit chain broken: {result.problem}")
    if problems:
        raise ChecksFailed("audit chain does not extend what was saved", problems)
    extra = f"; extends {len(anchors)} saved head(s)" if anchors else ""
    console.print(f"audit chain intact: {result.events} event(s), head {result.head_hash}"
                  f"{extra}", markup=False)
