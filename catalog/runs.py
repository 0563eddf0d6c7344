"""The run lifecycle, written once: ingest, gate, `govcat run` and release cuts all use it.

    with RunLifecycle(catalog, kind="ingest", lock=f"source:{slug}", source_id=...,
                      config={...}) as run:
        ...                                  # run.run_id, run.resumed, run.config
        run.record_shard(kind="documents", path=..., n_docs=...)
        run.stats = {...}                    # saved with the final status

1. **lock** — the named lock (catalog/locks.py) is taken first, so one source is ingested, one
   process run resumed, one release cut by one command at a time; a second command exits with
   one line naming the holder's run, pid and host.
2. **stale runs** — any run still marked `running` whose lock no live process holds was
   killed: it becomes `interrupted`, and the temporary files in its own folders go (never
   those of a live run: they are behind a lock this command could not take).
3. **open or resume** — with `resume_key`, an unfinished run of the same kind and key is
   reused (`run.resumed`); otherwise a new run row is created. Audit `<prefix>.start` or
   `<prefix>.resume`.
4. **work** — shards are recorded as they are written (`record_shard`), stats saved with
   `save_stats()` when a command wants a checkpoint.
5. **end** — status `completed`, `interrupted` (Ctrl-C, SIGTERM) or `failed` (any other
   exception), finished time and stats are written, audit `<prefix>.<status>`, lock released.

See docs/architecture.md, "How a run resumes".
"""

from __future__ import annotations

import gc
import os
import signal
import socket
import threading
import traceback
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from catalog.locks import NamedLock, is_held
from catalog.models import Run, Shard, utcnow
from catalog.versioning import code_version
from common.atomic import file_sha256, temp_owner

AUDIT_PREFIX = {"ingest": "ingest", "gate": "gate", "process": "run", "release": "release"}


class Interrupted(KeyboardInterrupt):
    """SIGTERM, turned into what Ctrl-C raises so that both end a run as `interrupted`."""


def _on_sigterm(signum, frame):  # pragma: no cover - exercised by subprocess tests
    raise Interrupted()


def remove_temp_files(dirs: Iterable[Path]) -> int:
    """Remove writers' temporary files (common.atomic names) under `dirs`; returns how many."""
    removed = 0
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in directory.rglob(".*.tmp-*"):
            if path.is_file() and temp_owner(path) is not None:
                path.unlink(missing_ok=True)
                removed += 1
    return removed


