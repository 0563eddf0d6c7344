"""`govcat ingest SOURCE PATH...`, `govcat ingest report RUN`, `govcat ingest --list-formats`."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

from catalog.cli.common import JsonOption, Table, catalog, console, err_console, print_json
from catalog.cli.progress import counting
from catalog.errors import InvalidInput

if TYPE_CHECKING:
    from catalog.services.ingest import IngestResult


class DefaultRunGroup(TyperGroup):
    """`govcat ingest SLUG PATH` runs the `run` command; named subcommands still work."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in (
                "--list-formats", "--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(cls=DefaultRunGroup, invoke_without_command=True,
                  help="Ingest raw data of a registered source: `govcat ingest SOURCE PATH...`.")


@app.callback()
def _group(
    ctx: typer.Context,
    list_formats: Annotated[bool, typer.Option("--list-formats",
                                               help="List the input formats and exit.")] = False,
) -> None:
    if list_formats:
        from ingest import registry

        table = Table("format", "source kinds", "options", "description", ids={"format"},
                      title="input formats")
        for c in registry.connectors():
            opts = ", ".join(f"{f.name.replace('_', '-')}={f.default!r}"
                             for f in dataclasses.fields(c.options_type))
            table.add_row(c.name, ", ".join(c.kinds), opts or "-", c.description)
        console.print(table)
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        console.print(ctx.get_help())
        raise typer.Exit()


def _parse_options(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--option {value!r}: expected KEY=VALUE")
        out[key.strip()] = val
    return out


@app.command("run", help="Ingest PATH... (files or folders) into SOURCE's shards and index.")
def run(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="Slug of a registered source.")],
    paths: Annotated[list[Path], typer.Argument(help="Input files or folders.")],
    fmt: Annotated[str | None, typer.Option(
        "--format", help="Input format (see --list-formats). Default: by source kind and "
                         "file name.")] = None,
    option: Annotated[list[str] | None, typer.Option(
        "--option", "-o", help="Format option KEY=VALUE (repeatable).")] = None,
    shard_docs: Annotated[int, typer.Option(help="Documents per shard.")] = 20_000,
    license_scan: Annotated[bool, typer.Option(
        "--license-scan/--no-license-scan",
        help="Scan code folders with scancode-toolkit before reading them.")] = True,
    json_out: JsonOption = False,
) -> None:
    from catalog.services import ingest as svc

    options = _parse_options(option or [])
    cat = catalog(ctx)
    started = time.perf_counter()
    try:
        with counting(f"ingest {source}") as advance:
            result = svc.ingest(cat, source_slug=source, paths=paths, fmt=fmt, options=options,
                                shard_docs=shard_docs, progress=advance,
                                license_scan=license_scan,
                                notice=lambda m: err_console.print(m, markup=False))
    except KeyboardInterrupt:
        err_console.print("interrupted: run the same command again to resume "
                          "(documents already indexed are kept)")
        raise typer.Exit(130) from None
    elapsed = time.perf_counter() - started
    if json_out:
        print_json({"run": result.run_id, "source": result.source, "formats": result.formats,
                    "status": result.status, "seconds": round(elapsed, 3),
                    **result.stats.to_dict()})
        return
    print_summary(result, elapsed)


def print_summary(result: IngestResult, elapsed: float) -> None:
    s = result.stats
    table = Table(title=f"ingest run {result.run_id}: {result.source} "
                        f"({', '.join(result.formats)}) — {result.status}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("count", justify="right")
    table.add_row("inputs", f"{s.files:,}")
    table.add_row("records read", f"{s.read:,}")
    table.add_row("documents", f"{s.documents:,}")
    table.add_row("ingested", f"{s.ingested:,}")
    table.add_row("already in the index", f"{s.already_present:,}")
    if s.repeated_in_input:
        table.add_row("repeated in the input", f"{s.repeated_in_input:,}")
    for reason, n in sorted(s.skipped.items()):
        table.add_row(f"skipped: {reason}", f"{n:,}")
    for reason, n in sorted(s.quarantined.items()):
        table.add_row(f"quarantined: {reason}", f"{n:,}")
    table.add_row("shards written", f"{s.shards:,}")
    table.add_row("robots snapshots", f"{s.robots_snapshots:,}")
    table.add_row("tokens", f"{s.tokens:,}")
    table.add_row("text MB", f"{s.bytes / 1e6:,.2f}")
    rate = s.documents / elapsed if elapsed else 0
    table.add_row("time", f"{elapsed:,.1f} s ({rate:,.0f} docs/s)")
    console.print(table)
    if s.quarantined:
        console.print(f"{sum(s.quarantined.values())} record(s) quarantined: "
                      f"`govcat ingest report {result.run_id}` lists them")


@app.command("report")
def report(ctx: typer.Context, run_id: Annotated[int, typer.Argument(help="Ingest run id.")],
           json_out: JsonOption = False) -> None:
    """An ingest run's counts and every quarantined record with file, location and reason."""
    from catalog.services import ingest as svc

    data = svc.run_report(catalog(ctx), run_id=run_id)
    if json_out:
        print_json(data)
        return
    stats = data["stats"] or {}
    console.print(f"run {data['run']} ({data['kind']}, {data['status']}) of source "
                  f"{data['source']} by {data['actor']}, {data['started_at']} → "
                  f"{data['finished_at'] or '-'}", markup=False)
    console.print(f"ingested {stats.get('ingested', 0):,} of {stats.get('documents', 0):,} "
                  f"documents; already present {stats.get('already_present', 0):,}; "
                  f"skipped {sum((stats.get('skipped') or {}).values()):,}; "
                  f"quarantined {sum((stats.get('quarantined') or {}).values()):,}",
                  markup=False)
    if data["quarantine"]:
        table = Table("file", "location", "reason", "detail", "run",
                      ids={"file", "location", "run"}, title="quarantined records of this source")
        for q in data["quarantine"]:
            table.add_row(q["file"], q["location"], q["reason"], q["detail"] or "-",
                          str(q["run"]))
        console.print(table)
