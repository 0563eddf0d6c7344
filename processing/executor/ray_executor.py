"""Shards as Ray tasks, for a cluster (or a local Ray instance).

Each task is `processing.pipeline.run_shard` as a Ray remote function, one CPU each, reading
and writing through the task's paths — so on a cluster the paths must be on storage every
node sees. Ray reuses worker processes, and the per-process stage cache in
`processing.pipeline` makes a model load once per Ray worker, as in the local executor.

If no Ray instance is connected, `run` starts one (`address=None`: a local instance; an
address or "auto": join that cluster) and shuts it down when the run ends; a Ray the caller
already started is used and left running. Ray is an optional extra: `pip install 'govcat[ray]'`.
Plain `ray` is enough; `ray[data]` is not needed.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any, ClassVar

from processing.executor.base import Executor, ShardSink
from processing.pipeline import ShardResult, ShardTask, run_shard
from processing.stage import MissingDependencyError

INSTALL_HINT = "pip install 'govcat[ray]'"


def _import_ray() -> ModuleType:
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise MissingDependencyError(
            f"the Ray executor needs the 'ray' package, which is not installed: {INSTALL_HINT}"
        ) from exc


def _run_shard_task(task: ShardTask) -> ShardResult:
    return run_shard(task)


class RayExecutor(Executor):
    """Shards as Ray tasks; starts (and later stops) a local Ray if none is connected."""

    name: ClassVar[str] = "ray"

    def __init__(
        self,
        *,
        address: str | None = None,
        num_cpus: int | None = None,
        init_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._ray = _import_ray()
        self.address = address
        self.num_cpus = num_cpus
        self.init_options = dict(init_options or {})

    def _execute(self, tasks: list[ShardTask], sink: ShardSink) -> None:
        ray = self._ray
        started_here = not ray.is_initialized()
        if started_here:
            options: dict[str, Any] = {"include_dashboard": False, **self.init_options}
            if self.num_cpus is not None and self.address is None:
                options["num_cpus"] = self.num_cpus
            ray.init(address=self.address, **options)
        try:
            remote = ray.remote(num_cpus=1)(_run_shard_task)
            positions = {remote.remote(task): position for position, task in enumerate(tasks)}
            pending = list(positions)
            try:
                while pending:
                    ready, pending = ray.wait(pending, num_returns=1)
                    for ref in ready:
                        self._collect(ref, positions[ref], sink)
            except BaseException:
                for ref in pending:
                    ray.cancel(ref)
                raise
        finally:
            if started_here:
                ray.shutdown()

    def _collect(self, ref: Any, position: int, sink: ShardSink) -> None:
        ray = self._ray
        try:
            result = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            # The shard's own exception, not Ray's wrapper with its remote traceback.
            cause = getattr(exc, "cause", None)
            sink.failure(position, cause if isinstance(cause, BaseException) else exc)
            return
        except ray.exceptions.RayError as exc:  # a worker died, an object was lost...
            sink.failure(position, exc)
            return
        sink.finished(position, result)
