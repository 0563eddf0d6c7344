"""The catalog as the CLI and tests see it: settings in, a lazily built engine, units of work."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from catalog.settings import Settings

if TYPE_CHECKING:  # the database libraries load when a command first needs the catalog
    from sqlalchemy import Engine
    from sqlmodel import Session

    from catalog.unit_of_work import UnitOfWork
    from common.storage import RemotePath


class Catalog:
    def __init__(self, settings: Settings, *, auto_upgrade: bool = True):
        self.settings = settings
        self._auto_upgrade = auto_upgrade
        self._engine: Engine | None = None
        self._data_root: Path | RemotePath | None = None

    @property
    def url(self) -> str:
        return self.settings.resolved_database_url()

    @property
    def data_root(self) -> Path | RemotePath:
        """A local folder, or a `RemotePath` on an object store (docs/object-storage.md)."""
        if self._data_root is None:
            self._data_root = self.settings.data_path
        return self._data_root

    @property
    def layout(self):
        """Every path under the data root (catalog/layout.py); local files under the home."""
        from catalog.layout import Layout

        return Layout(self.data_root, home=self.settings.home)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from catalog.db import create_catalog_engine, ensure_schema

            engine = create_catalog_engine(self.url)
            if self._auto_upgrade:
                ensure_schema(engine)
            self._engine = engine
        return self._engine

    def uow(self) -> UnitOfWork:
        from catalog.unit_of_work import UnitOfWork

        return UnitOfWork(self.engine, actor=self.settings.actor)

    def session(self) -> Session:
        from sqlmodel import Session

        return Session(self.engine, expire_on_commit=False)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
