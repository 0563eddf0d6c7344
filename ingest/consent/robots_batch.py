"""robots.txt questions answered in bulk: JSON lines in, one answer per line out.

What `govcat tools robots --batch` reads; a bad line is answered with its error and the
batch goes on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict
from typing import Any

from ingest.consent.robots import Robots, parse_robots


class _BadLine(ValueError):
    pass


_BATCH_CACHE_SIZE = 256


def check_batch(lines: Iterable[Mapping[str, Any] | str]) -> Iterator[dict[str, Any]]:
    """Answer `{robots, url, agent, status?}` objects (dicts or JSON lines) one by one.

    Each answer is `{input_line, allowed, rule, line, group, reason}`; a line that cannot
    be answered yields `{input_line, error}` instead and the batch goes on. Blank lines are
    skipped (JSON Lines allows them). Identical robots texts are parsed once.
    """
    parsed: dict[tuple[str, int], Robots] = {}
    for number, item in enumerate(lines, start=1):
        if isinstance(item, str) and not item.strip():
            continue
        try:
            robots, url, agent = _batch_request(item, parsed)
            verdict = robots.check(url, agent)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, InvalidAgentError...
            reason = str(exc) if isinstance(exc, ValueError) else "JSON nested too deeply"
            yield {"input_line": number, "error": f"line {number}: {reason}"}
            continue
        yield {"input_line": number, **asdict(verdict)}


def _batch_request(
    item: Mapping[str, Any] | str, parsed: dict[tuple[str, int], Robots]
) -> tuple[Robots, str, str]:
    record = json.loads(item) if isinstance(item, str) else item
    if not isinstance(record, Mapping):
        raise _BadLine(f"expected a JSON object, got {type(record).__name__}")
    for key in ("robots", "url", "agent"):
        if not isinstance(record.get(key), str):
            raise _BadLine(f"'{key}' must be a string")
    status = record.get("status", 200)
    if isinstance(status, bool) or not isinstance(status, int):
        raise _BadLine("'status' must be an integer HTTP status")
    key = (record["robots"], status)
    robots = parsed.get(key)
    if robots is None:
        if len(parsed) >= _BATCH_CACHE_SIZE:
            parsed.clear()
        robots = parsed[key] = parse_robots(record["robots"], status=status)
    return robots, record["url"], record["agent"]
