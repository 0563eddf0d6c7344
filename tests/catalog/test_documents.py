"""`govcat docs list` / `list_documents`: every filter, combinations, keyset pages, output, and
one-line errors — on SQLite and Postgres, over index rows written with the COPY writer and
decision logs and langid attributes written as Parquet under the data root."""

from __future__ import annotations

import functools
import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from catalog.index_writer import insert_documents
from catalog.models import Run, Shard, Source, utcnow
from catalog.services import documents as svc
from catalog.services.documents import DocumentFilter, list_documents
from common.atomic import write_table_atomic
from policies.taxonomy import load_taxonomy

# Slugs whose ids sort differently by byte and by a natural-language collation ('-' < '.' <
# '/' < '_' in bytes), so that a merge of SQL and Parquet order mistakes would show.
SLUGS = ("web", "web-2", "web.v2", "web_x", "books")
# (declared, concluded) by i % 8, with the class the taxonomy gives the licence in force.
LICENCES = (
    (None, None, "unspecified"),
    ("MIT", None, "commercial"),
    ("MIT", "Apache-2.0 OR MIT", "commercial"),
    (None, "CC-BY-NC-4.0", "non-commercial"),
    ("CC-BY-4.0", "LicenseRef-Academic-Only", "academic-only"),
    ("LicenseRef-Proprietary", None, "unspecified"),
    (None, "mit", "commercial"),
    (None, "CC-BY-NC-SA-4.0 AND LicenseRef-Academic-Only", "academic-only"),
)
LANGS = ("en", "de", "fr", "zh")
BASE = datetime(2024, 1, 1, tzinfo=UTC)
N = 240

OLD_DECISIONS = pa.schema([("id", pa.string()), ("effect", pa.string()),
                           ("rule_ids", pa.list_(pa.string())), ("default_applied", pa.bool_()),
                           ("n_tokens", pa.int64())])
DECISIONS = pa.schema([
    ("id", pa.string()), ("stage", pa.string()), ("effect", pa.string()),
    ("rule_ids", pa.list_(pa.string())), ("default_applied", pa.bool_()),
    ("n_tokens", pa.int64()), ("redact", pa.list_(pa.string())), ("placeholder", pa.string()),
    ("redact_spans", pa.list_(pa.struct([("type", pa.string()), ("start", pa.int64()),
                                         ("end", pa.int64())]))),
])


@dataclass
class Doc:
    i: int
    id: str
    source: str
    host: str | None
    collected_at: datetime | None
    license_class: str
    # stage -> (effect, rule ids), for the process run (admission from its gate run)
    decisions: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    lang: str | None = None


@dataclass
class World:
    docs: list[Doc]
    gate_run: int
    process_run: int
    failed_run: int
    ingest_run: int

    def ids(self, pred=lambda d: True) -> list[str]:
        return sorted(d.id for d in self.docs if pred(d))


def _write(catalog, uow, run_id: int, kind: str, stage: str, rel: str, table: pa.Table) -> None:
    written = write_table_atomic(table, catalog.data_root / rel)
    uow.session.add(Shard(run_id=run_id, kind=kind, stage=stage, path=rel,
                          sha256=written.sha256, n_docs=table.num_rows,
                          n_bytes=written.n_bytes, created_at=utcnow()))


def _decision_table(rows: list[tuple[str, str, list[str]]], stage: str | None) -> pa.Table:
    rows = sorted(rows)
    cols = {"id": [r[0] for r in rows], "effect": [r[1] for r in rows],
            "rule_ids": [r[2] for r in rows], "default_applied": [not r[2] for r in rows],
            "n_tokens": [10] * len(rows)}
    if stage is None:  # a log written before the `stage`, `placeholder`, spans columns
        return pa.table(cols, schema=OLD_DECISIONS)
    redacting = [r[1] == "redact" for r in rows]
    cols.update({
        "stage": [stage] * len(rows),
        "redact": [["EMAIL"] if x else [] for x in redacting],
        "placeholder": ["<{type}>" if x else None for x in redacting],
        "redact_spans": [[{"type": "EMAIL", "start": 3, "end": 9}] if x else []
                         for x in redacting],
    })
    return pa.table({name: cols[name] for name in DECISIONS.names}, schema=DECISIONS)


