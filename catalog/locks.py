"""Named locks that serialise commands on one thing (a source, a run, a release).

On Postgres a lock is a session-level advisory lock held on a connection of its own; on
SQLite it is an exclusive `flock` on a file under the data root's `locks/`. Both are released
by the operating system or the server when the holding process dies, even by `kill -9`, so a
lock never outlives its holder and "is this run still alive?" is answered by trying its lock
(docs/architecture.md, "How a run resumes").
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from pathlib import Path

from sqlalchemy import text

from catalog.errors import Busy


def _key(schema: str, name: str) -> int:
    digest = hashlib.sha256(f"{schema}\x00{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class NamedLock:
    """`with NamedLock(catalog, "source:web"):` — or `acquire()` / `release()`."""

    def __init__(self, catalog, name: str):
        self.catalog = catalog
        self.name = name
        self._conn = None
        self._fd: int | None = None

    @property
    def _postgres(self) -> bool:
        return self.catalog.engine.dialect.name == "postgresql"

    def _file(self) -> Path:
        digest = hashlib.sha256(self.name.encode()).hexdigest()[:32]
        return self.catalog.layout.locks / f"{digest}.lock"

    def try_acquire(self) -> bool:
        if self._postgres:
            conn = self.catalog.engine.connect()
            schema = conn.execute(text("select current_schema()")).scalar() or ""
            got = conn.execute(text("select pg_try_advisory_lock(:k)"),
                               {"k": _key(schema, self.name)}).scalar()
            conn.commit()
            if got:
                self._conn, self._schema = conn, schema
                return True
            conn.close()
            return False
        path = self._file()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def acquire(self, holder: str | None = None, *, wait: float = 0) -> None:
        """Take the lock, trying for up to `wait` seconds, or raise `Busy` naming who holds
        it."""
        deadline = time.monotonic() + wait
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                raise Busy(f"{self.name} is busy: {holder or 'another govcat command holds it'}"
                           "; wait for it to finish, or stop it and run this again")
            time.sleep(0.05)

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("select pg_advisory_unlock(:k)"),
                                   {"k": _key(self._schema, self.name)})
                self._conn.commit()
            except Exception:  # noqa: BLE001 - a lost connection has released it already
                pass
            finally:
                self._conn.close()
                self._conn = None
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> NamedLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def is_held(catalog, name: str) -> bool:
    """Whether a live process holds `name` (tried and, if free, released at once)."""
    probe = NamedLock(catalog, name)
    if probe.try_acquire():
        probe.release()
        return False
    return True
