"""Decide on documents: a policy's checked conditions, combined by a named algorithm.

Conditions are checked and compiled in `policies.conditions`; each stage's rules become one
CEL program with its memo in `policies.stage_rules`. This module decides with them.

Combining algorithms (effects are ordered most restrictive first per stage, see model.EFFECTS):

- deny-overrides    the most restrictive effect among matching rules wins (default);
- allow-overrides   the least restrictive effect among matching rules wins;
- first-applicable  the first matching rule, in file order, decides.

No match: the stage's explicit default applies (`default_applied=True`). A condition that
cannot be evaluated (a fact missing from the row, a value of the wrong type, a bad regex)
fails closed: the decision takes the stage's most restrictive effect and names the rule and
the error, so nothing is ever kept or dropped without a recorded reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cel_expr_python import cel

from policies.conditions import CheckedCondition, check_condition
from policies.errors import PolicyError, UnknownName
from policies.facts import DEFAULT_SCHEMA, FactSchema
from policies.model import (
    COMBINING_ALGORITHMS,
    DEFAULT_PLACEHOLDER,
    EFFECTS,
    STAGES,
    Policy,
    Rule,
)
from policies.stage_rules import CLUSTER_KEEP, CompiledRule, StageRules

DEFAULT_CACHE_SIZE = 200_000  # decisions kept per stage before the memo is reset
_MEMO_PROBE = 20_000  # after this many misses, a memo with < 10% hits is switched off
_RESTRICTIVE = {stage: effects[0] for stage, effects in EFFECTS.items()}
_BLOCKING = frozenset({"deny", "drop", "drop-document"})


@dataclass(frozen=True, slots=True)
class Decision:
    """What a policy decided for one document at one stage, and which rules made it so."""

    effect: str
    rule_ids: tuple[str, ...]
    reasons: tuple[str, ...]
    policy_name: str
    policy_version: str
    default_applied: bool
    stage: str = ""
    policy_sha256: str = ""
    # pii redact: entity types to replace and the placeholder ("{type}" is the entity type)
    redact: tuple[str, ...] = ()
    placeholder: str = ""
    errors: tuple[str, ...] = ()  # set when a condition could not be evaluated (fail closed)

    @property
    def passes(self) -> bool:
        """The document goes on to the next stage (allow, keep, redact)."""
        return self.effect not in _BLOCKING


def _error_text(value: Any) -> str:
    return str(value.value()).split("\n", 1)[0]


class CompiledPolicy:
    """A policy ready to decide. Picklable (it recompiles from the policy on the other side)."""

    def __init__(
        self,
        policy: Policy,
        *,
        schema: FactSchema = DEFAULT_SCHEMA,
        memoize: bool = True,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ):
        if policy.combining not in COMBINING_ALGORITHMS:
            raise UnknownName("combining algorithm", policy.combining, COMBINING_ALGORITHMS,
                              file=policy.source)
        self.policy = policy
        self.schema = schema
        self.memoize = memoize
        self.cache_size = cache_size
        self._sha = policy.sha256
        policy_facts = {
            "policy.intended_use": policy.intended_use,
            "policy.jurisdiction": policy.jurisdiction,
        }
        self._stages: dict[str, StageRules] = {}
        for stage in STAGES:
            compiled = []
            for rule in policy.rules(stage):
                checked = check_condition(rule.condition, stage, schema)
                if not isinstance(checked, CheckedCondition):
                    pos = rule.position
                    raise PolicyError(
                        checked[0].message, file=policy.source, rule_id=rule.id,
                        line=pos.line if pos else None, column=pos.column if pos else None,
                    )
                compiled.append(CompiledRule(rule, checked.program, checked.paths))
            self._stages[stage] = StageRules(
                stage, compiled, policy.defaults[stage], schema, policy_facts
            )

    def __reduce__(self):
        return (_recompile, (self.policy, self.schema, self.memoize, self.cache_size))

    @property
    def name(self) -> str:
        return self.policy.name

    @property
    def version(self) -> str:
        return self.policy.version

    def required_facts(self, stage: str) -> tuple[str, ...]:
        """The fact paths `decide(stage, ...)` reads: all a caller has to compute."""
        return self._stage(stage).paths

    def rule_paths(self, rule_id: str) -> tuple[str, ...]:
        for st in self._stages.values():
            for r in st.rules:
                if r.rule.id == rule_id:
                    return r.paths
        raise KeyError(rule_id)

    def cache_stats(self, stage: str) -> dict[str, int]:
        st = self._stage(stage)
        return {"evaluations": st.evaluations, "cached": len(st.cache), "memo": int(st.memo)}

    def clear_cache(self) -> None:
        for st in self._stages.values():
            st.cache.clear()
            st.memo = True
            st.evaluations = 0

    def _stage(self, stage: str) -> StageRules:
        try:
            return self._stages[stage]
        except KeyError:
            raise UnknownName("stage", stage, STAGES, file=self.policy.source) from None

    def explain(self, stage: str, facts: Mapping[str, Any]) -> list[tuple[str, bool | str]]:
        """Every rule of the stage evaluated on its own, no memo: (rule id, matched or the
        error text). For showing a reviewer why a document got its decision."""
        st = self._stage(stage)
        data = st.explain_data(facts)
        out: list[tuple[str, bool | str]] = []
        for r in st.rules:
            lacking = [p for p in r.paths if p not in data]
            if lacking:
                out.append((r.rule.id, "missing fact " + ", ".join(lacking)))
                continue
            res = r.program.eval(data=data)
            out.append((r.rule.id, _error_text(res) if res.type() == cel.Type.ERROR
                        else bool(res.plain_value())))
        return out

    # -- deciding

    def decide(self, stage: str, facts: Mapping[str, Any]) -> Decision:
        """The decision for one document's facts (a flat mapping path -> value)."""
        return self._decide(self._stage(stage), facts)

    def decide_many(
        self, stage: str, facts_iter: Iterable[Mapping[str, Any]]
    ) -> Iterator[Decision]:
        """Decisions for a stream of fact rows, in order; lazily, so rows can be streamed."""
        st = self._stage(stage)
        rows = iter(facts_iter)
        if self.memoize and st.memo:
            yield from self._memoised(st, rows)
        for facts in rows:  # un-memoised, or the rest once the memo proved useless
            yield self._decide(st, facts)

    def _memoised(self, st: StageRules, rows: Iterator[Mapping[str, Any]]) -> Iterator[Decision]:
        getter, cache, key_of, evaluate = st.getter, st.cache, st.key, self._evaluate
        plain = not st.container_idx
        limit = self.cache_size
        seen = misses = 0
        for facts in rows:
            seen += 1
            try:
                values = getter(facts)
                key = values if plain else key_of(values)
                decision = cache.get(key)
            except (KeyError, TypeError):  # missing fact, or an unhashable value: no memo
                yield self._decide(st, facts)
                continue
            if decision is None:
                decision = evaluate(st, values)
                if len(cache) >= limit:
                    cache.clear()
                cache[key] = decision
                misses += 1
                if misses == _MEMO_PROBE and seen - misses < _MEMO_PROBE // 10:
                    # Keys barely repeat (continuous scores): the memo only costs time.
                    st.memo = False
                    cache.clear()
                    yield decision
                    return
            yield decision

    def _decide(self, st: StageRules, facts: Mapping[str, Any]) -> Decision:
        try:
            values = st.getter(facts)
        except KeyError:
            return self._missing(st, facts)
        if not (self.memoize and st.memo):
            return self._evaluate(st, values)
        try:
            key = st.key(values)
            decision = st.cache.get(key)
        except TypeError:
            return self._evaluate(st, values)
        if decision is None:
            decision = self._evaluate(st, values)
            if len(st.cache) >= self.cache_size:
                st.cache.clear()
            st.cache[key] = decision
        return decision

    def _evaluate(self, st: StageRules, values: tuple) -> Decision:
        st.evaluations += 1
        if st.program is None:
            return self._default(st, values)
        try:
            data = st.data(values)
        except (TypeError, ValueError) as exc:  # e.g. an unparsable timestamp string
            return self._fail_closed(st, [(r.rule, f"bad fact value: {exc}") for r in st.rules])
        result = st.program.eval(data=data)
        if result.type() != cel.Type.ERROR:
            matched = result.plain_value()
            return self._combine(st, values, [(r.rule, bool(m), None)
                                              for r, m in zip(st.rules, matched, strict=True)])
        # some condition failed: evaluate one by one to say which
        outcomes = []
        for r in st.rules:
            res = r.program.eval(data=data)
            if res.type() == cel.Type.ERROR:
                outcomes.append((r.rule, False, _error_text(res)))
            else:
                outcomes.append((r.rule, bool(res.plain_value()), None))
        return self._combine(st, values, outcomes)

    def _missing(self, st: StageRules, facts: Mapping[str, Any]) -> Decision:
        missing = {p for p in st.paths if p not in facts}
        culprits = [
            (r.rule, "missing fact " + ", ".join(sorted(missing & set(r.paths))))
            for r in st.rules
            if missing & set(r.paths)
        ]
        if not culprits:  # only CLUSTER_KEEP, needed to resolve keep-one-per-cluster
            lacking = f"missing fact {CLUSTER_KEEP}"
            culprits = [(r.rule, lacking) for r in st.rules] or [
                (Rule("<default>", st.name, st.default, "", ""), lacking)
            ]
        return self._fail_closed(st, culprits)

    def _fail_closed(self, st: StageRules, culprits: Sequence[tuple[Rule, str]]) -> Decision:
        return self._made(
            st,
            effect=_RESTRICTIVE[st.name],
            rule_ids=tuple(rule.id for rule, _ in culprits),
            reasons=tuple(f"condition could not be evaluated ({msg})" for _, msg in culprits),
            default_applied=False,
            errors=tuple(f"rule {rule.id}: {msg}" for rule, msg in culprits),
        )

    def _made(self, st: StageRules, **what: Any) -> Decision:
        """A decision of this policy at stage `st`; `what` says what was decided and why."""
        return Decision(**what, policy_name=self.policy.name, policy_version=self.policy.version,
                        stage=st.name, policy_sha256=self._sha)

    def _resolve(self, st: StageRules, effect: str, values: tuple) -> str:
        if effect == "keep-one-per-cluster":
            return "keep" if values[st.cluster_idx] else "drop"
        return effect

    def _default(self, st: StageRules, values: tuple) -> Decision:
        return self._made(
            st,
            effect=self._resolve(st, st.default, values),
            rule_ids=(),
            reasons=(f"no rule matched; default for {st.name} is {st.default}",),
            default_applied=True,
        )

    def _combine(
        self, st: StageRules, values: tuple, outcomes: Sequence[tuple[Rule, bool, str | None]]
    ) -> Decision:
        algorithm = self.policy.combining
        if algorithm == "first-applicable":
            for rule, matched, error in outcomes:
                if error is not None:
                    return self._fail_closed(st, [(rule, error)])
                if matched:
                    return self._decision(st, values, [rule])
            return self._default(st, values)
        errors = [(rule, error) for rule, _, error in outcomes if error is not None]
        if errors:
            return self._fail_closed(st, errors)
        matched = [rule for rule, m, _ in outcomes if m]
        if not matched:
            return self._default(st, values)
        order = EFFECTS[st.name]
        ranks = [order.index(r.effect) for r in matched]
        best = min(ranks) if algorithm == "deny-overrides" else max(ranks)
        return self._decision(st, values, [r for r, k in zip(matched, ranks, strict=True)
                                           if k == best])

    def _decision(self, st: StageRules, values: tuple, chosen: Sequence[Rule]) -> Decision:
        effect = self._resolve(st, chosen[0].effect, values)
        redact: tuple[str, ...] = ()
        placeholder = ""
        if effect == "redact":
            entities: dict[str, None] = {}
            for r in chosen:
                entities.update(dict.fromkeys(r.params.get("entities", ())))
            redact = tuple(entities)
            placeholder = chosen[0].params.get("placeholder", DEFAULT_PLACEHOLDER)
        return self._made(
            st,
            effect=effect,
            rule_ids=tuple(r.id for r in chosen),
            reasons=tuple(r.reason for r in chosen),
            default_applied=False,
            redact=redact,
            placeholder=placeholder,
        )


def compile_policy(
    policy: Policy,
    *,
    schema: FactSchema = DEFAULT_SCHEMA,
    memoize: bool = True,
    cache_size: int = DEFAULT_CACHE_SIZE,
) -> CompiledPolicy:
    """Check every condition and build the deciders; raises PolicyError on a bad condition."""
    return CompiledPolicy(policy, schema=schema, memoize=memoize, cache_size=cache_size)


def _recompile(policy: Policy, schema: FactSchema, memoize: bool, cache_size: int):
    return CompiledPolicy(policy, schema=schema, memoize=memoize, cache_size=cache_size)
