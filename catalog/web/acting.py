"""The server's catalog acting as one user: the same engine, that user as the actor.

The services take a Catalog and open units of work on it; a unit of work records its actor in
every audit event. One Catalog per request with the user's name keeps the server's settings
untouched, so two users' requests never write under each other's name.
"""

from __future__ import annotations

from catalog.context import Catalog


class ActingCatalog(Catalog):
    def __init__(self, base: Catalog, actor: str):
        super().__init__(base.settings.model_copy(update={"actor": actor}))
        self._base = base

    @property
    def engine(self):  # type: ignore[override]
        return self._base.engine

    def dispose(self) -> None:
        """The engine is the server's; it outlives the request."""
