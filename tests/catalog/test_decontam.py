"""`govcat decontam` and the content filters in `govcat run`, on both databases: a release
built from documents that quote a registered evaluation set says so, and explain too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.documents import document_id
from tests.catalog.test_process import BRIDGES, CONTACT, GOOD

QUESTION = ("Which gas do plants absorb from the air during photosynthesis, and which gas do "
            "they release back into the atmosphere as a result of it?")
EXAMPLES = [
    {"question": QUESTION, "choices": ["oxygen", "carbon dioxide"], "answer": "carbon dioxide"},
    {"question": "What is the boiling point of water at sea level, measured in degrees on the "
                 "Celsius scale, and why does it change on a mountain?", "answer": "100"},
    {"question": "Too short to ever match", "answer": "x"},
]
QUOTING = BRIDGES + f" A quiz in the back of the book asks: {QUESTION} The answer is given."
PACKS = Path(__file__).resolve().parents[2] / "policies" / "packs"


def _eval_set(tmp_path: Path, name: str = "science.jsonl", examples=EXAMPLES) -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(e) + "\n" for e in examples), encoding="utf-8")
    return path


def _json(cli, *args):
    r = cli(*args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_add_and_list_a_set(cli, tmp_path):
    path = _eval_set(tmp_path)
    added = _json(cli, "decontam", "add", "sciq", str(path))
    assert added["examples"] == 3 and added["skipped_short"] == 1 and not added["unchanged"]
    assert added["fields"] == ["question", "choices", "answer"] and added["n"] == 13
    index = cli.home / added["index"]
    assert index.is_file() and added["index"].startswith("decontam/sciq/")
    again = _json(cli, "decontam", "add", "sciq", str(path))
    assert again["unchanged"] and again["index_sha256"] == added["index_sha256"]
    [listed] = _json(cli, "decontam", "list")
    assert listed["name"] == "sciq" and listed["file_sha256"] == added["file_sha256"]
    # the same name with other content is refused; another name is fine
    other = _eval_set(tmp_path, "other.jsonl", EXAMPLES[1:])
    r = cli("decontam", "add", "sciq", str(other))
    assert r.exit_code == 5 and "other content" in r.stderr and "Traceback" not in r.output
    assert _json(cli, "decontam", "add", "boil", str(other), "--field", "question")[
        "fields"] == ["question"]
    text = cli("decontam", "list")
    assert text.exit_code == 0 and "sciq" in text.stdout and "boil" in text.stdout


def test_parquet_sets_and_one_line_errors(cli, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = tmp_path / "sets.parquet"
    pq.write_table(pa.Table.from_pylist(EXAMPLES[:2]), parquet)
    assert _json(cli, "decontam", "add", "pq", str(parquet))["examples"] == 2
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"question": "fine"}\nnot json\n', encoding="utf-8")
    csv = tmp_path / "x.csv"
    csv.write_text("a,b\n", encoding="utf-8")
    short = _eval_set(tmp_path, "short.jsonl", EXAMPLES[2:])
    for args, code, words in (
        (("decontam", "add", "Bad Name", str(short)), 2, "lower-case"),
        (("decontam", "add", "x", str(tmp_path / "none.jsonl")), 2, "no such file"),
        (("decontam", "add", "x", str(bad_json)), 2, "bad.jsonl:2: not JSON"),
        (("decontam", "add", "x", str(csv)), 2, ".jsonl or .parquet"),
        (("decontam", "add", "x", str(short)), 2, "none could match"),
        (("decontam", "add", "x", str(parquet), "--field", "nope"), 2, "no field 'nope'"),
    ):
        r = cli(*args)
        assert r.exit_code == code, (args, r.output)
        assert words in r.stderr and "Traceback" not in r.output


def test_migration_0008_goes_down_and_up_and_matches_the_models(db_url):
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect
    from sqlmodel import SQLModel

    from catalog import db

    engine = db.create_catalog_engine(db_url)
    try:
        db.upgrade(engine)
        assert "decontam_sets" in inspect(engine).get_table_names()
        command.downgrade(db._alembic_config(engine), "0007")
        assert "decontam_sets" not in inspect(engine).get_table_names()
        db.upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(
                conn, opts={"compare_type": True}), SQLModel.metadata)
        assert [d for d in diff if "decontam" in repr(d)] == []
    finally:
        engine.dispose()


def _ingest(cli, tmp_path) -> None:
    docs = [("clean", GOOD), ("quoting", QUOTING), ("contact", CONTACT)]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"id": i, "text": t, "added": "2024-01-01T00:00:00Z"})
                              + "\n" for i, t in docs), encoding="utf-8")
    assert cli("source", "add", "c", "--kind", "other", "--license", "CC-BY-4.0",
               "--tos-verdict", "unrestricted").exit_code == 0
    assert cli("source", "approve", "c", "--reason", "test").exit_code == 0
    r = cli("ingest", "c", str(corpus), "--shard-docs", "2")
    assert r.exit_code == 0, r.output


@pytest.mark.slow
def test_a_release_of_documents_quoting_a_set_reports_the_overlap(cli, tmp_path):
    _ingest(cli, tmp_path)
    assert cli("decontam", "add", "sciq", str(_eval_set(tmp_path))).exit_code == 0
    words = tmp_path / "en.txt"  # a "bad word" of the clean document, to see C4's rule work
    words.write_text("fountain\n", encoding="utf-8")
    run = _json(cli, "run", "research-permissive", "--workers", "1",
                "--badwords-list", str(words))
    quality = next(f for f in run["funnel"] if f["stage"] == "quality")
    assert quality["dropped"] == {"c4-badwords": 1}  # attr.lang reached the quality rules
    filters = run["models"]["quality"]
    assert filters["stages"] == ["quality_v1", "badwords_v1", "toxicity_v1", "decontam_v1"]
    assert filters["toxicity"]["name"] == "alt-profanity-check"
    assert filters["toxicity"]["licence"] == "MIT"
    assert [w["language"] for w in filters["badwords"]] == ["en"]
    assert [s["name"] for s in filters["decontam"]] == ["sciq"]

    released = _json(cli, "release", "cut", str(run["run"]), "--name", "demo",
                     "--version", "1.0.0")
    assert released["documents"] == 2
    shown = _json(cli, "release", "show", "demo@1.0.0")
    overlap = shown["decontamination"]
    n_words = len(QUESTION.split())
    assert overlap["checked"] == ["sciq"]
    assert overlap["overlaps"] == {"sciq": {"documents": 1, "hits": n_words - 12,
                                            "longest": n_words}}
    text = cli("release", "show", "demo@1.0.0")
    assert "evaluation sets checked: sciq; quoted: sciq: 1 document(s)" in text.stdout

    quoting = document_id("c", "quoting")
    explained = _json(cli, "explain", quoting)
    assert explained["decontamination"] == [{"run": run["run"], "set": "sciq",
                                             "hits": n_words - 12, "longest": n_words}]
    assert _json(cli, "explain", document_id("c", "contact"))["decontamination"] == []
    clean = _json(cli, "explain", document_id("c", "clean"))
    [quality_decision] = [d for d in clean["decisions"] if d["stage"] == "quality"]
    assert quality_decision["effect"] == "drop"
    assert [r["rule"] for r in quality_decision["rules"]] == ["c4-badwords"]

    # A policy with the decontamination rule on drops the quoting document, with its rule.
    text = (PACKS / "research-permissive.yaml").read_text(encoding="utf-8")
    text = text.replace("name: research-permissive", "name: research-decontaminated")
    text = text.replace("    # - id: benchmark-contamination", "    - id: benchmark-contamination")
    for key in ("effect", "condition", "reason"):
        text = text.replace(f"    #   {key}:", f"      {key}:")
    strict = tmp_path / "strict.yaml"
    strict.write_text(text, encoding="utf-8")
    second = _json(cli, "run", str(strict), "--workers", "1")
    quality = next(f for f in second["funnel"] if f["stage"] == "quality")
    assert quality["dropped"] == {"benchmark-contamination": 1}
    explained = _json(cli, "explain", quoting)
    [dropped] = [d for d in explained["decisions"]
                 if d["stage"] == "quality" and d["pipeline_run"] == second["run"]]
    assert dropped["effect"] == "drop"
    assert [r["rule"] for r in dropped["rules"]] == ["benchmark-contamination"]
    shown_text = cli("explain", quoting).stdout
    assert "quotes evaluation set sciq" in shown_text and "benchmark-contamination" in shown_text
