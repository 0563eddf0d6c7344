"""`govcat license`: what a source's documents are licensed under, by licence class."""

from __future__ import annotations

import typer

from catalog.cli.common import JsonOption, Table, catalog, console, print_json

app = typer.Typer(help="Licences of the catalog's documents.", no_args_is_help=True)


@app.command("report")
def report(ctx: typer.Context, source: str, json_out: JsonOption = False) -> None:
    """A source's documents and tokens by concluded licence and licence class."""
    from catalog.services.licensing import license_report
    from policies.taxonomy import load_taxonomy

    with catalog(ctx).uow() as uow:
        data = license_report(uow.session, slug=source, taxonomy=load_taxonomy())
    if json_out:
        print_json(data)
        return
    table = Table("licence", "use", "attribution", "share-alike", "no derivatives", "documents",
                  "tokens", ids={"licence"},
                  title=f"{source}: licences (source declares {data['declared'] or 'nothing'})")
    yes = {True: "yes", False: "no"}
    for e in data["licenses"]:
        table.add_row(e["license"] or "(none)", e["use"] + ("" if e["known"] else " (unknown)"),
                      yes[e["attribution"]], yes[e["share_alike"]], yes[e["no_derivatives"]],
                      f"{e['documents']:,}", f"{e['tokens']:,}")
    console.print(table)
    summary = ", ".join(f"{c['use']}: {c['documents']:,} docs / {c['tokens']:,} tokens"
                        for c in data["classes"])
    console.print(f"by use class — {summary}", markup=False)
    if data["declared_vs_concluded_differ"]:
        console.print(f"{data['declared_vs_concluded_differ']:,} document(s) whose concluded "
                      "licence differs from the declared one (see `govcat explain DOC`)",
                      markup=False)
