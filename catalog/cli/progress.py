"""The one progress display of the CLI: counts, rate per second, elapsed time — on stderr."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from catalog.cli.common import err_console

Advance = Callable[..., None]


class RateColumn(ProgressColumn):
    def __init__(self, unit: str):
        super().__init__()
        self.unit = unit

    def render(self, task) -> Text:
        elapsed = task.elapsed or 0
        rate = task.completed / elapsed if elapsed > 0 else 0
        return Text(f"{rate:,.0f} {self.unit}/s", style="progress.data.speed")


class MBColumn(ProgressColumn):
    def render(self, task) -> Text:
        mb = task.fields.get("bytes", 0) / 1e6
        elapsed = task.elapsed or 0
        rate = mb / elapsed if elapsed > 0 else 0
        return Text(f"{mb:,.1f} MB ({rate:,.1f} MB/s)", style="progress.download")


@contextmanager
def counting(description: str, *, unit: str = "docs", total: int | None = None,
             every: int = 250, show_bytes: bool = True) -> Iterator[Advance]:
    """Yields `advance(n=1, nbytes=0, task=None)`; redraws at most every `every` items.

    `task` names a line of its own (a stage of `govcat run`); without it the count goes to
    `description`. The display starts with the first report, so an error raised before any
    work prints alone.
    """
    columns: list[ProgressColumn] = [SpinnerColumn(), TextColumn("{task.description:<8}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    else:
        columns += [TextColumn("{task.completed:,} " + unit)]
    columns += [RateColumn(unit)]
    if show_bytes:
        columns += [MBColumn()]
    columns += [TimeElapsedColumn()]
    progress = Progress(*columns, console=err_console, transient=False)
    tasks: dict[str, int] = {}
    pending: dict[str, list[int]] = {}  # per task: items and bytes not drawn yet
    seen: dict[str, int] = {}  # per task: bytes drawn so far

    def flush(name: str) -> None:
        items, nbytes = pending.pop(name)
        seen[name] += nbytes
        progress.update(tasks[name], advance=items, bytes=seen[name])

    def advance(n: int = 1, nbytes: int = 0, task: str | None = None) -> None:
        name = task or description
        if name not in tasks:
            if not tasks:
                progress.start()
            tasks[name] = progress.add_task(name, total=total, bytes=0)
            seen[name] = 0
        counts = pending.setdefault(name, [0, 0])
        counts[0] += n
        counts[1] += nbytes
        if counts[0] >= every:
            flush(name)

    try:
        yield advance
    finally:
        for name in list(pending):
            flush(name)
        if tasks:
            progress.stop()
