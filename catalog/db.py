"""Engines and schema: built lazily from the settings, never at import time."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.exc import InterfaceError as SAInterfaceError

from catalog.errors import ConfigError, DatabaseUnreachable

MIGRATIONS = Path(__file__).parent / "migrations"


_SECRET_PARAMS = frozenset({"password", "passwd", "pwd", "sslpassword", "passfile"})


def masked(url: str) -> str:
    """The URL with its password replaced by ***, for messages: in the userinfo and in the
    query string (`?password=...`), so no message or listing ever shows it."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "<unparseable database URL>"
    query = {k: ("***" if k.lower() in _SECRET_PARAMS else v) for k, v in parsed.query.items()}
    rendered = parsed.set(query=query).render_as_string(hide_password=True)
    return rendered.replace("=%2A%2A%2A", "=***")


def normalize_url(url: str) -> str:
    """Use psycopg 3 for plain `postgresql://` URLs (SQLAlchemy would pick psycopg2)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def create_catalog_engine(url: str) -> Engine:
    url = normalize_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"not a database URL: {masked(url)}") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    if parsed.get_backend_name() != "postgresql":
        raise ConfigError(
            f"unsupported database {parsed.get_backend_name()!r} in {masked(url)}; "
            "use sqlite:///PATH or postgresql://..."
        )
    if parsed.get_driver_name() not in ("psycopg", ""):
        raise ConfigError(
            f"database driver {parsed.get_driver_name()!r} in {masked(url)} is not the one "
            "govcat uses; write postgresql://... (psycopg 3)")
    try:
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})
    except (ArgumentError, ValueError, ImportError) as exc:
        raise ConfigError(f"cannot use {masked(url)}: {str(exc).splitlines()[0]}") from None


def check_reachable(engine: Engine) -> None:
    try:
        with engine.connect():
            pass
    except (OperationalError, SAInterfaceError) as exc:
        first = str(exc.orig if getattr(exc, "orig", None) else exc).strip().splitlines()
        reason = first[0] if first else exc.__class__.__name__
        raise DatabaseUnreachable(
            f"cannot reach the catalog database {masked(str(engine.url))}: {reason}"
        ) from None


def _alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


# Any fixed 64-bit key: every govcat process upgrading one Postgres database takes it.
_MIGRATION_LOCK = 0x676F76636174  # "govcat"


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Serialise schema changes: concurrent first commands on an empty Postgres database
    create the schema once (the others wait, then find it current)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
            conn.commit()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade the schema; returns (revision before, revision after)."""
    with _migration_lock(engine):
        return _upgrade_locked(engine, revision)


def _upgrade_locked(engine: Engine, revision: str) -> tuple[str | None, str | None]:
    from alembic import command
    from alembic.util.exc import CommandError

    before = current_revision(engine)
    try:
        command.upgrade(_alembic_config(engine), revision)
    except CommandError as exc:
        raise ConfigError(f"cannot upgrade to {revision!r}: {exc}") from None
    return before, current_revision(engine)


@lru_cache(maxsize=1)
def _head_of_files() -> str | None:
    """The one head revision of the migration files, read without alembic; None if unsure.

    Loading alembic costs a command more than all its other work on a small catalog, so the
    common case (schema already current) is checked without it. Anything unusual — several
    heads, a file this reading does not understand — returns None and alembic decides.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        if path.name == "__init__.py":
            continue
        values: dict[str, object] = {}
        try:
            for node in ast.parse(path.read_text(encoding="utf-8")).body:
                target = node.target if isinstance(node, ast.AnnAssign) else (
                    node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1
                    else None)
                if isinstance(target, ast.Name) and node.value is not None:
                    if target.id in ("revision", "down_revision", "depends_on"):
                        values[target.id] = ast.literal_eval(node.value)
        except (OSError, SyntaxError, ValueError):
            return None
        revision, down = values.get("revision"), values.get("down_revision")
        if not isinstance(revision, str) or values.get("depends_on"):
            return None
        revisions.add(revision)
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, (tuple, list)):
            parents.update(down)
        elif down is not None:
            return None
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _stored_revisions(engine: Engine) -> tuple[str, ...] | None:
    """The rows of alembic_version with a plain query; None when there is no such table."""
    with engine.connect() as conn:
        try:
            return tuple(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        except DBAPIError:
            return None


def ensure_schema(engine: Engine) -> None:
    """Create the schema in an empty database; refuse to work on an outdated one."""
    check_reachable(engine)
    head = _head_of_files()
    if head is not None and _stored_revisions(engine) == (head,):
        return
    current = current_revision(engine)
    head = head_revision(engine)
    if current == head:
        return
    if current is None:
        with _migration_lock(engine):
            if current_revision(engine) == head:  # another command created it meanwhile
                return
            tables = set(inspect(engine).get_table_names())
            if tables & {"sources", "audit_events"}:
                raise ConfigError(
                    f"{masked(str(engine.url))} holds govcat tables but no schema version; "
                    "run `govcat db upgrade` after checking it"
                )
            _upgrade_locked(engine, "head")
        return
    raise ConfigError(
        f"catalog schema is at revision {current}, this govcat needs {head}: "
        "run `govcat db upgrade`"
    )
