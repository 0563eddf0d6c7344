"""Consent snapshots per host, over time, and hosts that opted out after collection."""

from __future__ import annotations

import json
from pathlib import Path

SAMPLE_CRAWL = Path(__file__).resolve().parents[2] / "samples" / "crawl" / "sample.warc.gz"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_snapshots_and_verdicts_over_time(cli, tmp_path):
    open_file = _write(tmp_path, "open.txt", "User-agent: *\nAllow: /\n")
    closed = _write(tmp_path, "closed.txt", "User-agent: GPTBot\nDisallow: /\n\n"
                                            "User-agent: *\nDisallow: /private/\n")
    r = cli("consent", "add-robots", "https://Example.org/", str(open_file),
            "--fetched-at", "2024-01-01")
    assert r.exit_code == 0, r.output
    assert cli("consent", "add-robots", "example.org", str(closed),
               "--fetched-at", "2025-03-01T12:00:00Z").exit_code == 0
    again = cli("consent", "add-robots", "example.org", str(closed),
                "--fetched-at", "2025-03-01T12:00:00Z")
    assert "already recorded" in again.stdout
    assert cli("consent", "add-robots", "example.org", str(open_file), "--fetched-at",
               "2025-04-01", "--status", "503").exit_code == 0
    data = json.loads(cli("consent", "show", "example.org", "--agents", "GPTBot,CCBot,*",
                          "--json").stdout)
    verdicts = [s["verdicts"] for s in data["snapshots"]]
    assert verdicts == [
        {"GPTBot": "none", "CCBot": "none", "*": "none"},
        {"GPTBot": "all", "CCBot": "some", "*": "some"},
        {"GPTBot": "all", "CCBot": "all", "*": "all"},  # 5xx: disallow everything
    ]
    assert [s["availability"] for s in data["snapshots"]] == ["ok", "ok", "unreachable"]
    log = json.loads(cli("audit", "log", "--entity", "host:example.org", "--json").stdout)
    assert [e["action"] for e in log] == ["consent.snapshot"] * 3


def test_bad_snapshot_input_is_refused(cli, tmp_path):
    bad = _write(tmp_path, "tdm.json", '{"not": "an array"}')
    r = cli("consent", "add-tdmrep", "example.org", str(bad), "--fetched-at", "2024-01-01")
    assert r.exit_code == 2 and "tdmrep" in r.stderr.lower()
    r = cli("consent", "add-robots", "example.org", str(tmp_path / "nope.txt"),
            "--fetched-at", "2024-01-01")
    assert r.exit_code == 2 and "no such file" in r.stderr
    ok = _write(tmp_path, "r.txt", "User-agent: *\nAllow: /\n")
    r = cli("consent", "add-robots", "example.org", str(ok), "--fetched-at", "yesterday")
    assert r.exit_code == 2 and "--fetched-at" in r.stderr
    r = cli("consent", "show", "never.example")
    assert r.exit_code == 4


def test_crawl_robots_then_a_stricter_one_flags_the_collected_documents(cli, tmp_path):
    assert cli("source", "add", "crawl", "--kind", "web-crawl").exit_code == 0
    r = cli("ingest", "crawl", str(SAMPLE_CRAWL), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["robots_snapshots"] == 2
    assert json.loads(cli("consent", "changes", "--json").stdout) == []
    # A year later the blog blocks every AI agent, and news.example.org blocks everyone.
    later = _write(tmp_path, "later.txt", "User-agent: *\nDisallow: /\n")
    for host in ("blog.example.net", "news.example.org"):
        assert cli("consent", "add-robots", host, str(later),
                   "--fetched-at", "2027-01-01").exit_code == 0
    changes = {c["host"]: c for c in json.loads(
        cli("consent", "changes", "--agents", "GPTBot,CCBot,ClaudeBot,*", "--json").stdout)}
    assert set(changes) == {"blog.example.net", "news.example.org"}
    assert changes["blog.example.net"]["documents"] == 2
    assert changes["blog.example.net"]["agents"]["GPTBot"] == {"then": "none", "now": "all"}
    news = changes["news.example.org"]
    assert news["documents"] == 3 and news["tokens"] > 0
    assert "GPTBot" not in news["agents"]  # it was blocked from the start
    assert news["agents"]["ClaudeBot"] == {"then": "some", "now": "all"}
    table = cli("consent", "changes").stdout
    assert "blog.example.net" in table and "news.example.org" in table


def test_tools_robots_single_and_batch(cli, tmp_path):
    robots = _write(tmp_path, "robots.txt", "User-agent: *\nDisallow: /a\nAllow: /a/b\n")
    r = cli("tools", "robots", str(robots), "--url", "https://x.org/a/b/c", "--json")
    assert json.loads(r.stdout) == {"allowed": True, "rule": "Allow: /a/b", "line": 3,
                                    "group": "*", "reason": "matched-rule"}
    r = cli("tools", "robots", str(robots), "--url", "/a/x", "--agent", "GPTBot")
    assert r.stdout.startswith("disallowed by line 2: Disallow: /a")
    batch = tmp_path / "b.jsonl"
    batch.write_text(json.dumps({"robots": "User-agent: *\nDisallow: /\n", "url": "/x",
                                 "agent": "CCBot"}) + "\nnot json\n")
    lines = [json.loads(x) for x in cli("tools", "robots", "--batch", str(batch))
             .stdout.splitlines()]
    assert lines[0]["allowed"] is False and "error" in lines[1]
