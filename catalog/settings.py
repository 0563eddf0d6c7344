"""Settings, read once at the edge (the CLI) and passed down.

Database URL: `--db-url`, then `GOVCAT_DATABASE_URL`, else a SQLite file under the home
(`./.govcat/` by default, `GOVCAT_HOME` moves it).

Two roots: the home (`--home`, `GOVCAT_HOME`) is a local folder for what only this machine
uses — the SQLite catalog, logs, lock files, caches; the data root (`--data-root`,
`GOVCAT_DATA_ROOT`, default: the home) holds the shards, decision logs, dedup index and
releases, and may be an fsspec URL (`s3://bucket/prefix`; docs/object-storage.md). A SQLite
file cannot live on an object store, hence the split.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOVCAT_", extra="ignore")

    home: Path = Field(default=Path(".govcat"))
    # Shards, decisions, dedup index, releases: a local folder or a store URL (GOVCAT_DATA_ROOT);
    # unset, the home. `Catalog.data_root` is its path.
    data_root: str | None = None
    database_url: str | None = None
    actor: str = Field(default_factory=_os_user)
    # Comma-separated AI agents whose robots verdicts are evaluated (GOVCAT_AI_AGENTS).
    ai_agents: str | None = None

    @property
    def data_path(self):
        """Where the data lives: a `Path`, or a `common.storage.RemotePath` for a store URL."""
        from common.storage import as_path

        return as_path(self.data_root) if self.data_root else self.home

    @property
    def agents(self) -> tuple[str, ...]:
        from ingest.consent.agents import DEFAULT_AI_AGENTS

        if not self.ai_agents:
            return tuple(DEFAULT_AI_AGENTS)
        return tuple(a.strip() for a in self.ai_agents.split(",") if a.strip())

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'catalog.db').resolve()}"


def load_settings(*, db_url: str | None = None, actor: str | None = None,
                  home: Path | str | None = None, data_root: str | None = None) -> Settings:
    overrides: dict[str, object] = {}
    if db_url:
        overrides["database_url"] = db_url
    if actor:
        overrides["actor"] = actor
    if home:
        overrides["home"] = home
    if data_root:
        overrides["data_root"] = data_root
    from common.storage import StorageError, is_url

    given = home if home else os.environ.get("GOVCAT_HOME")
    if is_url(str(given)):
        raise StorageError(f"--home/GOVCAT_HOME must be a local folder (the SQLite catalog, "
                           f"logs and locks live there); put the data on the store with "
                           f"--data-root/GOVCAT_DATA_ROOT {given}")
    return Settings(**overrides)  # type: ignore[arg-type]
