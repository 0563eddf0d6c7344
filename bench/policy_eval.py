"""Policy gate throughput over generated index rows, and the CEL library comparison.

    .venv/bin/python bench/policy_eval.py [--rows 1000000] [--skip-libs]

For each built-in pack, 1,000,000 admission fact rows (50 sources, thousands of hosts, a
dozen licences, per-host robots states, reservations, opt-outs) go through `decide_many`.
Printed, for the same rows in the same process:

- memoised docs/s (the gate goal is >= 50,000 docs/s) and the memo's evaluation count;
- un-memoised docs/s (`memoize=False`: one CEL call per row for all rules of the stage);
- naive docs/s (`explain`: one CEL call per rule per row), the baseline of both;
- a pack with an extra rule over `doc.host`, to show a high-cardinality fact in the key;
- later stages (langid, quality with continuous scores, dedup, pii).

`--skip-libs` skips the comparison of cel-expr-python with cel-python (`celpy`) and
common-expression-language (`cel`); those two are only needed for that section.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from policies import packs  # noqa: E402
from policies.conditions import check_condition, condition_env  # noqa: E402
from policies.engine import compile_policy  # noqa: E402
from policies.facts import consent_facts  # noqa: E402
from policies.loader import load_policy  # noqa: E402

AGENTS = ("GPTBot", "ChatGPT-User", "OAI-SearchBot", "CCBot", "Google-Extended",
          "Applebot-Extended", "anthropic-ai", "ClaudeBot", "Claude-Web", "cohere-ai",
          "PerplexityBot", "Amazonbot", "FacebookBot", "Bytespider", "*")
# spdx, use, attribution, share_alike, no_derivatives, open, known
LICENSES = [
    ("CC-BY-4.0", "commercial", True, False, False, True, True),
    ("CC-BY-SA-4.0", "commercial", True, True, False, True, True),
    ("CC-BY-SA-3.0", "commercial", True, True, False, True, True),
    ("CC0-1.0", "commercial", False, False, False, True, True),
    ("MIT", "commercial", True, False, False, True, True),
    ("Apache-2.0", "commercial", True, False, False, True, True),
    ("GPL-3.0-only", "commercial", True, True, False, True, True),
    ("CC-BY-NC-4.0", "non-commercial", True, False, False, False, True),
    ("CC-BY-ND-4.0", "commercial", True, False, True, False, True),
    ("CC-BY-NC-SA-4.0", "non-commercial", True, True, False, False, True),
    ("LicenseRef-academic-only", "academic-only", False, False, False, False, True),
    ("", "unspecified", False, False, False, False, False),
]
TOS = ["unrestricted"] * 5 + ["conditional"] * 2 + ["no-ai", "no-scraping", "no-scraping-and-ai",
                                                     "non-commercial-only", "unknown", "unknown"]
STATUS = ["approved"] * 7 + ["pending"] * 2 + ["rejected", "retired"]
T0 = datetime(2023, 1, 1, tzinfo=UTC)


class RowMaker:
    """Deterministic fact rows shaped like the catalog's index joined with its evidence."""

    def __init__(self, seed: int = 42, n_sources: int = 50, n_hosts: int = 8000):
        rnd = self.rnd = random.Random(seed)
        self.sources = []
        for i in range(n_sources):
            lic = rnd.randrange(len(LICENSES))
            self.sources.append({
                "source.slug": f"src{i:02d}",
                "source.kind": rnd.choice(["web", "web", "books", "code", "forum", "jsonl"]),
                "source.status": rnd.choice(STATUS),
                "source.tos_verdict": rnd.choice(TOS),
                "source.declared_license": LICENSES[lic][0],
                "source.personal_data": rnd.choice(["yes", "no", "unknown"]),
                "source.jurisdiction": rnd.choice(["EU", "US", "UK"]),
                "source.robots_handling": rnd.choice(["respected", "ignored", "unknown"]),
                "_license": lic,
                "_hosts": [f"h{i:02d}-{j}.example" for j in range(n_hosts // n_sources)],
            })
        self.hosts: dict[str, dict[str, Any]] = {}
        for src in self.sources:
            for host in src["_hosts"]:
                roll = rnd.random()
                if roll < 0.65:  # no robots block
                    coll, now = {}, {}
                elif roll < 0.85:  # blocked some AI agents already at collection
                    blocked = {a: False for a in rnd.sample(AGENTS[:-1], 3)}
                    coll, now = blocked, blocked
                elif roll < 0.95:  # opted out after collection
                    coll, now = {}, {a: False for a in rnd.sample(AGENTS[:-1], 4)}
                else:  # robots.txt never seen
                    coll = now = None
                facts = consent_facts(AGENTS, collection=coll, now=now)
                reserved = rnd.random() < 0.05
                facts["reservation.reserved"] = reserved
                facts["reservation.uses"] = [rnd.choice(["tdm", "noai", "ai-train"])] \
                    if reserved else []
                self.hosts[host] = facts

    def rows(self, n: int, start: int = 0) -> Iterator[dict[str, Any]]:
        rnd = self.rnd
        sources, hosts = self.sources, self.hosts
        no_requests: list[str] = []
        for i in range(start, start + n):
            src = sources[rnd.randrange(len(sources))]
            host = src["_hosts"][int(rnd.paretovariate(1.2)) % len(src["_hosts"])]
            lic = LICENSES[src["_license"] if rnd.random() < 0.8 else rnd.randrange(len(LICENSES))]
            optout = rnd.random() < 0.003
            row = {k: v for k, v in src.items() if not k.startswith("_")}
            row.update(hosts[host])
            row.update({
                "doc.id": f"{src['source.slug']}/{i:012x}",
                "doc.url": f"https://{host}/page/{i}",
                "doc.host": host,
                "doc.collected_at": T0 + timedelta(seconds=rnd.randrange(60_000_000)),
                "license.concluded": lic[0],
                "license.declared": src["source.declared_license"],
                "license.use": lic[1],
                "license.attribution": lic[2],
                "license.share_alike": lic[3],
                "license.no_derivatives": lic[4],
                "license.open": lic[5],
                "license.known": lic[6],
                "license.conflict": rnd.random() < 0.02,
                "optout.matched": optout,
                "optout.request_ids": [f"optout-{i % 97}"] if optout else no_requests,
            })
            yield row

    def later_rows(self, n: int) -> Iterator[dict[str, Any]]:
        """Processing attributes: continuous scores, so the memo rarely hits in quality."""
        rnd = self.rnd
        for _ in range(n):
            words = int(rnd.lognormvariate(6, 1.2))
            row = {
                "attr.lang": rnd.choice(["en"] * 6 + ["de", "fr", "ja", "ru"]),
                "attr.lang_score": round(rnd.betavariate(8, 1.5), 4),
                "attr.gopher_word_count": words,
                "attr.gopher_mean_word_length": rnd.gauss(4.8, 0.9),
                "attr.gopher_symbol_word_ratio_hash": rnd.expovariate(200),
                "attr.gopher_symbol_word_ratio_ellipsis": rnd.expovariate(150),
                "attr.gopher_bullet_lines_ratio": rnd.random() ** 4,
                "attr.gopher_ellipsis_lines_ratio": rnd.random() ** 6,
                "attr.gopher_alpha_words_ratio": 1 - rnd.expovariate(15),
                "attr.gopher_stop_words": rnd.randrange(9),
                "attr.gopher_rep_dup_para_frac": rnd.random() ** 5,
                "attr.gopher_rep_dup_para_char_frac": rnd.random() ** 5,
                "attr.gopher_rep_dup_line_frac": rnd.random() ** 5,
                "attr.gopher_rep_dup_line_char_frac": rnd.random() ** 5,
                "attr.c4_kept_sentences": rnd.randrange(30),
                "attr.c4_has_lorem_ipsum": rnd.random() < 0.002,
                "attr.c4_has_curly_bracket": rnd.random() < 0.05,
                "attr.c4_kept_lines": rnd.randrange(0, 200),
                "attr.fineweb_line_punct_ratio": rnd.random(),
                "attr.fineweb_short_line_ratio": rnd.random() ** 2,
                "attr.fineweb_dup_line_char_frac": rnd.random() ** 8,
                "attr.fineweb_newline_per_word": rnd.random() ** 3,
                "attr.cluster_id": f"c{rnd.randrange(n // 3 + 1)}",
                "attr.cluster_keep": rnd.random() < 0.8,
                "attr.cluster_size": 1 if rnd.random() < 0.7 else rnd.randrange(2, 9),
                "attr.pii_counts": {} if rnd.random() < 0.8 else
                {"EMAIL_ADDRESS": rnd.randrange(1, 40), "PHONE_NUMBER": rnd.randrange(0, 5)},
            }
            for k in (2, 3, 4):
                row[f"attr.gopher_rep_top_{k}gram"] = rnd.random() ** 4 * 0.3
            for k in range(5, 11):
                row[f"attr.gopher_rep_dup_{k}gram"] = rnd.random() ** 6 * 0.3
            yield row


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>12,.0f} docs/s"


def gate(rows: int, chunk: int) -> None:
    maker = RowMaker()
    names = packs.list_packs()
    host_rule_text = packs.path("commercial-strict").read_text().replace(
        "  admission:\n",
        "  admission:\n    - id: host-blocklist\n      effect: deny\n"
        "      condition: doc.host.endsWith(\"-7.example\") || doc.host in "
        "[\"h01-3.example\", \"h02-5.example\"]\n      reason: Host on the blocklist.\n",
        1,
    )
    policies = {name: compile_policy(packs.load(name)) for name in names}
    policies["commercial-strict+host-rule"] = compile_policy(load_policy(host_rule_text))
    memo_time = dict.fromkeys(policies, 0.0)
    effects = {name: Counter() for name in policies}
    gen_time = 0.0
    done = 0
    print(f"gate: {rows:,} admission rows, {len(maker.sources)} sources, "
          f"{len(maker.hosts):,} hosts, {len(LICENSES)} licences\n")
    first_chunk: list[dict[str, Any]] = []
    while done < rows:
        n = min(chunk, rows - done)
        t = time.perf_counter()
        batch = list(maker.rows(n, start=done))
        gen_time += time.perf_counter() - t
        if not first_chunk:
            first_chunk = batch
        for name, cp in policies.items():
            tally = effects[name]
            t = time.perf_counter()
            for d in cp.decide_many("admission", batch):
                tally[d.effect] += 1
            memo_time[name] += time.perf_counter() - t
        done += n
    print(f"  (generating the rows took {gen_time:.1f} s, not counted)")
    print(f"  {'policy':<30} {'memoised':>20} {'evals':>8}   verdicts")
    for name, cp in policies.items():
        ev = cp.cache_stats("admission")["evaluations"]
        verdicts = ", ".join(f"{k} {v / rows:.1%}" for k, v in sorted(effects[name].items()))
        print(f"  {name:<30} {rate(rows, memo_time[name])} {ev:>8,}   {verdicts}")

    unmemo_rows = first_chunk[: min(len(first_chunk), 100_000)]
    naive_rows = first_chunk[: min(len(first_chunk), 20_000)]
    print(f"\n  baselines, same process (un-memoised on {len(unmemo_rows):,} rows, naive on "
          f"{len(naive_rows):,}):")
    print(f"  {'policy':<30} {'un-memoised':>20} {'naive per rule':>20} {'memo speed-up':>14}")
    for name, cp in policies.items():
        plain = compile_policy(cp.policy, memoize=False)
        t = time.perf_counter()
        for _ in plain.decide_many("admission", unmemo_rows):
            pass
        unmemo = len(unmemo_rows) / (time.perf_counter() - t)
        t = time.perf_counter()
        for row in naive_rows:
            cp.explain("admission", row)
        naive = len(naive_rows) / (time.perf_counter() - t)
        memo = rows / memo_time[name]
        print(f"  {name:<30} {unmemo:>12,.0f} docs/s {naive:>12,.0f} docs/s "
              f"{memo / unmemo:>13.0f}x")
        # the memo must not change a single verdict
        a = [d.effect for d in cp.decide_many("admission", naive_rows)]
        b = [d.effect for d in plain.decide_many("admission", naive_rows)]
        assert a == b, f"{name}: memoised and un-memoised verdicts differ"


def later(n: int) -> None:
    maker = RowMaker(seed=7)
    rows = list(maker.later_rows(n))
    cp = compile_policy(packs.load("commercial-strict"))
    plain = compile_policy(cp.policy, memoize=False)
    print(f"\nlater stages, commercial-strict, {n:,} rows of processing attributes:")
    print(f"  {'stage':<10} {'rules':>5} {'memoised':>20} {'un-memoised':>20} {'evals':>9}")
    for stage in ("langid", "quality", "dedup", "pii"):
        t = time.perf_counter()
        for _ in cp.decide_many(stage, rows):
            pass
        memo = time.perf_counter() - t
        t = time.perf_counter()
        for _ in plain.decide_many(stage, rows):
            pass
        unmemo = time.perf_counter() - t
        ev = cp.cache_stats(stage)["evaluations"]
        print(f"  {stage:<10} {len(cp.policy.rules(stage)):>5} {rate(n, memo)} {rate(n, unmemo)}"
              f" {ev:>9,}")


def compare_libs(n: int) -> None:
    """The same admission conditions on the same rows with each CEL library."""
    try:
        import cel as rust_cel  # common-expression-language
        import celpy
    except ImportError as exc:
        print(f"\nCEL library comparison skipped: {exc}")
        return
    policy = packs.load("commercial-strict")
    conds = [r.condition for r in policy.rules("admission")]
    rows = list(RowMaker(seed=3).rows(n))
    paths = sorted({p for c in conds for p in check_condition(c, "admission").paths})

    def nested(row: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for p in paths:
            ns, name = p.split(".", 1)
            out.setdefault(ns, {})[name] = row[p]
        return out

    results: dict[str, list[list[bool]]] = {}
    timing: dict[str, float] = {}
    compile_us: dict[str, float] = {}

    # cel-expr-python (the engine's choice), one call per condition like the others
    progs = [check_condition(c, "admission").program for c in conds]
    flat = [{p: r[p] for p in paths} for r in rows]
    t = time.perf_counter()
    results["cel-expr-python"] = [[p.eval(data=d).plain_value() for p in progs] for d in flat]
    timing["cel-expr-python"] = time.perf_counter() - t
    env_x = condition_env("admission")
    t = time.perf_counter()
    for c in conds:
        env_x.compile(c)
    compile_us["cel-expr-python"] = (time.perf_counter() - t) / len(conds) * 1e6

    t = time.perf_counter()
    rprogs = [rust_cel.compile(c) for c in conds]
    compile_us["common-expression-language"] = (time.perf_counter() - t) / len(conds) * 1e6
    nest = [nested(r) for r in rows]
    t = time.perf_counter()
    results["common-expression-language"] = [[p.execute(d) for p in rprogs] for d in nest]
    timing["common-expression-language"] = time.perf_counter() - t

    env = celpy.Environment()
    t = time.perf_counter()
    pprogs = [env.program(env.compile(c)) for c in conds]
    compile_us["cel-python (celpy)"] = (time.perf_counter() - t) / len(conds) * 1e6
    k = min(n, 500)  # pure Python: a smaller sample keeps the bench short
    t = time.perf_counter()
    out = []
    for d in nest[:k]:
        act = {ns: celpy.json_to_cel(v) for ns, v in d.items()}
        out.append([bool(p.evaluate(act)) for p in pprogs])
    timing["cel-python (celpy)"] = (time.perf_counter() - t) * n / k
    results["cel-python (celpy)"] = out

    ref = results["cel-expr-python"]
    print(f"\nCEL libraries: {len(conds)} commercial-strict admission conditions, {n:,} rows")
    print(f"  {'library':<28} {'per evaluation':>15} {'compile':>10} {'agrees':>8}")
    for lib, secs in timing.items():
        res = results[lib]
        agree = all(a == b for a, b in zip(res, ref[: len(res)], strict=True))
        print(f"  {lib:<28} {secs / (n * len(conds)) * 1e6:>12.1f} us {compile_us[lib]:>7.0f} us"
              f" {'yes' if agree else 'NO':>8}")

    probes = [
        ('source.status == 1', "string compared with int"),
        ('license.known > 0.5', "bool compared with double"),
        ('source.statuz == "approved"', "unknown fact"),
        ('source.status', "condition not bool"),
    ]
    print("\n  static checks (compile time, no data):")
    data = nested(rows[0])
    for expr, what in probes:
        verdicts = []
        checked = check_condition(expr, "admission")
        verdicts.append("rejects" if isinstance(checked, list) else "accepts")
        try:
            rust_cel.compile(expr)
            verdicts.append("accepts")
        except Exception:
            verdicts.append("rejects")
        try:
            env.compile(expr)
            verdicts.append("accepts")
        except Exception:
            verdicts.append("rejects")
        try:
            got = rust_cel.evaluate(expr, data)
            runtime = f"rust evaluates to {got!r}"
        except Exception as exc:
            runtime = f"rust raises {type(exc).__name__}"
        print(f"  {what:<26} cel-expr-python {verdicts[0]:<8} rust {verdicts[1]:<8} "
              f"celpy {verdicts[2]:<8} ({runtime})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--chunk", type=int, default=100_000)
    ap.add_argument("--later-rows", type=int, default=100_000)
    ap.add_argument("--lib-rows", type=int, default=5_000)
    ap.add_argument("--skip-libs", action="store_true")
    args = ap.parse_args()
    gate(args.rows, args.chunk)
    later(args.later_rows)
    if not args.skip_libs:
        compare_libs(args.lib_rows)


if __name__ == "__main__":
    main()
