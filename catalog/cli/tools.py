"""`govcat tools`: run one piece of the pipeline on one input, for debugging and measuring.

Each tool takes a FILE, or `--batch FILE.jsonl` (one JSON object a line) and then prints one
JSON line per input line, in one process. Every answer starts with `id`: the input's own
`id`, or its line number when it has none (or is not a JSON object). An input that cannot be
answered gives `{"id": ..., "error": ...}` and the batch goes on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import typer

from catalog.cli.common import print_json
from catalog.errors import InvalidInput

app = typer.Typer(help="Run one step on one input (debugging, measuring).",
                  no_args_is_help=True)

BatchOption = Annotated[Path | None, typer.Option(
    "--batch", help="JSONL input: one object a line; prints one JSON line each, starting with "
                    "the input's `id` (its line number when it has none); a line that cannot "
                    "be answered prints `{\"id\": ..., \"error\": ...}`.")]


def batch_lines(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line number, object, None) per JSON line, or (line number, None, why it is unusable).

    Blank lines are skipped, as JSON Lines allows.
    """
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
            except RecursionError:
                yield number, None, "invalid JSON: nested too deeply"
                continue
            if not isinstance(obj, dict):
                yield number, None, "expected a JSON object"
                continue
            yield number, obj, None


def run_batch(path: Path, fn: Callable[[dict[str, Any]], dict[str, Any]],
              required: tuple[str, ...]) -> None:
    """Answer every line of a `--batch` file with `fn`, one JSON line each (see the top)."""
    for number, obj, error in batch_lines(path):
        key = obj.get("id", number) if obj is not None else number
        if obj is not None:
            missing = [k for k in required if k not in obj]
            if missing:
                error = f"missing field(s): {', '.join(missing)}"
        if error is None:
            try:
                out = fn(obj)
            except (ValueError, OSError) as exc:
                out = {"error": str(exc)}
        else:
            out = {"error": error}
        out.pop("id", None)
        print_json({"id": key, **out}, line=True)


@app.command("html2text")
def html2text(
    file: Annotated[Path | None, typer.Argument(help="An HTML file.")] = None,
    batch: BatchOption = None,
) -> None:
    """Print the text the WARC connector would extract from an HTML file."""
    from ingest.html import extract_text

    if batch is not None:
        run_batch(batch, lambda o: {"text": extract_text(o["html"])}, ("html",))
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
    from ingest.consent.robots import InvalidAgentError, parse_robots

    if batch is not None:
        run_batch(batch, _robots_answer, ("robots", "url", "agent"))
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
        print_json(asdict(verdict), line=True)
        return
    word = "allowed" if verdict.allowed else "disallowed"
    rule = f" by line {verdict.line}: {verdict.rule}" if verdict.rule else ""
    group = f" (group {verdict.group})" if verdict.group else ""
    typer.echo(f"{word}{rule}{group} [{verdict.reason}]")


@lru_cache(maxsize=256)
def _parsed_robots(text: str, status: int):
    from ingest.consent.robots import parse_robots

    return parse_robots(text, status=status)  # a batch often repeats one site's robots.txt


def _robots_answer(request: dict[str, Any]) -> dict[str, Any]:
    for key in ("robots", "url", "agent"):
        if not isinstance(request[key], str):
            raise ValueError(f"'{key}' must be a string")
    status = request.get("status", 200)
    if isinstance(status, bool) or not isinstance(status, int):
        raise ValueError("'status' must be an integer HTTP status")
    return asdict(_parsed_robots(request["robots"], status).check(request["url"],
                                                                  request["agent"]))


def _stage_tool(stage_name: str, file: Path | None, batch: Path | None, json_out: bool,
                options: dict[str, Any] | None = None) -> None:
    from processing import stage as registry
    from processing.types import Document

    stage = registry.create(stage_name, **(options or {}))

    def measure(obj: dict[str, Any]) -> dict[str, Any]:
        doc = Document(id=str(obj.get("id", "")), text=str(obj["text"]))
        [out] = list(stage.run([doc]))
        return dict(out.attributes)

    if batch is not None:
        run_batch(batch, measure, ("text",))
        return
    if file is None:
        raise InvalidInput("give a text FILE or --batch FILE.jsonl")
    if not file.exists():
        raise InvalidInput(f"{file}: no such file")
    attrs = measure({"id": file.name, "text": file.read_text(encoding="utf-8", errors="replace")})
    if json_out:
        print_json(attrs)
        return
    for key, value in attrs.items():
        typer.echo(f"{key}: {json.dumps(value, ensure_ascii=False)}")


JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
TextFile = Annotated[Path | None, typer.Argument(help="A UTF-8 text file.")]


@app.command("langid")
def langid(file: TextFile = None, batch: BatchOption = None, json_out: JsonFlag = False) -> None:
    """Language and score (fastText lid.176) of a text file."""
    _stage_tool("langid_v1", file, batch, json_out)


@app.command("quality")
def quality(file: TextFile = None, batch: BatchOption = None, json_out: JsonFlag = False) -> None:
    """Every Gopher, C4 and FineWeb quality signal of a text file."""
    _stage_tool("quality_v1", file, batch, json_out)


@app.command("pii")
def pii(file: TextFile = None, batch: BatchOption = None, json_out: JsonFlag = False) -> None:
    """Personal data found in a text file (presidio), with spans and counts."""
    _stage_tool("pii_v2", file, batch, json_out)


@app.command("badwords")
def badwords(
    file: TextFile = None,
    badwords_list: Annotated[list[Path] | None, typer.Option(
        "--badwords-list", help="A list file, one term a line (repeat for several).")] = None,
    batch: BatchOption = None,
    json_out: JsonFlag = False,
) -> None:
    """Bad-words matches of a text file, per list and per language (C4's rule)."""
    if not badwords_list:
        raise InvalidInput("give at least one --badwords-list FILE (govcat ships none; "
                           "docs/content-filters.md says where to get one)")
    _stage_tool("badwords_v1", file, batch, json_out,
                {"lists": [str(p) for p in badwords_list]})


@app.command("toxicity")
def toxicity(
    file: TextFile = None,
    model: Annotated[Path | None, typer.Option(
        help="A joblib model (default: alt-profanity-check's bundled one).")] = None,
    batch: BatchOption = None,
    json_out: JsonFlag = False,
) -> None:
    """Toxicity score (0..1) of a text file."""
    _stage_tool("toxicity_v1", file, batch, json_out,
                {"model_path": str(model) if model else None})


@app.command("decontam")
def decontam(
    ctx: typer.Context,
    file: TextFile = None,
    against: Annotated[list[str] | None, typer.Option(
        "--set", help="A registered evaluation set (repeat; default: all of them).")] = None,
    batch: BatchOption = None,
    json_out: JsonFlag = False,
) -> None:
    """N-gram hits and longest overlap of a text file with the registered evaluation sets."""
    from catalog.cli.common import catalog
    from catalog.services import decontam as svc

    sets = svc.stage_options(catalog(ctx))
    if against:
        unknown = sorted(set(against) - {s["name"] for s in sets})
        if unknown:
            raise InvalidInput(f"no evaluation set {unknown[0]!r} (`govcat decontam list`)")
        sets = [s for s in sets if s["name"] in against]
    _stage_tool("decontam_v1", file, batch, json_out, {"sets": sets})


@app.command("fasttext")
def fasttext(
    file: TextFile = None,
    model: Annotated[Path | None, typer.Option(
        help="A fastText supervised model (.bin or .ftz).")] = None,
    k: Annotated[int, typer.Option(help="The k most probable labels (-1: all).")] = -1,
    batch: BatchOption = None,
    json_out: JsonFlag = False,
) -> None:
    """Label probabilities of a fastText quality classifier for a text file."""
    if model is None:
        raise InvalidInput("give --model PATH: a fastText supervised model")
    _stage_tool("fasttext_classifier_v1", file, batch, json_out,
                {"model_path": str(model), "k": k})


@app.command("license")
def license_(
    path: Annotated[Path | None, typer.Argument(help="A file or a folder.")] = None,
    batch: BatchOption = None,
    json_out: JsonFlag = False,
) -> None:
    """The concluded SPDX licence of a file (or of every file of a folder), with evidence."""
    from ingest.licensing.documents import conclude_path

    if batch is not None:
        run_batch(batch, lambda o: conclude_path(Path(o["path"])), ("path",))
        return
    if path is None:
        raise InvalidInput("give a FILE or folder, or --batch FILE.jsonl")
    if not path.exists():
        raise InvalidInput(f"{path}: no such file or folder")
    result = conclude_path(path)
    if json_out:
        print_json(result)
        return
    for rel, c in (result["files"].items() if "files" in result else [(str(path), result)]):
        typer.echo(f"{rel}: {c['expression'] or 'no licence found'}"
                   f"{'  [conflict]' if c.get('conflict') else ''}")
        for step in c["chain"]:
            typer.echo(f"    {step}")