def build(catalog) -> World:
    docs: list[Doc] = []
    with catalog.uow() as uow:
        sources = {slug: Source(slug=slug, kind="web-crawl", created_at=utcnow(),
                                updated_at=utcnow()) for slug in SLUGS}
        uow.session.add_all(sources.values())
        uow.session.flush()
        runs = {name: Run(kind=kind, status=status, actor="tester", started_at=utcnow(),
                          config={}) for name, kind, status in (
            ("ingest", "ingest", "completed"), ("gate", "gate", "completed"),
            ("process", "process", "completed"), ("failed", "process", "failed"))}
        uow.session.add_all(runs.values())
        uow.session.flush()
        for name in ("process", "failed"):
            runs[name].config = {"gate_run": runs["gate"].id}
        rows = []
        for i in range(N):
            slug = SLUGS[i % len(SLUGS)]
            declared, concluded, use = LICENCES[i % len(LICENCES)]
            doc = Doc(i, f"{slug}/{hashlib.sha1(str(i).encode()).hexdigest()[:12]}", slug,
                      None if i % 5 == 4 else f"h{i % 5}.example",
                      None if i % 11 == 0 else BASE + timedelta(hours=i), use)
            docs.append(doc)
            rows.append({"id": doc.id, "source_id": sources[slug].id, "native_id": str(i),
                         "url": f"https://{doc.host or 'x'}/{i}", "host": doc.host,
                         "content_sha256": hashlib.sha256(str(i).encode()).hexdigest(),
                         "n_bytes": 100 + i, "n_tokens": 10 + i,
                         "collected_at": doc.collected_at, "declared_license": declared,
                         "concluded_license": concluded, "run_id": runs["ingest"].id})
        insert_documents(uow.session, rows)
        # The gate: every third document denied, by one rule or by two.
        for d in docs:
            d.decisions["admission"] = (("deny", ["no-nc"] if d.i % 2 else ["no-nc", "optout-1"])
                                        if d.i % 3 == 0 else ("allow", []))
        gate_id, proc_id = runs["gate"].id, runs["process"].id
        _write(catalog, uow, gate_id, "decisions", "admission",
               f"decisions/run-{gate_id:06d}/admission.parquet",
               _decision_table([(d.id, *d.decisions["admission"]) for d in docs], None))
        alive = [d for d in docs if d.decisions["admission"][0] == "allow"]
        for d in alive:
            d.lang = LANGS[d.i % len(LANGS)]
        # langid attributes in two shards, neither sorted by id (as document shards are not)
        for k in (0, 1):
            part = [d for d in alive if d.i % 2 == k]
            random.Random(k).shuffle(part)
            _write(catalog, uow, proc_id, "attributes", "langid",
                   f"attributes/run-{proc_id:06d}/langid/shard-{k:06d}.parquet",
                   pa.table({"id": [d.id for d in part], "lang": [d.lang for d in part],
                             "lang_score": [0.5 + d.i / 1000 for d in part]}))
        # A later run that failed: its attributes say every document is Dutch.
        fail_id = runs["failed"].id
        _write(catalog, uow, fail_id, "attributes", "langid",
               f"attributes/run-{fail_id:06d}/langid/shard-000000.parquet",
               pa.table({"id": [d.id for d in alive], "lang": ["nl"] * len(alive),
                         "lang_score": [0.9] * len(alive)}))
        stages = {
            "langid": lambda d: (("drop", ["lang-allowlist"]) if d.lang in ("fr", "zh")
                                 else ("keep", [])),
            "quality": lambda d: (("drop", ["gopher_rep", "c4_terminal"]) if d.i % 7 == 0
                                  else ("keep", [])),
            "pii": lambda d: ("redact", ["pii-email"]) if d.i % 5 == 1 else ("keep", []),
        }
        for stage, decide in stages.items():
            for d in alive:
                d.decisions[stage] = decide(d)
            _write(catalog, uow, proc_id, "decisions", stage,
                   f"decisions/run-{proc_id:06d}/{stage}.parquet",
                   _decision_table([(d.id, *d.decisions[stage]) for d in alive], stage))
            alive = [d for d in alive if d.decisions[stage][0] != "drop"]
        uow.commit()
        return World(docs, gate_id, proc_id, fail_id, runs["ingest"].id)


@pytest.fixture
def world(catalog) -> World:
    return build(catalog)


@functools.cache
def taxonomy():
    return load_taxonomy()


