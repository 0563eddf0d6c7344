"""How long the `govcat` command takes to start, against the libraries it cannot do without.

Each figure is the median wall time of N fresh processes, measured in the same run as its
baseline, so a busy machine moves both (the CPU time is printed too, which load moves less):

- `govcat --help` against `python -c 'import typer'` (goal: within 0.15 s),
- `govcat source list` on an empty SQLite catalog against
  `python -c 'import typer, sqlalchemy.orm'` (goal: within 0.3 s).

The catalog is created (and migrated) once before timing, so `source list` is measured on a
current schema, as a user meets it after the first command.

    .venv/bin/python bench/cli_startup.py [--runs 11] [--importtime]

`--importtime` also prints the slowest imports of each govcat command (`python -X importtime`).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOALS = {"--help": 0.15, "source list": 0.3}


def _times(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run of `argv`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _medians(argvs: list[list[str]], env: dict[str, str], runs: int) -> list[tuple[float, float]]:
    """Median (wall, cpu) of each command, the commands taking turns so load hits all alike."""
    for argv in argvs:
        _times(argv, env)  # warm the page cache and the bytecode cache
    samples = [[_times(argv, env) for argv in argvs] for _ in range(runs)]
    return [(statistics.median(s[i][0] for s in samples),
             statistics.median(s[i][1] for s in samples)) for i in range(len(argvs))]


def _slowest_imports(argv: list[str], env: dict[str, str], top: int = 12) -> list[str]:
    done = subprocess.run(argv, env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
                          capture_output=True, text=True, check=True)
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line[len("import time:"):].split("|")
        depth = len(name) - len(name.lstrip()) - 1
        if depth <= 2:  # the command's own imports and theirs: where the time goes
            rows.append((int(cumulative), name.strip()))
    rows.sort(reverse=True)
    return [f"    {us / 1e3:7.1f} ms  {name}" for us, name in rows[:top]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="processes per figure")
    parser.add_argument("--importtime", action="store_true",
                        help="also list each command's slowest top-level imports")
    args = parser.parse_args()

    python = sys.executable
    script = Path(python).parent / "govcat"  # the entry point a user runs
    govcat = [str(script)] if script.exists() else [python, "-m", "catalog.cli"]
    with tempfile.TemporaryDirectory(prefix="govcat-startup-") as tmp:
        env = {**os.environ, "GOVCAT_HOME": str(Path(tmp) / "home"), "COLUMNS": "100"}
        env.pop("GOVCAT_DATABASE_URL", None)
        subprocess.run([*govcat, "source", "list"], env=env, check=True,
                       stdout=subprocess.DEVNULL)  # creates the catalog at the current schema
        cases = [
            ("--help", [*govcat, "--help"], [python, "-c", "import typer"]),
            ("source list", [*govcat, "source", "list"],
             [python, "-c", "import typer, sqlalchemy.orm"]),
        ]
        print(f"median of {args.runs} runs; python {sys.version.split()[0]}, "
              f"load average {os.getloadavg()[0]:.2f}")
        failed = False
        for label, command, baseline in cases:
            (ours, ours_cpu), (base, base_cpu) = _medians([command, baseline], env, args.runs)
            diff = ours - base
            goal = GOALS[label]
            verdict = "ok" if diff <= goal else "OVER"
            failed |= diff > goal
            print(f"govcat {label:<12} {ours:6.3f} s   baseline ({baseline[-1]}) {base:6.3f} s"
                  f"   difference {diff:+.3f} s (goal <= {goal:.2f} s: {verdict})")
            print(f"  cpu time: govcat {ours_cpu:.3f} s, baseline {base_cpu:.3f} s, "
                  f"difference {ours_cpu - base_cpu:+.3f} s (less moved by a busy machine)")
            if args.importtime:
                print("\n".join(_slowest_imports(command, env)))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
