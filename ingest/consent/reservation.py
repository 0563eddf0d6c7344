"""One consent record per document: which uses were reserved, for whom, and the evidence.

Inputs are the document's own signals (HTTP headers and HTML tags, as connectors collect
them) and, when the catalog has them for the host, its tdmrep.json rules, robots.txt and
ai.txt. Every signal looked at becomes an `Evidence`, including those that reserve nothing
or are overridden, so a reviewer can read why the record says what it says.

Uses a signal can reserve:

| use       | meaning                              | reserved by                                   |
|-----------|--------------------------------------|-----------------------------------------------|
| tdm       | text and data mining (DSM Art. 4(3)) | TDMRep: tdmrep.json < HTTP header < HTML meta |
| ai-train  | training AI models                   | `noai`; `Content-Signal: ai-train=no`; ai.txt |
| ai-images | AI use of the page's images          | `noai`, `noimageai`                           |
| ai-input  | live AI input (RAG, grounding)       | `Content-Signal: ai-input=no`                 |
| search    | search indexing                      | `noindex`, `none`; `Content-Signal: search=no`|

`noai`-style directives come from `<meta name="robots">` and `X-Robots-Tag`; the header
may scope them to one crawler (`X-Robots-Tag: GPTBot: noai`), and a robots.txt group may
carry its own `Content-Signal`. Those land in `agent_uses`, not in `uses`.

`reserved` is true when TDM or AI training is reserved for everyone: the uses a training
corpus makes of text. Crawler-scoped reservations and robots.txt blocks (`agents_blocked`)
do not set it: whether a refusal aimed at one crawler reaches other uses is for the policy
to decide, and the record keeps what it needs to.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ingest.consent.agents import DEFAULT_AI_AGENTS
from ingest.consent.aitxt import AiTxt
from ingest.consent.robots import Robots
from ingest.consent.robots_parser import parse_content_signal
from ingest.consent.tdmrep import TdmDecision, TdmRule, resolve_tdm, rule_for_url
from ingest.types import ConsentSignal

USES: frozenset[str] = frozenset({"tdm", "ai-train", "ai-images", "ai-input", "search"})
_TRAINING_USES = frozenset({"tdm", "ai-train"})

_DIRECTIVE_USES: dict[str, frozenset[str]] = {
    "noai": frozenset({"ai-train", "ai-images"}),
    "noimageai": frozenset({"ai-images"}),
    "noindex": frozenset({"search"}),
    "none": frozenset({"search"}),
}
# Directives written `name: value`, which are not a crawler scope like `GPTBot: noai`.
_VALUED_DIRECTIVES = frozenset(
    {"max-snippet", "max-image-preview", "max-video-preview", "unavailable_after"}
)
_CONTENT_SIGNAL_USES = {"ai-train": "ai-train", "ai-input": "ai-input", "search": "search"}
_SCOPED = re.compile(r"(\*|[A-Za-z0-9_-]+)\s*:\s*(.*)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Evidence:
    signal: str  # "x-robots-tag", "meta-robots", "tdmrep.json", "robots.txt", "ai.txt", ...
    value: str  # verbatim where possible
    where: str  # "http-header", "html", "robots.txt line 4", "tdmrep.json rule 2", ...
    effect: str  # what it did to this record, e.g. "reserves ai-images, ai-train"


@dataclass(frozen=True)
class Reservation:
    url: str
    reserved: bool
    uses: frozenset[str]
    agent_uses: dict[str, frozenset[str]]
    agents_blocked: dict[str, bool]  # empty when no robots.txt was given
    tdm: TdmDecision
    evidence: list[Evidence] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "reserved": self.reserved,
            "uses": sorted(self.uses),
            "agent_uses": {agent: sorted(uses) for agent, uses in self.agent_uses.items()},
            "agents_blocked": dict(self.agents_blocked),
            "tdm": asdict(self.tdm),
            "evidence": [asdict(e) for e in self.evidence],
        }


def robots_directives(value: str) -> list[tuple[str | None, str]]:
    """`GPTBot: noai, noimageai, nofollow` → [("GPTBot", "noai"), ...]; None = every crawler.

    A crawler prefix scopes the directives after it in the same value, up to the next
    prefix, as X-Robots-Tag is written.
    """
    directives: list[tuple[str | None, str]] = []
    scope: str | None = None
    for part in value.split(","):
        part = part.strip()
        scoped = _SCOPED.fullmatch(part)
        if scoped and scoped.group(1).lower() not in _VALUED_DIRECTIVES:
            scope = None if scoped.group(1) == "*" else scoped.group(1)
            part = scoped.group(2).strip()
        if part:
            directives.append((scope, part.lower()))
    return directives


class _Record:
    """What is being gathered for one document."""

    def __init__(self) -> None:
        self.uses: set[str] = set()
        self.agent_uses: dict[str, set[str]] = {}
        self.evidence: list[Evidence] = []

    def reserve(self, uses: Iterable[str], agent: str | None = None) -> None:
        (self.uses if agent is None else self.agent_uses.setdefault(agent, set())).update(uses)

    def add(self, signal: str, value: str, where: str, effect: str) -> None:
        self.evidence.append(Evidence(signal, value, where, effect))


def _reserves(uses: Iterable[str], agent: str | None = None) -> str:
    listed = ", ".join(sorted(uses))
    return f"reserves {listed}" + (f" for {agent}" if agent else "")


def _robots_directive_evidence(record: _Record, signal: ConsentSignal) -> None:
    by_scope: dict[str | None, set[str]] = {}
    inert: list[str] = []
    for scope, directive in robots_directives(signal.value):
        uses = _DIRECTIVE_USES.get(directive)
        if uses is None:
            inert.append(directive)
            continue
        record.reserve(uses, scope)
        by_scope.setdefault(scope, set()).update(uses)
    effects = [_reserves(uses, scope) for scope, uses in by_scope.items()]
    if inert:
        effects.append(f"no reservation from {', '.join(inert)}")
    record.add(signal.kind, signal.value, signal.where, "; ".join(effects) or "reserves nothing")


def _content_signal_effect(
    record: _Record, values: dict[str, str], agent: str | None = None
) -> str:
    reserved = {_CONTENT_SIGNAL_USES[k] for k, v in values.items()
                if v == "no" and k in _CONTENT_SIGNAL_USES}
    record.reserve(reserved, agent)
    effects = [_reserves(reserved, agent)] if reserved else []
    granted = sorted(k for k, v in values.items() if v == "yes" and k in _CONTENT_SIGNAL_USES)
    if granted:
        effects.append(f"grants {', '.join(granted)}")
    unknown = sorted(k for k in values if k not in _CONTENT_SIGNAL_USES)
    if unknown:
        effects.append(f"not evaluated: {', '.join(unknown)}")
    return "; ".join(effects) or "reserves nothing"


def _tdm_evidence(
    record: _Record,
    signals: Sequence[ConsentSignal],
    tdmrep_rules: Sequence[TdmRule] | None,
    decision: TdmDecision,
    url: str,
) -> None:
    if decision.reserved:
        record.reserve({"tdm"})
    deciding = f"{'reserves tdm' if decision.reserved else 'tdm not reserved'} (decides)"
    for signal in signals:
        kind, _, suffix = signal.kind.rpartition("-")
        source = "http-header" if suffix == "header" else "html-meta"
        value = signal.value.strip()
        if kind == "tdm-reservation" and value not in ("0", "1"):
            effect = "ignored: tdm-reservation must be 0 or 1"
        elif kind == "tdm-reservation" and source == decision.source:
            # within one source a "1" outweighs a "0" (see ingest.consent.tdmrep)
            effect = deciding if (value == "1") == decision.reserved else (
                f"outweighed by a reserving value in the same {source}")
        elif kind == "tdm-reservation":
            effect = f"overridden by {decision.source}"
        elif source == decision.source:
            effect = "tdm policy of the deciding source"
        elif decision.source is None:
            effect = "not used: no valid tdm-reservation beside it"
        else:
            effect = f"not used: {decision.source} decides"
        record.add(signal.kind, signal.value, signal.where, effect)
    if tdmrep_rules is None:
        return
    rule = rule_for_url(tdmrep_rules, url)
    if rule is None:
        record.add("tdmrep.json", f"{len(tdmrep_rules)} rules, none covers this URL",
                   "tdmrep.json", "reserves nothing")
        return
    written: dict[str, Any] = {"location": rule.location, "tdm-reservation": int(rule.reserved)}
    if rule.policy:
        written["tdm-policy"] = rule.policy
    effect = deciding if decision.source == "tdmrep.json" else f"overridden by {decision.source}"
    record.add("tdmrep.json", json.dumps(written), f"tdmrep.json rule {rule.index}", effect)


def _robots_evidence(
    record: _Record, robots: Robots, url: str, agents: Sequence[str]
) -> dict[str, bool]:
    blocked: dict[str, bool] = {}
    for agent in agents:
        verdict = robots.check(url, agent)
        blocked[agent] = not verdict.allowed
        where = (f"robots.txt line {verdict.line}" if verdict.line
                 else f"robots.txt (HTTP {robots.status})")
        group = f", group {verdict.group}" if verdict.group else ""
        action = "allows" if verdict.allowed else "blocks"
        record.add("robots.txt", verdict.rule or verdict.reason, where,
                   f"{action} {agent} ({verdict.reason}{group})")
    # Content signals: the catch-all group's speak to everyone; a named group's only to
    # the crawlers it names.
    everyone = {line.line for line in robots.content_signal_lines("*")}
    for line in robots.content_signal_lines("*"):
        effect = _content_signal_effect(record, dict(line.values))
        record.add("robots.txt content-signal", line.raw, f"robots.txt line {line.line}", effect)
    for agent in agents:
        if agent == "*" or robots.group_name(agent) in (None, "*"):
            continue
        for line in robots.content_signal_lines(agent):
            if line.line in everyone:
                continue
            effect = _content_signal_effect(record, dict(line.values), agent)
            record.add("robots.txt content-signal", line.raw, f"robots.txt line {line.line}",
                       effect)
    return blocked


def resolve_reservation(
    *,
    url: str,
    signals: Sequence[ConsentSignal],
    tdmrep_rules: Sequence[TdmRule] | None = None,
    robots: Robots | None = None,
    ai_txt: AiTxt | None = None,
    agents: Sequence[str] = DEFAULT_AI_AGENTS,
) -> Reservation:
    """The consent record of the document at `url` (see the module docstring)."""
    record = _Record()
    for signal in signals:
        if signal.kind in ("x-robots-tag", "meta-robots"):
            _robots_directive_evidence(record, signal)
        elif signal.kind == "content-signal":
            effect = _content_signal_effect(record, parse_content_signal(signal.value))
            record.add(signal.kind, signal.value, signal.where, effect)
        elif not signal.kind.startswith(("tdm-reservation-", "tdm-policy-")):
            record.add(signal.kind, signal.value, signal.where, "not evaluated: unknown kind")

    tdm_signals = [s for s in signals if s.kind.startswith(("tdm-reservation-", "tdm-policy-"))]
    decision = resolve_tdm(
        file_rules=tdmrep_rules,
        header_signals=[s for s in tdm_signals if s.kind.endswith("-header")],
        meta_signals=[s for s in tdm_signals if s.kind.endswith("-meta")],
        url=url,
    )
    if tdm_signals or tdmrep_rules is not None:
        _tdm_evidence(record, tdm_signals, tdmrep_rules, decision, url)

    agents_blocked = _robots_evidence(record, robots, url, agents) if robots else {}

    if ai_txt is not None:
        verdict = ai_txt.check(url)
        if verdict.disallowed:
            record.reserve({"ai-train"})
        record.add(
            "ai.txt",
            verdict.rule or verdict.reason,
            f"ai.txt line {verdict.line}" if verdict.line else f"ai.txt (HTTP {ai_txt.status})",
            "reserves ai-train" if verdict.disallowed else f"reserves nothing ({verdict.reason})",
        )

    uses = frozenset(record.uses)
    return Reservation(
        url=url,
        reserved=bool(uses & _TRAINING_USES),
        uses=uses,
        agent_uses={agent: frozenset(u) for agent, u in record.agent_uses.items()},
        agents_blocked=agents_blocked,
        tdm=decision,
        evidence=record.evidence,
    )