def walk(catalog, filters: DocumentFilter, limit: int) -> list[str]:
    """Every page of a listing, checking each page's cursor."""
    ids, after = [], None
    for _ in range(N + 2):
        page = list_documents(catalog, filters=filters, limit=limit, after=after,
                              taxonomy=taxonomy())
        got = [d["id"] for d in page.documents]
        assert len(got) <= limit
        ids += got
        if page.next_after is None:
            return ids
        assert len(got) == limit and page.next_after == got[-1]
        after = page.next_after
    raise AssertionError("pagination did not end")


def decided(d: Doc, stage: str, effect: str | None = None, rule: str | None = None) -> bool:
    if stage not in d.decisions:
        return False
    e, rules = d.decisions[stage]
    return (effect is None or e == effect) and (rule is None or rule in rules)


# --------------------------------------------------------------------------- filters


def test_no_filter_pages_through_everything_in_id_order(catalog, world):
    ids = walk(catalog, DocumentFilter(), limit=37)
    assert ids == world.ids()
    assert len(set(ids)) == N
    first = list_documents(catalog, filters=DocumentFilter(), limit=5)
    doc = first.documents[0]
    source = next(d for d in world.docs if d.id == doc["id"])
    assert doc["source"] == source.source and doc["host"] == source.host
    assert doc["n_tokens"] == 10 + source.i


def test_index_filters(catalog, world):
    cases = [
        (DocumentFilter(sources=("web-2", "books")), lambda d: d.source in ("web-2", "books")),
        (DocumentFilter(sources=("web.v2,web_x",)), lambda d: d.source in ("web.v2", "web_x")),
        (DocumentFilter(hosts=("H1.example", "h3.example")),
         lambda d: d.host in ("h1.example", "h3.example")),
        (DocumentFilter(license="MIT"), lambda d: d.i % 8 in (1, 6)),
        (DocumentFilter(license="mit OR apache-2.0"), lambda d: d.i % 8 == 2),
        (DocumentFilter(collected_after=BASE + timedelta(hours=100)),
         lambda d: d.collected_at is not None and d.collected_at >= BASE + timedelta(hours=100)),
        (DocumentFilter(collected_before=BASE + timedelta(hours=50)),
         lambda d: d.collected_at is not None and d.collected_at < BASE + timedelta(hours=50)),
    ]
    cases += [(DocumentFilter(license=use), lambda d, use=use: d.license_class == use)
              for use in svc.LICENSE_CLASSES]
    for filters, pred in cases:
        expected = world.ids(pred)
        assert expected, filters
        assert walk(catalog, filters, limit=7) == expected, filters


def test_licence_nobody_has_is_an_empty_page(catalog, world):
    page = list_documents(catalog, filters=DocumentFilter(license="GPL-3.0-only"))
    assert page.documents == [] and page.next_after is None


def test_decision_filters(catalog, world):
    g, p = world.gate_run, world.process_run
    cases = [
        (DocumentFilter(run=g, stage="admission", effect="deny"),
         lambda d: decided(d, "admission", "deny")),
        (DocumentFilter(run=g, rule="optout-1"),
         lambda d: decided(d, "admission", rule="optout-1")),
        # --stage admission of a process run reads its gate run's log
        (DocumentFilter(run=p, stage="admission", effect="allow"),
         lambda d: decided(d, "admission", "allow")),
        (DocumentFilter(run=p, stage="quality", effect="drop", rule="c4_terminal"),
         lambda d: decided(d, "quality", "drop", "c4_terminal")),
        (DocumentFilter(run=p, stage="langid"), lambda d: "langid" in d.decisions),
        (DocumentFilter(run=p, stage="pii", effect="redact"),
         lambda d: decided(d, "pii", "redact")),
        # no --stage: any stage of the run, its gate run's admission included
        (DocumentFilter(run=p, effect="drop"),
         lambda d: any(decided(d, s, "drop") for s in ("langid", "quality"))),
        (DocumentFilter(run=p, effect="keep"),
         lambda d: any(decided(d, s, "keep") for s in ("langid", "quality", "pii"))),
        (DocumentFilter(run=p, rule="no-nc"), lambda d: decided(d, "admission", rule="no-nc")),
    ]
    for filters, pred in cases:
        expected = world.ids(pred)
        assert expected, filters
        assert walk(catalog, filters, limit=9) == expected, filters


