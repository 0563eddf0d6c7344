"""The run lifecycle and its locks, on both databases."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import select

from catalog.errors import Busy
from catalog.locks import NamedLock, is_held
from catalog.models import AuditEvent, Run
from catalog.runs import RunLifecycle


def test_a_lock_is_exclusive_and_released(catalog):
    first = NamedLock(catalog, "source:web")
    assert first.try_acquire()
    second = NamedLock(catalog, "source:web")
    assert not second.try_acquire()
    assert is_held(catalog, "source:web") and not is_held(catalog, "source:books")
    first.release()
    assert second.try_acquire()
    second.release()


def test_a_second_command_is_told_who_holds_the_lock(catalog):
    with RunLifecycle(catalog, kind="ingest", lock="source:web", config={"x": 1}) as run:
        with pytest.raises(Busy) as exc:
            with RunLifecycle(catalog, kind="ingest", lock="source:web"):
                pass
        message = str(exc.value)
        assert f"ingest run {run.run_id} (pid {os.getpid()}" in message
        assert "source:web is busy" in message and "\n" not in message
    with catalog.session() as s:
        assert s.get(Run, run.run_id).status == "completed"


def test_status_follows_how_the_block_ends(catalog):
    with pytest.raises(ValueError), RunLifecycle(catalog, kind="gate") as failed:
        raise ValueError("boom")
    with pytest.raises(KeyboardInterrupt), RunLifecycle(catalog, kind="gate") as stopped:
        raise KeyboardInterrupt
    with RunLifecycle(catalog, kind="gate") as done:
        done.stats = {"documents": 3}
        done.end_audit = lambda: {"documents": 3}
    with catalog.session() as s:
        assert s.get(Run, failed.run_id).status == "failed"
        assert s.get(Run, stopped.run_id).status == "interrupted"
        row = s.get(Run, done.run_id)
        assert row.status == "completed" and row.stats == {"documents": 3}
        actions = [e.action for e in s.execute(select(AuditEvent).order_by(AuditEvent.seq))
                   .scalars()]
    assert actions == ["gate.start", "gate.failed", "gate.start", "gate.interrupted",
                       "gate.start", "gate.completed"]


class _Unbindable:
    """A parameter whose adaptation is where Ctrl-C lands, in the middle of an executemany."""


def _interrupt(*_args):
    raise KeyboardInterrupt


def test_ctrl_c_inside_a_bulk_insert_still_ends_the_run_interrupted(catalog):
    import sqlite3

    import psycopg
    from psycopg.adapt import Dumper

    class _Interrupting(Dumper):
        dump = _interrupt

    sqlite3.register_adapter(_Unbindable, _interrupt)
    psycopg.adapters.register_dumper(_Unbindable, _Interrupting)
    with catalog.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE scratch (x INTEGER)")
    with pytest.raises(KeyboardInterrupt), RunLifecycle(catalog, kind="gate") as run:
        with catalog.uow() as uow:
            conn = uow.session.connection()
            conn.exec_driver_sql("INSERT INTO scratch (x) VALUES (1)")
            params = [(i,) for i in range(100)] + [(_Unbindable(),)]
            conn.exec_driver_sql("INSERT INTO scratch (x) VALUES (%s)" if
                                 catalog.engine.dialect.name == "postgresql" else
                                 "INSERT INTO scratch (x) VALUES (?)", params)
    with catalog.session() as s:
        assert s.get(Run, run.run_id).status == "interrupted"
    with catalog.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM scratch").scalar() == 0


def test_a_killed_run_is_found_interrupted_and_only_its_temp_files_go(catalog, db_url, tmp_path):
    # A real process opens a run, writes a temporary file in its folder, and is killed -9.
    home = catalog.data_root
    script = textwrap.dedent(f"""
        import os, sys, time
        from catalog.context import Catalog
        from catalog.settings import Settings
        from catalog.runs import RunLifecycle
        cat = Catalog(Settings(database_url={db_url!r}, home={str(home)!r}, actor="t"))
        with RunLifecycle(cat, kind="process", lock="process:x", resume_key={{"k": 1}}) as run:
            d = cat.layout.run_attributes(run.run_id) / "langid"
            d.mkdir(parents=True)
            (d / f".shard-000001.parquet.tmp-{{os.getpid()}}-abcd").write_bytes(b"half")
            (d / "shard-000000.parquet").write_bytes(b"done")
            print(run.run_id, flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    run_id = int(proc.stdout.readline())
    # While it lives, a live run of another kind is never touched.
    with RunLifecycle(catalog, kind="gate"):
        pass
    with catalog.session() as s:
        assert s.get(Run, run_id).status == "running"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    folder = catalog.layout.run_attributes(run_id) / "langid"
    with RunLifecycle(catalog, kind="process", lock="process:x", resume_key={"k": 1}) as again:
        assert again.resumed and again.run_id == run_id
    assert [p.name for p in folder.iterdir()] == ["shard-000000.parquet"]
    with catalog.session() as s:
        actions = [e.action for e in s.execute(
            select(AuditEvent).where(AuditEvent.entity_id == str(run_id))
            .order_by(AuditEvent.seq)).scalars()]
    assert actions == ["run.start", "run.interrupted", "run.resume", "run.completed"]


def test_sigterm_ends_a_run_interrupted(catalog, db_url):
    script = textwrap.dedent(f"""
        import time
        from catalog.context import Catalog
        from catalog.settings import Settings
        from catalog.runs import RunLifecycle
        cat = Catalog(Settings(database_url={db_url!r}, home={str(catalog.data_root)!r}))
        try:
            with RunLifecycle(cat, kind="gate") as run:
                print(run.run_id, flush=True)
                time.sleep(60)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    run_id = int(proc.stdout.readline())
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert out.strip() == "interrupted"
    with catalog.session() as s:
        assert s.get(Run, run_id).status == "interrupted"


def test_a_second_ingest_of_the_same_source_exits_naming_the_holder(cli, catalog, tmp_path):
    assert cli("source", "add", "j", "--kind", "other").exit_code == 0
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"id": "1", "text": "hello there"}) + "\n")
    with RunLifecycle(catalog, kind="ingest", lock="source:j"):
        r = cli("ingest", "j", str(data))
    assert r.exit_code == 7
    assert r.stderr.count("\n") == 1 and "source:j is busy: ingest run" in r.stderr
    assert "Traceback" not in r.output
    assert cli("ingest", "j", str(data)).exit_code == 0


def _ingested(cli, tmp_path, n: int = 6):
    assert cli("source", "add", "v", "--kind", "other", "--license", "CC-BY-4.0",
               "--tos-verdict", "unrestricted").exit_code == 0
    assert cli("source", "approve", "v", "--reason", "t").exit_code == 0
    data = tmp_path / "v.jsonl"
    data.write_text("".join(json.dumps({"id": str(i), "text": f"document number {i} " * 40})
                            + "\n" for i in range(n)))
    assert cli("ingest", "v", str(data), "--shard-docs", "3").exit_code == 0
    return sorted((cli.home / "shards" / "v").rglob("*.parquet"))


def test_verify_names_missing_changed_and_altered_documents(cli, tmp_path):
    shards = _ingested(cli, tmp_path)
    assert cli("verify").exit_code == 0
    assert cli("verify", "--deep", "--source", "v").exit_code == 0
    # Rewrite one shard with one text altered: the file hash and, with --deep, the document.
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(shards[0])
    texts = table.column("text").to_pylist()
    texts[1] = texts[1].replace("number", "numbr")
    table = table.set_column(table.schema.get_field_index("text"), "text",
                             pa.array(texts, table.schema.field("text").type))
    pq.write_table(table, shards[0])
    shards[1].unlink()
    r = cli("verify", "--deep")
    assert r.exit_code == 6 and "Traceback" not in r.output
    assert "2 problem(s)" in r.stderr or "3 problem(s)" in r.stderr
    assert f"{shards[1].name}: missing" in r.stderr
    assert "sha256" in r.stderr and "does not match its content hash" in r.stderr
    # govcat run stops at the damaged shard, naming it, before any work.
    r = cli("run", "research-permissive", "--workers", "1")
    assert r.exit_code == 6 and "Traceback" not in r.output
    assert "document shard" in r.stderr and r.stderr.count("\n") == 1
