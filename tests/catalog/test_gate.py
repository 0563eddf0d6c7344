"""Policies stored, gating over the index, explain, what-if and opt-outs, on both databases."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import select

from catalog.models import DecisionCount, Shard
from catalog.shards import file_sha256
from ingest import registry
from ingest.documents import document_id
from ingest.types import ConsentSignal, LicenseFinding, RawDocument

POLICY = """\
name: tiny
version: "1"
intended_use: commercial
jurisdiction: EU
agents: [GPTBot, "*"]
combining: deny-overrides
default:
  admission: deny
  langid: keep
  quality: keep
  dedup: keep
  pii: keep
stages:
  admission:
    - id: approved
      effect: allow
      condition: source.status == "approved"
      reason: Approved sources may be used.
    - id: nc
      effect: deny
      condition: license.use == "non-commercial"
      reason: Non-commercial licence.
    - id: opted-out
      effect: deny
      condition: optout.matched
      reason: The rights holder asked us not to use it.
    - id: gptbot-blocked
      effect: deny
      condition: '!consent.now["GPTBot"]'
      reason: robots.txt blocks GPTBot now.
    - id: reserved
      effect: deny
      condition: reservation.reserved
      reason: Rights reserved (TDMRep / noai).
"""


@dataclass(frozen=True)
class _Opts:
    pass


def _docs(path: Path, options: _Opts):
    when = datetime(2024, 3, 1, tzinfo=UTC)
    specs = [  # native id, host, licence, signals
        ("a", "open.example", "CC-BY-4.0", []),
        ("b", "open.example", "CC-BY-NC-4.0", []),
        ("c", "blocked.example", "CC-BY-4.0", []),
        ("d", "open.example", "CC-BY-4.0",
         [ConsentSignal(kind="tdm-reservation-header", value="1", where="http-header")]),
        ("e", "optout.example", "CC-BY-4.0", []),
    ]
    for nid, host, lic, signals in specs:
        yield RawDocument(native_id=nid, text=f"text {nid} " * 10, url=f"https://{host}/{nid}",
                          host=host, collected_at=when, signals=signals,
                          licenses=[LicenseFinding(detector="metadata-field", expression=lic,
                                                   location="license")])


registry.register(registry.Connector(name="gate_probe_v1", kinds=("other",), description="t",
                                     options_type=_Opts, read=_docs))


def _setup(cli, tmp_path) -> Path:
    assert cli("source", "add", "w", "--kind", "web-crawl").exit_code == 0
    assert cli("source", "approve", "w", "--reason", "test").exit_code == 0
    spec = tmp_path / "x"
    spec.write_text("")
    assert cli("ingest", "w", str(spec), "--format", "gate_probe_v1").exit_code == 0
    robots = tmp_path / "robots.txt"
    robots.write_text("User-agent: GPTBot\nDisallow: /\n")
    assert cli("consent", "add-robots", "blocked.example", str(robots),
               "--fetched-at", "2024-01-01").exit_code == 0
    assert cli("optout", "add", "--domain", "optout.example", "--requester", "Rights Org",
               "--received", "2024-06-01").exit_code == 0
    policy = tmp_path / "tiny.yaml"
    policy.write_text(POLICY)
    return policy


def test_gate_records_decisions_and_counts(cli, tmp_path):
    policy = _setup(cli, tmp_path)
    r = cli("gate", str(policy), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["documents"] == 5 and out["by_effect"] == {"allow": 1, "deny": 4}
    rules = {(x["rule"], x["effect"]): x["documents"] for x in out["rules"]}
    assert rules == {("approved", "allow"): 1, ("nc", "deny"): 1, ("gptbot-blocked", "deny"): 1,
                     ("reserved", "deny"): 1, ("opted-out", "deny"): 1}
    table = pq.read_table(cli.home / out["decisions"]).to_pylist()
    by_id = {row["id"]: row for row in table}
    assert by_id[document_id("w", "a")]["effect"] == "allow"
    assert by_id[document_id("w", "e")]["rule_ids"] == ["opted-out"]
    from catalog.context import Catalog
    from catalog.settings import Settings

    cat = Catalog(Settings(database_url=cli.db_url, home=cli.home))
    with cat.session() as s:
        shard = s.execute(select(Shard).where(Shard.kind == "decisions")).scalar_one()
        counts = s.execute(select(DecisionCount)).scalars().all()
    cat.dispose()
    assert shard.sha256 == file_sha256(cli.home / shard.path) and shard.n_docs == 5
    assert sum(c.documents for c in counts) == 5
    # stored verbatim, same name+version with other content refused
    listed = json.loads(cli("policy", "list", "--json").stdout)["stored"]
    assert [(p["name"], p["version"]) for p in listed] == [("tiny", "1")]
    policy.write_text(POLICY.replace("Approved sources", "Sources approved"))
    r = cli("policy", "add", str(policy))
    assert r.exit_code == 5 and "different content" in r.stderr


def test_explain_tells_the_whole_story(cli, tmp_path):
    policy = _setup(cli, tmp_path)
    assert cli("gate", str(policy)).exit_code == 0
    data = json.loads(cli("explain", document_id("w", "e"), "--json").stdout)
    assert data["source"]["slug"] == "w"
    assert data["document"]["url"] == "https://optout.example/e"
    assert data["facts_now"]["optout.request_ids"] == ["optout-1"]
    assert [(e["role"], e["expression"]) for e in data["license_evidence"]] == [
        ("finding", "CC-BY-4.0"), ("concluded", "CC-BY-4.0")]
    assert data["document"]["concluded_license"] == "CC-BY-4.0"
    [dec] = data["decisions"]
    assert dec["effect"] == "deny" and dec["policy"] == "tiny@1"
    assert dec["rules"] == [{"rule": "opted-out",
                             "reason": "The rights holder asked us not to use it."}]
    text = cli("explain", document_id("w", "c")).stdout
    assert "gptbot-blocked" in text and "robots.txt blocks GPTBot now." in text
    assert cli("explain", "w/nope").exit_code == 4


def test_whatif_counts_changes_without_writing(cli, tmp_path):
    policy = _setup(cli, tmp_path)
    run = json.loads(cli("gate", str(policy), "--json").stdout)["run"]
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text(POLICY.replace('version: "1"', 'version: "2"').replace(
        "      condition: reservation.reserved", "      condition: false"))
    out = json.loads(cli("policy", "whatif", str(lenient), "--against", str(run),
                         "--json").stdout)
    assert out["changed"] == 1 and out["documents"] == 5
    [change] = out["changes"]
    assert (change["from"], change["to"], change["rules_a"]) == ("deny", "allow", "reserved")
    stored = json.loads(cli("policy", "list", "--json").stdout)["stored"]
    assert len(stored) == 1  # what-if stores nothing


def test_policy_validate_reports_every_error(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(POLICY.replace('source.status == "approved"', 'source.colour == "red"')
                   .replace("id: nc", "id: approved"))
    r = cli("policy", "validate", str(bad))
    assert r.exit_code == 2
    assert "source.colour" in r.stderr and "duplicate" in r.stderr.lower()
    assert "bad.yaml:" in r.stderr
    good = tmp_path / "good.yaml"
    good.write_text(POLICY)
    assert "valid" in cli("policy", "validate", str(good)).stdout
    assert cli("gate", str(bad)).exit_code == 2
    assert json.loads(cli("policy", "list", "--json").stdout)["stored"] == []


def test_policy_show_and_diff(cli, tmp_path):
    policy = tmp_path / "tiny.yaml"
    policy.write_text(POLICY)
    assert cli("policy", "add", str(policy)).exit_code == 0
    shown = json.loads(cli("policy", "show", "tiny@1", "--json").stdout)
    assert shown["text"] == POLICY
    other = tmp_path / "v2.yaml"
    other.write_text(POLICY.replace('version: "1"', 'version: "2"').replace(
        "    - id: reserved\n      effect: deny\n      condition: reservation.reserved\n"
        "      reason: Rights reserved (TDMRep / noai).\n", ""))
    diff = json.loads(cli("policy", "diff", "tiny@1", str(other), "--json").stdout)
    assert diff["stages"] == {"admission": {"added": [], "removed": ["reserved"], "changed": []}}


def test_optout_requests(cli):
    r = cli("optout", "add", "--url-prefix", "https://x.example/private/", "--requester", "X",
            "--received", "2025-01-02")
    assert r.exit_code == 0
    r = cli("optout", "add", "--domain", "a.example", "--doc-id", "w/1", "--requester", "X",
            "--received", "2025-01-02")
    assert r.exit_code == 2 and "exactly one" in r.stderr
    r = cli("optout", "add", "--content-sha256", "xyz", "--requester", "X",
            "--received", "2025-01-02")
    assert r.exit_code == 2
    assert cli("optout", "withdraw", "1", "--reason", "licence agreed").exit_code == 0
    [req] = json.loads(cli("optout", "list", "--json").stdout)
    assert req["status"] == "withdrawn" and "licence agreed" in req["note"]


def test_gate_only_the_given_sources(cli, tmp_path):
    policy = _setup(cli, tmp_path)
    assert cli("source", "add", "empty", "--kind", "other").exit_code == 0
    out = json.loads(cli("gate", str(policy), "--sources", "empty", "--json").stdout)
    assert out["documents"] == 0
    out = json.loads(cli("gate", str(policy), "--sources", "w,empty", "--json").stdout)
    assert out["documents"] == 5
    r = cli("gate", str(policy), "--sources", "nope")
    assert r.exit_code == 4 and "nope" in r.stderr
