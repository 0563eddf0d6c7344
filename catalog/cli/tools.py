"""`govcat tools`: run one piece of the pipeline on one input, for debugging and measuring.

Each tool takes a FILE, or `--batch FILE.jsonl` (one JSON object a line) and then prints one
JSON line per input line, in one process. A bad batch line gives `{"line": N, "error": ...}`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from catalog.errors import InvalidInput

app = typer.Typer(help="Run one step on one input (debugging, measuring).",
                  no_args_is_help=True)

BatchOption = Annotated[Path | None, typer.Option(
    "--batch", help="JSONL input: one object a line; prints one JSON line each.")]


def batch_lines(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    if not path.exists():
        raise InvalidInput(f"{path}: no such file")
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                yield number, None, f"invalid JSON: {exc}"
                continue
            if not isinstance(obj, dict):
                yield number, None, "expected a JSON object"
                continue
            yield number, obj, None


def run_batch(path: Path, fn: Callable[[dict[str, Any]], dict[str, Any]],
              required: tuple[str, ...]) -> None:
    for number, obj, error in batch_lines(path):
        if error is None:
            missing = [k for k in required if k not in obj]
            if missing:
                error = f"missing field(s): {', '.join(missing)}"
        if error is not None:
            typer.echo(json.dumps({"line": number, "error": error}))
            continue
        try:
            out = fn(obj)
        except (ValueError, OSError) as exc:
            out = {"error": str(exc)}
        if "id" in obj and "id" not in out:
            out = {"id": obj["id"], **out}
        typer.echo(json.dumps(out, ensure_ascii=False))


@app.command("html2text")
def html2text(
    file: Annotated[Path | None, typer.Argument(help="An HTML file.")] = None,
    batch: BatchOption = None,
) -> None:
    """Print the text the WARC connector would extract from an HTML file."""
    from ingest.html import extract_text

    if batch is not None:
        run_batch(batch, lambda o: {"text": extract_text(o["html"])}, ("id", "html"))
        return
    if file is None:
        raise InvalidInput("give an HTML FILE or --batch FILE.jsonl")
    if not file.exists():
        raise InvalidInput(f"{file}: no such file")
    typer.echo(extract_text(file.read_bytes()))


@app.command("robots")
def robots(
    file: Annotated[Path | None, typer.Argument(help="A robots.txt file.")] = None,
    url: Annotated[str | None, typer.Option(help="URL or path to check.")] = None,
    agent: Annotated[str, typer.Option(help="User agent product token.")] = "*",
    status: Annotated[int, typer.Option(help="HTTP status the file came with.")] = 200,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    batch: BatchOption = None,
) -> None:
    """Is URL allowed for AGENT under this robots.txt (RFC 9309), and which rule decided."""
    from ingest.consent.robots import InvalidAgentError, check_batch, parse_robots

    if batch is not None:
        if not batch.exists():
            raise InvalidInput(f"{batch}: no such file")
        with batch.open("r", encoding="utf-8", errors="replace") as fh:
            for answer in check_batch(fh):
                typer.echo(json.dumps(answer, ensure_ascii=False))
        return
    if file is None or url is None:
        raise InvalidInput("give a robots.txt FILE and --url (or --batch FILE.jsonl)")
    if not file.exists():
        raise InvalidInput(f"{file}: no such file")
    text = file.read_bytes().decode("utf-8", errors="replace")
    try:
        verdict = parse_robots(text, status=status).check(url, agent)
    except InvalidAgentError as exc:
        raise InvalidInput(str(exc)) from None
    if json_out:
        typer.echo(json.dumps({"allowed": verdict.allowed, "rule": verdict.rule,
                               "line": verdict.line, "group": verdict.group,
                               "reason": verdict.reason}))
        return
    word = "allowed" if verdict.allowed else "disallowed"
    rule = f" by line {verdict.line}: {verdict.rule}" if verdict.rule else ""
    group = f" (group {verdict.group})" if verdict.group else ""
    typer.echo(f"{word}{rule}{group} [{verdict.reason}]")