def test_decisions_are_shown_with_the_documents(catalog, world):
    page = list_documents(catalog, filters=DocumentFilter(run=world.process_run,
                                                          stage="quality", effect="drop"),
                          limit=500)
    by_id = {d.id: d for d in world.docs}
    assert page.documents
    for doc in page.documents:
        assert doc["decisions"] == [{"stage": "quality", "effect": "drop",
                                     "rule_ids": by_id[doc["id"]].decisions["quality"][1]}]
    page = list_documents(catalog, filters=DocumentFilter(run=world.process_run), limit=500)
    for doc in page.documents:
        want = [s for s in ("admission", "langid", "quality", "dedup", "pii")
                if s in by_id[doc["id"]].decisions]
        assert [x["stage"] for x in doc["decisions"]] == want


def test_language_from_the_latest_completed_run_or_the_named_one(catalog, world):
    en = world.ids(lambda d: d.lang == "en")
    assert walk(catalog, DocumentFilter(languages=("EN",)), limit=8) == en
    assert walk(catalog, DocumentFilter(languages=("en,de",)), limit=8) == world.ids(
        lambda d: d.lang in ("en", "de"))
    page = list_documents(catalog, filters=DocumentFilter(languages=("en",)), limit=500)
    assert page.filters["language_run"] == world.process_run
    assert {d["lang"] for d in page.documents} == {"en"}
    # the failed run is later but not completed: only named, its attributes are used
    assert list_documents(catalog, filters=DocumentFilter(languages=("nl",))).documents == []
    assert walk(catalog, DocumentFilter(languages=("nl",), run=world.failed_run),
                limit=50) == world.ids(lambda d: d.lang is not None)


@pytest.mark.parametrize("chunks", [(4, 8), (256, 65536)])
def test_combinations_across_pages(catalog, world, monkeypatch, chunks):
    # Small chunks make each listing take many rounds of the merge of SQL and Parquet ids.
    monkeypatch.setattr(svc, "_FIRST_CHUNK", chunks[0])
    monkeypatch.setattr(svc, "_MAX_CHUNK", chunks[1])
    p = world.process_run
    cases = [
        (DocumentFilter(hosts=("h1.example",), run=p, stage="pii", effect="redact"),
         lambda d: d.host == "h1.example" and decided(d, "pii", "redact")),
        (DocumentFilter(sources=("web-2",), run=p, stage="admission", effect="deny"),
         lambda d: d.source == "web-2" and decided(d, "admission", "deny")),
        (DocumentFilter(license="academic-only", languages=("en", "de"), run=p, stage="langid",
                        effect="keep"),
         lambda d: d.license_class == "academic-only" and d.lang in ("en", "de")
         and decided(d, "langid", "keep")),
        (DocumentFilter(hosts=("h0.example", "h2.example"), languages=("fr",),
                        collected_after=BASE + timedelta(hours=20)),
         lambda d: d.host in ("h0.example", "h2.example") and d.lang == "fr"
         and d.collected_at is not None and d.collected_at >= BASE + timedelta(hours=20)),
        (DocumentFilter(run=p, rule="gopher_rep", license="commercial"),
         lambda d: decided(d, "quality", rule="gopher_rep") and d.license_class == "commercial"),
        (DocumentFilter(hosts=("h3.example",), run=p, effect="keep"),
         lambda d: d.host == "h3.example"
         and any(decided(d, s, "keep") for s in ("langid", "quality", "pii"))),
    ]
    for filters, pred in cases:
        expected = world.ids(pred)
        assert expected, filters
        for limit in (1, 3, 50):
            got = walk(catalog, filters, limit=limit)
            assert got == expected, (filters, limit)


def test_same_pages_when_postgres_collation_is_not_byte_order(catalog, world, monkeypatch):
    # Under a natural-language collation the ids are compared COLLATE "C"; the test database
    # is C.UTF-8, so the comparison is forced here to check that those queries agree.
    monkeypatch.setattr(svc, "_byte_order", lambda conn: False)
    assert walk(catalog, DocumentFilter(), limit=60) == world.ids()
    p = world.process_run
    filters = DocumentFilter(hosts=("h2.example",), run=p, stage="langid", effect="keep")
    assert walk(catalog, filters, limit=4) == world.ids(
        lambda d: d.host == "h2.example" and decided(d, "langid", "keep"))


def test_cursor_between_ids_and_past_the_end(catalog, world):
    ids = world.ids()
    middle = ids[100]
    page = list_documents(catalog, filters=DocumentFilter(), limit=3, after=middle + "!")
    assert [d["id"] for d in page.documents] == [x for x in ids if x > middle + "!"][:3]
    page = list_documents(catalog, filters=DocumentFilter(run=world.gate_run), limit=3,
                          after=ids[-1])
    assert page.documents == [] and page.next_after is None


