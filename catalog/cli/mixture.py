"""`govcat mixture`: weighted releases with an intended use, their compliance review, sign-off."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from catalog.cli.common import JsonOption, Table, catalog, console, err_console, print_json

app = typer.Typer(help="Training mixtures: compliance review and sign-off.",
                  no_args_is_help=True)

NameArgument = Annotated[str, typer.Argument(help="The mixture's name.")]
PolicyHelp = ("A review policy: a built-in pack (review-research, review-commercial), a YAML "
              "file, or a stored one by name.")


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A new mixture name (a-z, 0-9, . _ -).")],
    component: Annotated[list[str], typer.Option(
        "--component", "-c",
        help="RELEASE\\[@X.Y.Z]:WEIGHT, once per component. NAME alone follows the newest "
             "version at each review; NAME@X.Y.Z is pinned. WEIGHT is a sampling weight: "
             "epochs over the release (2 = seen twice, 0.5 = half of it; default 1). "
             "Effective tokens = tokens x weight.")],
    intended_use: Annotated[str, typer.Option(
        "--intended-use", help="research | commercial: what the trained model is for.")],
    jurisdiction: Annotated[str, typer.Option(
        "--jurisdiction", help="Where the model is trained or used: EU, US, UK, ...")],
    description: Annotated[str | None, typer.Option(help="What the mixture is for.")] = None,
    review_policy: Annotated[str | None, typer.Option(
        "--review-policy", help=PolicyHelp + " Default: review-research or "
        "review-commercial, after --intended-use.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Define a mixture of releases, each with a sampling weight (epochs), for an intended use."""
    from catalog.services import mixtures

    data = mixtures.create(catalog(ctx), name=name, components=component,
                           intended_use=intended_use, jurisdiction=jurisdiction,
                           description=description, review_policy=review_policy)
    if json_out:
        print_json(data)
        return
    console.print(f"mixture {name} created", markup=False)
    _print_mixture(data)


@app.command("set-policy")
def set_policy(
    ctx: typer.Context,
    name: NameArgument,
    review_policy: Annotated[str, typer.Argument(help=PolicyHelp)],
) -> None:
    """Review the mixture with another review policy from now on (sign-offs become stale)."""
    from catalog.services import mixtures

    data = mixtures.set_policy(catalog(ctx), name=name, review_policy=review_policy)
    p = data["review_policy"]
    console.print(f"mixture {name} is reviewed with {p['name']}@{p['version']} "
                  f"(sha256 {p['sha256'][:12]}…)", markup=False)


@app.command("list")
def list_(ctx: typer.Context, json_out: JsonOption = False) -> None:
    """Every mixture, with its effective tokens and sign-off state."""
    from catalog.services import mixtures

    rows = mixtures.listing(catalog(ctx))
    if json_out:
        print_json(rows)
        return
    table = Table("mixture", "use", "jurisdiction", "components", "effective tokens",
                  "review policy", "sign-off", ids={"mixture", "review policy"})
    for r in rows:
        p = r["review_policy"]
        table.add_row(r["name"], r["intended_use"], r["jurisdiction"], str(len(r["components"])),
                      f"{r['totals']['effective_tokens']:,}", f"{p['name']}@{p['version']}",
                      r["signoff"]["state"])
    console.print(table)


@app.command("show")
def show(ctx: typer.Context, name: NameArgument, json_out: JsonOption = False) -> None:
    """Components, weights, effective tokens and totals; whether the sign-off still holds.

    Effective tokens = tokens x weight. The newest sign-off is stale, with each reason, when a
    component release, the review policy, a source record, a host's consent snapshots or the
    opt-out requests covering the mixture changed after its review.
    """
    from catalog.services import mixtures

    data = mixtures.show(catalog(ctx), name=name)
    if json_out:
        print_json(data)
        return
    _print_mixture(data)


def _print_mixture(data: dict) -> None:
    p = data["review_policy"]
    console.print(f"[bold]{data['name']}[/bold]: {data['intended_use']} use, jurisdiction "
                  f"{data['jurisdiction']}; review policy {p['name']}@{p['version']}")
    if data.get("description"):
        console.print(f"  {data['description']}", markup=False)
    table = Table("component", "release", "weight", "documents", "tokens", "effective tokens",
                  ids={"component", "release"})
    for c in data["components"]:
        table.add_row(c["ref"], c["release"], f"{c['weight']:g}", f"{c['documents']:,}",
                      f"{c['tokens']:,}", f"{c['effective_tokens']:,}")
    t = data["totals"]
    table.add_row("total", "", "", f"{t['documents']:,}", f"{t['tokens']:,}",
                  f"{t['effective_tokens']:,}")
    console.print(table)
    _print_signoff(data["signoff"])


