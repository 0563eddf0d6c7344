"""Executors: run shard tasks (`processing.pipeline.ShardTask`) locally or on Ray.

    from processing.executor import LocalExecutor
    from processing.pipeline import ShardTask, StageSpec

    tasks = [ShardTask(doc_shard, attr_shard, (StageSpec("quality_v1"),)) for ...]
    report = LocalExecutor().run(tasks, done=record, expected=recorded_sha256_by_output)

`create_executor("local" | "ray", **options)` picks one by name (the CLI's `--executor`).

The names below load on first use: the executors import `processing.pipeline`, which is heavy,
so this package must not import them eagerly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from processing.executor.base import (
        DuplicateOutputError,
        Executor,
        ExecutorError,
        RunReport,
        ShardFailure,
        ShardsFailedError,
    )
    from processing.executor.local import LocalExecutor
    from processing.executor.ray_executor import RayExecutor

_WHERE = {
    "DuplicateOutputError": "base",
    "Executor": "base",
    "ExecutorError": "base",
    "RunReport": "base",
    "ShardFailure": "base",
    "ShardsFailedError": "base",
    "LocalExecutor": "local",
    "RayExecutor": "ray_executor",
}
EXECUTOR_NAMES = {"local": "LocalExecutor", "ray": "RayExecutor"}

__all__ = [
    "DuplicateOutputError",
    "EXECUTOR_NAMES",
    "Executor",
    "ExecutorError",
    "LocalExecutor",
    "RayExecutor",
    "RunReport",
    "ShardFailure",
    "ShardsFailedError",
    "create_executor",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def create_executor(kind: str = "local", **options: Any) -> Executor:
    """The executor called `kind` ("local" or "ray"), built with `options`."""
    from processing.executor.base import ExecutorError

    cls_name = EXECUTOR_NAMES.get(kind)
    if cls_name is None:
        raise ExecutorError(
            f"unknown executor {kind!r}; known executors: {', '.join(sorted(EXECUTOR_NAMES))}"
        )
    return __getattr__(cls_name)(**options)
