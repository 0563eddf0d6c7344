"""Releases: cut, verify, sign, prove, list/show/diff, opt-outs and dedup across releases."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from ingest.documents import document_id
from tests.catalog.test_process import CONTACT, GOOD, _ingest, _run

pytestmark = pytest.mark.slow  # each test processes a small corpus first (a few seconds)


def _cut(cli, run: int, version: str = "1.0.0", name: str = "demo", *extra: str) -> dict:
    r = cli("release", "cut", str(run), "--name", name, "--version", version, "--json", *extra)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def _folder(cli, version: str = "1.0.0", name: str = "demo") -> Path:
    return cli.home / "releases" / name / version


@pytest.fixture
def released(cli, tmp_path):
    _ingest(cli, tmp_path)
    out = _run(cli, "--workers", "1")
    return out


def test_cut_writes_a_loadable_redacted_release_that_verifies(cli, released):
    out = _cut(cli, released["run"])
    assert out["created"] and out["documents"] == released["kept"] == 3
    folder = _folder(cli)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["name"] == "demo" and manifest["policy"]["name"] == "research-permissive"
    assert manifest["merkle"]["root"] == out["merkle_root"]
    assert manifest["merkle"]["tree_size"] == 3 and manifest["documents"] == 3
    assert {f["kind"] for f in manifest["files"]} == {"data", "index", "decisions", "excluded"}
    assert manifest["counts"]["by_source"]["c"]["documents"] == 3
    assert manifest["counts"]["by_license_class"]
    [source] = manifest["sources"]
    assert source["slug"] == "c" and len(source["record_sha256"]) == 64
    assert manifest["models"]["langid"]["name"] == "lid.176.ftz"
    assert [f["stage"] for f in manifest["funnel"]] == ["admission", "langid", "quality",
                                                       "dedup", "pii"]
    # Loadable as is, by DuckDB and by datasets.
    shards = sorted(str(p) for p in (folder / "data").glob("*.parquet"))
    rows = duckdb.sql(f"select id, text, source, license, language, n_tokens, metadata "
                      f"from read_parquet({shards!r}) order by id").fetchall()
    assert [r[0] for r in rows] == sorted(r[0] for r in rows) and len(rows) == 3
    from datasets import load_dataset

    ds = load_dataset("parquet", data_files=shards, split="train")
    assert ds.num_rows == 3 and set(ds.column_names) >= {"id", "text", "license", "metadata"}
    # PII redacted as the pii stage decided.
    text = {r[0]: r[1] for r in rows}[document_id("c", "pii")]
    assert "jane.doe@example.org" not in text and "|||EMAIL_ADDRESS|||" in text
    assert text.replace("|||EMAIL_ADDRESS|||", "").replace("|||PHONE_NUMBER|||", "") != CONTACT
    assert cli("release", "verify", "demo").exit_code == 0
    listed = json.loads(cli("release", "list", "--json").stdout)
    assert [r["release"] for r in listed] == ["demo@1.0.0"]
    shown = json.loads(cli("release", "show", "demo@1.0.0", "--json").stdout)
    assert shown["documents"] == 3 and len(shown["files"]) == 4
    life = json.loads(cli("explain", document_id("c", "good"), "--json").stdout)
    assert life["releases"][0].items() >= {"release": "demo@1.0.0", "holds": True}.items()
    dropped = json.loads(cli("explain", document_id("c", "junk"), "--json").stdout)
    [left] = dropped["releases"]
    assert not left["holds"] and "quality" in left["reason"]


def test_two_cuts_of_a_run_are_byte_identical_but_for_cut_time(cli, released):
    _cut(cli, released["run"], "1.0.0")
    _cut(cli, released["run"], "1.0.1")
    a, b = _folder(cli, "1.0.0"), _folder(cli, "1.0.1")
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        if rel.name != "manifest.json":
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    ma, mb = (json.loads((d / "manifest.json").read_text()) for d in (a, b))
    for m in (ma, mb):
        for key in ("created_at", "audit_head", "version"):
            m.pop(key)
        m["optouts"].pop("honoured_up_to")
    assert ma == mb
    # The same name and version again is a no-op; from another run it is refused.
    again = cli("release", "cut", str(released["run"]), "--name", "demo", "--version", "1.0.0")
    assert again.exit_code == 0 and "already cut" in again.stdout
    other = _run(cli, "--workers", "1", "--sources", "c")  # a second, distinct run
    clash = cli("release", "cut", str(other["run"]), "--name", "demo", "--version", "1.0.0")
    assert clash.exit_code == 5 and "exists" in clash.stderr and "Traceback" not in clash.output


def test_tampering_is_reported_naming_the_shard_and_document(cli, released):
    _cut(cli, released["run"])
    folder = _folder(cli)
    shard = folder / "data" / "part-00000.parquet"
    data = bytearray(shard.read_bytes())
    data[len(data) // 3] ^= 0x01
    shard.write_bytes(bytes(data))
    r = cli("release", "verify", "demo")
    assert r.exit_code == 6 and "Traceback" not in r.output
    assert "data/part-00000.parquet" in r.stderr
    assert document_id("c", "good") in r.stderr  # the documents the shard holds are named
    manifest = folder / "manifest.json"
    m = json.loads(manifest.read_text())
    m["documents"] = 4
    manifest.write_text(json.dumps(m))
    assert cli("release", "verify", str(folder)).exit_code == 6
    manifest.unlink()
    r = cli("release", "verify", str(folder))
    assert r.exit_code == 6 and "no manifest" in r.stderr


def test_sign_and_verify_with_model_signing_too(cli, released, tmp_path):
    _cut(cli, released["run"])
    key, pub = tmp_path / "k.pem", tmp_path / "k.pub"
    assert cli("release", "keygen", "--private-key", str(key), "--public-key",
               str(pub)).exit_code == 0
    assert cli("release", "sign", "demo", "--key", str(key)).exit_code == 0
    assert cli("release", "verify", "demo", "--public-key", str(pub)).exit_code == 0
    folder = _folder(cli)
    tool = Path(sys.executable).with_name("model_signing")
    ok = subprocess.run([str(tool), "verify", "key", "--public_key", str(pub), "--signature",
                         str(folder / "release.sig"), str(folder)], capture_output=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(cli("release", "show", "demo", "--json").stdout)["signed"]
    ed = tmp_path / "ed.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(ed)],
                   check=True, capture_output=True)
    r = cli("release", "sign", "demo", "--key", str(ed))
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "EC keys only" in r.stderr


def test_a_proof_of_inclusion_checks(cli, released, tmp_path):
    _cut(cli, released["run"])
    proof = tmp_path / "proof.json"
    doc = document_id("c", "good")
    assert cli("release", "prove", doc, "--out", str(proof)).exit_code == 0
    assert json.loads(proof.read_text())["document"] == doc
    assert cli("release", "verify", "demo", "--proof", str(proof)).exit_code == 0
    bad = json.loads(proof.read_text())
    bad["content_sha256"] = "0" * 64
    proof.write_text(json.dumps(bad))
    assert cli("release", "verify", "demo", "--proof", str(proof)).exit_code == 6
    assert cli("release", "prove", "c/nope").exit_code == 4


def test_an_optout_after_the_run_leaves_documents_out_and_diff_says_why(cli, released):
    _cut(cli, released["run"], "1.0.0")
    assert cli("optout", "add", "--doc-id", document_id("c", "other"), "--requester",
               "owner@example.org", "--received", "2026-01-01").exit_code == 0
    out = _cut(cli, released["run"], "1.1.0")
    assert out["excluded"] == 1 and out["documents"] == 2
    excluded = pq.read_table(_folder(cli, "1.1.0") / "excluded.parquet").to_pylist()
    assert excluded == [{"id": document_id("c", "other"), "reason": "optout",
                         "request_ids": ["optout-1"]}]
    manifest = json.loads((_folder(cli, "1.1.0") / "manifest.json").read_text())
    assert manifest["optouts"]["applied"][0]["request"] == "optout-1"
    diff = json.loads(cli("release", "diff", "demo@1.0.0", "demo@1.1.0", "--json").stdout)
    assert diff["removed"]["documents"] == 1 and diff["added"]["documents"] == 0
    assert diff["removed"]["by"][0]["why"] == "opt-out optout-1"
    life = json.loads(cli("explain", document_id("c", "other"), "--json").stdout)
    by = {r["release"]: r for r in life["releases"]}
    assert by["demo@1.0.0"]["holds"] and not by["demo@1.1.0"]["holds"]
    assert "optout-1" in by["demo@1.1.0"]["reason"]
    text = cli("release", "diff", "demo@1.0.0", "demo@1.1.0").stdout
    assert "opt-out optout-1" in text


def test_a_new_crawl_drops_near_copies_of_what_was_released(cli, released, tmp_path):
    _cut(cli, released["run"])
    copy = tmp_path / "copy.jsonl"
    copy.write_text(json.dumps({"id": "copy", "text": GOOD.replace("river", "riverside"),
                                "url": "https://mirror.example/x",
                                "added": "2025-06-01T00:00:00Z"}) + "\n")
    assert cli("source", "add", "m", "--kind", "other", "--license", "CC-BY-4.0",
               "--tos-verdict", "unrestricted").exit_code == 0
    assert cli("source", "approve", "m", "--reason", "test").exit_code == 0
    assert cli("ingest", "m", str(copy)).exit_code == 0
    out = _run(cli, "--workers", "1", "--sources", "m")
    dedup = {f["stage"]: f for f in out["funnel"]}["dedup"]
    assert dedup["docs_in"] == 1 and dedup["kept"] == 0
    run_dir = cli.home / "attributes" / f"run-{out['run']:06d}" / "dedup"
    [row] = pq.read_table(run_dir / "dedup.parquet", columns=["id", "cluster_id"]).to_pylist()
    assert row["cluster_id"] == document_id("c", "good")  # a member of release demo@1.0.0
    assert (cli.home / "dedup-index").is_dir()


def test_bad_inputs_get_one_line(cli, released, tmp_path):
    for args, code, words in (
        (("release", "cut", "999", "--name", "x", "--version", "1.0.0"), 4, "no processing run"),
        (("release", "cut", str(released["gate_run"]), "--name", "x", "--version", "1.0.0"), 4,
         "no processing run"),
        (("release", "cut", str(released["run"]), "--name", "x", "--version", "1.0"), 2,
         "MAJOR.MINOR.PATCH"),
        (("release", "cut", str(released["run"]), "--name", "Bad Name", "--version", "1.0.0"),
         2, "release name"),
        (("release", "show", "nosuch"), 4, "no release"),
        (("release", "verify", str(tmp_path)), 6, "no manifest"),
    ):
        r = cli(*args)
        assert r.exit_code == code, (args, r.output)
        assert words in r.stderr and "Traceback" not in r.output


def test_an_unfinished_run_cannot_be_released(cli, released, catalog):
    from sqlalchemy import update

    from catalog.models import Run

    with catalog.uow() as uow:
        uow.session.execute(update(Run).where(Run.id == released["run"])
                            .values(status="interrupted"))
        uow.commit()
    r = cli("release", "cut", str(released["run"]), "--name", "x", "--version", "1.0.0")
    assert r.exit_code == 2 and "is interrupted" in r.stderr


def test_a_killed_cut_leaves_no_release_and_the_rerun_is_identical(cli, released, db_url):
    _cut(cli, released["run"], "9.9.9", "reference")
    reference = _folder(cli, "9.9.9", "reference")
    script = textwrap.dedent(f"""
        from catalog.cli import app
        app(["--db-url", {db_url!r}, "--home", {str(cli.home)!r}, "release", "cut",
             "{released['run']}", "--name", "demo", "--version", "1.0.0"])
    """)
    for delay in (0.5, 1.0, 1.5, 2.0, 3.0):
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        listed = json.loads(cli("release", "list", "--json").stdout)
        if any(r["release"] == "demo@1.0.0" for r in listed):
            break  # it finished before the kill
        # Killed before it was recorded: no release, and never a half-written folder.
        assert cli("release", "show", "demo@1.0.0").exit_code == 4
        folder = _folder(cli)
        assert not folder.exists() or (folder / "manifest.json").exists()
    _cut(cli, released["run"])
    folder = _folder(cli)
    for rel in sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file()):
        if rel.name != "manifest.json":
            assert (folder / rel).read_bytes() == (reference / rel).read_bytes(), rel
    assert cli("release", "verify", "demo").exit_code == 0
    assert not list((cli.home / "releases" / "demo").glob(".*staging*"))


def test_audit_verify_against_a_release_checks_its_recorded_head(cli, released):
    _cut(cli, released["run"])
    r = cli("audit", "verify", "--against-release", "demo")
    assert r.exit_code == 0 and "extends 1 saved head" in r.stdout
    manifest = _folder(cli) / "manifest.json"
    m = json.loads(manifest.read_text())
    m["audit_head"]["hash"] = "0" * 64
    manifest.write_text(json.dumps(m))
    r = cli("audit", "verify", "--against-release", "demo")
    assert r.exit_code == 6 and "no longer holds head" in r.stderr
