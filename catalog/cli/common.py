"""Shared CLI pieces: the catalog held on the context, option aliases, output helpers."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table as _RichTable
from rich.text import Text

if TYPE_CHECKING:
    from catalog.context import Catalog
    from catalog.settings import Settings

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

    def __init__(self, db_url: str | None, actor: str | None, home: Path | str | None,
                 data_root: str | None = None):
        self._options = (db_url, actor, home, data_root)
        self._settings: Settings | None = None
        self._catalog: Catalog | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from catalog.settings import load_settings

            db_url, actor, home, data_root = self._options
            self._settings = load_settings(db_url=db_url, actor=actor, home=home,
                                           data_root=data_root)
        return self._settings

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            from catalog.context import Catalog

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


def print_json(value: Any, *, line: bool = False) -> None:
    """Print a value as indented JSON, or as one JSON line (`line=True`, for JSON Lines)."""
    typer.echo(json.dumps(value, indent=None if line else 2, ensure_ascii=False, default=str))


class Table(_RichTable):
    """Every table the CLI prints. Identifiers are never cut, nor is anything else.

    A narrow terminal makes rich shrink columns and end long values with "…"; a source slug,
    document id, rule id, run id, host or licence expression cut that way is useless. Here
    every column folds a value too long for it onto more lines instead, and the identifier
    columns (`ids`) are the last to shrink, each as long as the other columns keep a few
    characters. An identifier cell carries its own fold setting because rich crops, rather
    than folds, a column that must not wrap.
    """

    #: characters each other column keeps before an identifier column may stay unshrunk
    KEEP = 8

    def __init__(self, *headers: str, ids: Collection[str] = (), title: str | None = None,
                 **options: Any):
        super().__init__(title=title, **options)
        self._ids: list[int] = []
        for header in headers:
            self.add_column(header, identifier=header in ids)

    def add_column(self, header: str = "", *, identifier: bool = False,  # type: ignore[override]
                   **options: Any) -> None:
        if identifier:
            self._ids.append(len(self.columns))
            header = _folding(header)
        options.setdefault("overflow", "fold")
        super().add_column(header, **options)

    def add_row(self, *cells: Any, **options: Any) -> None:  # type: ignore[override]
        super().add_row(*(_folding(cell) if i in self._ids else cell
                          for i, cell in enumerate(cells)), **options)

    def __rich_console__(self, console: Console, options: Any) -> Any:
        widths = [max((Measurement.get(console, options, cell).maximum
                       for cell in (column.header, *column.cells)), default=1)
                  for column in self.columns]
        left = options.max_width - len(self.columns) * 3 - 1  # padding and rules
        left -= sum(min(w, self.KEEP) for i, w in enumerate(widths) if i not in self._ids)
        for i in sorted(self._ids, key=widths.__getitem__):
            self.columns[i].no_wrap = widths[i] <= left
            left -= widths[i] if self.columns[i].no_wrap else min(widths[i], self.KEEP)
        return super().__rich_console__(console, options)


def _folding(cell: Any) -> Any:
    return Text(cell, no_wrap=False, overflow="fold") if isinstance(cell, str) else cell