def _print_signoff(s: dict) -> None:
    if s["state"] == "none":
        console.print("sign-off: none yet (`govcat mixture sign-off`)", markup=False)
        return
    override = f"; OVERRIDE of a blocked review: {s['override_reason']}" if s["override"] else ""
    console.print(f"sign-off: {s['state']} — {s['decision']} by {s['actor']} at {s['at']} "
                  f"(review {s['review_sha256'][:12]}…, verdict {s['review_verdict']}, "
                  f"policy {s['review_policy']['name']}@{s['review_policy']['version']})"
                  f"{override}", markup=False)
    console.print(f"  note: {s['note']}", markup=False)
    for c in s["conditions"]:
        console.print(f"  condition: {c}", markup=False)
    for reason in s["reasons"]:
        console.print(f"  stale: {reason}", markup=False)


@app.command("review")
def review(
    ctx: typer.Context,
    name: NameArgument,
    json_out: Annotated[bool, typer.Option("--json", help="The review as JSON.")] = False,
    md: Annotated[bool, typer.Option("--md", help="The review as Markdown.")] = False,
    html: Annotated[bool, typer.Option(
        "--html", help="The review as one self-contained HTML page (inline CSS and charts).")
    ] = False,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the document to FILE (format from --json/--md/--html, else from "
                      "the suffix .json, .md or .html).")] = None,
) -> None:
    """The compliance review: findings with their evidence, and a verdict.

    Licences and their obligations, terms of service, consent at collection, at the cut and
    now, opt-outs since the cut and personal data, per component and overall, in documents,
    tokens and effective tokens. The verdict (ok, needs-attention, blocked) gives every reason,
    each from a rule of the review policy; each finding cites its evidence (source record, ToS
    quote, robots snapshot id and date, opt-out request).
    """
    from catalog.errors import InvalidInput
    from catalog.services import mixtures

    chosen = [f for f, on in (("json", json_out), ("md", md), ("html", html)) if on]
    if len(chosen) > 1:
        raise InvalidInput("give one of --json, --md, --html")
    fmt = chosen[0] if chosen else None
    if fmt is None and out is not None:
        fmt = {".json": "json", ".md": "md", ".html": "html", ".htm": "html"}.get(
            out.suffix.lower(), "md")
    doc = mixtures.review(catalog(ctx), name=name)
    if fmt is None:
        _print_review(doc)
        return
    from reports import mixture_review as render

    text = {"json": render.to_json, "md": render.to_markdown, "html": render.to_html}[fmt](doc)
    if out is None:
        typer.echo(text, nl=False)
        return
    from common.atomic import write_bytes_atomic

    write_bytes_atomic(text.encode("utf-8"), out)
    err_console.print(f"review of {name} ({doc['verdict']}) written to {out}", markup=False)


def _print_review(doc: dict) -> None:
    from reports.mixture_review import evidence_lines, finding_line

    p = doc["review_policy"]
    console.print(f"[bold]{doc['mixture']['name']}[/bold]: verdict [bold]{doc['verdict']}"
                  f"[/bold] under {p['name']}@{p['version']} (review sha256 "
                  f"{doc['sha256'][:16]}…)")
    table = Table("component", "weight", "documents", "tokens", "effective tokens", "verdict",
                  ids={"component"})
    for c in doc["components"]:
        table.add_row(c["release"], f"{c['weight']:g}", f"{c['documents']:,}",
                      f"{c['tokens']:,}", f"{c['effective_tokens']:,}", c["verdict"])
    o = doc["overall"]
    table.add_row("mixture", "", f"{o['documents']:,}", f"{o['tokens']:,}",
                  f"{o['effective_tokens']:,}", doc["verdict"])
    console.print(table)
    for f in doc["findings"]:
        console.print(finding_line(f), markup=False)
        for line in evidence_lines(f, limit=5):
            console.print(f"    {line}", markup=False)
    _print_signoff(doc["signoff"])


@app.command("sign-off")
def sign_off(
    ctx: typer.Context,
    name: NameArgument,
    decision: Annotated[str, typer.Option(
        "--decision", help="approve | reject | approve-with-conditions.")],
    note: Annotated[str, typer.Option("--note", help="What the decision rests on.")],
    conditions: Annotated[list[str] | None, typer.Option(
        "--conditions", help="A condition of approve-with-conditions; repeat for each.")] = None,
    override: Annotated[str | None, typer.Option(
        "--override", help="Why a review whose verdict is blocked is approved anyway; "
                           "shown as an override everywhere.")] = None,
    review_sha256: Annotated[str | None, typer.Option(
        "--review-sha256", help="The sha256 of the review you read; refused if the review "
                                "has changed since.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Record your decision on the mixture's current review, in the audit log.

    The event holds you (the actor), the review's sha256 and verdict and the review policy's
    version. Approving a review whose verdict is blocked needs --override REASON.
    """
    from catalog.services import mixtures

    data = mixtures.sign_off(catalog(ctx), name=name, decision=decision, note=note,
                             conditions=conditions or (), override=override,
                             review_sha256=review_sha256)
    if json_out:
        print_json(data)
        return
    _print_signoff(data)