class RunLifecycle:
    def __init__(self, catalog, *, kind: str, lock: str | None = None,
                 config: Mapping[str, Any] | None = None, source_id: int | None = None,
                 policy_id: int | None = None, resume_key: Mapping[str, Any] | None = None):
        self.catalog = catalog
        self.kind = kind
        self.prefix = AUDIT_PREFIX.get(kind, kind)
        # A command with nothing to serialise still takes a lock of its own, so that whether
        # it is alive can be told by trying it.
        self.lock_name = lock or f"{kind}:{uuid.uuid4().hex}"
        self.initial_config = dict(config or {})
        self.source_id = source_id
        self.policy_id = policy_id
        self.resume_key = dict(resume_key) if resume_key is not None else None
        self.stats: dict[str, Any] = {}
        self.status = "failed"
        # The audit event's `after`: a dict, or a callable evaluated at the end.
        self.end_audit: Any = None
        self.run_id: int = 0
        self.resumed = False
        self.config: dict[str, Any] = {}
        self._lock = NamedLock(catalog, self.lock_name)
        self._previous_sigterm: Any = None

    # ------------------------------------------------------------------ enter
    def __enter__(self) -> RunLifecycle:
        if not self._lock.try_acquire():
            self._lock.acquire(holder=self._holder())
        try:
            self._close_stale()
            self._open()
        except BaseException:
            self._lock.release()
            raise
        if threading.current_thread() is threading.main_thread():
            self._previous_sigterm = signal.signal(signal.SIGTERM, _on_sigterm)
        return self

    def _holder(self) -> str | None:
        with self.catalog.session() as s:
            runs = s.execute(select(Run).where(Run.status == "running")
                             .order_by(Run.id.desc())).scalars().all()
        for run in runs:
            owner = (run.config or {}).get("owner") or {}
            if owner.get("lock") == self.lock_name:
                return (f"{run.kind} run {run.id} (pid {owner.get('pid')} on "
                        f"{owner.get('host')}, started {run.started_at:%Y-%m-%d %H:%M:%S}Z "
                        f"by {run.actor}) holds it")
        return None

    def _close_stale(self) -> None:
        """Runs left `running` by a killed process become `interrupted`; their temp files go."""
        with self.catalog.session() as s:
            running = s.execute(select(Run).where(Run.status == "running")).scalars().all()
        dead = []
        for run in running:
            owner = (run.config or {}).get("owner") or {}
            lock = owner.get("lock")
            if lock == self.lock_name or (lock is not None and not is_held(self.catalog, lock)):
                dead.append(run)
            elif lock is None and run.kind == self.kind and (
                    self.source_id is None or run.source_id == self.source_id):
                dead.append(run)  # written before runs recorded their lock: ours to close
        if not dead:
            return
        with self.catalog.uow() as uow:
            for run in dead:
                uow.session.execute(update(Run).where(Run.id == run.id, Run.status == "running")
                                    .values(status="interrupted", finished_at=utcnow()))
                uow.audit.record(f"{AUDIT_PREFIX.get(run.kind, run.kind)}.interrupted", "run",
                                 str(run.id), after={"found_by": "next start"})
            uow.commit()
        for run in dead:
            remove_temp_files(self.catalog.layout.run_dirs(run.id))

    def _owner(self) -> dict[str, Any]:
        return {"lock": self.lock_name, "pid": os.getpid(), "host": socket.gethostname()}

    def _open(self) -> None:
        with self.catalog.uow() as uow:
            previous = None
            if self.resume_key is not None:
                candidates = uow.session.execute(
                    select(Run).where(Run.kind == self.kind, Run.policy_id == self.policy_id)
                    .order_by(Run.id.desc())).scalars().all()
                for run in candidates:
                    same = {k: run.config.get(k) for k in self.resume_key} == self.resume_key
                    if same:
                        previous = run if run.status != "completed" else None
                        break
            if previous is not None:
                previous.status = "running"
                previous.config = {**previous.config, "owner": self._owner()}
                uow.session.add(previous)
                uow.audit.record(f"{self.prefix}.resume", "run", str(previous.id),
                                 after=self.resume_key)
                uow.commit()
                self.run_id, self.resumed = previous.id, True
                self.config = dict(previous.config)
                self.stats = dict(previous.stats or {})
                return
            config = {**self.initial_config, **(self.resume_key or {}), "owner": self._owner()}
            run = Run(kind=self.kind, source_id=self.source_id, policy_id=self.policy_id,
                      actor=uow.actor, started_at=utcnow(), code_version=code_version(),
                      config=config)
            uow.session.add(run)
            uow.session.flush()
            audit = {k: v for k, v in config.items() if k != "owner"}
            uow.audit.record(f"{self.prefix}.start", "run", str(run.id), after=audit)
            uow.commit()
            self.run_id, self.config = run.id, dict(config)

    # ------------------------------------------------------------------ during
    def set_config(self, **values: Any) -> None:
        self.config.update(values)
        with self.catalog.uow() as uow:
            uow.session.execute(update(Run).where(Run.id == self.run_id)
                                .values(config=dict(self.config)))
            uow.commit()

    def save_stats(self, stats: Mapping[str, Any] | None = None, session=None) -> None:
        if stats is not None:
            self.stats = dict(stats)
        stmt = update(Run).where(Run.id == self.run_id).values(stats=dict(self.stats))
        if session is not None:
            session.execute(stmt)
            return
        with self.catalog.uow() as uow:
            uow.session.execute(stmt)
            uow.commit()

    def recorded_shards(self) -> dict[str, Shard]:
        with self.catalog.session() as s:
            rows = s.execute(select(Shard).where(Shard.run_id == self.run_id)).scalars().all()
        return {r.path: r for r in rows}

    def record_shard(self, *, kind: str, path: Path, n_docs: int, stage: str | None = None,
                     sha256: str | None = None, n_bytes: int | None = None,
                     source_id: int | None = None, session=None) -> Shard:
        """Record a file written under the data root as a shard of this run (idempotent)."""
        rel = self.catalog.layout.relative(path)

        def _write(s) -> Shard:
            existing = s.execute(select(Shard).where(Shard.path == rel)).scalars().first()
            if existing is not None:
                existing.sha256 = sha256 or file_sha256(path)
                existing.n_docs = n_docs
                existing.n_bytes = n_bytes if n_bytes is not None else path.stat().st_size
                s.add(existing)
                s.flush()
                return existing
            shard = Shard(run_id=self.run_id, source_id=source_id, kind=kind, stage=stage,
                          path=rel, sha256=sha256 or file_sha256(path), n_docs=n_docs,
                          n_bytes=n_bytes if n_bytes is not None else path.stat().st_size,
                          created_at=utcnow())
            s.add(shard)
            s.flush()
            return shard

        if session is not None:
            return _write(session)
        with self.catalog.uow() as uow:
            shard = _write(uow.session)
            uow.commit()
            return shard

    # ------------------------------------------------------------------ exit
    def __exit__(self, exc_type, exc, tb) -> None:
        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
        if callable(self.end_audit):
            try:
                self.end_audit = self.end_audit()
            except Exception:  # noqa: BLE001 - a summary must never hide the real outcome
                self.end_audit = None
        if exc is not None:
            _release_frames(exc)
        if exc_type is None:
            self.status = "completed"
        elif issubclass(exc_type, KeyboardInterrupt):
            self.status = "interrupted"
        else:
            self.status = "failed"
        try:
            with self.catalog.uow() as uow:
                uow.session.execute(update(Run).where(Run.id == self.run_id).values(
                    status=self.status, finished_at=utcnow(), stats=dict(self.stats)))
                uow.audit.record(f"{self.prefix}.{self.status}", "run", str(self.run_id),
                                 after=self.end_audit)
                uow.commit()
        except Exception:
            # The catalog is gone (a lost connection): the run stays `running` and the next
            # start finds it dead by its lock. The original error is the one to report.
            if exc_type is None:
                raise
        finally:
            self._lock.release()


def _release_frames(exc: BaseException | None) -> None:
    """Drop the locals of the frames an error left, so what they held goes now.

    A Ctrl-C inside sqlite3's executemany leaves the cursor alive in those frames; SQLAlchemy
    closes the connection, but SQLite keeps a closed connection's write lock while one of its
    statements lives, so writing the run's end would wait out the busy timeout and fail.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if exc.__traceback__ is not None:
            traceback.clear_frames(exc.__traceback__)
        exc = exc.__cause__ or exc.__context__
    gc.collect()  # statements caught in reference cycles with their frames


def decision_logs(session, run: Run) -> list[tuple[str, str]]:
    """(stage, path relative to the data root) of every decision log of `run`, in pipeline
    order; a processing run's admission log is its gate run's."""
    from policies.decision_log import stage_rank

    ids = [run.id] + ([run.config["gate_run"]] if (run.config or {}).get("gate_run") else [])
    rows = session.execute(select(Shard.stage, Shard.path).where(
        Shard.run_id.in_(ids), Shard.kind == "decisions")).all()
    return sorted(((stage or "admission", path) for stage, path in rows),
                  key=lambda r: stage_rank(r[0]))
