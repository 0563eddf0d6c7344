"""The default executor: one shard per task, across the cores of this machine.

Workers are processes of a `ProcessPoolExecutor` started with **forkserver** (spawn where
forkserver does not exist). Not fork: the calling process holds threads (pyarrow's pools, a
progress bar, Ray's client) and open database connections, and a forked child inherits a
copy of locks held by threads that do not exist in it, and the connections' sockets. A
forkserver child is forked from a small clean server process instead — as safe as spawn, and
cheaper per worker since the server has already imported the interpreter's start-up modules.

Each worker keeps its stages between shards (`processing.pipeline.build_stages` caches them
per process), so a model loads once per worker. A worker watches its parent and exits when
the parent dies (a `kill -9` of the run), rather than finishing shards nobody will record.

`workers=1` runs the shards in the calling process, without a pool: for debugging, and for
progress per record batch rather than per shard.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing.connection import wait as wait_for_handles
from typing import ClassVar

from processing.executor.base import Executor, ExecutorError, ShardSink
from processing.pipeline import ShardTask, run_shard


def default_start_method() -> str:
    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods else "spawn"


class LocalExecutor(Executor):
    """Shards in parallel processes on this machine (`workers` defaults to the core count)."""

    name: ClassVar[str] = "local"

    def __init__(self, workers: int | None = None, *, start_method: str | None = None) -> None:
        workers = (os.cpu_count() or 1) if workers is None else workers
        if workers < 1:
            raise ExecutorError(f"workers must be >= 1, got {workers}")
        method = start_method or default_start_method()
        if method == "fork":
            raise ExecutorError("start method 'fork' is unsafe here; use forkserver or spawn")
        if method not in multiprocessing.get_all_start_methods():
            raise ExecutorError(f"start method {method!r} is not available on this platform")
        self.workers = workers
        self.start_method = method

    def _execute(self, tasks: list[ShardTask], sink: ShardSink) -> None:
        if self.workers == 1:
            self._in_process(tasks, sink)
        else:
            self._in_pool(tasks, sink)

    def _in_process(self, tasks: list[ShardTask], sink: ShardSink) -> None:
        for position, task in enumerate(tasks):
            try:
                # rows are counted per record batch here, not once the shard is done
                result = run_shard(task, progress=sink.progress)
            except Exception as exc:  # noqa: BLE001 - as in a pool: the shard fails, not the run
                sink.failure(position, exc)
            else:
                sink.result(position, result)

    def _in_pool(self, tasks: list[ShardTask], sink: ShardSink) -> None:
        pool = ProcessPoolExecutor(
            max_workers=min(self.workers, len(tasks)),
            mp_context=multiprocessing.get_context(self.start_method),
            initializer=_init_worker,
        )
        try:
            futures: dict[Future, int] = {
                pool.submit(run_shard, task): position for position, task in enumerate(tasks)
            }
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                # Completion order within one wake-up is arbitrary; task order keeps it stable.
                for future in sorted(finished, key=futures.__getitem__):
                    position = futures[future]
                    error = future.exception()
                    if error is not None:
                        sink.failure(position, error)
                    else:
                        sink.finished(position, future.result())
        finally:
            # On an error in `done` or Ctrl-C: drop what has not started, let running shards
            # finish their (atomic) writes; they will be redone since nobody recorded them.
            pool.shutdown(wait=True, cancel_futures=True)


def _init_worker() -> None:
    # A pool worker holds both ends of its call queue, so it never reads EOF when the parent
    # is killed: without this watch it finishes its shard and then waits forever. The parent's
    # sentinel (a pipe the parent holds open) becomes ready when the parent dies, under
    # forkserver and spawn alike.
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def exit_with_parent() -> None:
        wait_for_handles([parent.sentinel])
        os._exit(1)

    threading.Thread(target=exit_with_parent, name="govcat-parent-watch", daemon=True).start()
