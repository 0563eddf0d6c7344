"""`govcat policy`: validate, store, list, show and compare policies; what-if analysis."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from catalog.cli.common import JsonOption, Table, catalog, console, err_console, print_json
from catalog.cli.progress import counting
from catalog.errors import InvalidInput

app = typer.Typer(help="Policies: rules, written as data, that gate documents.",
                  no_args_is_help=True)


@app.command("validate")
def validate(file: Annotated[Path, typer.Argument(help="A policy YAML file.")]) -> None:
    """Check a policy file; print every error with file, rule id and line:column."""
    from catalog.services import policies as svc
    from policies.loader import load_policy

    errors = svc.validate_file(file)
    if errors:
        for e in errors:
            err_console.print(str(e), markup=False)
        raise svc.PolicyInvalid(str(file), [str(e) for e in errors])
    policy = load_policy(file)
    n = sum(len(policy.rules(s)) for s in policy.stages)
    console.print(f"{file}: valid — {policy.name}@{policy.version}, {n} rule(s), "
                  f"sha256 {policy.sha256}", markup=False)


@app.command("add")
def add(ctx: typer.Context,
        file: Annotated[str, typer.Argument(help="A policy YAML file or a built-in pack name.")]
        ) -> None:
    """Store a policy verbatim with its hash (same name+version, other content: refused)."""
    from catalog.services import policies as svc
    from policies import packs

    policy = svc.load_ref(file)
    if policy is None:
        raise InvalidInput(f"{file}: no such file or built-in pack "
                           f"({', '.join(packs.list_packs())})")
    with catalog(ctx).uow() as uow:
        _, created = svc.store(uow, policy)
        uow.commit()
    what = "stored" if created else "already stored (same content)"
    console.print(f"policy {policy.name}@{policy.version}: {what}, sha256 {policy.sha256}",
                  markup=False)


@app.command("list")
def list_(ctx: typer.Context, json_out: JsonOption = False) -> None:
    """Stored policies, and the built-in packs."""
    from catalog.services import policies as svc
    from policies import packs

    with catalog(ctx).uow() as uow:
        rows = svc.listing(uow.session)
    if json_out:
        print_json({"stored": rows, "packs": packs.list_packs()})
        return
    table = Table("name", "version", "use", "jurisdiction", "sha256", "added by", "added at",
                  ids={"name", "version", "sha256"}, title=f"{len(rows)} stored polic(y/ies)")
    for r in rows:
        table.add_row(r["name"], r["version"], r["intended_use"], r["jurisdiction"] or "-",
                      r["sha256"][:12], r["added_by"], r["added_at"][:19])
    console.print(table)
    console.print(f"built-in packs: {', '.join(packs.list_packs())}")


@app.command("show")
def show(ctx: typer.Context,
         ref: Annotated[str, typer.Argument(help="name, name@version, a file or a pack.")],
         json_out: JsonOption = False) -> None:
    """A policy's header and rules (stored text verbatim with --json)."""
    policy = _policy(ctx, ref)
    if json_out:
        print_json({"name": policy.name, "version": policy.version, "sha256": policy.sha256,
                    "intended_use": policy.intended_use, "jurisdiction": policy.jurisdiction,
                    "agents": list(policy.agents), "combining": policy.combining,
                    "defaults": policy.defaults, "text": policy.text})
        return
    console.print(f"{policy.name}@{policy.version} — use {policy.intended_use}, jurisdiction "
                  f"{policy.jurisdiction}, combining {policy.combining}, sha256 {policy.sha256}",
                  markup=False)
    console.print(f"agents: {', '.join(policy.agents)}", markup=False)
    for stage in policy.stages:
        table = Table("rule", "effect", "condition", "reason", ids={"rule"},
                      title=f"{stage} (default: {policy.defaults.get(stage)})")
        for r in policy.rules(stage):
            table.add_row(r.id, r.effect, r.condition, r.reason)
        console.print(table)


def _policy(ctx: typer.Context, ref: str):
    """A built-in pack, a policy file, or a policy stored in the catalog."""
    from catalog.services import policies as svc
    from policies.loader import load_policy

    policy = svc.load_ref(ref)
    if policy is None:
        with catalog(ctx).uow() as uow:
            policy = load_policy(svc.find(uow.session, ref).text)
    return policy


@app.command("diff")
def diff(ctx: typer.Context, a: str, b: str, json_out: JsonOption = False) -> None:
    """Rules added, removed and changed between two policies (and the text diff)."""
    from catalog.services import policies as svc

    result = svc.diff(_policy(ctx, a), _policy(ctx, b))
    if json_out:
        print_json(result)
        return
    console.print(f"{result['a']} → {result['b']}", markup=False)
    for key, change in result["header"].items():
        console.print(f"  {key}: {change['from']} → {change['to']}", markup=False)
    for stage, entry in result["stages"].items():
        for kind in ("added", "removed", "changed"):
            if entry.get(kind):
                console.print(f"  {stage}: {kind} {', '.join(entry[kind])}", markup=False)
        if "default" in entry:
            console.print(f"  {stage}: default {entry['default']['from']} → "
                          f"{entry['default']['to']}", markup=False)
    if not result["header"] and not result["stages"]:
        console.print("  no rule differences")
    typer.echo(result["text_diff"])


@app.command("whatif")
def whatif(ctx: typer.Context,
           policy_b: Annotated[str, typer.Argument(help="Policy B: file, pack or stored.")],
           against: Annotated[int, typer.Option("--against", help="A gate run.")],
           json_out: JsonOption = False) -> None:
    """How many documents and tokens policy B would decide differently; writes nothing."""
    from catalog.services import gate as gate_svc

    with counting("what if") as advance:
        result = gate_svc.whatif(catalog(ctx), policy_ref=policy_b, against=against,
                                 progress=advance)
    if json_out:
        print_json(result)
        return
    console.print(f"{result['policy_b']} against run {result['against']} "
                  f"({result['policy_a']}): {result['changed']:,} of {result['documents']:,} "
                  f"documents ({result['changed_tokens']:,} tokens) change verdict",
                  markup=False)
    if result["changes"]:
        table = Table("from", "to", "rules under B", "rules under A", "documents", "tokens",
                      ids={"rules under B", "rules under A"}, title="changes by rule")
        for c in result["changes"]:
            table.add_row(c["from"], c["to"], c["rules_b"], c["rules_a"], f"{c['documents']:,}",
                          f"{c['tokens']:,}")
        console.print(table)
