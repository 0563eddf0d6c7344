"""`govcat consent`: dated robots.txt / tdmrep.json / ai.txt snapshots and what they say."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from catalog.cli.common import JsonOption, Table, catalog, console, print_json, state
from catalog.cli.dates import parse_when
from catalog.errors import InvalidInput

app = typer.Typer(help="Consent signals per host, at collection time and now.",
                  no_args_is_help=True)

AgentsOption = Annotated[str | None, typer.Option(
    "--agents", help="Comma-separated AI agents (default: GOVCAT_AI_AGENTS or the built-in "
                     "list of 15 incl. GPTBot, CCBot, ClaudeBot, Google-Extended and *).")]


def _agents(ctx: typer.Context, value: str | None) -> tuple[str, ...]:
    if value:
        return tuple(a.strip() for a in value.split(",") if a.strip())
    return state(ctx).settings.agents


MAX_CONSENT_FILE = 2 * 2**20  # Google stops reading robots.txt at 500 KiB; 2 MiB is ample


def _read(file: Path) -> str:
    if not file.is_file():
        raise InvalidInput(f"{file}: no such file")
    if file.stat().st_size > MAX_CONSENT_FILE:
        raise InvalidInput(f"{file}: {file.stat().st_size:,} bytes; a consent file is text of "
                           f"at most {MAX_CONSENT_FILE:,} bytes")
    data = file.read_bytes()
    if b"\x00" in data[:8192]:
        raise InvalidInput(f"{file}: a binary file, not a robots.txt, tdmrep.json or ai.txt")
    return data.decode("utf-8", errors="replace")


def _add(ctx: typer.Context, kind: str, host: str, file: Path, fetched_at: str,
         status: int) -> None:
    from catalog.services import consent as svc

    content = _read(file)
    when = parse_when(fetched_at, option="--fetched-at")
    with catalog(ctx).uow() as uow:
        snap, created = svc.add_snapshot(uow, host=host, kind=kind, content=content,
                                         fetched_at=when, status=status)
        uow.commit()
    what = "recorded" if created else "already recorded"
    console.print(f"{kind} of {svc.normalize_host(host)} fetched {when.isoformat()} "
                  f"(HTTP {status}): {what} as snapshot {snap.id}", markup=False)


FetchedAt = Annotated[str, typer.Option("--fetched-at", help="When it was fetched "
                                        "(YYYY-MM-DD or ISO 8601).")]
Status = Annotated[int, typer.Option("--status", help="HTTP status of the fetch: 4xx = allow "
                                     "all, 5xx or 0 (unreachable) = disallow all (RFC 9309).")]


@app.command("add-robots")
def add_robots(ctx: typer.Context, host: str, file: Path, fetched_at: FetchedAt,
               status: Status = 200) -> None:
    """Record a dated robots.txt snapshot of HOST."""
    _add(ctx, "robots.txt", host, file, fetched_at, status)


@app.command("add-tdmrep")
def add_tdmrep(ctx: typer.Context, host: str, file: Path, fetched_at: FetchedAt,
               status: Status = 200) -> None:
    """Record a dated /.well-known/tdmrep.json of HOST (W3C TDMRep)."""
    _add(ctx, "tdmrep.json", host, file, fetched_at, status)


@app.command("add-aitxt")
def add_aitxt(ctx: typer.Context, host: str, file: Path, fetched_at: FetchedAt,
              status: Status = 200) -> None:
    """Record a dated ai.txt of HOST."""
    _add(ctx, "ai.txt", host, file, fetched_at, status)


@app.command("show")
def show(ctx: typer.Context, host: str, agents: AgentsOption = None,
         json_out: JsonOption = False) -> None:
    """Every snapshot of HOST and, per AI agent, blocked from all / some / none over time."""
    from catalog.services import consent as svc

    with catalog(ctx).uow() as uow:
        data = svc.host_consent(uow.session, host=host, agents=_agents(ctx, agents))
    if json_out:
        print_json(data)
        return
    console.print(f"host {data['host']}: {data['documents']:,} documents, "
                  f"{data['tokens']:,} tokens", markup=False)
    robots = [s for s in data["snapshots"] if s["kind"] == "robots.txt"]
    if robots:
        table = Table("agent", ids={"agent"},
                      title="robots.txt verdicts over time (blocked from: all / some / none)")
        for s in robots:
            table.add_column(f"{s['fetched_at'][:10]}\nHTTP {s['status']}")
        for agent in data["agents"]:
            table.add_row(agent, *[s["verdicts"][agent] for s in robots])
        console.print(table)
    for s in data["snapshots"]:
        if s["kind"] == "tdmrep.json":
            rules = ", ".join(f"{r['location']}→{r['tdm_reservation']}" for r in s["rules"])
            console.print(f"tdmrep.json {s['fetched_at'][:10]}: {rules or 'no rules'}",
                          markup=False)
        elif s["kind"] == "ai.txt":
            console.print(f"ai.txt {s['fetched_at'][:10]} (HTTP {s['status']})", markup=False)


@app.command("changes")
def changes(ctx: typer.Context, agents: AgentsOption = None, json_out: JsonOption = False
            ) -> None:
    """Hosts whose AI-agent verdict got stricter after their documents were collected."""
    from catalog.services import consent as svc

    with catalog(ctx).uow() as uow:
        found = svc.consent_changes(uow.session, agents=_agents(ctx, agents))
    if json_out:
        print_json([c.to_dict() for c in found])
        return
    if not found:
        console.print("no host got stricter after its documents were collected")
        return
    table = Table("host", "collected under", "now", "agents (then → now)", "documents", "tokens",
                  ids={"host"}, title="opted out after collection")
    for c in found:
        agents_text = ", ".join(f"{a} {t}→{n}" for a, (t, n) in c.stricter.items())
        table.add_row(c.host, c.then.fetched_at.date().isoformat(),
                      c.now.fetched_at.date().isoformat(), agents_text, f"{c.documents:,}",
                      f"{c.tokens:,}")
    console.print(table)
