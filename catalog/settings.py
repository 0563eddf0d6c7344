"""Settings, read once at the edge (the CLI) and passed down.

Database URL: `--db-url`, then `GOVCAT_DATABASE_URL`, else a SQLite file under the data
root (`./.govcat/` by default, `GOVCAT_HOME` moves it).
"""

from __future__ import annotations

import getpass
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
    database_url: str | None = None
    actor: str = Field(default_factory=_os_user)
    # Comma-separated AI agents whose robots verdicts are evaluated (GOVCAT_AI_AGENTS).
    ai_agents: str | None = None

    @property
    def data_root(self) -> Path:
        return self.home

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
                  home: Path | None = None) -> Settings:
    overrides: dict[str, object] = {}
    if db_url:
        overrides["database_url"] = db_url
    if actor:
        overrides["actor"] = actor
    if home:
        overrides["home"] = home
    return Settings(**overrides)  # type: ignore[arg-type]
