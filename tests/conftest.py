"""Shared fixtures. Catalog tests run on SQLite and on Postgres (a fresh schema per test).

Postgres is at GOVCAT_TEST_POSTGRES_URL (default: the local server). Without it the Postgres
half is skipped — except under CI=true, where it fails: CI must test both databases.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from tests.s3server import s3_endpoint, s3_root  # noqa: F401 - fixtures: moto's S3 on localhost
from tests.support import in_ci

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    return os.environ.get("GOVCAT_TEST_POSTGRES_URL", DEFAULT_PG)



_pg_state: dict[str, object] = {}


def _postgres_admin():
    """An engine on the test Postgres, or skip/fail once with the reason."""
    if "engine" not in _pg_state:
        from catalog.db import normalize_url

        url = normalize_url(postgres_url())
        engine = create_engine(url, connect_args={"connect_timeout": 3},
                               isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text("select 1"))
            _pg_state["engine"] = engine
        except Exception as exc:  # any failure to connect means "no Postgres here"
            _pg_state["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
            _pg_state["engine"] = None
    if _pg_state["engine"] is None:
        message = f"Postgres not reachable at {postgres_url()}: {_pg_state['error']}"
        if in_ci():
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    return _pg_state["engine"]


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path) -> Iterator[str]:
    """A database URL of an empty catalog database, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    admin = _postgres_admin()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    base = postgres_url()
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def catalog(db_url, tmp_path):
    """A Catalog on an empty database of each backend (schema created on first use)."""
    from catalog.context import Catalog
    from catalog.settings import Settings

    cat = Catalog(Settings(database_url=db_url, home=tmp_path / "home", actor="tester"))
    yield cat
    cat.dispose()


class Cli:
    """Runs `govcat` in-process against one database, as a user would."""

    def __init__(self, db_url: str, home):
        from typer.testing import CliRunner

        self.runner = CliRunner()
        self.db_url = db_url
        self.home = home

    def __call__(self, *args: str, actor: str = "tester", input: str | None = None):
        from catalog.cli import app

        return self.runner.invoke(
            app, ["--db-url", self.db_url, "--home", str(self.home), "--actor", actor, *args],
            input=input, catch_exceptions=False, env={"COLUMNS": "200"},
        )


@pytest.fixture
def cli(db_url, tmp_path) -> Cli:
    return Cli(db_url, tmp_path / "home")
