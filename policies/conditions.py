"""Policy conditions: CEL text parsed and type-checked against the declared facts of a stage.

CEL runs on `cel-expr-python`, the Python binding of the CEL project's C++ implementation:
it type-checks a condition against declared variables (unknown fact, string compared with a
number, a non-bool condition are compile-time errors with line:column), then evaluates the
checked program. Facts are declared as dotted variables (`source.status`), which CEL resolves
as qualified names, so a fact row is passed flat, as the catalog holds it.

A checked condition also says which declared facts it reads (asked of the checker itself),
so a stage can key its memo on those facts only and a caller computes no other.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from cel_expr_python import cel
from cel_expr_python.ext import ext_math, ext_strings

from policies.errors import UnknownName
from policies.facts import DEFAULT_SCHEMA, FactSchema, example_value
from policies.model import STAGES

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
