"""Mixtures: create/list/show, the compliance review and its verdict, sign-off and staleness,
on both databases.

Releases are built from the tests' own documents through the catalog's tables, as a cut
records them (documents, a completed processing run, the release, its members, a minimal
manifest), so each test stays fast; one slow test goes through ingest, run and cut.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from common.atomic import text_sha256
from ingest.documents import document_id

CUT = datetime(2025, 6, 1, tzinfo=UTC)
COLLECTED = datetime(2025, 1, 15, tzinfo=UTC)
ALLOW_ALL = "User-agent: *\nAllow: /\n"


def _source(cli, slug: str, licence: str, *, tos: str = "unrestricted", personal: str = "no",
            quote: str | None = None) -> None:
    args = ["source", "add", slug, "--kind", "web-crawl", "--license", licence,
            "--tos-verdict", tos, "--personal-data", personal]
    if quote:
        args += ["--tos-quote", quote]
    r = cli(*args)
    assert r.exit_code == 0, r.output


def _release(catalog, name: str, docs: list[tuple[str, str, str, int]], *,
             version: str = "1.0.0", cut: datetime = CUT, pack: str = "commercial-strict",
             redacted: dict[str, int] | None = None) -> None:
    """A release of `docs` — (source slug, native id, host, tokens) — recorded as a cut does."""
    from catalog.index_writer import copy_rows, insert_documents
    from catalog.models import Document, Release, ReleaseMember, Run, Source
    from catalog.services import policies
    from catalog.services.release_cut import MEMBER_COPY_TYPES
    from reports.manifest import write_manifest

    folder = catalog.layout.release(name, version)
    folder.mkdir(parents=True)
    write_manifest(folder, {"name": name, "version": version, "redacted": redacted or {}})
    with catalog.uow() as uow:
        stored, _ = policies.store(uow, _pack(pack))
        sources = {s.slug: s for s in uow.session.execute(select(Source)).scalars()}
        run = Run(kind="process", status="completed", actor="tester", started_at=cut,
                  finished_at=cut, policy_id=stored.id, config={}, stats={})
        uow.session.add(run)
        uow.session.flush()
        rows = []
        for slug, nid, host, tokens in docs:
            doc_id = document_id(slug, nid)
            if uow.session.get(Document, doc_id) is None:
                rows.append({"id": doc_id, "source_id": sources[slug].id, "native_id": nid,
                             "url": f"https://{host}/{nid}", "host": host,
                             "content_sha256": text_sha256(nid), "n_bytes": tokens * 5,
                             "n_tokens": tokens, "collected_at": COLLECTED,
                             "created_at": COLLECTED,
                             "declared_license": sources[slug].declared_license})
        insert_documents(uow.session, rows)
        release = Release(name=name, version=version, run_id=run.id, path=catalog.layout.relative(
            folder), manifest_sha256=text_sha256(name + version), merkle_root="0" * 64,
            documents=len(docs), tokens=sum(d[3] for d in docs), optouts_up_to=cut,
            actor="tester", created_at=cut)
        uow.session.add(release)
        uow.session.flush()
        copy_rows(uow.session, ReleaseMember.__table__, MEMBER_COPY_TYPES, (
            {"release_id": release.id, "document_id": document_id(s, n),
             "content_sha256": text_sha256(n), "n_tokens": t} for s, n, _, t in docs))
        uow.commit()


@functools.cache
def _pack(name: str):
    from policies import packs

    return packs.load(name)


def _robots(cli, host: str, text: str, fetched: str, tmp_path) -> None:
    path = tmp_path / f"robots-{host}-{fetched}.txt"
    path.write_text(text)
    r = cli("consent", "add-robots", host, str(path), "--fetched-at", fetched)
    assert r.exit_code == 0, r.output


@pytest.fixture
def corpus(cli, catalog, tmp_path):
    """clean (CC-BY, host a.example), nc (CC-BY-NC, b.example), sa (CC-BY-SA, c.example)."""
    _source(cli, "web", "CC-BY-4.0", quote="You may reuse the content for any purpose.")
    _source(cli, "nc", "CC-BY-NC-4.0")
    _source(cli, "sa", "CC-BY-SA-4.0")
    for host in ("a.example", "b.example", "c.example"):
        _robots(cli, host, ALLOW_ALL, "2025-01-01", tmp_path)
    _release(catalog, "clean", [("web", f"w{i}", "a.example", 100) for i in range(3)])
    _release(catalog, "nc", [("nc", f"n{i}", "b.example", 50) for i in range(2)])
    _release(catalog, "sa", [("sa", f"s{i}", "c.example", 70) for i in range(2)])
    return {"clean": 300, "nc": 100, "sa": 140}  # tokens per release


def _create(cli, name: str, *components: str, use: str = "commercial", where: str = "EU",
            extra: tuple[str, ...] = ()) -> dict:
    args = ["mixture", "create", name, "--intended-use", use, "--jurisdiction", where,
            "--json", *extra]
    for c in components:
        args += ["--component", c]
    r = cli(*args)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def _review(cli, name: str) -> dict:
    r = cli("mixture", "review", name, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def _findings(doc: dict, effect: str | None = None) -> list[dict]:
    return [f for f in doc["findings"] if effect is None or f["effect"] == effect]


# --------------------------------------------------------------------------- acceptance


def test_commercial_mixture_with_a_non_commercial_component_is_blocked(cli, corpus):
    shown = _create(cli, "m", "clean:1", "nc@1.0.0:2.5")
    assert [c["effective_tokens"] for c in shown["components"]] == [
        corpus["clean"], round(corpus["nc"] * 2.5)]
    assert shown["totals"]["effective_tokens"] == corpus["clean"] + round(corpus["nc"] * 2.5)
    doc = _review(cli, "m")
    assert doc["verdict"] == "blocked"
    [blocked] = _findings(doc, "blocked")
    assert blocked["rule"] == "licence-non-commercial" and blocked["component"] == "nc@1.0.0"
    [item] = blocked["evidence"]["license.non_commercial"]["items"]
    assert item["license"] == "CC-BY-NC-4.0" and item["source"] == "nc"
    assert item["effective_tokens"] == round(corpus["nc"] * 2.5)
    assert blocked["measures"]["license.non_commercial"]["effective_tokens"] == 250
    by = {c["release"]: c for c in doc["components"]}
    assert by["clean@1.0.0"]["verdict"] == "ok" and by["nc@1.0.0"]["verdict"] == "blocked"
    text = cli("mixture", "review", "m").stdout
    line = next(x for x in text.splitlines() if "licence-non-commercial" in x)
    assert "[blocked] nc@1.0.0" in line and "250 effective tokens" in line
    assert "CC-BY-NC-4.0" in text


def test_share_alike_content_needs_attention_under_commercial_use(cli, corpus):
    _create(cli, "m", "clean", "sa:1")
    doc = _review(cli, "m")
    assert doc["verdict"] == "needs-attention" and not _findings(doc, "blocked")
    [sa] = _findings(doc, "needs-attention")
    assert (sa["rule"], sa["component"]) == ("licence-share-alike", "sa@1.0.0")
    assert sa["evidence"]["license.share_alike"]["items"][0]["license"] == "CC-BY-SA-4.0"
    assert "share-alike" in sa["evidence"]["license.share_alike"]["items"][0]["obligations"]


def test_a_host_disallowing_gptbot_after_the_cut_needs_attention(cli, corpus, tmp_path):
    _create(cli, "m", "clean:2")
    assert _review(cli, "m")["verdict"] == "ok"
    _robots(cli, "a.example", "User-agent: GPTBot\nDisallow: /\n", "2025-09-01", tmp_path)
    doc = _review(cli, "m")
    assert doc["verdict"] == "needs-attention"
    [f] = _findings(doc, "needs-attention")
    assert f["rule"] == "consent-stricter-since-cut" and f["component"] == "clean@1.0.0"
    m = f["measures"]["consent.stricter_since_cut"]
    assert (m["documents"], m["tokens"], m["effective_tokens"]) == (3, 300, 600)
    [host] = f["evidence"]["consent.stricter_since_cut"]["items"]
    assert host["host"] == "a.example" and host["agents"]["GPTBot"] == {"at_cut": "none",
                                                                         "now": "all"}
    assert host["snapshot_now"]["robots.txt"]["fetched_at"].startswith("2025-09-01")
    assert host["snapshot_at_cut"]["robots.txt"]["fetched_at"].startswith("2025-01-01")
    comp = doc["components"][0]
    assert comp["measures"]["consent.blocked_at_collection"]["documents"] == 0
    assert comp["measures"]["consent.blocked_now"]["documents"] == 3


def test_an_all_clean_research_mixture_is_ok(cli, corpus):
    _create(cli, "r", "clean@1.0.0:1", use="research")
    doc = _review(cli, "r")
    assert doc["verdict"] == "ok" and doc["review_policy"]["name"] == "review-research"
    assert {f["effect"] for f in doc["findings"]} <= {"note"}
    assert doc["sha256"] == _review(cli, "r")["sha256"]  # the same catalog, the same review


def test_a_new_optout_makes_the_signoff_stale_and_both_events_are_audited(cli, corpus):
    _create(cli, "r", "clean", use="research")
    r = cli("mixture", "sign-off", "r", "--decision", "approve", "--note", "cleared",
            "--json", actor="alice")
    assert r.exit_code == 0, r.output
    signed = json.loads(r.stdout)
    assert signed["state"] == "approve" and not signed["stale"]
    shown = json.loads(cli("mixture", "show", "r", "--json").stdout)
    assert shown["signoff"]["actor"] == "alice" and not shown["signoff"]["stale"]
    assert cli("optout", "add", "--domain", "a.example", "--requester", "owner@a.example",
               "--received", "2026-01-01").exit_code == 0
    shown = json.loads(cli("mixture", "show", "r", "--json").stdout)
    assert shown["signoff"]["stale"] and shown["signoff"]["state"] == "stale approve"
    [reason] = shown["signoff"]["reasons"]
    assert "optout-1" in reason and "3 document(s)" in reason and "clean@1.0.0" in reason
    doc = _review(cli, "r")
    assert doc["signoff"]["stale"] and doc["verdict"] == "needs-attention"
    assert _findings(doc, "needs-attention")[0]["rule"] == "optout-since-cut"
    assert "stale: " in cli("mixture", "show", "r").stdout
    events = json.loads(cli("audit", "log", "--json", "--limit", "0").stdout)
    actions = [e["action"] for e in events]
    assert actions.index("mixture.sign-off") < actions.index("optout.add")
    signoff = next(e for e in events if e["action"] == "mixture.sign-off")
    assert signoff["actor"] == "alice" and signoff["after"]["review_sha256"] == signed[
        "review_sha256"]
    assert signoff["after"]["review_policy"]["name"] == "review-research"
    assert len(signoff["after"]["review_policy"]["sha256"]) == 64
    assert cli("audit", "verify").exit_code == 0


# --------------------------------------------------------------------------- sign-off rules


def test_approving_a_blocked_review_needs_an_override_shown_everywhere(cli, corpus):
    _create(cli, "m", "nc")
    r = cli("mixture", "sign-off", "m", "--decision", "approve", "--note", "ok")
    assert r.exit_code == 2 and "--override" in r.stderr and "licence-non-commercial" in r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.output
    r = cli("mixture", "sign-off", "m", "--decision", "approve", "--note", "ok",
            "--override", "licensed separately from the publisher", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["state"] == "override"
    shown = json.loads(cli("mixture", "show", "m", "--json").stdout)["signoff"]
    assert shown["override"] and shown["override_reason"].startswith("licensed separately")
    assert "OVERRIDE" in cli("mixture", "show", "m").stdout
    listed = json.loads(cli("mixture", "list", "--json").stdout)
    assert listed[0]["signoff"]["state"] == "override"
    assert "override" in cli("mixture", "list").stdout
    md = cli("mixture", "review", "m", "--md").stdout
    assert "**Override** of a blocked review: licensed separately" in md
    html = cli("mixture", "review", "m", "--html").stdout
    assert 'class="override"' in html
    assert cli("mixture", "sign-off", "m", "--decision", "reject", "--note", "no").exit_code == 0
    assert json.loads(cli("mixture", "show", "m", "--json").stdout)["signoff"]["state"] == "reject"


def test_signoff_options_are_checked(cli, corpus):
    # An override is for approving a blocked review only.
    _create(cli, "c", "clean")
    r = cli("mixture", "sign-off", "c", "--decision", "approve", "--note", "x", "--override", "y")
    assert r.exit_code == 2 and "blocked" in r.stderr
    r = cli("mixture", "sign-off", "c", "--decision", "approve-with-conditions", "--note", "x")
    assert r.exit_code == 2 and "--conditions" in r.stderr
    r = cli("mixture", "sign-off", "c", "--decision", "approve-with-conditions", "--note", "x",
            "--conditions", "ship the attribution file", "--conditions", "re-review in June",
            "--json")
    assert json.loads(r.stdout)["conditions"] == ["ship the attribution file",
                                                  "re-review in June"]
    r = cli("mixture", "sign-off", "c", "--decision", "approve", "--note", "x",
            "--review-sha256", "0" * 64)
    assert r.exit_code == 2 and "changed since" in r.stderr


def test_staleness_names_a_new_release_version_a_new_policy_and_a_source_change(
        cli, catalog, corpus, tmp_path):
    _create(cli, "m", "clean", "sa@1.0.0")
    assert cli("mixture", "sign-off", "m", "--decision", "approve", "--note", "ok").exit_code == 0
    _release(catalog, "clean", [("web", "w9", "a.example", 10)], version="1.1.0")
    _release(catalog, "sa", [("sa", "s9", "c.example", 10)], version="1.1.0")
    reasons = json.loads(cli("mixture", "show", "m", "--json").stdout)["signoff"]["reasons"]
    assert reasons == ["component clean now resolves to clean@1.1.0; the review saw "
                       "clean@1.0.0"]  # sa@1.0.0 is pinned: its new version does not matter
    pack = (tmp_path / "mine.yaml")
    from policies.review import review_pack_path

    pack.write_text(review_pack_path("review-commercial").read_text()
                    .replace("name: review-commercial", "name: mine"))
    assert cli("mixture", "set-policy", "m", str(pack)).exit_code == 0
    assert cli("source", "review", "web", "--verdict", "conditional", "--quote",
               "Reuse needs a credit line.").exit_code == 0
    reasons = json.loads(cli("mixture", "show", "m", "--json").stdout)["signoff"]["reasons"]
    assert any(r.startswith("the review policy is now mine@1.0.0") for r in reasons)
    assert any("source web's record changed" in r and "conditional" in r for r in reasons)
    # Re-fetching an unchanged robots.txt is not a change of consent; a new one is.
    _robots(cli, "c.example", ALLOW_ALL, "2025-10-01", tmp_path)
    before = json.loads(cli("mixture", "show", "m", "--json").stdout)["signoff"]["reasons"]
    assert not any("c.example" in r for r in before)
    _robots(cli, "c.example", "User-agent: CCBot\nDisallow: /\n", "2025-11-01", tmp_path)
    after = json.loads(cli("mixture", "show", "m", "--json").stdout)["signoff"]["reasons"]
    assert any(r.startswith("robots.txt of c.example changed") for r in after)


# --------------------------------------------------------------------------- the documents


def test_review_documents_link_findings_to_their_evidence(cli, catalog, corpus, tmp_path):
    _source(cli, "forum", "CC-BY-4.0", tos="no-ai", personal="yes",
            quote="You may not use the content to train <AI> models.")
    _release(catalog, "forum", [("forum", "f1", "d.example", 40)], redacted={"EMAIL_ADDRESS": 3})
    _create(cli, "m", "forum:1", "clean:0.5")
    out = tmp_path / "review.html"
    r = cli("mixture", "review", "m", "--out", str(out))
    assert r.exit_code == 0 and "blocked" in r.stderr
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") == 3
    assert "<script" not in html and "<link" not in html and "src=" not in html
    assert "train &lt;AI&gt; models" in html  # the ToS quote, escaped
    md = cli("mixture", "review", "m", "--md").stdout
    tos = next(line for line in md.splitlines() if line.startswith("- source forum"))
    assert "ToS no-ai" in tos and "train &lt;AI&gt; models" in tos
    assert "EMAIL\\_ADDRESS" in md or "EMAIL_ADDRESS 3" in md
    doc = _review(cli, "m")
    rules = {f["rule"] for f in doc["findings"]}
    assert {"tos-forbids", "pii-declared"} <= rules
    snap = doc["components"][1]["consent"]
    assert doc["components"][1]["release"] == "clean@1.0.0" and snap["hosts"] == 1
    assert doc["components"][0]["pii"]["redacted"] == {"EMAIL_ADDRESS": 3}
    assert doc["components"][1]["effective_tokens"] == round(corpus["clean"] * 0.5)
    as_json = json.loads(cli("mixture", "review", "m", "--json").stdout)
    assert as_json["sha256"] == doc["sha256"]


def test_bad_inputs_get_one_line(cli, corpus):
    for args, code, words in (
        (("mixture", "create", "x", "-c", "clean:0", "--intended-use", "research",
          "--jurisdiction", "EU"), 2, "above 0"),
        (("mixture", "create", "x", "-c", "clean:lots", "--intended-use", "research",
          "--jurisdiction", "EU"), 2, "not a number"),
        (("mixture", "create", "x", "-c", "nope", "--intended-use", "research",
          "--jurisdiction", "EU"), 4, "no release"),
        (("mixture", "create", "x", "-c", "clean", "-c", "clean@1.0.0:2", "--intended-use",
          "research", "--jurisdiction", "EU"), 2, "twice"),
        (("mixture", "create", "x", "-c", "clean", "--intended-use", "fun",
          "--jurisdiction", "EU"), 2, "intended-use"),
        (("mixture", "create", "X y", "-c", "clean", "--intended-use", "research",
          "--jurisdiction", "EU"), 2, "mixture name"),
        (("mixture", "create", "x", "-c", "clean", "--intended-use", "research",
          "--jurisdiction", "EU", "--review-policy", "review-commercial"), 2,
         "written for commercial"),
        (("mixture", "show", "nope"), 4, "no mixture"),
        (("mixture", "review", "nope", "--md", "--html"), 2, "one of"),
        (("mixture", "sign-off", "nope", "--decision", "maybe", "--note", "x"), 2, "--decision"),
    ):
        r = cli(*args)
        assert r.exit_code == code, (args, r.output)
        assert words in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.output
    _create(cli, "x", "clean", use="research")
    r = cli("mixture", "create", "x", "-c", "clean", "--intended-use", "research",
            "--jurisdiction", "EU")
    assert r.exit_code == 5 and "exists" in r.stderr


def test_migration_0005_goes_down_and_up_and_matches_the_models(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect
    from sqlmodel import SQLModel

    from catalog import db

    engine = db.create_catalog_engine(db_url)
    try:
        db.upgrade(engine)
        tables = {"mixtures", "mixture_components", "mixture_reviews", "mixture_signoffs",
                  "review_policies"}
        assert tables <= set(inspect(engine).get_table_names())
        from alembic import command

        command.downgrade(db._alembic_config(engine), "0004")
        assert not tables & set(inspect(engine).get_table_names())
        db.upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(
                conn, opts={"compare_type": True}), SQLModel.metadata)
        assert diff == []
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_a_mixture_of_a_released_run(cli, tmp_path):
    from collections import Counter

    import pyarrow.parquet as pq

    from tests.catalog.test_process import _ingest, _run

    _ingest(cli, tmp_path)
    run = _run(cli, "--workers", "1")
    r = cli("release", "cut", str(run["run"]), "--name", "demo", "--version", "1.0.0", "--json")
    assert r.exit_code == 0, r.output
    released = json.loads(r.stdout)
    shown = _create(cli, "m", "demo:3", use="research")
    assert shown["totals"]["effective_tokens"] == released["tokens"] * 3
    doc = _review(cli, "m")
    [comp] = doc["components"]
    assert comp["documents"] == released["documents"] and not comp["problems"]
    assert sum(row["documents"] for row in comp["licenses"]) == released["documents"]
    folder = cli.home / "releases" / "demo" / "1.0.0"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert comp["pii"]["redacted"] == manifest["redacted"]
    # Spans found in the released documents, as the run's pii attributes hold them.
    ids = set(pq.read_table(folder / "index.parquet", columns=["id"]).column("id").to_pylist())
    found: Counter = Counter()
    for shard in (cli.home / "attributes" / f"run-{run['run']:06d}" / "pii").glob("*.parquet"):
        for row in pq.read_table(shard, columns=["id", "pii_counts"]).to_pylist():
            if row["id"] in ids:
                found.update({k: v for k, v in json.loads(row["pii_counts"]).items() if v})
    assert comp["pii"]["found"] == dict(found)
    assert comp["release_record"]["policy"].startswith("research-permissive@")
    assert comp["release_record"]["manifest_sha256"] == released_manifest_sha(folder)
    assert doc["verdict"] in ("ok", "needs-attention")


def released_manifest_sha(folder) -> str:
    from common.atomic import file_sha256

    return file_sha256(folder / "manifest.json")