# --------------------------------------------------------------------------- the command


def test_cli_table_json_and_jsonl(cli, catalog, world):
    result = cli("docs", "list", "--run", str(world.process_run), "--stage", "quality",
                 "--effect", "drop", "--limit", "2")
    assert result.exit_code == 0, result.output
    expected = world.ids(lambda d: decided(d, "quality", "drop"))
    assert expected[0] in result.stdout and expected[1] in result.stdout
    assert "gopher_rep, c4_terminal" in result.stdout
    assert f"next page: --after {expected[1]}" in result.stdout

    result = cli("docs", "list", "--run", str(world.process_run), "--stage", "quality",
                 "--effect", "drop", "--limit", "2", "--after", expected[1], "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [d["id"] for d in data["documents"]] == expected[2:4]
    assert data["next_after"] == (expected[3] if len(expected) > 4 else None)
    assert data["filters"]["stage"] == "quality"

    result = cli("docs", "list", "--source", "web", "--source", "books", "--jsonl",
                 "--limit", "1000")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["id"] for d in lines] == world.ids(lambda d: d.source in ("web", "books"))
    assert "next page" not in result.output

    result = cli("docs", "list", "--host", "h2.example", "--jsonl", "--limit", "3")
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 3
    assert "next page: --after" in result.stderr


def test_cli_never_truncates_ids_in_a_narrow_terminal(cli, catalog, world):
    import os
    import subprocess
    import sys

    # A fresh interpreter: rich reads COLUMNS when the CLI's console is first made.
    out = subprocess.run(
        [sys.executable, "-m", "catalog.cli", "--db-url", cli.db_url, "--home", str(cli.home),
         "docs", "list", "--limit", "4"], capture_output=True, text=True, check=True,
        env={**os.environ, "COLUMNS": "40"}).stdout
    assert "…" not in out
    rows = [line.split("│")[1:-1] for line in out.splitlines() if line.startswith("│")]
    id_column = "".join(cells[0].strip() for cells in rows).replace(" ", "")
    assert id_column == "".join(world.ids()[:4])


@pytest.mark.parametrize(("args", "code", "says"), [
    (["--source", "nope"], 4, "no source 'nope'"),
    (["--run", "9999"], 4, "no run 9999"),
    (["--collected-after", "2024-13-01"], 2, "--collected-after"),
    (["--collected-after", "2024-02-01", "--collected-before", "2024-01-01"], 2, "not before"),
    (["--license", "MTI"], 2, "did you mean MIT"),
    (["--license", "non-comercial"], 2, "did you mean non-commercial"),
    (["--effect", "deny"], 2, "--effect needs --run"),
    (["--rule", "x"], 2, "--rule needs --run"),
    (["--run", "{gate}", "--stage", "quality"], 2, "no quality decisions"),
    (["--run", "{process}", "--stage", "dedup"], 2, "no dedup decisions"),
    (["--run", "{process}", "--stage", "langid", "--effect", "deny"], 2, "effects of stage"),
    (["--run", "{process}", "--stage", "review"], 2, "stages are"),
    (["--run", "{ingest}"], 2, "only gate and process runs"),
    (["--run", "{gate}", "--language", "en"], 2, "no language attributes"),
    (["--language", "english!"], 2, "ISO 639"),
    (["--limit", "0"], 2, "--limit"),
    (["--json", "--jsonl"], 2, "choose one"),
])
def test_cli_bad_input_is_one_line(cli, catalog, world, args, code, says):
    runs = {"gate": world.gate_run, "process": world.process_run, "ingest": world.ingest_run}
    result = cli("docs", "list", *[a.format(**runs) for a in args])
    assert result.exit_code == code, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert says in result.output and "Traceback" not in result.output


def test_cli_missing_decision_file_is_an_integrity_error(cli, catalog, world):
    (catalog.data_root / f"decisions/run-{world.gate_run:06d}/admission.parquet").unlink()
    result = cli("docs", "list", "--run", str(world.gate_run))
    assert result.exit_code == 6
    assert "missing" in result.output and len(result.output.strip().splitlines()) == 1


def test_language_needs_a_completed_run(cli, catalog):
    with catalog.uow() as uow:
        uow.session.add(Source(slug="s", kind="web-crawl", created_at=utcnow(),
                               updated_at=utcnow()))
        uow.commit()
    result = cli("docs", "list", "--language", "en")
    assert result.exit_code == 2 and "no completed `govcat run`" in result.output
