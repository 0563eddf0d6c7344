"""A throw-away Postgres schema for a bench run (the local server by default)."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

from sqlalchemy import create_engine, text

DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def scratch_postgres_url():
    base = os.environ.get("GOVCAT_TEST_POSTGRES_URL", DEFAULT)
    admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1)
                          if base.startswith("postgresql://") else base,
                          isolation_level="AUTOCOMMIT")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def scratch_catalog_url(folder, *, postgres: bool):
    """A scratch Postgres schema when `postgres`, else a SQLite file in `folder`."""
    if postgres:
        with scratch_postgres_url() as url:
            yield url
    else:
        yield f"sqlite:///{folder / 'catalog.db'}"
