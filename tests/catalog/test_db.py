"""Schema creation, upgrades and connection errors."""

from __future__ import annotations

from sqlalchemy import inspect

from catalog import db


def test_first_use_creates_the_schema(catalog):
    tables = set(inspect(catalog.engine).get_table_names())
    assert {"sources", "license_evidence", "tos_reviews", "hosts", "robots_snapshots",
            "documents", "shards", "runs", "audit_events", "quarantine"} <= tables
    assert db.current_revision(catalog.engine) == db.head_revision(catalog.engine)


def test_db_upgrade_is_idempotent(cli):
    r = cli("db", "upgrade")
    assert r.exit_code == 0 and "upgraded (empty) ->" in r.stdout
    r = cli("db", "upgrade")
    assert r.exit_code == 0 and "already at revision" in r.stdout
    assert "up to date" in cli("db", "current").stdout


def test_unreachable_database_masks_password(tmp_path):
    from typer.testing import CliRunner

    from catalog.cli import app

    r = CliRunner().invoke(app, ["--db-url", "postgresql://bob:s3cret@127.0.0.1:1/none",
                                 "source", "list"])
    assert r.exit_code == 3
    assert "bob:***@127.0.0.1:1" in r.stderr and "s3cret" not in r.output
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.output


def test_unsupported_url_is_a_config_error(tmp_path):
    from typer.testing import CliRunner

    from catalog.cli import app

    r = CliRunner().invoke(app, ["--db-url", "mysql://x@localhost/db", "source", "list"])
    assert r.exit_code == 2 and "unsupported database" in r.stderr


def test_default_database_is_sqlite_under_home(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from catalog.cli import app

    monkeypatch.delenv("GOVCAT_DATABASE_URL", raising=False)
    monkeypatch.setenv("GOVCAT_HOME", str(tmp_path / "gh"))
    r = CliRunner().invoke(app, ["source", "add", "a", "--kind", "other"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "gh" / "catalog.db").exists()
