"""Shards as Ray tasks, for a cluster (or a local Ray instance).

Each task is `processing.pipeline.run_shard` as a Ray remote function, one CPU each, reading
and writing through the task's paths — so on a cluster the paths must be on storage every
node sees. Ray reuses worker processes, and the per-process stage cache in
`processing.pipeline` makes a model load once per Ray worker, as in the local executor.

If no Ray instance is connected, `run` starts one (`address=None`: a local instance) or
attaches to a running cluster (`address`: "auto", "HOST:PORT" of the head's GCS, or
"ray://HOST:PORT" through Ray Client), and disconnects when the run ends — a cluster it attached
to keeps running. A Ray the caller already connected is used and left connected. Ray is an
optional extra: `pip install 'govcat[ray]'`. Plain `ray` is enough; `ray[data]` is not needed;
"ray://" addresses also need `ray[client]` (docs/ray.md).

`env_vars` reach every task's worker process (a data root on an object store: the store's
`AWS_*` variables with `AWS_ENDPOINT_URL`, docs/ray.md) as an argument of the task, set in the
worker's environment before the shard runs. Not through a `runtime_env`: Ray's runtime-env
agent writes every `env_vars` it sets up, values included, to its log on each node
(`runtime_env_agent.log`), and the job's runtime env is shown by the dashboard. A task's
arguments are neither logged nor shown, and the wrapper prints as a count, never the values.

An address is checked when the executor is made, so a run fails before any work and in
seconds: Ray itself retries an address where nothing listens for minutes, and one that
listens but is not a Ray head for tens of seconds, a warning line each time. So the head's
port must accept a TCP connection within `CONNECT_TIMEOUT` seconds, then answer as a Ray GCS
within about as long again (asked from a child process, which can be bounded and silenced).
Errors are `ExecutorError` (a ValueError: one line at the CLI edge); "ray://" without
`ray[client]` is `MissingDependencyError` with the install line.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from types import ModuleType
from typing import Any, ClassVar

from processing.executor.base import Executor, ExecutorError, ShardSink
from processing.pipeline import ShardResult, ShardTask, run_shard
from processing.stage import MissingDependencyError

INSTALL_HINT = "pip install 'govcat[ray]'"
CLIENT_INSTALL_HINT = "pip install 'ray[client]'"
CLIENT_PREFIX = "ray://"
CONNECT_TIMEOUT = 5.0  # seconds for the head to accept a connection, and to answer


def _import_ray() -> ModuleType:
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise MissingDependencyError(
            f"the Ray executor needs the 'ray' package, which is not installed: {INSTALL_HINT}"
        ) from exc


def _split_host_port(address: str, given: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    host = host.strip("[]")  # an IPv6 literal, [::1]:6379
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ExecutorError(
            f"Ray address {given!r} is not auto, HOST:PORT or ray://HOST:PORT")
    return host, int(port)


def _gcs_address(ray: ModuleType, address: str) -> str:
    """HOST:PORT of the cluster "auto" or a bare address means, the way `ray.init` finds it."""
    try:
        from ray._private.services import canonicalize_bootstrap_address
    except ImportError:  # pragma: no cover - a Ray whose private layout moved: no resolving
        return address if address != "auto" else ""
    try:
        return canonicalize_bootstrap_address(address) or ""
    except ConnectionError as exc:  # "auto" with no RAY_ADDRESS and no cluster started here
        raise ExecutorError(
            f"no Ray cluster to attach to at {address!r}: none was started on this machine and "
            "RAY_ADDRESS is not set; give the head's HOST:PORT") from exc
    except ValueError as exc:
        raise ExecutorError(
            f"Ray address {address!r} is not auto, HOST:PORT or ray://HOST:PORT") from exc


def check_address(ray: ModuleType, address: str, *, timeout: float = CONNECT_TIMEOUT,
                  ask_head: bool = True) -> None:
    """Raise ExecutorError within about `timeout` seconds unless a Ray head answers at
    `address`: its port must accept a connection and (`ask_head`) answer as a Ray GCS."""
    if address.startswith(CLIENT_PREFIX):
        target, ask_head = address[len(CLIENT_PREFIX):], False  # a Ray Client server, no GCS
        _split_host_port(target, address)
        if importlib.util.find_spec("grpc") is None:
            raise MissingDependencyError(
                f"Ray address {address!r} goes through Ray Client, which needs the 'ray[client]' "
                f"extra: {CLIENT_INSTALL_HINT} (or give the head's HOST:PORT from a node of the "
                "cluster)")
    else:
        target = _gcs_address(ray, address)
        if not target:
            return
    shown = address if target == address or address.startswith(CLIENT_PREFIX) \
        else f"{address} ({target})"
    host, port = _split_host_port(target, address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (
            exc.strerror or type(exc).__name__).lower()
        raise ExecutorError(
            f"cannot reach the Ray cluster at {shown}: {reason}; is `ray start --head` running "
            "there, and is the port open from this machine?") from None
    if ask_head:
        problem = _ask_gcs(target, timeout)
        if problem:
            raise ExecutorError(f"cannot attach to the Ray cluster at {shown}: {problem}")


# Run in a child interpreter: Ray's GCS client retries past its own timeout and logs each
# retry from C++ straight to stderr, so only a process of its own can be bounded and silenced.
_ASK_GCS = """
import sys
try:
    from ray._raylet import InnerGcsClient
