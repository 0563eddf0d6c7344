"""Throughput of robots.txt evaluation: our RFC 9309 engine against Protego, same process.

Generates robots.txt files shaped like real ones (a catch-all group, AI-crawler groups,
prefixes, `*` wildcards, `$` anchors, percent-escapes) and URLs on those sites, then times

- parsing (files/s),
- `Robots.check` on parsed files (checks/s) — the figure the catalog depends on,
- `check_batch` over JSON lines (lines/s), as `govcat tools robots --batch` runs it,

with Protego's `parse` / `can_fetch` as the baseline. Protego answers a yes/no only; ours
also names the rule, line and group, so the ratio is the cost of that evidence.

    .venv/bin/python bench/robots_eval.py [--files 200] [--urls 50] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable

from protego import Protego

from ingest.consent.robots import parse_robots
from ingest.consent.robots_batch import check_batch

AGENTS = ["GPTBot", "CCBot", "ClaudeBot", "Google-Extended", "*"]
WORDS = ["news", "blog", "shop", "search", "user", "img", "static", "api", "tag", "2024",
         "archive", "private", "cart", "login", "media", "docs", "wp-admin", "feed"]


def _path(rng: random.Random) -> str:
    return "/" + "/".join(rng.choices(WORDS, k=rng.randint(1, 4)))


def _pattern(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.55:
        return _path(rng) + rng.choice(["", "/"])
    if roll < 0.75:
        return _path(rng) + "/*" + rng.choice([".php", "?", "?sort=", ".json"])
    if roll < 0.9:
        return "/*." + rng.choice(["gif", "pdf", "js", "css"]) + "$"
    return _path(rng) + "/%E2%9C%93"


def make_robots(rng: random.Random) -> str:
    lines = ["# generated", "User-agent: *"]
    lines += [f"{rng.choice(['Disallow', 'Disallow', 'Allow'])}: {_pattern(rng)}"
              for _ in range(rng.randint(10, 60))]
    for agent in rng.sample(AGENTS[:-1], rng.randint(0, 3)):
        lines += ["", f"User-agent: {agent}"]
        if rng.random() < 0.5:
            lines.append("Disallow: /")
        lines += [f"{rng.choice(['Disallow', 'Allow'])}: {_pattern(rng)}"
                  for _ in range(rng.randint(0, 8))]
    lines += ["", "Sitemap: https://example.com/sitemap.xml"]
    return "\n".join(lines) + "\n"


def make_url(rng: random.Random) -> str:
    url = "https://example.com" + _path(rng)
    roll = rng.random()
    if roll < 0.2:
        url += rng.choice([".php", ".gif", ".pdf", ".html"])
    elif roll < 0.35:
        url += "?sort=new&page=" + str(rng.randint(1, 9))
    return url


def _rate(count: int, work: Callable[[], object]) -> tuple[float, float]:
    start = time.perf_counter()
    work()
    elapsed = time.perf_counter() - start
    return count / elapsed, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--urls", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    texts = [make_robots(rng) for _ in range(args.files)]
    urls = [[make_url(rng) for _ in range(args.urls)] for _ in texts]
    checks = args.files * args.urls * len(AGENTS)
    rules = sum(line.startswith(("Allow:", "Disallow:")) for t in texts for line in t.splitlines())
    print(f"{args.files} robots.txt files ({rules / args.files:.0f} rules each on average), "
          f"{args.urls} URLs each, {len(AGENTS)} agents: {checks:,} checks")

    ours_parse, _ = _rate(len(texts), lambda: [parse_robots(t) for t in texts])
    base_parse, _ = _rate(len(texts), lambda: [Protego.parse(t) for t in texts])
    print(f"parse        ours {ours_parse:10,.0f} files/s   protego {base_parse:10,.0f} files/s"
          f"   ratio {ours_parse / base_parse:.2f}  (ours compiles a group's patterns on its "
          "first check)")

    ours = [parse_robots(t) for t in texts]
    theirs = [Protego.parse(t) for t in texts]

    def run_ours() -> None:
        for robots, site_urls in zip(ours, urls, strict=True):
            for url in site_urls:
                for agent in AGENTS:
                    robots.check(url, agent)

    def run_theirs() -> None:
        for robots, site_urls in zip(theirs, urls, strict=True):
            for url in site_urls:
                for agent in AGENTS:
                    robots.can_fetch(url, agent)

    run_ours(), run_theirs()  # warm the per-agent group caches of both
    ours_rate, ours_time = _rate(checks, run_ours)
    base_rate, base_time = _rate(checks, run_theirs)
    print(f"check        ours {ours_rate:10,.0f} checks/s  protego {base_rate:10,.0f} checks/s"
          f"  ratio {ours_rate / base_rate:.2f}  ({ours_time:.2f} s vs {base_time:.2f} s)")

    disagree = sum(
        robots.check(url, agent).allowed != base.can_fetch(url, agent)
        for robots, base, site_urls in zip(ours, theirs, urls, strict=True)
        for url in site_urls for agent in AGENTS
    )
    print(f"verdicts differing from Protego: {disagree:,} of {checks:,} "
          "(its RFC 9309 gaps: see ingest/consent/robots.py)")

    lines = [json.dumps({"robots": t, "url": u, "agent": a})
             for t, site_urls in zip(texts, urls, strict=True)
             for u in site_urls[:10] for a in AGENTS]
    batch_rate, _ = _rate(len(lines), lambda: sum(1 for _ in check_batch(lines)))
    print(f"check_batch  ours {batch_rate:10,.0f} lines/s (JSON in, one parse per robots text)")


if __name__ == "__main__":
    main()
