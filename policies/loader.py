"""Read a policy from YAML, reporting every problem with its file, rule and line:column.

The YAML is composed into nodes (not loaded straight to dicts) so every value keeps its
position; conditions are type-checked by CEL against the declared facts of their stage, and a
checker error inside a condition is mapped back to the line and column in the file.

Shape of a policy file::

    name: commercial-strict
    version: "1.0"
    intended_use: commercial          # research | commercial
    jurisdiction: EU
    agents: [GPTBot, CCBot, "*"]      # whose robots.txt groups count
    combining: deny-overrides         # deny-overrides | allow-overrides | first-applicable
    default: {admission: deny, langid: keep, quality: keep, dedup: keep, pii: keep}
    stages:
      admission:
        - id: tos-no-ai
          effect: deny
          condition: source.tos_verdict in ["no-ai", "no-scraping-and-ai"]
          reason: The terms of service forbid AI use.
      pii:
        - id: redact-contacts
          effect: redact
          condition: "true"
          reason: Contact details are replaced by placeholders.
          params: {entities: [EMAIL_ADDRESS, PHONE_NUMBER], placeholder: "|||{type}|||"}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from common import yamlsafe
from policies.engine import CheckedCondition, check_condition
from policies.errors import InvalidPolicy, PolicyError
from policies.facts import DEFAULT_SCHEMA, FactSchema
from policies.model import (
    COMBINING_ALGORITHMS,
    DEFAULT_COMBINING,
    EFFECT_PARAMS,
    EFFECTS,
    INTENDED_USES,
    STAGES,
    Policy,
    Position,
    Rule,
)

_TOP_KEYS = ("name", "version", "description", "intended_use", "jurisdiction", "agents",
             "combining", "default", "stages")
_REQUIRED_TOP = ("name", "version", "intended_use", "jurisdiction", "agents", "default",
                 "stages")
_RULE_KEYS = ("id", "effect", "condition", "reason", "params")
_REQUIRED_RULE = ("id", "effect", "condition", "reason")
_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
# Lengths the catalog stores (policies.name / version / jurisdiction, decision_counts.rule_id).
_MAX_LEN = {"name": 100, "version": 40, "jurisdiction": 20, "id": 100}


def load_policy(path_or_text: str | Path, *, schema: FactSchema = DEFAULT_SCHEMA) -> Policy:
    """A policy from a file path or from YAML text; raises InvalidPolicy listing every problem."""
    text, file = _read(path_or_text)
    policy, errors = _Parser(text, file, schema).parse()
    if errors:
        raise InvalidPolicy(errors)
    assert policy is not None
    return policy


def validate_policy_file(
    path: str | Path, *, schema: FactSchema = DEFAULT_SCHEMA
) -> list[PolicyError]:
    """Every problem in a policy file, in file order; empty when it is valid."""
    try:
        text, file = _read(Path(path))
    except PolicyError as exc:
        return [exc]
    return _Parser(text, file, schema).parse()[1]


def validate_policy_text(
    text: str, *, file: str = "<text>", schema: FactSchema = DEFAULT_SCHEMA
) -> list[PolicyError]:
    return _Parser(text, file, schema).parse()[1]


def _read(path_or_text: str | Path) -> tuple[str, str]:
    if isinstance(path_or_text, str) and ("\n" in path_or_text or ":" in path_or_text
                                          and not Path(path_or_text).is_file()):
        return path_or_text, "<text>"
    path = Path(path_or_text)
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except FileNotFoundError:
        raise PolicyError("no such policy file", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read policy file: {exc}", file=str(path)) from None


def _pos(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Parser:
    def __init__(self, text: str, file: str, schema: FactSchema):
        self.text = text
        self.file = file
        self.schema = schema
        self.lines = text.split("\n")
        self.errors: list[PolicyError] = []

    # -- reporting

    def error(self, message: str, node: Node | None = None, rule_id: str | None = None,
              at: tuple[int, int] | None = None) -> None:
        line, col = at if at else (_pos(node) if node is not None else (None, None))
        self.errors.append(PolicyError(message, file=self.file, rule_id=rule_id, line=line,
                                       column=col))

    # -- node helpers

    def mapping(self, node: MappingNode, allowed: tuple[str, ...], what: str,
                rule_id: str | None = None) -> dict[str, tuple[ScalarNode, Node]]:
        """Keys -> (key node, value node); reports duplicate and unknown keys."""
        out: dict[str, tuple[ScalarNode, Node]] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            if key is None:
                self.error(f"{what}: keys must be plain names", key_node, rule_id)
                continue
            if key in out:
                first = out[key][0].start_mark.line + 1
                self.error(f"{what}: duplicate key '{key}' (first at line {first})", key_node,
                           rule_id)
                continue
            if key not in allowed:
                self.error(f"{what}: unknown field '{key}'; allowed: {', '.join(allowed)}",
                           key_node, rule_id)
                continue
            out[key] = (key_node, value_node)
        return out

    def string(self, node: Node, what: str, rule_id: str | None = None) -> str | None:
        value = self.loader.construct_object(node) if isinstance(node, ScalarNode) else None
        if isinstance(node, ScalarNode) and value is not None and not isinstance(value, str):
            kind = type(value).__name__.replace("bool", "boolean").replace("int", "number")
            self.error(f"{what} must be text; YAML reads {node.value!r} as a {kind}, "
                       "so quote it", node, rule_id)
            return None
        if not isinstance(value, str) or not value.strip():
            self.error(f"{what} must be a non-empty text", node, rule_id)
            return None
        return value

    def raw_scalar(self, node: Node, what: str) -> str | None:
        """The scalar as written, so `version: 1.10` stays "1.10" rather than 1.1."""
        if not isinstance(node, ScalarNode) or node.tag == "tag:yaml.org,2002:null" \
                or not node.value.strip():
            self.error(f"{what} must be a non-empty text", node)
            return None
        return node.value

    def check_length(self, what: str, value: str | None, node: Node | None) -> None:
        if value is not None and node is not None and len(value) > _MAX_LEN[what]:
            self.error(f"{what} is {len(value)} characters; at most {_MAX_LEN[what]} fit the "
                       "catalog", node)

    def choice(self, node: Node, what: str, allowed: tuple[str, ...],
               rule_id: str | None = None) -> str | None:
        value = self.string(node, what, rule_id)
        if value is not None and value not in allowed:
            self.error(f"{what} '{value}' is not one of {', '.join(allowed)}", node, rule_id)
            return None
        return value

    def strings(self, node: Node, what: str, rule_id: str | None = None) -> list[str] | None:
        if not isinstance(node, SequenceNode):
            self.error(f"{what} must be a list", node, rule_id)
            return None
        out = [self.string(item, f"each of {what}", rule_id) for item in node.value]
        return None if any(v is None for v in out) else out  # type: ignore[misc]

    # -- the document

    def parse(self) -> tuple[Policy | None, list[PolicyError]]:
        try:
            # Built inside the try: the reader refuses control characters as it starts.
            self.loader = yamlsafe.SafeLoader(self.text)
            root = self.loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            at = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            problem = " ".join(p for p in (exc.context, exc.problem) if p)
            self.error(f"bad YAML: {problem}", at=at)
            return None, self.errors
        except (yaml.YAMLError, ValueError) as exc:  # yamlsafe's bounds are ValueErrors
            self.error(f"bad YAML: {str(exc).splitlines()[0][:200]}", at=(1, 1))
            return None, self.errors
        if root is None or not isinstance(root, MappingNode):
            self.error("a policy must be a YAML mapping (name:, version:, stages: ...)",
                       root, at=None if root is not None else (1, 1))
            return None, self.errors
        try:
            policy = self.policy(root)
        except yaml.MarkedYAMLError as exc:  # e.g. an unknown !tag on a value
            mark = exc.problem_mark or exc.context_mark
            self.error(f"bad YAML: {exc.problem}",
                       at=(mark.line + 1, mark.column + 1) if mark else (1, 1))
            policy = None
        finally:
            self.loader.dispose()
        self.errors.sort(key=lambda e: (e.line or 0, e.column or 0))
        return (policy if not self.errors else None), self.errors

    def policy(self, root: MappingNode) -> Policy | None:
        top = self.mapping(root, _TOP_KEYS, "policy")
        missing = [k for k in _REQUIRED_TOP if k not in top]
        if missing:
            self.error(f"missing field{'s' if len(missing) > 1 else ''}: {', '.join(missing)}",
                       root)
        get = {k: v for k, (_, v) in top.items()}
        name = self.string(get["name"], "name") if "name" in get else None
        version = self.raw_scalar(get["version"], "version") if "version" in get else None
        for field_name, value in (("name", name), ("version", version)):
            self.check_length(field_name, value, get.get(field_name))
        description = self.string(get["description"], "description") \
            if "description" in get else ""
        use = self.choice(get["intended_use"], "intended_use", INTENDED_USES) \
            if "intended_use" in get else None
        jurisdiction = self.string(get["jurisdiction"], "jurisdiction") \
            if "jurisdiction" in get else None
        self.check_length("jurisdiction", jurisdiction, get.get("jurisdiction"))
        agents = self.strings(get["agents"], "agents") if "agents" in get else None
        if agents is not None and not agents:
            self.error("agents must list at least one agent (use \"*\" for all)", get["agents"])
        combining = self.choice(get["combining"], "combining", COMBINING_ALGORITHMS) \
            if "combining" in get else DEFAULT_COMBINING
        defaults = self.defaults(get["default"]) if "default" in get else None
        stages = self.stages(get["stages"]) if "stages" in get else None
        if self.errors:
            return None
        assert name and version and use and jurisdiction and agents and combining
        assert defaults is not None and stages is not None
        return Policy(
            name=name, version=version, intended_use=use, jurisdiction=jurisdiction,
            agents=tuple(agents), combining=combining, defaults=defaults, stages=stages,
            text=self.text, source=self.file, description=description or "",
        )

    def defaults(self, node: Node) -> dict[str, str] | None:
        if not isinstance(node, MappingNode):
            self.error("default must map each stage to an effect, e.g. {admission: deny, "
                       "langid: keep, ...}", node)
            return None
        entries = self.mapping(node, STAGES, "default")
        out: dict[str, str] = {}
        for stage, (_, value) in entries.items():
            allowed = tuple(e for e in EFFECTS[stage] if e not in EFFECT_PARAMS)
            effect = self.choice(value, f"default effect for {stage}", allowed)
            if effect:
                out[stage] = effect
        missing = [s for s in STAGES if s not in entries]
        if missing:
            self.error(f"default has no effect for stage{'s' if len(missing) > 1 else ''} "
                       f"{', '.join(missing)}; every stage needs an explicit default", node)
        return out

    def stages(self, node: Node) -> dict[str, tuple[Rule, ...]] | None:
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return {}  # no rules at all: every stage takes its default
        if not isinstance(node, MappingNode):
            self.error(f"stages must map stage names ({', '.join(STAGES)}) to lists of rules",
                       node)
            return None
        out: dict[str, tuple[Rule, ...]] = {}
        seen_ids: dict[str, int] = {}
        last = -1
        for key_node, value in node.value:
            stage = key_node.value if isinstance(key_node, ScalarNode) else None
            if stage not in STAGES:
                self.error(f"unknown stage '{stage}'; stages are {', '.join(STAGES)}", key_node)
                continue
            if stage in out:
                self.error(f"stage '{stage}' listed twice", key_node)
                continue
            if STAGES.index(stage) < last:
                self.error(f"stage '{stage}' is out of order; stages run as "
                           f"{' -> '.join(STAGES)}", key_node)
            last = max(last, STAGES.index(stage))
            if isinstance(value, ScalarNode) and value.tag == "tag:yaml.org,2002:null":
                out[stage] = ()
                continue
            if not isinstance(value, SequenceNode):
                self.error(f"stage '{stage}' must be a list of rules", value)
                continue
            rules = [self.rule(item, stage, seen_ids) for item in value.value]
            out[stage] = tuple(r for r in rules if r is not None)
        return out

    def rule(self, node: Node, stage: str, seen_ids: dict[str, int]) -> Rule | None:
        if not isinstance(node, MappingNode):
            self.error(f"a rule of stage '{stage}' must be a mapping with id, effect, "
                       "condition, reason", node)
            return None
        rule_id: str | None = None
        id_entry = next(((k, v) for k, v in node.value
                         if isinstance(k, ScalarNode) and k.value == "id"), None)
        if id_entry is not None:
            rule_id = self.string(id_entry[1], "id")
            if rule_id is not None and len(rule_id) > _MAX_LEN["id"]:
                self.check_length("id", rule_id, id_entry[1])
                rule_id = None
            elif rule_id is not None and not _RULE_ID.match(rule_id):
                self.error(f"rule id '{rule_id}' may hold only letters, digits and _ . : -",
                           id_entry[1])
                rule_id = None
            elif rule_id is not None:
                if rule_id in seen_ids:
                    self.error(f"duplicate rule id '{rule_id}' (first at line "
                               f"{seen_ids[rule_id]})", id_entry[1], rule_id)
                else:
                    seen_ids[rule_id] = id_entry[1].start_mark.line + 1
        fields = self.mapping(node, _RULE_KEYS, "rule", rule_id)
        missing = [k for k in _REQUIRED_RULE if k not in fields]
        if missing:
            self.error(f"missing field{'s' if len(missing) > 1 else ''}: {', '.join(missing)}",
                       node, rule_id)
        get = {k: v for k, (_, v) in fields.items()}
        before = len(self.errors)
        effect = self.choice(get["effect"], f"effect for stage {stage}", EFFECTS[stage],
                             rule_id) if "effect" in get else None
        reason = self.string(get["reason"], "reason", rule_id) if "reason" in get else None
        condition = self.condition(get["condition"], stage, rule_id) \
            if "condition" in get else None
        params = self.params(get.get("params"), effect, node, rule_id)
        if len(self.errors) > before or missing or rule_id is None:
            return None
        assert effect and reason and condition is not None and params is not None
        line, col = _pos(node)
        return Rule(rule_id, stage, effect, condition, reason, params, Position(line, col))

    def condition(self, node: Node, stage: str, rule_id: str | None) -> str | None:
        if not isinstance(node, ScalarNode) or node.tag == "tag:yaml.org,2002:null":
            self.error("condition must be a CEL expression (quote it if it starts with a "
                       "YAML symbol)", node, rule_id)
            return None
        text = node.value  # a bare `true` is a YAML bool, but as a condition it is CEL text
        checked = check_condition(text, stage, self.schema)
        if isinstance(checked, CheckedCondition):
            return text
        for problem in checked:
            at = _condition_position(node, self.lines, text, problem.line, problem.column)
            self.error(problem.message, rule_id=rule_id, at=at)
        return None

    def params(self, node: Node | None, effect: str | None, rule_node: Node,
               rule_id: str | None) -> dict[str, Any] | None:
        spec = EFFECT_PARAMS.get(effect or "", {})
        if node is None:
            required = [k for k, (req, _) in spec.items() if req]
            if required:
                self.error(f"effect {effect} needs params: " + "; ".join(
                    f"{k} ({spec[k][1]})" for k in required), rule_node, rule_id)
                return None
            return {}
        if effect is None:
            return None
        if not spec:
            self.error(f"effect {effect} takes no params", node, rule_id)
            return None
        if not isinstance(node, MappingNode):
            self.error("params must be a mapping", node, rule_id)
            return None
        entries = self.mapping(node, tuple(spec), "params", rule_id)
        out: dict[str, Any] = {}
        for key, (req, hint) in spec.items():
            if key not in entries:
                if req:
                    self.error(f"params: missing '{key}' ({hint})", node, rule_id)
                continue
            value = entries[key][1]
            if key == "entities":
                entities = self.strings(value, "params.entities", rule_id)
                if entities is not None and not entities:
                    self.error("params.entities must name at least one entity type", value,
                               rule_id)
                elif entities is not None:
                    out[key] = tuple(entities)
            else:
                text = self.string(value, f"params.{key}", rule_id)
                if text is not None:
                    out[key] = text
        return out


def _condition_position(node: ScalarNode, lines: list[str], text: str, line: int,
                        column: int) -> tuple[int, int]:
    """Map CEL's 1-based line:column inside the condition to the policy file."""
    cel_lines = text.split("\n")
    offset = sum(len(seg) + 1 for seg in cel_lines[: line - 1]) + column - 1
    start = node.start_mark
    if node.style in ("|", ">"):
        first = start.line + 1
        content = lines[first: node.end_mark.line + 1]
        indent = next((len(s) - len(s.lstrip(" ")) for s in content if s.strip()), 0)
        for i, raw in enumerate(content):
            segment = raw[indent:]
            if offset <= len(segment):
                return first + i + 1, indent + offset + 1
            offset -= len(segment) + 1
        return start.line + 1, start.column + 1
    line_i = start.line
    seg_start = start.column + (1 if node.style in ("'", '"') else 0)
    while True:
        raw = lines[line_i] if line_i < len(lines) else ""
        segment = raw[seg_start:].rstrip()
        if offset <= len(segment) or line_i >= node.end_mark.line:
            return line_i + 1, seg_start + offset + 1
        offset -= len(segment) + 1
        line_i += 1
        nxt = lines[line_i] if line_i < len(lines) else ""
        seg_start = len(nxt) - len(nxt.lstrip())
