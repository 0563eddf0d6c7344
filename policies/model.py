"""A policy as data: rules with an explicit effect, grouped by stage, plus a default per stage.

A `Policy` is what the loader reads from YAML; it holds the verbatim text and its sha256 so
the catalog can store exactly what was decided with. `policies.engine.compile_policy` turns it
into something that decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from common.atomic import text_sha256

STAGES: tuple[str, ...] = ("admission", "langid", "quality", "dedup", "pii")

# Effects each stage accepts, most restrictive first: deny-overrides picks the first of these
# among the matching rules, allow-overrides the last. The first one is also what a stage
# falls back to when a condition cannot be evaluated (fail closed).
EFFECTS: dict[str, tuple[str, ...]] = {
    "admission": ("deny", "allow"),
    "langid": ("drop", "keep"),
    "quality": ("drop", "keep"),
    # keep-one-per-cluster is resolved per document from attr.cluster_keep into keep / drop.
    "dedup": ("drop", "keep-one-per-cluster", "keep"),
    "pii": ("drop-document", "redact", "keep"),
}

# What a decision's effect can finally be, per stage (keep-one-per-cluster never is).
OUTCOMES: dict[str, tuple[str, ...]] = {
    stage: tuple(e for e in effects if e != "keep-one-per-cluster")
    for stage, effects in EFFECTS.items()
}

INTENDED_USES: tuple[str, ...] = ("research", "commercial")
COMBINING_ALGORITHMS: tuple[str, ...] = ("deny-overrides", "allow-overrides", "first-applicable")
DEFAULT_COMBINING = "deny-overrides"
DEFAULT_PLACEHOLDER = "|||{type}|||"

# Params each effect accepts: name -> (required, description). Other effects take none.
EFFECT_PARAMS: dict[str, dict[str, tuple[bool, str]]] = {
    "redact": {
        "entities": (True, "list of entity types to replace, e.g. [EMAIL_ADDRESS, IBAN_CODE]"),
        "placeholder": (False, "replacement text with {type}; default |||{type}|||"),
    },
}


@dataclass(frozen=True, slots=True)
class Position:
    """1-based line and column in the policy file."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    stage: str
    effect: str
    condition: str
    reason: str
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)
    position: Position | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    version: str
    intended_use: str
    jurisdiction: str
    agents: tuple[str, ...]
    combining: str
    defaults: dict[str, str]
    stages: dict[str, tuple[Rule, ...]]
    text: str
    source: str = "<text>"
    description: str = ""

    @property
    def sha256(self) -> str:
        """Hash of the verbatim text: the identity of what was decided with."""
        return text_sha256(self.text)

    def rules(self, stage: str) -> tuple[Rule, ...]:
        return self.stages.get(stage, ())

    def all_rules(self) -> tuple[Rule, ...]:
        return tuple(r for stage in STAGES for r in self.rules(stage))

    def rule(self, rule_id: str) -> Rule:
        for r in self.all_rules():
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)
