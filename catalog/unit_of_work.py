"""Unit of work: `with catalog.uow() as uow: ...; uow.commit()`.

Leaving the block without `commit()` rolls everything back, audit events included, so a
failed command leaves the catalog as it was.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session

from catalog.audit import AuditLog


class UnitOfWork:
    def __init__(self, engine: Engine, *, actor: str):
        self._engine = engine
        self.actor = actor

    def __enter__(self) -> UnitOfWork:
        self.session = Session(self._engine, expire_on_commit=False)
        self.audit = AuditLog(self.session, self.actor)
        return self

    def __exit__(self, *exc: object) -> None:
        # close() ends any open transaction without committing it; unlike rollback() it
        # leaves loaded objects readable for the caller to print.
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()
