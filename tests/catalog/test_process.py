"""`govcat run`: langid → quality → dedup → pii over admitted documents, on both databases."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingest.documents import document_id

GOOD = (
    "The river town held its market every Saturday, and the farmers came early with their "
    "carts of apples, cheese and bread. By noon the square was full of people who had walked "
    "in from the villages around, and the sound of bargaining carried to the old bridge. "
    "In the afternoon the musicians played near the fountain while the children ran between "
    "the stalls and the older men sat in the shade. They talked about the harvest and the "
    "weather that was to come, and about the prices of the year before. When the evening came "
    "the carts went home along the river road with what had not been sold. The town was quiet "
    "again until the next week, when it all began once more with the same carts and faces. "
    "Nobody in the valley could remember a Saturday without the market, and nobody wanted to."
)
BRIDGES = (
    "Stone bridges were built with arches because an arch carries its load down into the "
    "piers. The stones press against each other so that the whole span stands firm for "
    "hundreds of years. The masons who built them learned the craft from their fathers, and "
    "many of the bridges they made are still in use today. They carry cars and trucks that "
    "their builders could never have imagined. When a bridge is repaired, the new stones are "
    "cut to match the old ones. The work can hardly be seen by anyone who walks across it. "
    "Some of the oldest bridges in the country have stood for more than six hundred years."
)
CONTACT = (
    "You can write to the editor of this newsletter at jane.doe@example.org with any "
    "question about the articles. She reads every letter that comes in and answers most of "
    "them within a week. The office is open from nine to five on weekdays, and the staff "
    "will be glad to help. If you would rather talk to someone, call the desk on "
    "+1 415 555 0134 and ask for the letters page. We are always happy to hear from readers "
    "who have a story to tell about their own town and its history."
)
CHINESE = (  # outside research-permissive's languages, so langid drops it
    "每个星期六，河边的小镇都会有集市。农民们一大早就推着装满苹果、奶酪和面包的车来了。"
    "到了中午，广场上挤满了从周围村子走来的人，讨价还价的声音一直传到那座古老的石桥。"
    "下午，音乐家们在喷泉旁演奏，孩子们在摊位之间跑来跑去，老人们坐在树荫下聊着收成和天气。"
    "傍晚时分，车子沿着河边的路回家，小镇又安静下来，直到下一个星期。"
)


def _corpus(path: Path) -> Path:
    docs = [
        ("good", GOOD),
        ("near-dup", GOOD.replace("apples", "pears")),
        ("chinese", CHINESE),
        ("junk", "buy now " * 5),
        ("pii", CONTACT),
        ("other", BRIDGES),
    ]
    with path.open("w") as fh:
        for i, (nid, text) in enumerate(docs):
            fh.write(json.dumps({"id": nid, "text": text, "url": f"https://h.example/{i}",
                                 "added": f"2024-01-0{i + 1}T00:00:00Z"}) + "\n")
    return path


POLICY = Path(__file__).resolve().parents[2] / "policies" / "packs" / "research-permissive.yaml"


def _ingest(cli, tmp_path) -> None:
    assert cli("source", "add", "c", "--kind", "other", "--license", "CC-BY-4.0",
               "--tos-verdict", "unrestricted").exit_code == 0
    assert cli("source", "approve", "c", "--reason", "test").exit_code == 0
    r = cli("ingest", "c", str(_corpus(tmp_path / "c.jsonl")), "--shard-docs", "3")
    assert r.exit_code == 0, r.output


def _run(cli, *args):
    r = cli("run", "research-permissive", "--json", *args)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


@pytest.mark.slow
def test_run_funnel_and_decisions(cli, tmp_path):
    _ingest(cli, tmp_path)
    out = _run(cli, "--workers", "1")
    funnel = {f["stage"]: f for f in out["funnel"]}
    assert funnel["admission"]["kept"] == 6 and funnel["admission"]["docs_in"] == 6
    assert funnel["langid"]["kept"] == 5 and sum(funnel["langid"]["dropped"].values()) == 1
    assert funnel["quality"]["docs_in"] == 5 and funnel["quality"]["kept"] == 4
    assert funnel["dedup"]["kept"] == 3  # good and its near-duplicate: one is kept
    assert funnel["pii"]["redacted"].get("EMAIL_ADDRESS") == 1
    run_dir = cli.home / "decisions" / f"run-{out['run']:06d}"
    langid = {r["id"]: r for r in pq.read_table(run_dir / "langid.parquet").to_pylist()}
    assert langid[document_id("c", "chinese")]["effect"] == "drop"
    dedup = {r["id"]: r for r in pq.read_table(run_dir / "dedup.parquet").to_pylist()}
    assert dedup[document_id("c", "good")]["effect"] != "drop"  # earliest collected is kept
    assert dedup[document_id("c", "near-dup")]["effect"] == "drop"
    pii = {r["id"]: r for r in pq.read_table(run_dir / "pii.parquet").to_pylist()}
    assert pii[document_id("c", "pii")]["effect"] == "redact"
    assert "EMAIL_ADDRESS" in pii[document_id("c", "pii")]["redact"]
    assert out["kept"] == 3
    attributes = cli.home / "attributes" / f"run-{out['run']:06d}"
    assert (attributes / "langid").is_dir() and not (attributes / "spill").exists()
    assert out["models"]["langid"]["name"] == "lid.176.ftz"
    assert out["models"]["pii"]["ner"] is False


@pytest.mark.slow
def test_run_is_the_same_for_any_worker_count_and_resumes(cli, tmp_path):
    _ingest(cli, tmp_path)
    one = _run(cli, "--workers", "1")
    # A second, fresh run with two workers: same decisions byte for byte.
    from catalog.context import Catalog
    from catalog.models import Run
    from catalog.settings import Settings

    two = _run(cli, "--workers", "2")
    assert two["run"] != one["run"] and not two["resumed"]
    for stage in ("langid", "quality", "dedup", "pii"):
        a = cli.home / "decisions" / f"run-{one['run']:06d}" / f"{stage}.parquet"
        b = cli.home / "decisions" / f"run-{two['run']:06d}" / f"{stage}.parquet"
        assert a.read_bytes() == b.read_bytes(), stage
    # An interrupted run (status left 'running', attribute shards partly there) resumes.
    cat = Catalog(Settings(database_url=cli.db_url, home=cli.home))
    with cat.uow() as uow:
        run = uow.session.get(Run, two["run"])
        run.status = "interrupted"
        uow.session.add(run)
        uow.commit()
    cat.dispose()
    victim = next((cli.home / "attributes" / f"run-{two['run']:06d}" / "quality").iterdir())
    victim.unlink()
    three = _run(cli, "--workers", "2")
    assert three["run"] == two["run"] and three["resumed"]
    assert three["funnel"] == two["funnel"]
    assert victim.exists()


def _decision_bytes(cli, run: int) -> dict[str, bytes]:
    base = cli.home / "decisions" / f"run-{run:06d}"
    return {s: (base / f"{s}.parquet").read_bytes() for s in ("langid", "quality", "dedup", "pii")}


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # where shards run is not the
def test_ray_executor_gives_the_same_decisions(cli, tmp_path):  # catalog's business
    """Without --ray-address, a local Ray is started for the run (the cluster case is in
    test_process_ray_cluster.py)."""
    pytest.importorskip("ray")
    _ingest(cli, tmp_path)
    local = _run(cli, "--workers", "1")
    ray = _run(cli, "--executor", "ray")
    assert ray["run"] != local["run"]
    assert _decision_bytes(cli, ray["run"]) == _decision_bytes(cli, local["run"])


@pytest.mark.slow
def test_kill_9_mid_run_resumes_to_the_same_outputs(cli, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from sqlalchemy import func, select

    from catalog.context import Catalog
    from catalog.models import Run, Shard
    from catalog.settings import Settings

    assert cli("source", "add", "c", "--kind", "other", "--license", "CC-BY-4.0",
               "--tos-verdict", "unrestricted").exit_code == 0
    assert cli("source", "approve", "c", "--reason", "test").exit_code == 0
    corpus = tmp_path / "big.jsonl"
    texts = [GOOD, BRIDGES, CONTACT]
    with corpus.open("w") as fh:
        for i in range(240):
            fh.write(json.dumps({"id": f"d{i}", "text": f"Item {i}. " + texts[i % 3],
                                 "added": "2024-01-01T00:00:00Z"}) + "\n")
    assert cli("ingest", "c", str(corpus), "--shard-docs", "20").exit_code == 0
    cmd = [sys.executable, "-m", "catalog.cli", "--db-url", cli.db_url, "--home", str(cli.home),
           "run", "research-permissive", "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    cat = Catalog(Settings(database_url=cli.db_url, home=cli.home))
    deadline = time.time() + 120
    recorded = 0
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
        with cat.session() as s:
            recorded = s.execute(select(func.count()).select_from(Shard).where(
                Shard.kind == "attributes", Shard.stage == "quality")).scalar_one()
        if recorded >= 2:
            break
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    with cat.session() as s:
        [killed] = s.execute(select(Run).where(Run.kind == "process")).scalars().all()
    cat.dispose()
    assert killed.status == "running"
    resumed = _run(cli, "--workers", "2")
    assert resumed["resumed"] and resumed["run"] == killed.id
    fresh = _run(cli, "--workers", "1")
    assert not fresh["resumed"]
    assert resumed["funnel"] == fresh["funnel"]
    assert _decision_bytes(cli, resumed["run"]) == _decision_bytes(cli, fresh["run"])


def test_a_missing_component_fails_before_any_work(cli, tmp_path, monkeypatch):
    import sys

    from sqlalchemy import func, select

    from catalog.context import Catalog
    from catalog.models import Run
    from catalog.settings import Settings

    _ingest(cli, tmp_path)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if ray were not installed
    r = cli("run", "research-permissive", "--executor", "ray")
    assert r.exit_code == 2
    assert "govcat[ray]" in r.stderr and r.stderr.count("\n") == 1
    cat = Catalog(Settings(database_url=cli.db_url, home=cli.home))
    with cat.session() as s:
        assert s.execute(select(func.count()).select_from(Run)
                         .where(Run.kind.in_(["process", "gate"]))).scalar_one() == 0
    cat.dispose()


@pytest.mark.slow
def test_explain_tells_the_life_in_order_after_a_run(cli, tmp_path):
    _ingest(cli, tmp_path)
    out = _run(cli, "--workers", "1")
    data = json.loads(cli("explain", document_id("c", "junk"), "--json").stdout)
    life = [(d["stage"], d["effect"], d["pipeline_run"]) for d in data["decisions"]]
    assert life == [("admission", "allow", out["run"]), ("langid", "keep", out["run"]),
                    ("quality", "drop", out["run"])]
    admission, langid, quality = data["decisions"]
    assert admission["run"] == out["gate_run"] and quality["run"] == out["run"]
    assert not quality["default_applied"]
    assert quality["rules"] and all(r["rule"] != "(default)" for r in quality["rules"])
    for d in data["decisions"]:  # the default is named only where it decided, with its effect
        defaults = [r for r in d["rules"] if r["rule"] == "(default)"]
        assert bool(defaults) == d["default_applied"]
        for r in defaults:
            assert r["reason"] == f"no rule matched; the stage default is {d['effect']}"
    text = cli("explain", document_id("c", "junk")).stdout
    assert text.index("admission") < text.index("langid") < text.index("quality")
    assert quality["rules"][0]["rule"] in text
    # The pii stage logs the spans it decided to redact, so a release needs no attributes.
    run_dir = cli.home / "decisions" / f"run-{out['run']:06d}"
    pii = {r["id"]: r for r in pq.read_table(run_dir / "pii.parquet").to_pylist()}
    record = pii[document_id("c", "pii")]
    assert record["stage"] == "pii" and record["placeholder"]
    assert {s["type"] for s in record["redact_spans"]} <= set(record["redact"])
    assert any(s["type"] == "EMAIL_ADDRESS" for s in record["redact_spans"])
    assert CONTACT[record["redact_spans"][0]["start"]:record["redact_spans"][0]["end"]] in (
        "jane.doe@example.org", "+1 415 555 0134")


@pytest.mark.slow
def test_many_shards_and_a_tiny_dedup_budget_give_the_same_bytes(cli, tmp_path, monkeypatch):
    """One shard in memory at a time, and band partitions on disk: the number of partitions
    (from the memory budget) changes no byte of the decisions or of dedup.parquet."""
    from catalog.services import process

    assert cli("source", "add", "c", "--kind", "other", "--license", "CC-BY-4.0",
               "--tos-verdict", "unrestricted").exit_code == 0
    assert cli("source", "approve", "c", "--reason", "test").exit_code == 0
    sentences = [s.strip() + "." for s in (GOOD + " " + BRIDGES).split(".") if s.strip()]
    import random

    rng = random.Random(3)
    corpus = tmp_path / "many.jsonl"
    with corpus.open("w") as fh:
        previous = GOOD
        for i in range(90):
            text = (previous.replace("the", "a", 1) if i % 4 == 0
                    else " ".join(rng.sample(sentences, 9)) + f" Number {i}.")
            previous = text
            fh.write(json.dumps({"id": f"d{i}", "text": text,
                                 "added": f"2024-01-{1 + i % 28:02d}T00:00:00Z"}) + "\n")
    assert cli("ingest", "c", str(corpus), "--shard-docs", "7").exit_code == 0
    one = _run(cli, "--workers", "1")
    monkeypatch.setattr(process, "DEDUP_MEMORY_BUDGET", 2048)
    tiny = _run(cli, "--workers", "1")
    assert tiny["run"] != one["run"]
    assert _decision_bytes(cli, tiny["run"]) == _decision_bytes(cli, one["run"])

    def attributes(run: int) -> Path:
        return cli.home / "attributes" / f"run-{run:06d}" / "dedup" / "dedup.parquet"

    assert attributes(tiny["run"]).read_bytes() == attributes(one["run"]).read_bytes()
    from processing.dedup import DedupParams
    from processing.dedup.partitions import partition_count

    dedup_in = {f["stage"]: f for f in tiny["funnel"]}["dedup"]["docs_in"]
    assert partition_count(dedup_in, DedupParams(), 2048) > 8  # what the tiny budget ran with
    assert not (cli.home / "attributes" / f"run-{tiny['run']:06d}" / "spill").exists()
    funnel = {f["stage"]: f for f in one["funnel"]}
    assert funnel["dedup"]["kept"] < funnel["dedup"]["docs_in"]  # clusters were found
    pii = pq.read_table(cli.home / "decisions" / f"run-{one['run']:06d}" / "pii.parquet")
    ids = pii.column("id").to_pylist()
    assert ids == sorted(ids) and one["kept"] == len(ids)  # the merge is in id order
    assert tiny["kept"] == one["kept"] and isinstance(one["kept"], int)
