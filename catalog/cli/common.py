"""Shared CLI pieces: the catalog held on the context, option aliases, output helpers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from catalog.context import Catalog
from catalog.settings import load_settings

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
PolicyArgument = Annotated[str, typer.Argument(
    help="A built-in pack, a policy file, or a stored policy (name or name@version).")]
SourcesOption = Annotated[str | None, typer.Option(
    "--sources", help="Comma-separated source slugs (default: all).")]


def split_slugs(value: str | None) -> list[str] | None:
    return [s.strip() for s in value.split(",") if s.strip()] if value else None


class CliState:
    """Global options, turned into a Catalog only when a command needs one."""

    def __init__(self, db_url: str | None, actor: str | None, home: Path | None):
        self.settings = load_settings(db_url=db_url, actor=actor, home=home)
        self._catalog: Catalog | None = None

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = Catalog(self.settings)
        return self._catalog

    def close(self) -> None:
        if self._catalog is not None:
            self._catalog.dispose()


def state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState(None, None, None)
    return root.obj


def catalog(ctx: typer.Context) -> Catalog:
    return state(ctx).catalog


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))
