"""One stage's rules compiled into one CEL program, and what a fact row must give it.

All documents of a source share its facts, so a stage is decided from a tuple of the values
of only the facts its rules read (found when the conditions are checked): that tuple is the
memo key, and on a miss every rule of the stage is evaluated in one CEL call. Values come
from callers in Python's forms (ISO strings, naive datetimes, tuples); the normalisers bring
them to what CEL expects, and run only on misses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from policies.conditions import condition_env
from policies.facts import Fact, FactSchema
from policies.model import Rule

if TYPE_CHECKING:
    from policies.engine import Decision

CLUSTER_KEEP = "attr.cluster_keep"  # what resolves keep-one-per-cluster to keep or drop


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule: Rule
    program: Any
    paths: tuple[str, ...]


def _normaliser(fact: Fact) -> Callable[[Any], Any] | None:
    """What brings a caller's value to what CEL expects (None: take it as it is).

    CEL itself widens an int given for a double fact.
    """
    missing = fact.missing_value

    if fact.type == "timestamp":

        def norm(v: Any) -> Any:
            if v is None:
                return missing
            if isinstance(v, str):
                v = datetime.fromisoformat(v.replace("Z", "+00:00"))
            if isinstance(v, datetime) and v.tzinfo is None:
                v = v.replace(tzinfo=UTC)
            return v

        return norm
    if fact.type == "list(string)":
        return lambda v: [] if v is None else v if type(v) is list else list(v)
    if fact.type.startswith("map("):
        return lambda v: {} if v is None else v if type(v) is dict else dict(v)
    if fact.nullable:
        return lambda v: missing if v is None else v
    return None


def _freeze(v: Any) -> Any:
    if isinstance(v, Mapping):
        return tuple(sorted(v.items()))
    if isinstance(v, list | tuple | set | frozenset):
        return tuple(v)
    return v


class StageRules:
    """One stage's rules, compiled, with its memo."""

    def __init__(
        self,
        name: str,
        rules: Sequence[CompiledRule],
        default: str,
        schema: FactSchema,
        policy_facts: Mapping[str, Any],
    ):
        self.name = name
        self.rules = tuple(rules)
        self.default = default
        uses_cluster = default == "keep-one-per-cluster" or any(
            r.rule.effect == "keep-one-per-cluster" for r in self.rules
        )
        wanted = {p for r in self.rules for p in r.paths}
        if uses_cluster:
            wanted.add(CLUSTER_KEEP)
        self.constants = {p: v for p, v in policy_facts.items() if p in wanted}
        self.paths: tuple[str, ...] = tuple(sorted(p for p in wanted if p not in policy_facts))
        facts = [schema.get(p) for p in self.paths]
        self.normalisers = tuple(_normaliser(f) if f is not None else None for f in facts)
        self.fixups = tuple((i, n) for i, n in enumerate(self.normalisers) if n is not None)
        self.container_idx = tuple(
            i for i, f in enumerate(facts)
            if f is not None and (f.type.startswith("map(") or f.type.startswith("list("))
        )
        self.cluster_idx = self.paths.index(CLUSTER_KEEP) if uses_cluster else -1
        if not self.paths:
            self.getter: Callable[[Mapping[str, Any]], tuple] = lambda facts: ()
        elif len(self.paths) == 1:
            only = self.paths[0]
            self.getter = lambda facts: (facts[only],)
        else:
            self.getter = itemgetter(*self.paths)
        # one CEL call evaluates every rule; newlines keep a `//` comment from eating the rest
        if self.rules:
            joined = ",\n".join(f"({r.rule.condition}\n)" for r in self.rules)
            self.program = condition_env(name, schema).compile(f"[\n{joined}\n]")
        else:
            self.program = None
        self.cache: dict[tuple, Decision] = {}
        self.memo = True  # turned off when keys prove not to repeat
        self.evaluations = 0

    def key(self, values: tuple) -> tuple:
        if not self.container_idx:
            return values
        values = list(values)
        for i in self.container_idx:
            values[i] = _freeze(values[i])
        return tuple(values)

    def data(self, values: tuple) -> dict[str, Any]:
        out = dict(zip(self.paths, values, strict=True))
        for i, norm in self.fixups:
            out[self.paths[i]] = norm(values[i])
        if self.constants:
            out.update(self.constants)
        return out

    def explain_data(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        """The CEL variables for one fact row that may lack some facts (no memo, no key)."""
        data = {p: norm(facts[p]) if norm else facts[p]
                for p, norm in zip(self.paths, self.normalisers, strict=True) if p in facts}
        data.update(self.constants)
        return data
