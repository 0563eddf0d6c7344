"""Review policies: the rules that turn a mixture's review facts into a verdict, as data.

A review policy is YAML with CEL conditions, read and checked like an admission policy (the
same YAML-with-positions parser and the same CEL checker; every problem is reported with its
line and column), over the review facts of policies/review_facts.py::

    name: review-commercial
    version: "1.0.0"
    description: Commercial training in the EU.
    intended_use: commercial          # the mixtures it is written for
    agents: [GPTBot, CCBot, "*"]      # whose robots.txt verdicts the consent facts count
    rules:
      - id: non-commercial-licence
        scope: component              # component (each release) | mixture (the whole)
        effect: blocked               # blocked | needs-attention | note
        condition: license.non_commercial.documents > 0
        reason: Non-commercial licences forbid training a commercial model.

Every rule whose condition holds is a finding with its reason; the verdict is the most severe
effect among them (blocked > needs-attention > ok). A `note` is shown without changing the
verdict. A condition that cannot be evaluated fails closed: the finding is `blocked`, naming
the rule and the error, so no verdict is reached on a fact nobody could read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cel_expr_python import cel
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from common.atomic import text_sha256
from policies.conditions import CheckedCondition, check_condition
from policies.errors import InvalidPolicy, PolicyError, UnknownName
from policies.loader import _RULE_ID, _condition_position, _Parser, _pos, _read
from policies.model import INTENDED_USES, Position
from policies.review_facts import CHECK_STAGE, SCHEMAS, SCOPES

EFFECTS: tuple[str, ...] = ("blocked", "needs-attention", "note")
VERDICTS: tuple[str, ...] = ("ok", "needs-attention", "blocked")  # least to most severe
PACKS_DIR = Path(__file__).resolve().with_name("review_packs")

_TOP_KEYS = ("name", "version", "description", "intended_use", "agents", "rules")
_REQUIRED_TOP = ("name", "version", "intended_use", "agents", "rules")
_RULE_KEYS = ("id", "scope", "effect", "condition", "reason")
_MAX_LEN = {"name": 100, "version": 40, "id": 100}


@dataclass(frozen=True, slots=True)
class ReviewRule:
    id: str
    scope: str
    effect: str
    condition: str
    reason: str
    paths: tuple[str, ...] = ()  # the facts the condition reads (asked of the checker)
    position: Position | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class ReviewPolicy:
    name: str
    version: str
    intended_use: str
    agents: tuple[str, ...]
    rules: tuple[ReviewRule, ...]
    text: str
    source: str = "<text>"
    description: str = ""

    @property
    def sha256(self) -> str:
        """Hash of the verbatim text: the identity of what a review was decided with."""
        return text_sha256(self.text)

    def rules_of(self, scope: str) -> tuple[ReviewRule, ...]:
        if scope not in SCOPES:
            raise UnknownName("review scope", scope, SCOPES)
        return tuple(r for r in self.rules if r.scope == scope)

    def ref(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule whose condition held (or could not be evaluated) for one scope."""

    rule: str
    effect: str
    reason: str
    scope: str
    facts: dict[str, Any]  # the facts the rule read, with their values
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"rule": self.rule, "effect": self.effect, "reason": self.reason,
               "scope": self.scope, "facts": self.facts}
        if self.error is not None:
            out["error"] = self.error
        return out


# --------------------------------------------------------------------------- loading


def load_review_policy(path_or_text: str | Path) -> ReviewPolicy:
    """A review policy from a file path or YAML text; InvalidPolicy lists every problem."""
    text, file = _read(path_or_text)
    policy, errors = _ReviewParser(text, file).parse()
    if errors:
        raise InvalidPolicy(errors)
    assert isinstance(policy, ReviewPolicy)
    return policy


def validate_review_policy(path_or_text: str | Path) -> list[PolicyError]:
    """Every problem in a review policy, in file order; empty when it is valid."""
    try:
        text, file = _read(path_or_text)
    except PolicyError as exc:
        return [exc]
    return _ReviewParser(text, file).parse()[1]


