"""Decide on documents: CEL conditions over declared facts, combined by a named algorithm.

CEL runs on `cel-expr-python`, the Python binding of the CEL project's C++ implementation:
it type-checks a condition against declared variables (unknown fact, string compared with a
number, a non-bool condition are compile-time errors with line:column), then evaluates the
checked program. Facts are declared as dotted variables (`source.status`), which CEL resolves
as qualified names, so a fact row is passed flat, as the catalog holds it.

Speed comes from repetition: all documents of a source share its facts, so each stage keys a
memo on the values of only the facts its rules read (found at compile time) and evaluates all
of its rules in one CEL call on a miss.

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

import difflib
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from cel_expr_python import cel
from cel_expr_python.ext import ext_math, ext_strings

from policies.errors import PolicyError, UnknownName
from policies.facts import DEFAULT_SCHEMA, Fact, FactSchema, example_value
from policies.model import (
    COMBINING_ALGORITHMS,
    DEFAULT_PLACEHOLDER,
    EFFECTS,
    STAGES,
    Policy,
    Rule,
)

DEFAULT_CACHE_SIZE = 200_000  # decisions kept per stage before the memo is reset
_MEMO_PROBE = 20_000  # after this many misses, a memo with < 10% hits is switched off
_RESTRICTIVE = {stage: effects[0] for stage, effects in EFFECTS.items()}
_BLOCKING = frozenset({"deny", "drop", "drop-document"})


# --------------------------------------------------------------------------- decisions


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


# --------------------------------------------------------------------------- CEL checking


_CEL_SCALARS = {
    "string": cel.Type.STRING,
    "int": cel.Type.INT,
    "double": cel.Type.DOUBLE,
    "bool": cel.Type.BOOL,
    "timestamp": cel.Type.TIMESTAMP,
}


def _cel_type(type_: str) -> Any:
    if type_ in _CEL_SCALARS:
        return _CEL_SCALARS[type_]
    if type_ == "list(string)":
        return cel.Type.List(cel.Type.STRING)
    m = re.fullmatch(r"map\(string, (\w+)\)", type_)
    if m:
        return cel.Type.Map(cel.Type.STRING, _CEL_SCALARS[m.group(1)])
    raise ValueError(f"no CEL type for {type_!r}")


@lru_cache(maxsize=4096)
def _env(schema: FactSchema, stage: str, without: frozenset[str] = frozenset()) -> Any:
    variables = {
        f.path: _cel_type(f.type) for f in schema.visible(stage) if f.path not in without
    }
    return cel.NewEnv(
        variables=variables, extensions=[ext_strings.ExtStrings(), ext_math.ExtMath()]
    )


def condition_env(stage: str, schema: FactSchema = DEFAULT_SCHEMA) -> Any:
    """The CEL environment (declared facts of `stage`) conditions are checked in."""
    if stage not in STAGES:
        raise UnknownName("stage", stage, STAGES)
    return _env(schema, stage)


@dataclass(frozen=True, slots=True)
class ConditionProblem:
    """One checker finding, positioned inside the condition text (1-based)."""

    message: str
    line: int
    column: int


@dataclass(frozen=True)
class CheckedCondition:
    text: str
    stage: str
    paths: tuple[str, ...]  # declared facts the condition reads, sorted
    program: Any = field(repr=False)


_CHECKER_ERROR = re.compile(r"ERROR: <input>:(\d+):(\d+): (.*)")
_UNDECLARED = re.compile(r"undeclared reference to '([^']+)'")


def _explain(message: str, schema: FactSchema, stage: str) -> str:
    """Turn a checker message into one that says what to do."""
    m = _UNDECLARED.search(message)
    if m:
        name = m.group(1)
        fact = schema.get(name)
        if fact is not None:
            return (
                f"fact '{name}' is not available at stage {stage} "
                f"(known from stage {fact.stage} on)"
            )
        visible = [f.path for f in schema.visible(stage)]
        close = [p for p in visible if p.startswith(name)][:3] or difflib.get_close_matches(
            name, visible, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        if "." in name or any(name == f.namespace for f in schema.facts):
            return f"unknown fact '{name}'{hint}"
        return f"unknown name '{name}' (not a fact or CEL function){hint}"
    if "no matching overload" in message:
        hint = ""
        if "(double, int)" in message or "(int, double)" in message:
            hint = "; CEL does not mix int and double: write 1.0, not 1, next to a double fact"
        return "type error: " + message + hint
    if message.startswith("Syntax error"):
        return "CEL s" + message[1:]
    return message


def _problems(exc: Exception, schema: FactSchema, stage: str) -> list[ConditionProblem]:
    text = str(exc)
    found = [
        ConditionProblem(_explain(m.group(3).strip(), schema, stage), int(m.group(1)),
                         int(m.group(2)))
        for m in _CHECKER_ERROR.finditer(text)
    ]
    return found or [ConditionProblem(text.splitlines()[0] if text else repr(exc), 1, 1)]


def _compiles(text: str, schema: FactSchema, stage: str, without: frozenset[str]) -> bool:
    try:
        _env(schema, stage, without).compile(text)
    except RuntimeError:
        return False
    return True


def _referenced_paths(text: str, schema: FactSchema, stage: str) -> tuple[str, ...]:
    """Which declared facts a (well-typed) condition reads, asked of the checker itself.

    Hiding a fact from the environment makes the condition fail to check exactly when the
    condition refers to it; hiding a whole namespace first keeps this to a few compiles.
    """
    facts = schema.visible(stage)
    used: list[str] = []
    for ns in sorted({f.namespace for f in facts}):
        paths = frozenset(f.path for f in facts if f.namespace == ns)
        if _compiles(text, schema, stage, paths):
            continue
        used.extend(p for p in sorted(paths) if not _compiles(text, schema, stage,
                                                                  frozenset([p])))
    return tuple(sorted(used))


def check_condition(
    text: str, stage: str, schema: FactSchema = DEFAULT_SCHEMA
) -> CheckedCondition | list[ConditionProblem]:
    """Parse and type-check a condition for `stage`; the problems when it does not check."""
    if stage not in STAGES:
        raise UnknownName("stage", stage, STAGES)
    checked = _check(text, stage, schema)
    return checked if isinstance(checked, CheckedCondition) else list(checked)


@lru_cache(maxsize=2048)  # loading then compiling a policy checks each condition once
def _check(
    text: str, stage: str, schema: FactSchema
) -> CheckedCondition | tuple[ConditionProblem, ...]:
    try:
        program = _env(schema, stage).compile(text)
    except RuntimeError as exc:
        return tuple(_problems(exc, schema, stage))
    rtype = program.return_type().name()
    if rtype not in ("BOOL", "DYN"):
        return (ConditionProblem(f"condition must be a bool, this one is {rtype.lower()}", 1, 1),)
    problem = _runtime_check(program, schema, stage)
    if problem:
        return (ConditionProblem(problem, 1, 1),)
    return CheckedCondition(text, stage, _referenced_paths(text, schema, stage), program)


def _runtime_check(program: Any, schema: FactSchema, stage: str) -> str | None:
    """Evaluate once against a typed example row, to catch what only evaluation finds.

    Only errors that no fact row could avoid are reported (an invalid regex literal); a
    missing map key or a division by zero on the example values says nothing of real rows.
    """
    data = {f.path: example_value(f) for f in schema.visible(stage)}
    result = program.eval(data=data)
    if result.type() == cel.Type.ERROR:
        msg = str(result.value())
        if "regular expression" in msg:
            return msg.split(": ", 1)[-1]
    return None


# --------------------------------------------------------------------------- compiling


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    rule: Rule
    program: Any
    paths: tuple[str, ...]


def _normaliser(fact: Fact) -> Callable[[Any], Any] | None:
    """What brings a caller's value to what CEL expects (None: take it as it is).

    Runs only on memo misses. CEL itself widens an int given for a double fact.
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


