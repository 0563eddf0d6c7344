"""The audit chain detects edits, deletions and reordering made directly in the database."""

from __future__ import annotations

import json

from sqlalchemy import text


def _setup(cli, n=3):
    for i in range(n):
        assert cli("source", "add", f"s{i}", "--kind", "other").exit_code == 0


def _exec(cli, sql: str, **params):
    from catalog.context import Catalog
    from catalog.settings import Settings

    cat = Catalog(Settings(database_url=cli.db_url, home=cli.home))
    with cat.engine.begin() as conn:
        conn.execute(text(sql), params)
    cat.dispose()


def test_intact_chain_verifies(cli):
    _setup(cli)
    r = cli("audit", "verify")
    assert r.exit_code == 0 and "3 event(s)" in r.stdout


def test_editing_an_event_payload_is_detected(cli):
    _setup(cli)
    after = json.loads(cli("audit", "log", "--json").stdout)[1]["after"]
    after["declared_license"] = "MIT"
    _exec(cli, "UPDATE audit_events SET after = :a WHERE seq = 2",
          a=json.dumps(after, sort_keys=True, separators=(",", ":")))
    r = cli("audit", "verify")
    assert r.exit_code == 6
    assert "event 2" in r.stderr and "modified" in r.stderr


def test_deleting_a_middle_event_is_detected(cli):
    _setup(cli)
    _exec(cli, "DELETE FROM audit_events WHERE seq = 2")
    r = cli("audit", "verify")
    assert r.exit_code == 6 and "event 2" in r.stderr


def test_deleting_the_newest_event_is_detected(cli):
    _setup(cli)
    _exec(cli, "DELETE FROM audit_events WHERE seq = 3")
    r = cli("audit", "verify")
    assert r.exit_code == 6 and "deleted" in r.stderr


def test_reordering_events_is_detected(cli):
    _setup(cli)
    _exec(cli, "UPDATE audit_events SET seq = 100 WHERE seq = 1")
    _exec(cli, "UPDATE audit_events SET seq = 1 WHERE seq = 2")
    _exec(cli, "UPDATE audit_events SET seq = 2 WHERE seq = 100")
    r = cli("audit", "verify")
    assert r.exit_code == 6 and "event 1" in r.stderr


def test_failed_command_writes_no_event(cli):
    _setup(cli, 1)
    assert cli("source", "add", "s0", "--kind", "other").exit_code == 5
    assert len(json.loads(cli("audit", "log", "--json").stdout)) == 1
    assert cli("audit", "verify").exit_code == 0


def test_log_filters_by_entity_type(cli):
    _setup(cli, 2)
    assert len(json.loads(cli("audit", "log", "--entity", "source", "--json").stdout)) == 2
    assert json.loads(cli("audit", "log", "--entity", "run", "--json").stdout) == []
