"""`govcat decontam`: register the evaluation sets every `govcat run` is checked against."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from catalog.cli.common import JsonOption, Table, catalog, console, print_json

app = typer.Typer(help="Benchmark decontamination: evaluation sets runs are checked against.",
                  no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The set's name, e.g. mmlu or gsm8k-test.")],
    file: Annotated[Path, typer.Argument(help="The examples: FILE.jsonl or FILE.parquet.")],
    field: Annotated[list[str] | None, typer.Option(
        "--field", help="A field to read (repeat for several); default: every text field.")
    ] = None,
    n: Annotated[int, typer.Option("--n", help="Words per n-gram (GPT-3, Gopher: 13).")] = 13,
    json_out: JsonOption = False,
) -> None:
    """Register an evaluation set: its n-grams are hashed once and kept under the data root."""
    from catalog.services import decontam as svc

    item = svc.add(catalog(ctx), name=name, path=file, fields=field or (), n=n)
    if json_out:
        print_json(item)
        return
    what = "already registered, unchanged" if item["unchanged"] else "registered"
    console.print(f"evaluation set {item['name']} {what}: {item['examples']:,} examples, "
                  f"{item['ngrams']:,} distinct {item['n']}-grams from "
                  f"{', '.join(item['fields']) or '-'} (sha256 {item['file_sha256'][:12]}…)",
                  markup=False)
    if item["skipped_short"]:
        console.print(f"  {item['skipped_short']:,} example(s) have fewer than {item['n']} "
                      "words and cannot match", markup=False)


@app.command("list")
def list_(ctx: typer.Context, json_out: JsonOption = False) -> None:
    """The registered evaluation sets."""
    from catalog.services import decontam as svc

    rows = svc.listing(catalog(ctx))
    if json_out:
        print_json(rows)
        return
    table = Table("set", "examples", "n", "n-grams", "fields", "file sha256", "added",
                  ids={"set"}, title=f"{len(rows)} evaluation set(s)")
    for r in rows:
        table.add_row(r["name"], f"{r['examples']:,}", str(r["n"]), f"{r['ngrams']:,}",
                      ", ".join(r["fields"]), r["file_sha256"][:16] + "…", r["created_at"][:10])
    console.print(table)