def list_review_packs() -> list[str]:
    """Names of the built-in review packs (policies/review_packs/*.yaml), sorted."""
    return sorted(p.stem for p in PACKS_DIR.glob("*.yaml"))


def review_pack_path(name: str) -> Path:
    candidate = PACKS_DIR / f"{name.removesuffix('.yaml')}.yaml"
    if not candidate.is_file() or candidate.parent != PACKS_DIR:
        raise UnknownName("review pack", name, list_review_packs())
    return candidate


def load_review_pack(name: str) -> ReviewPolicy:
    return load_review_policy(review_pack_path(name))


def default_pack(intended_use: str) -> str:
    """The built-in pack a mixture of this intended use is reviewed with unless told."""
    if intended_use not in INTENDED_USES:
        raise UnknownName("intended use", intended_use, INTENDED_USES)
    return f"review-{intended_use}"


class _ReviewParser(_Parser):
    """The admission policy parser's node helpers and error reporting, for review policies."""

    def __init__(self, text: str, file: str):
        super().__init__(text, file, SCHEMAS["component"])

    def policy(self, root: MappingNode) -> ReviewPolicy | None:  # type: ignore[override]
        top = self.mapping(root, _TOP_KEYS, "review policy")
        missing = [k for k in _REQUIRED_TOP if k not in top]
        if missing:
            self.error(f"missing field{'s' if len(missing) > 1 else ''}: {', '.join(missing)}",
                       root)
        get = {k: v for k, (_, v) in top.items()}
        name = self.string(get["name"], "name") if "name" in get else None
        version = self.raw_scalar(get["version"], "version") if "version" in get else None
        for what, value in (("name", name), ("version", version)):
            node = get.get(what)
            if value is not None and node is not None and len(value) > _MAX_LEN[what]:
                self.error(f"{what} is {len(value)} characters; at most {_MAX_LEN[what]} fit "
                           "the catalog", node)
        description = self.string(get["description"], "description") \
            if "description" in get else ""
        use = self.choice(get["intended_use"], "intended_use", INTENDED_USES) \
            if "intended_use" in get else None
        agents = self.strings(get["agents"], "agents") if "agents" in get else None
        if agents is not None and not agents:
            self.error("agents must list at least one agent (use \"*\" for all)", get["agents"])
        rules = self.review_rules(get["rules"]) if "rules" in get else None
        if self.errors:
            return None
        assert name and version and use and agents is not None and rules is not None
        return ReviewPolicy(name=name, version=version, intended_use=use, agents=tuple(agents),
                            rules=rules, text=self.text, source=self.file,
                            description=description or "")

    def review_rules(self, node: Node) -> tuple[ReviewRule, ...] | None:
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return ()
        if not isinstance(node, SequenceNode):
            self.error("rules must be a list of rules (id, scope, effect, condition, reason)",
                       node)
            return None
        seen: dict[str, int] = {}
        out = [self.review_rule(item, seen) for item in node.value]
        return tuple(r for r in out if r is not None)

    def review_rule(self, node: Node, seen: dict[str, int]) -> ReviewRule | None:
        if not isinstance(node, MappingNode):
            self.error("a rule must be a mapping with id, scope, effect, condition, reason",
                       node)
            return None
        id_node = next((v for k, v in node.value
                        if isinstance(k, ScalarNode) and k.value == "id"), None)
        rule_id = self.string(id_node, "id") if id_node is not None else None
        if rule_id is not None and (len(rule_id) > _MAX_LEN["id"]
                                    or not _RULE_ID.match(rule_id)):
            self.error(f"rule id '{rule_id[:40]}' must be at most {_MAX_LEN['id']} letters, "
                       "digits and _ . : -", id_node)
            rule_id = None
        elif rule_id is not None and rule_id in seen:
            self.error(f"duplicate rule id '{rule_id}' (first at line {seen[rule_id]})",
                       id_node, rule_id)
            rule_id = None
        elif rule_id is not None and id_node is not None:
            seen[rule_id] = id_node.start_mark.line + 1
        fields = self.mapping(node, _RULE_KEYS, "rule", rule_id)
        missing = [k for k in _RULE_KEYS if k not in fields]
        if missing:
            self.error(f"missing field{'s' if len(missing) > 1 else ''}: {', '.join(missing)}",
                       node, rule_id)
        get = {k: v for k, (_, v) in fields.items()}
        before = len(self.errors)
        scope = self.choice(get["scope"], "scope", SCOPES, rule_id) if "scope" in get else None
        effect = self.choice(get["effect"], "effect", EFFECTS, rule_id) \
            if "effect" in get else None
        reason = self.string(get["reason"], "reason", rule_id) if "reason" in get else None
        checked = self.review_condition(get["condition"], scope, rule_id) \
            if "condition" in get and scope is not None else None
        if len(self.errors) > before or missing or rule_id is None:
            return None
        assert scope and effect and reason and checked is not None
        line, col = _pos(node)
        return ReviewRule(rule_id, scope, effect, checked.text, reason, checked.paths,
                          Position(line, col))

    def review_condition(self, node: Node, scope: str, rule_id: str | None
                         ) -> CheckedCondition | None:
        if not isinstance(node, ScalarNode) or node.tag == "tag:yaml.org,2002:null":
            self.error("condition must be a CEL expression (quote it if it starts with a "
                       "YAML symbol)", node, rule_id)
            return None
        checked = check_condition(node.value, CHECK_STAGE, SCHEMAS[scope])
        if isinstance(checked, CheckedCondition):
            return checked
        for problem in checked:
            message = problem.message
            if scope == "mixture" and "'component." in message:
                message = ("component.* facts are known to component rules only "
                           "(scope: component); " + message)
            at = _condition_position(node, self.lines, node.value, problem.line,
                                     problem.column)
            self.error(message, rule_id=rule_id, at=at)
        return None


