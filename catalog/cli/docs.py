"""`govcat docs list`: find documents by source, host, licence, language and decisions."""

from __future__ import annotations

from typing import Annotated

import typer

from catalog.cli.common import Table, catalog, console, err_console, print_json
from catalog.errors import InvalidInput

app = typer.Typer(help="Find documents in the index.", no_args_is_help=True)


@app.command("list")
def list_(
    ctx: typer.Context,
    source: Annotated[list[str] | None, typer.Option(
        "--source", help="A source slug; repeat it or give a comma list.")] = None,
    host: Annotated[list[str] | None, typer.Option(
        "--host", help="A host name; repeat it or give a comma list.")] = None,
    license: Annotated[str | None, typer.Option(
        "--license", help="An SPDX expression (equivalent stored expressions match), or a "
                          "licence class: commercial, non-commercial, academic-only, "
                          "unspecified.")] = None,
    language: Annotated[list[str] | None, typer.Option(
        "--language", help="An ISO 639 code from the langid stage (of --run, else of the "
                           "latest completed `govcat run`); repeat it or give a comma list."
    )] = None,
    run: Annotated[int | None, typer.Option(
        "--run", help="A gate or process run whose decisions to filter on.")] = None,
    stage: Annotated[str | None, typer.Option(
        "--stage", help="admission, langid, quality, dedup or pii (default: every stage of "
                        "--run).")] = None,
    effect: Annotated[str | None, typer.Option(
        "--effect", help="allow, deny, keep, drop, redact, drop-document.")] = None,
    rule: Annotated[str | None, typer.Option(
        "--rule", help="A rule id among the decision's rule ids.")] = None,
    collected_after: Annotated[str | None, typer.Option(
        "--collected-after", help="Collected at or after (YYYY-MM-DD or ISO 8601).")] = None,
    collected_before: Annotated[str | None, typer.Option(
        "--collected-before", help="Collected before (YYYY-MM-DD or ISO 8601).")] = None,
    limit: Annotated[int | None, typer.Option(
        "--limit", help="Documents per page (default 50, at most 10,000).")] = None,
    after: Annotated[str | None, typer.Option(
        "--after", help="The cursor: list the documents after this id.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the page as JSON.")] = False,
    jsonl: Annotated[bool, typer.Option(
        "--jsonl", help="One JSON document a line; the next cursor goes to stderr.")] = False,
) -> None:
    """Documents matching every filter, in id order, one page at a time."""
    from catalog.cli.dates import parse_when
    from catalog.services import documents as svc

    if json_out and jsonl:
        raise InvalidInput("--json and --jsonl: choose one")
    filters = svc.DocumentFilter(
        sources=tuple(source or ()), hosts=tuple(host or ()), license=license,
        languages=tuple(language or ()), run=run, stage=stage, effect=effect, rule=rule,
        collected_after=(parse_when(collected_after, option="--collected-after")
                         if collected_after else None),
        collected_before=(parse_when(collected_before, option="--collected-before")
                          if collected_before else None))
    page = svc.list_documents(catalog(ctx), filters=filters, after=after,
                              limit=svc.DEFAULT_LIMIT if limit is None else limit)
    if json_out:
        print_json(page.to_dict())
        return
    if jsonl:
        for doc in page.documents:
            print_json(doc, line=True)
        if page.next_after is not None:
            err_console.print(f"next page: --after {page.next_after}", markup=False)
        return
    _print_table(page)


def _print_table(page) -> None:
    docs = page.documents
    with_lang = bool(docs) and "lang" in docs[0]
    with_decisions = bool(docs) and "decisions" in docs[0]
    headers = ["id", "source", "host", "licence", "collected", "tokens",
               *(["lang"] if with_lang else []), *(["decisions"] if with_decisions else [])]
    table = Table(*headers, ids=("id", "source", "host", "licence", "decisions"))
    for d in docs:
        row = [d["id"], d["source"] or "-", d["host"] or "-", d["license"] or "-",
               (d["collected_at"] or "-")[:16].replace("T", " "), f"{d['n_tokens']:,}"]
        if with_lang:
            row.append(d["lang"] or "-")
        if with_decisions:
            row.append("; ".join(
                f"{x['stage']} {x['effect']}" + (f" ({', '.join(x['rule_ids'])})"
                                                 if x["rule_ids"] else " (default)")
                for x in d["decisions"]))
        table.add_row(*row)
    if docs:
        console.print(table)
    if page.next_after is not None:
        console.print(f"{len(docs)} document(s); next page: --after {page.next_after}",
                      markup=False)
    elif docs:
        console.print(f"{len(docs)} document(s); last page", markup=False)
    else:
        console.print("no documents match", markup=False)