except ImportError:
    sys.exit(3)
try:
    InnerGcsClient.standalone(sys.argv[1], None, int(sys.argv[2]))
except Exception as exc:
    print((str(exc).strip().splitlines() or [type(exc).__name__])[0][:200])
    sys.exit(1)
"""


def _ask_gcs(target: str, timeout: float) -> str:
    """Why `target` is not a Ray GCS ("" when it is, or when this Ray cannot be asked)."""
    limit = timeout + 5  # and the time to start Python and import Ray
    try:
        done = subprocess.run(
            [sys.executable, "-c", _ASK_GCS, target, str(int(timeout * 1000))],
            capture_output=True, text=True, timeout=limit, check=False)
    except subprocess.TimeoutExpired:
        return f"no answer within {limit:g} s"
    if done.returncode == 1:
        return done.stdout.strip() or "not a Ray GCS"
    return ""


class _Environment:
    """Variables a task sets in its worker's environment; prints as a count, never values."""

    __slots__ = ("values",)

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = {str(k): str(v) for k, v in values.items()}

    def __repr__(self) -> str:
        return f"<{len(self.values)} environment variables>"

    def __getstate__(self) -> dict[str, str]:
        return self.values

    def __setstate__(self, state: dict[str, str]) -> None:
        self.values = state


def _run_shard_task(task: ShardTask, env: _Environment | None = None) -> ShardResult:
    if env is not None:
        # Before any store filesystem is made in this worker: Ray gives a worker process to one
        # job only, and every task of the job carries the same variables.
        os.environ.update(env.values)
    return run_shard(task)


class RayExecutor(Executor):
    """Shards as Ray tasks; starts (and later stops) a local Ray, or attaches to (and later
    detaches from) the cluster at `address`, if none is connected."""

    name: ClassVar[str] = "ray"

    def __init__(
        self,
        *,
        address: str | None = None,
        num_cpus: int | None = None,
        init_options: Mapping[str, Any] | None = None,
        env_vars: Mapping[str, str] | None = None,
    ) -> None:
        self._ray = _import_ray()
        if address is not None:
            address = address.strip()
            if not address:
                raise ExecutorError("the Ray address is empty; give auto, HOST:PORT or "
                                    "ray://HOST:PORT")
            check_address(self._ray, address)
        self.address = address
        self.num_cpus = num_cpus
        self.init_options = dict(init_options or {})
        self._env = _Environment(env_vars) if env_vars else None

    def __repr__(self) -> str:  # never the environment it carries
        return f"RayExecutor(address={self.address!r})"

    def _execute(self, tasks: list[ShardTask], sink: ShardSink) -> None:
        ray = self._ray
        started_here = not ray.is_initialized()
        if started_here:
            options: dict[str, Any] = {"include_dashboard": False, **self.init_options}
            if self.num_cpus is not None and self.address is None:
                options["num_cpus"] = self.num_cpus
            self._init(options)
        try:
            remote = ray.remote(num_cpus=1)(_run_shard_task)
            positions = {remote.remote(task, self._env): position
                         for position, task in enumerate(tasks)}
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

    def _init(self, options: dict[str, Any]) -> None:
        ray = self._ray
        if self.address is None:
            ray.init(**options)
            return
        # The cluster may have gone since the executor was made.
        check_address(ray, self.address, ask_head=False)
        try:
            ray.init(address=self.address, **options)
        except (ConnectionError, RuntimeError) as exc:  # RuntimeError: a Ray version mismatch
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise ExecutorError(f"cannot attach to the Ray cluster at {self.address}: "
                                f"{first}") from None

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