# --------------------------------------------------------------------------- deciding


def evaluate(policy: ReviewPolicy, scope: str, facts: Mapping[str, Any]) -> list[Finding]:
    """The findings of the rules of `scope` for one fact row, in file order."""
    found = []
    for rule in policy.rules_of(scope):
        checked = check_condition(rule.condition, CHECK_STAGE, SCHEMAS[scope])
        assert isinstance(checked, CheckedCondition)  # the loader checked it
        read = {p: facts[p] for p in rule.paths if p in facts}
        lacking = [p for p in rule.paths if p not in facts]
        if lacking:
            found.append(Finding(rule.id, "blocked", rule.reason, scope, read,
                                 error="missing fact " + ", ".join(lacking)))
            continue
        result = checked.program.eval(data=dict(facts))
        if result.type() == cel.Type.ERROR:
            message = str(result.value()).split("\n", 1)[0]
            found.append(Finding(rule.id, "blocked", rule.reason, scope, read,
                                 error=f"condition could not be evaluated ({message})"))
        elif result.plain_value():
            found.append(Finding(rule.id, rule.effect, rule.reason, scope, read))
    return found


def verdict(findings: Iterable[Finding | Mapping[str, Any]]) -> str:
    """The most severe effect among the findings; notes do not count."""
    worst = 0
    for f in findings:
        effect = f.effect if isinstance(f, Finding) else f["effect"]
        if effect in VERDICTS:
            worst = max(worst, VERDICTS.index(effect))
    return VERDICTS[worst]


def rule_table(policy: ReviewPolicy) -> Sequence[dict[str, Any]]:
    """The policy's rules as plain data (for the review document)."""
    return [{"id": r.id, "scope": r.scope, "effect": r.effect, "condition": r.condition,
             "reason": r.reason} for r in policy.rules]
