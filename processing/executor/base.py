"""What every executor does around the shards: decide what to skip, report, collect failures.

An executor takes `ShardTask`s and runs `processing.pipeline.run_shard` on each, somewhere.
Resuming is the caller's record plus this rule: a task is skipped only when its output exists
*and* its sha256 equals the one the caller recorded for that output path (`expected`). An
output without a record — written just before a kill, before the caller could record it — is
redone, so a file is accepted only once the caller has seen it finish. `done(result)` runs in
the calling process, once per finished shard, in completion order; the caller records there.

A shard that fails does not stop the others: every other shard still finishes and is
reported through `done`, then `run` raises `ShardsFailedError` carrying the whole report.

Exceptions (all ValueError):

    ExecutorError
    ├── DuplicateOutputError   two tasks would write the same output path
    └── ShardsFailedError      some shards failed (the report lists them; the rest finished)

Ray being absent is `processing.stage.MissingDependencyError` (also an ImportError).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from common.atomic import file_sha256, stale_temp_files
from common.storage import as_path
from processing.pipeline import ShardResult, ShardTask

DoneCallback = Callable[[ShardResult], None]
ProgressCallback = Callable[[int], None]
ResultSink = Callable[[int, ShardResult], None]
FailureSink = Callable[[int, BaseException | str], None]


class ExecutorError(ValueError):
    """Base of the errors an executor reports."""


class DuplicateOutputError(ExecutorError):
    """Two tasks would write the same output path."""


@dataclass(frozen=True, slots=True)
class ShardFailure:
    task: ShardTask
    error: str  # "<ExceptionType>: <message>"
    exception: BaseException | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class RunReport:
    """What a run did, in task order (never completion order)."""

    completed: list[ShardResult] = field(default_factory=list)
    skipped: list[ShardTask] = field(default_factory=list)
    failed: list[ShardFailure] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(r.rows for r in self.completed)


@dataclass(frozen=True, slots=True)
class ShardSink:
    """Where an executor reports each shard, by its position in the tasks it was given; all
    three are called in the calling process."""

    result: ResultSink
    failure: FailureSink
    progress: ProgressCallback | None = None

    def finished(self, position: int, result: ShardResult) -> None:
        """A shard that ran in another process finished: record it, then count its rows."""
        self.result(position, result)
        if self.progress:
            self.progress(result.rows)


class ShardsFailedError(ExecutorError):
    """Some shards failed; the others finished and were reported through `done`."""

    def __init__(self, report: RunReport) -> None:
        self.report = report
        first = report.failed[0]
        more = f" (and {len(report.failed) - 1} more)" if len(report.failed) > 1 else ""
        super().__init__(
            f"{len(report.failed)} of {len(report.failed) + len(report.completed)} shards "
            f"failed; first: {first.task.input_path}: {first.error}{more}"
        )


def describe_error(error: BaseException | str) -> str:
    if isinstance(error, str):
        return error
    return f"{type(error).__name__}: {error}"


def is_done(task: ShardTask, expected: Mapping[str, str] | None) -> bool:
    """Whether `task`'s output exists with exactly the content the caller recorded."""
    if not expected:
        return False
    recorded = expected.get(task.output_path)
    if recorded is None or not as_path(task.output_path).is_file():  # or an object
        return False
    return file_sha256(task.output_path) == recorded


class Executor(ABC):
    """Runs shard tasks; subclasses decide where (`_execute`)."""

    name: ClassVar[str]

    def run(
        self,
        tasks: Iterable[ShardTask],
        *,
        done: DoneCallback | None = None,
        expected: Mapping[str, str] | None = None,
        skip_existing: bool = True,
        progress: ProgressCallback | None = None,
    ) -> RunReport:
        """Run every task not already done; see the module docstring for the rules.

        `expected` maps an output path (as written in the task) to the sha256 the caller
        recorded for it. `progress(n)` is told how many documents were processed since its
        last call. `done` raising stops the run (running shards are let finish) and
        propagates.
        """
        tasks = list(tasks)
        outputs: dict[str, ShardTask] = {}
        for task in tasks:
            other = outputs.setdefault(os.path.abspath(task.output_path), task)
            if other is not task:
                raise DuplicateOutputError(
                    f"{other.input_path} and {task.input_path} both write {task.output_path}"
                )
        report = RunReport()
        todo: list[int] = []
        for index, task in enumerate(tasks):
            if skip_existing and is_done(task, expected):
                report.skipped.append(task)
            else:
                todo.append(index)
        for index in todo:
            # Left by a writer killed before its rename; within one run no two writers share
            # an output, so any such file is dead.
            for stale in stale_temp_files(tasks[index].output_path):
                stale.unlink(missing_ok=True)

        results: dict[int, ShardResult] = {}
        failures: dict[int, ShardFailure] = {}

        def on_result(position: int, result: ShardResult) -> None:
            results[todo[position]] = result
            if done is not None:
                done(result)

        def on_failure(position: int, error: BaseException | str) -> None:
            index = todo[position]
            exception = error if isinstance(error, BaseException) else None
            failures[index] = ShardFailure(tasks[index], describe_error(error), exception)

        if todo:
            self._execute([tasks[i] for i in todo], ShardSink(on_result, on_failure, progress))
        report.completed = [results[i] for i in sorted(results)]
        report.failed = [failures[i] for i in sorted(failures)]
        if report.failed:
            raise ShardsFailedError(report) from report.failed[0].exception
        return report

    @abstractmethod
    def _execute(self, tasks: list[ShardTask], sink: ShardSink) -> None:
        """Run `tasks`; report each to `sink` by its position in `tasks`."""
