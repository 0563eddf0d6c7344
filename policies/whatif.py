"""What-if: how one policy's decisions differ from another's over the same documents."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from policies.engine import Decision


@dataclass(frozen=True, slots=True)
class WhatIfSummary:
    total: int
    unchanged: int
    changed: int
    newly_blocked: int  # passed under A, blocked under B
    newly_passed: int  # blocked under A, passes under B
    transitions: Counter  # (effect A, effect B) -> documents, changed ones only


def compare(
    decisions_a: Iterable[Decision], decisions_b: Iterable[Decision]
) -> WhatIfSummary:
    """Summarise how policy B's decisions differ from A's over the same documents, in order."""
    total = unchanged = newly_blocked = newly_passed = 0
    transitions: Counter = Counter()
    for a, b in zip(decisions_a, decisions_b, strict=True):
        total += 1
        if a.effect == b.effect:
            unchanged += 1
            continue
        transitions[(a.effect, b.effect)] += 1
        if a.passes and not b.passes:
            newly_blocked += 1
        elif b.passes and not a.passes:
            newly_passed += 1
    return WhatIfSummary(total, unchanged, total - unchanged, newly_blocked, newly_passed,
                         transitions)


def diff_verdicts(pairs: Iterable[tuple[Decision, Decision]]) -> Counter:
    """Count changed verdicts by (old effect, new effect, rule ids behind the new verdict)."""
    out: Counter = Counter()
    for old, new in pairs:
        if old.effect != new.effect:
            out[(old.effect, new.effect, new.rule_ids)] += 1
    return out
