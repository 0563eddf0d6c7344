"""Source registration, import, review and status, through the CLI, on both databases."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from catalog.models import AuditEvent, LicenseEvidence, Source, TosReview


def _count(catalog, model) -> int:
    with catalog.session() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def _catalog_for(cli):
    from catalog.context import Catalog
    from catalog.settings import Settings

    return Catalog(Settings(database_url=cli.db_url, home=cli.home))


def test_add_stores_every_field_and_normalises_licence(cli):
    r = cli("source", "add", "web-2024", "--kind", "web-crawl", "--title", "A crawl",
            "--uri", "s3://bucket/crawl", "--steward", "data-team",
            "--acquisition-method", "crawl", "--acquisition-date", "2024-10-01",
            "--license", "mit or apache-2.0", "--license-evidence-url", "https://x/l",
            "--tos-url", "https://x/tos", "--tos-verdict", "conditional",
            "--tos-quote", "Crawling allowed with attribution", "--robots-handling", "respected",
            "--jurisdiction", "EU", "--personal-data", "yes")
    assert r.exit_code == 0, r.output
    shown = json.loads(cli("source", "show", "web-2024", "--json").stdout)
    src = shown["source"]
    assert src["declared_license"] == "MIT OR Apache-2.0"
    assert src["acquisition_date"] == "2024-10-01"
    assert (src["kind"], src["tos_verdict"], src["robots_handling"], src["personal_data"]) == (
        "web-crawl", "conditional", "respected", "yes")
    assert (src["title"], src["uri"], src["steward"], src["jurisdiction"]) == (
        "A crawl", "s3://bucket/crawl", "data-team", "EU")
    assert src["tos_quote"] == "Crawling allowed with attribution"
    assert src["status"] == "pending"
    assert shown["license_evidence"] == [{
        "role": "declared", "detector": "source-registration", "expression": "MIT OR Apache-2.0",
        "score": None, "location": "https://x/l"}]
    assert shown["tos_reviews"][0]["verdict"] == "conditional"
    assert shown["counts"] == {"documents": 0, "tokens": 0, "bytes": 0, "shards": 0,
                               "quarantined": 0}
    assert [h["action"] for h in shown["history"]] == ["source.register"]


def test_invalid_licence_suggests_closest_and_writes_nothing(cli):
    r = cli("source", "add", "code1", "--kind", "code", "--license", "Apache2")
    assert r.exit_code == 2
    assert "Apache-2.0" in r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.output
    assert json.loads(cli("source", "list", "--json").stdout) == []


def test_licence_ref_is_accepted(cli):
    r = cli("source", "add", "books1", "--kind", "books", "--license",
            "LicenseRef-PD-US-Gutenberg")
    assert r.exit_code == 0, r.output


def test_duplicate_slug_and_unknown_kind_fail_with_one_line(cli):
    assert cli("source", "add", "dup", "--kind", "wiki").exit_code == 0
    r = cli("source", "add", "dup", "--kind", "wiki")
    assert r.exit_code == 5 and "already exists" in r.stderr and r.stderr.count("\n") == 1
    r = cli("source", "add", "other", "--kind", "blog")
    assert r.exit_code == 2 and "kind" in r.stderr and "blog" in r.stderr
    assert r.stderr.count("\n") == 1
    assert [s["slug"] for s in json.loads(cli("source", "list", "--json").stdout)] == ["dup"]


def test_import_yaml_and_csv(cli, tmp_path):
    yml = tmp_path / "reg.yaml"
    yml.write_text(
        "sources:\n"
        "  - slug: gutenberg\n    kind: books\n    license: LicenseRef-PD-US-Gutenberg\n"
        "  - slug: se-cooking\n    kind: forum\n    license: CC-BY-SA-4.0\n"
        "    tos_verdict: conditional\n    tos_quote: attribution required\n"
    )
    r = cli("source", "import", str(yml))
    assert r.exit_code == 0, r.output
    csv_path = tmp_path / "reg.csv"
    csv_path.write_text("slug,kind,license,personal-data\nrepo1,code,MIT,no\nwiki1,wiki,,\n")
    r = cli("source", "import", str(csv_path))
    assert r.exit_code == 0, r.output
    listed = {s["slug"]: s for s in json.loads(cli("source", "list", "--json").stdout)}
    assert set(listed) == {"gutenberg", "se-cooking", "repo1", "wiki1"}
    assert listed["repo1"]["personal_data"] == "no"
    assert listed["wiki1"]["declared_license"] is None
    assert listed["se-cooking"]["tos_verdict"] == "conditional"
    cat = _catalog_for(cli)
    assert _count(cat, LicenseEvidence) == 3
    assert _count(cat, TosReview) == 1
    assert _count(cat, AuditEvent) == 4
    cat.dispose()


def test_import_is_all_or_nothing_and_reports_every_bad_row(cli, tmp_path):
    assert cli("source", "add", "taken", "--kind", "other").exit_code == 0
    csv_path = tmp_path / "bad.csv"
    csv_path.write_text(
        "slug,kind,license\n"
        "good1,code,MIT\n"
        "bad-kind,blog,MIT\n"
        "bad-lic,code,Apache2\n"
        "taken,code,MIT\n"
        "good1,code,MIT\n"
    )
    r = cli("source", "import", str(csv_path))
    assert r.exit_code == 2
    err = r.stderr
    assert "4 bad row(s), nothing imported" in err
    assert "row 3 (bad-kind)" in err and "row 4 (bad-lic)" in err and "Apache-2.0" in err
    assert "row 5 (taken)" in err and "already exists" in err
    assert "row 6 (good1)" in err and "repeats row 2" in err
    assert [s["slug"] for s in json.loads(cli("source", "list", "--json").stdout)] == ["taken"]


def test_import_rejects_malformed_files(cli, tmp_path):
    bad_yaml = tmp_path / "x.yaml"
    bad_yaml.write_text("sources: [ {slug: a, kind: code\n")
    r = cli("source", "import", str(bad_yaml))
    assert r.exit_code == 2 and "invalid YAML" in r.stderr and "x.yaml" in r.stderr
    r = cli("source", "import", str(tmp_path / "missing.csv"))
    assert r.exit_code == 2 and "no such file" in r.stderr
    ragged = tmp_path / "r.csv"
    ragged.write_text("slug,kind\na,code,extra\n")
    r = cli("source", "import", str(ragged))
    assert r.exit_code == 2 and "line 2" in r.stderr
    unknown_col = tmp_path / "u.yaml"
    unknown_col.write_text("- slug: a\n  kind: code\n  colour: red\n")
    r = cli("source", "import", str(unknown_col))
    assert r.exit_code == 2 and "unknown field 'colour'" in r.stderr


def test_review_approve_reject_are_audited(cli):
    assert cli("source", "add", "s1", "--kind", "forum").exit_code == 0
    r = cli("source", "review", "s1", "--verdict", "no-ai", "--quote", "You may not use the "
            "content to train AI", "--reviewer", "legal@example.org", actor="alice")
    assert r.exit_code == 0, r.output
    r = cli("source", "reject", "s1", "--reason", "ToS forbids AI training", actor="alice")
    assert r.exit_code == 0, r.output
    shown = json.loads(cli("source", "show", "s1", "--json").stdout)
    assert shown["source"]["tos_verdict"] == "no-ai"
    assert shown["source"]["status"] == "rejected"
    assert shown["source"]["status_reason"] == "ToS forbids AI training"
    assert shown["tos_reviews"][-1]["reviewer"] == "legal@example.org"
    assert [(h["action"], h["actor"]) for h in shown["history"]] == [
        ("source.register", "tester"), ("source.review", "alice"), ("source.reject", "alice")]
    log = json.loads(cli("audit", "log", "--entity", "source:s1", "--json").stdout)
    assert log[-1]["before"]["status"] == "pending" and log[-1]["after"]["status"] == "rejected"
    r = cli("source", "review", "s1", "--verdict", "maybe")
    assert r.exit_code == 2 and "unknown ToS verdict" in r.stderr
    r = cli("source", "approve", "nope", "--reason", "x")
    assert r.exit_code == 4 and "no source 'nope'" in r.stderr


def test_show_counts_documents_tokens_shards_and_quarantine(cli):
    from catalog.models import Document, QuarantineRecord, Run, Shard, utcnow

    assert cli("source", "add", "c1", "--kind", "code").exit_code == 0
    cat = _catalog_for(cli)
    with cat.session() as s:
        src = s.execute(select(Source).where(Source.slug == "c1")).scalar_one()
        run = Run(kind="ingest", source_id=src.id, actor="t", started_at=utcnow())
        s.add(run)
        s.flush()
        shard = Shard(source_id=src.id, run_id=run.id, kind="documents", path="a.parquet",
                      sha256="0" * 64, n_docs=2, created_at=utcnow())
        s.add(shard)
        s.flush()
        for i, tokens in enumerate((10, 32)):
            s.add(Document(id=f"c1/{i}", source_id=src.id, native_id=str(i), content_sha256="1",
                           n_bytes=100, n_tokens=tokens, shard_id=shard.id, shard_row=i))
        s.add(QuarantineRecord(run_id=run.id, source_id=src.id, file="f", location="3",
                               reason="invalid-utf8", created_at=utcnow()))
        s.commit()
    cat.dispose()
    counts = json.loads(cli("source", "show", "c1", "--json").stdout)["counts"]
    assert counts == {"documents": 2, "tokens": 42, "bytes": 200, "shards": 1, "quarantined": 1}
    text_out = cli("source", "show", "c1").stdout
    assert "quarantined" in text_out and "42" in text_out


# ---------------------------------------------------------------- hostile and broken input


def _one_line(r, code: int) -> str:
    assert r.exit_code == code, r.output
    assert "Traceback" not in r.output
    assert r.stderr.count("\n") == 1 and len(r.stderr) < 400, r.stderr[:1000]
    return r.stderr


def _slugs(cli) -> list[str]:
    return [s["slug"] for s in json.loads(cli("source", "list", "--json").stdout)]


def test_oversized_fields_are_refused_naming_the_limit(cli):
    licence = " OR ".join(["MIT"] * 21_000)  # 105 kB
    err = _one_line(cli("source", "add", "big", "--kind", "books", "--license", licence), 2)
    assert "over the limit of 2,000" in err and "licen" in err
    err = _one_line(cli("source", "add", "big", "--kind", "books", "--title", "t" * 100_000), 2)
    assert "title: 100,000 characters, over the limit of 500" in err
    err = _one_line(cli("source", "add", "big", "--kind", "books", "--tos-quote",
                        "q" * 20_001, "--tos-url", "https://x/" + "u" * 3000), 2)
    assert "tos-quote: 20,001 characters, over the limit of 20,000" in err
    assert "tos-url: 3,010 characters, over the limit of 2,000" in err
    err = _one_line(cli("source", "add", "big", "--kind", "books", "--steward", "a\nb"), 2)
    assert "steward: a line break" in err
    assert _slugs(cli) == []
    # At the limits, everything is kept.
    r = cli("source", "add", "ok", "--kind", "books", "--title", "t" * 500,
            "--tos-quote", "line one\nline two " + "q" * 19_000)
    assert r.exit_code == 0, r.output
    err = _one_line(cli("source", "review", "ok", "--verdict", "conditional", "--quote",
                        "q" * 20_001), 2)
    assert "over the limit of 20,000" in err
    err = _one_line(cli("source", "approve", "ok", "--reason", "r" * 5000), 2)
    assert "status-reason: 5,000 characters, over the limit of 2,000" in err
    assert json.loads(cli("source", "show", "ok", "--json").stdout)["source"]["status"] == (
        "pending")


def test_a_bad_value_is_shown_cut_short(cli, tmp_path):
    reg = tmp_path / "r.yaml"
    reg.write_text("- slug: a\n  kind: [" + ", ".join(["books"] * 50_000) + "]\n")
    r = cli("source", "import", str(reg))
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "row 1 (a): kind:" in r.stderr and len(r.stderr) < 500


def test_a_yaml_alias_bomb_is_refused_without_expanding(cli, tmp_path):
    from tests.common.test_yamlsafe import alias_bomb

    reg = tmp_path / "bomb.yaml"
    reg.write_text(alias_bomb(levels=6) + "sources:\n  - {slug: a, kind: books, title: *f}\n")
    assert len(reg.read_bytes()) < 400
    err = _one_line(cli("source", "import", str(reg)), 2)
    assert "bomb.yaml: line 6: invalid YAML" in err and "aliases stand for more than" in err
    assert _slugs(cli) == []


def _registry(n: int = 1000) -> list[str]:
    return [f"r{i},books,Title {i}\n" for i in range(2, n + 2)]  # rows 2..n+1 (header: 1)


def test_a_csv_row_with_an_unterminated_quote_refuses_the_file(cli, tmp_path):
    rows = _registry()
    rows[535] = 'r537,books,"Title 537\n'  # row 537
    reg = tmp_path / "reg.csv"
    reg.write_text("slug,kind,title\n" + "".join(rows))
    err = _one_line(cli("source", "import", str(reg)), 2)
    assert "reg.csv: row 537 (line 537): malformed CSV" in err
    assert "still open at line 1001" in err and "nothing imported" in err
    assert _slugs(cli) == []
    # A stray quote further down closes it: still refused, at the same row.
    rows[538] = 'r540,books,Title 540"\n'
    reg.write_text("slug,kind,title\n" + "".join(rows))
    r = cli("source", "import", str(reg))
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "1 bad row(s), nothing imported" in r.stderr
    assert "row 537 (r537): title: a line break after 'Title 537'" in r.stderr
    assert _slugs(cli) == []
    rows[538] = "r540,books,Title 540\n"
    rows[535] = "r537,books,Title 537\n"
    reg.write_text("slug,kind,title\n" + "".join(rows))
    r = cli("source", "import", str(reg))
    assert r.exit_code == 0, r.output
    assert len(_slugs(cli)) == 1000


def test_a_csv_row_with_the_wrong_column_count_refuses_the_file(cli, tmp_path):
    reg = tmp_path / "reg.csv"
    rows = _registry(10)
    rows[3] = "r5,books\n"
    reg.write_text("slug,kind,title\n" + "".join(rows))
    err = _one_line(cli("source", "import", str(reg)), 2)
    assert "row 5 (line 5): 2 values for 3 columns (fewer values than columns)" in err
    rows[3] = "r5,books,T,extra\n"
    reg.write_text("slug,kind,title\n" + "".join(rows))
    err = _one_line(cli("source", "import", str(reg)), 2)
    assert "row 5 (line 5): 4 values for 3 columns (more values than columns)" in err
    rows[3] = 'r5,books,"T"x\n'
    reg.write_text("slug,kind,title\n" + "".join(rows))
    err = _one_line(cli("source", "import", str(reg)), 2)
    assert "row 5 (line 5): malformed CSV" in err
    assert _slugs(cli) == []
