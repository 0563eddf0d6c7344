"""Rich progress for long loops: counts, rate per second, elapsed time — on stderr."""

from __future__ import annotations

import time
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
             every: int = 250):
    """Yields `advance(n, nbytes)`; redraws at most every `every` items."""
    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    else:
        columns += [TextColumn("{task.completed:,} " + unit)]
    columns += [RateColumn(unit), MBColumn(), TimeElapsedColumn()]
    progress = Progress(*columns, console=err_console, transient=False)
    pending = [0, 0]
    with progress:
        task = progress.add_task(description, total=total, bytes=0)
        bytes_total = [0]

        def advance(n: int = 1, nbytes: int = 0) -> None:
            pending[0] += n
            pending[1] += nbytes
            if pending[0] >= every:
                bytes_total[0] += pending[1]
                progress.update(task, advance=pending[0], bytes=bytes_total[0])
                pending[0] = pending[1] = 0

        started = time.perf_counter()
        try:
            yield advance
        finally:
            bytes_total[0] += pending[1]
            progress.update(task, advance=pending[0], bytes=bytes_total[0])
            del started
