"""`govcat report`: the datasheet, dataset card, Croissant, AI Act summary and attribution file
of a release, generated from the catalog and the release manifest (docs/reports.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from catalog.cli.common import JsonOption, catalog, console, print_json

app = typer.Typer(help="Reports of a release: datasheet, card, AI Act summary.",
                  no_args_is_help=True)

ReleaseRef = Annotated[str, typer.Argument(
    help="A release: NAME@X.Y.Z, or NAME for its newest version.")]
MetaOption = Annotated[Path | None, typer.Option(
    "--meta", help="Release metadata YAML (motivation, provider, uses, contact...).")]
DateOption = Annotated[str | None, typer.Option(
    "--date", help="The report date, YYYY-MM-DD (default: today, UTC); fixes the output.")]
OutOption = Annotated[Path | None, typer.Option(
    "--out", help="Write the file into DIR (default: print to standard output).")]
FormatOption = Annotated[str | None, typer.Option("--format", help="md, html, csv or json.")]

_HELP = {
    "datasheet": ("Datasheet (Gebru et al., seven sections): Markdown, or one self-contained "
                  "HTML file with charts (--format html)."),
    "card": "Hugging Face dataset card (README.md); regenerating keeps the fields it does not own.",
    "croissant": "Croissant 1.1 JSON-LD with the RAI vocabulary.",
    "ai-act": ("EU AI Act public summary of training content (Commission template, July "
               "2025): Markdown or HTML."),
    "attribution": ("Attribution notices for every document or source whose licence requires "
                    "one: CSV, or Markdown (--format md)."),
}


def _single(kind: str):
    def command(ctx: typer.Context, release: ReleaseRef, meta: MetaOption = None,
                out: OutOption = None, fmt: FormatOption = None, date: DateOption = None
                ) -> None:
        from catalog.services import reports

        existing = None
        if kind == "card" and out is not None and (out / "README.md").exists():
            existing = (out / "README.md").read_text(encoding="utf-8")
        rendered = reports.render(catalog(ctx), release, kind, fmt=fmt, meta=meta, date=date,
                                  existing=existing)
        if out is None:
            typer.echo(rendered.text, nl=False)
            return
        path = reports.write(rendered, out)
        console.print(f"wrote {path}", markup=False)

    command.__doc__ = _HELP[kind]
    return command


for _kind in ("datasheet", "card", "croissant", "ai-act", "attribution"):
    app.command(_kind, help=_HELP[_kind])(_single(_kind))


@app.command("all")
def all_reports(
    ctx: typer.Context,
    release: ReleaseRef,
    meta: MetaOption = None,
    date: DateOption = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write into DIR instead of the release folder's reports/.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Write every report into the release folder's reports/, with their sha256 in
    reports/reports-manifest.json. The release's own manifest is not changed."""
    from catalog.cli.progress import counting
    from catalog.services import reports

    total = sum(len(f) for f in reports.FORMATS.values())
    with counting("report", unit="reports", total=total, show_bytes=False) as advance:
        result = reports.write_all(catalog(ctx), release, meta=meta, date=date, out=out,
                                   progress=lambda _name: advance(1))
    if json_out:
        print_json(result)
        return
    console.print(f"reports of {result['release']} in {result['folder']}:", markup=False)
    for path in result["files"]:
        console.print(f"  {path}", markup=False)
    for skip in result["skipped"]:
        console.print(f"  skipped {skip['report']} ({skip['format']}): {skip['reason']}",
                      markup=False)
    if result["metadata_missing"]:
        console.print(f"  note: metadata lacks {len(result['metadata_missing'])} required "
                      f"field(s): {', '.join(result['metadata_missing'])} "
                      "(`govcat report check` lists them)", markup=False)
    console.print(f"datasheet: {result['datasheet']}", markup=False)


@app.command("check")
def check(
    ctx: typer.Context,
    release: ReleaseRef,
    meta: Annotated[Path, typer.Option("--meta", help="Release metadata YAML to check.")],
    json_out: JsonOption = False,
) -> None:
    """Validate the metadata: exit 2 listing every required field still missing."""
    from catalog.errors import InvalidMetadata
    from catalog.services import reports

    result = reports.check(catalog(ctx), release, meta)
    if json_out:
        print_json(result)
    if result["missing"]:
        raise InvalidMetadata(f"{meta}: {len(result['missing'])} required field(s) missing",
                              result["missing"])
    if not json_out:
        console.print(f"ok: {meta} has every required field for {result['release']}",
                      markup=False)