class _Stage:
    """One stage's rules, compiled, with its memo."""

    def __init__(
        self,
        name: str,
        rules: Sequence[_CompiledRule],
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
            wanted.add("attr.cluster_keep")
        self.constants = {p: v for p, v in policy_facts.items() if p in wanted}
        self.paths: tuple[str, ...] = tuple(sorted(p for p in wanted if p not in policy_facts))
        facts = [schema.get(p) for p in self.paths]
        self.normalisers = tuple(_normaliser(f) if f is not None else None for f in facts)
        self.fixups = tuple((i, n) for i, n in enumerate(self.normalisers) if n is not None)
        self.container_idx = tuple(
            i for i, f in enumerate(facts)
            if f is not None and (f.type.startswith("map(") or f.type.startswith("list("))
        )
        self.cluster_idx = self.paths.index("attr.cluster_keep") if uses_cluster else -1
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
            self.program = _env(schema, name).compile(f"[\n{joined}\n]")
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
        self._stages: dict[str, _Stage] = {}
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
                compiled.append(_CompiledRule(rule, checked.program, checked.paths))
            self._stages[stage] = _Stage(
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

    def _stage(self, stage: str) -> _Stage:
        try:
            return self._stages[stage]
        except KeyError:
            raise UnknownName("stage", stage, STAGES, file=self.policy.source) from None

    def explain(self, stage: str, facts: Mapping[str, Any]) -> list[tuple[str, bool | str]]:
        """Every rule of the stage evaluated on its own, no memo: (rule id, matched or the
        error text). For showing a reviewer why a document got its decision."""
        st = self._stage(stage)
        data = {p: norm(facts[p]) if norm else facts[p]
                for p, norm in zip(st.paths, st.normalisers, strict=True) if p in facts}
        data.update(st.constants)
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

    def _memoised(self, st: _Stage, rows: Iterator[Mapping[str, Any]]) -> Iterator[Decision]:
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

    def _decide(self, st: _Stage, facts: Mapping[str, Any]) -> Decision:
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

    def _evaluate(self, st: _Stage, values: tuple) -> Decision:
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

    def _missing(self, st: _Stage, facts: Mapping[str, Any]) -> Decision:
        missing = {p for p in st.paths if p not in facts}
        culprits = [
            (r.rule, "missing fact " + ", ".join(sorted(missing & set(r.paths))))
            for r in st.rules
            if missing & set(r.paths)
        ]
        if not culprits:  # only attr.cluster_keep, needed to resolve keep-one-per-cluster
            culprits = [(r.rule, "missing fact attr.cluster_keep") for r in st.rules] or [
                (Rule("<default>", st.name, st.default, "", ""), "missing fact attr.cluster_keep")
            ]
        return self._fail_closed(st, culprits)

    def _fail_closed(self, st: _Stage, culprits: Sequence[tuple[Rule, str]]) -> Decision:
        errors = tuple(f"rule {rule.id}: {msg}" for rule, msg in culprits)
        return Decision(
            effect=_RESTRICTIVE[st.name],
            rule_ids=tuple(rule.id for rule, _ in culprits),
            reasons=tuple(f"condition could not be evaluated ({msg})" for _, msg in culprits),
            policy_name=self.policy.name,
            policy_version=self.policy.version,
            default_applied=False,
            stage=st.name,
            policy_sha256=self._sha,
            errors=errors,
        )

    def _resolve(self, st: _Stage, effect: str, values: tuple) -> str:
        if effect == "keep-one-per-cluster":
            return "keep" if values[st.cluster_idx] else "drop"
        return effect

    def _default(self, st: _Stage, values: tuple) -> Decision:
        effect = self._resolve(st, st.default, values)
        return Decision(
            effect=effect,
            rule_ids=(),
            reasons=(f"no rule matched; default for {st.name} is {st.default}",),
            policy_name=self.policy.name,
            policy_version=self.policy.version,
            default_applied=True,
            stage=st.name,
            policy_sha256=self._sha,
        )

    def _combine(
        self, st: _Stage, values: tuple, outcomes: Sequence[tuple[Rule, bool, str | None]]
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

    def _decision(self, st: _Stage, values: tuple, chosen: Sequence[Rule]) -> Decision:
        effect = self._resolve(st, chosen[0].effect, values)
        redact: tuple[str, ...] = ()
        placeholder = ""
        if effect == "redact":
            entities: dict[str, None] = {}
            for r in chosen:
                entities.update(dict.fromkeys(r.params.get("entities", ())))
            redact = tuple(entities)
            placeholder = chosen[0].params.get("placeholder", DEFAULT_PLACEHOLDER)
        return Decision(
            effect=effect,
            rule_ids=tuple(r.id for r in chosen),
            reasons=tuple(r.reason for r in chosen),
            policy_name=self.policy.name,
            policy_version=self.policy.version,
            default_applied=False,
            stage=st.name,
            policy_sha256=self._sha,
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


# --------------------------------------------------------------------------- what-if


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
