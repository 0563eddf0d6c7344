"""The audit chain detects edits, deletions and reordering made directly in the database."""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlmodel import select


def _setup(cli, n=3):
    for i in range(n):
        assert cli("source", "add", f"s{i}", "--kind", "other").exit_code == 0


def _exec(cli, sql: str, **params):
    from catalog.context import Catalog
    from catalog.settings import Settings

    cat = Catalog(Settings(database_url=cli.db_url, home=cli.home))
    with cat.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # The append-only triggers refuse these edits; a superuser can turn triggers off,
            # which is the kind of tampering these tests stand for.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
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


def test_a_consistent_rewrite_is_caught_by_a_saved_head(cli, db_url, tmp_path):
    import subprocess
    import urllib.parse

    import pytest

    if not db_url.startswith("postgresql"):
        pytest.skip("the rewrite goes through psql; SQLite has no triggers to bypass")
    _setup(cli)
    saved = cli("audit", "head").stdout.strip()
    assert saved.startswith("3:") and len(saved) == 2 + 64
    (tmp_path / "heads.txt").write_text(saved + "\n")
    # As the owner could: turn the triggers off and rewrite every event and the head so
    # that the chain is consistent again (event 1 now says someone else acted).
    from catalog.audit import GENESIS, event_hash
    from catalog.context import Catalog
    from catalog.models import AuditEvent
    from catalog.settings import Settings

    cat = Catalog(Settings(database_url=db_url, home=cli.home))
    with cat.session() as s:
        events = s.exec(select(AuditEvent).order_by(AuditEvent.seq)).all()
    cat.dispose()
    prev, sql = GENESIS, ["BEGIN;", "SET LOCAL session_replication_role = replica;"]
    for ev in events:
        actor = "mallory" if ev.seq == 1 else ev.actor
        digest = event_hash(seq=ev.seq, at=ev.at, actor=actor, action=ev.action,
                            entity_type=ev.entity_type, entity_id=ev.entity_id,
                            before=ev.before, after=ev.after, prev_hash=prev)
        sql.append(f"UPDATE audit_events SET actor = '{actor}', prev_hash = '{prev}', "
                   f"hash = '{digest}' WHERE seq = {ev.seq};")
        prev = digest
    sql += [f"UPDATE audit_head SET hash = '{prev}' WHERE id = 1;", "COMMIT;"]
    parts = urllib.parse.urlsplit(db_url.replace("postgresql+psycopg://", "postgresql://"))
    schema = urllib.parse.parse_qs(parts.query)["options"][0].split("=")[1]
    env = {"PGOPTIONS": f"-csearch_path={schema}", "PATH": "/usr/bin:/bin"}
    base = urllib.parse.urlunsplit(parts._replace(query=""))
    out = subprocess.run(["psql", base, "-v", "ON_ERROR_STOP=1", "-q", "-c", "\n".join(sql)],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert cli("audit", "verify").exit_code == 0  # consistent: the chain alone cannot tell
    r = cli("audit", "verify", "--expect-head", saved)
    assert r.exit_code == 6 and "no longer holds head" in r.stderr
    assert cli("audit", "verify", "--expect-file", str(tmp_path / "heads.txt")).exit_code == 6
    # Without turning triggers off, psql cannot edit or delete an event.
    refused = subprocess.run(["psql", base, "-q", "-c", "DELETE FROM audit_events WHERE seq = 3"],
                             capture_output=True, text=True, env=env)
    assert "append-only" in refused.stderr


def test_a_saved_head_that_the_chain_extends_passes(cli, tmp_path):
    _setup(cli, 2)
    saved = cli("audit", "head").stdout.strip()
    assert cli("source", "add", "later", "--kind", "other").exit_code == 0
    r = cli("audit", "verify", "--expect-head", saved)
    assert r.exit_code == 0 and "extends 1 saved head" in r.stdout
    head = json.loads(cli("audit", "head", "--json").stdout)
    assert head["events"] == 3
    r = cli("audit", "verify", "--expect-head", "not-a-hash")
    assert r.exit_code == 2 and "is not a head" in r.stderr
