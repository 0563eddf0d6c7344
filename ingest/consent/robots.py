"""robots.txt per RFC 9309, answering with the rule (and line) that decided.

Engine: our own, not Protego. Protego 0.7.0 was run first against the RFC's rules and
examples (tests/ingest/test_robots.py keeps that run as `test_protego_gaps`) and falls
short of RFC 9309 on five points:

1. Agent matching (§2.2.1). Protego applies a group when its user-agent value occurs in the
   crawler's name at a token boundary, picking the longest, so `User-agent: Google` governs
   `Google-Extended` and `User-agent: Claude` governs `Claude-Web`. The RFC matches the
   product token itself, case-insensitively; a group for another token does not apply.
2. Percent-encoding (§2.2.2, Figure 4). Reserved characters must be compared
   percent-encoded: `Disallow: /foo/bar?baz=https://foo.bar` must match
   `/foo/bar?baz=https%3A%2F%2Ffoo.bar` and the other way round. Protego keeps `/` and
   decodes `%3A` differently on the two sides, so neither direction matches. It also
   escapes the `?` that starts the query, so a pattern with `?` counts two octets too many
   in the longest-match comparison: `Disallow: /tag/*?` (7 octets) outranks
   `Allow: /tag/api` (8) for `/tag/api?page=2`.
3. `$` (§2.2.3) "designates the end of the match pattern". Protego also reads every
   pattern containing `$` as if the `$` were literal, so `Disallow: /foo-$` blocks
   `/foo-$bar`, which the RFC leaves allowed.
4. `Allow: /dir/index.html` also allows `/dir/` in Protego (a non-RFC extension), which
   overrides a `Disallow: /dir/` the RFC would apply.
5. Other records (§2.2.4) "MUST NOT interfere" with groups, but in Protego a line such as
   `Crawl-delay` between two `User-agent` lines ends the first group, so
   `User-agent: a / Crawl-delay: 5 / User-agent: b / Disallow: /` leaves `a` unrestricted.

Besides, its public API answers only allowed / not allowed: it cannot say which rule or
line decided, expose groups, read `Content-Signal` lines, or take the HTTP status into
account. Those are what the catalog records, so matching is done here and Protego stays a
reference in the tests and the baseline in `bench/robots_eval.py`.

Parsing is `ingest.consent.robots_parser`; path normalisation and pattern matching,
`ingest.consent.paths`. Here: which group applies to an agent, which rule decides a path,
and what the HTTP status means.

- HTTP status (§2.3.1): 2xx is parsed; 3xx (a redirect the caller did not follow) and 4xx
  mean "unavailable" → everything allowed; 5xx and 0/unknown ("unreachable", e.g. a network
  error) → everything disallowed. `/robots.txt` itself is always allowed.
- Longest match: equal lengths go to Allow (§2.2.2), then to the earlier line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ingest.consent.agents import DEFAULT_AI_AGENTS
from ingest.consent.paths import PathPattern, normalise, request_path
from ingest.consent.robots_parser import (
    ContentSignalLine,
    Group,
    IgnoredLine,
    InvalidAgentError,
    Rule,
    parse_lines,
    product_token,
)

# InvalidAgentError is what `Robots.check` raises for an agent that is not a product token.
__all__ = [
    "AgentVerdict",
    "BlockLevel",
    "InvalidAgentError",
    "Reason",
    "Robots",
    "RobotsVerdict",
    "evaluate_agents",
    "parse_robots",
    "stricter",
]

BlockLevel = Literal["none", "some", "all"]
Reason = Literal[
    "matched-rule",
    "no-matching-rule",
    "no-group",
    "status-3xx",
    "status-4xx",
    "status-5xx",
    "unreachable",
    "robots.txt-always-allowed",
]

_BLOCK_ORDER: dict[str, int] = {"none": 0, "some": 1, "all": 2}


@dataclass(frozen=True, slots=True)
class RobotsVerdict:
    allowed: bool
    rule: str | None  # e.g. "Disallow: /private/"
    line: int | None
    group: str | None  # the user-agent token that selected the group, or "*"
    reason: Reason


@dataclass(frozen=True, slots=True)
class AgentVerdict:
    block: BlockLevel
    content_signals: dict[str, str]
    group: str | None


@dataclass(slots=True)
class _Selection:
    group: str | None
    patterns: tuple[tuple[PathPattern, Rule], ...]  # most specific first, Allow before Disallow
    signal_lines: tuple[ContentSignalLine, ...] = field(default=())
    # A path that starts with none of the plain prefixes can only match the other patterns:
    # one C-level startswith rules most patterns out (the trick Protego uses too).
    plain_prefixes: tuple[str, ...] = field(default=())
    special: tuple[tuple[PathPattern, Rule], ...] = field(default=())


class Robots:
    """A robots.txt as fetched (its text and HTTP status), ready to answer questions."""

    def __init__(
        self,
        *,
        status: int,
        groups: Sequence[Group] = (),
        sitemaps: Sequence[str] = (),
        ignored: Sequence[IgnoredLine] = (),
    ) -> None:
        self.status = status
        self.groups: list[Group] = list(groups)
        self.sitemaps: list[str] = list(sitemaps)
        self.ignored: list[IgnoredLine] = list(ignored)
        self._selections: dict[str, _Selection] = {}

    @property
    def availability(self) -> Literal["ok", "unavailable", "unreachable"]:
        if 200 <= self.status < 300:
            return "ok"
        if 300 <= self.status < 500:
            return "unavailable"
        return "unreachable"

    def _status_reason(self) -> Reason | None:
        if 200 <= self.status < 300:
            return None
        if 300 <= self.status < 400:
            return "status-3xx"
        if 400 <= self.status < 500:
            return "status-4xx"
        if 500 <= self.status < 600:
            return "status-5xx"
        return "unreachable"

    def _select(self, agent: str) -> _Selection:
        token = product_token(agent).lower()
        cached = self._selections.get(token)
        if cached is not None:
            return cached
        chosen = [g for g in self.groups if any(a.lower() == token for a in g.agents)]
        if not chosen and token != "*":
            chosen = [g for g in self.groups if "*" in g.agents]
        if not chosen:
            selection = _Selection(group=None, patterns=())
        else:
            # The token as the file spells it ("GPTBot" for a query "gptbot"), or "*".
            name = next((a for a in chosen[0].agents if a.lower() == token), "*")
            rules = [rule for group in chosen for rule in group.rules]
            compiled = [(PathPattern(rule.path), rule) for rule in rules]
            compiled.sort(key=lambda pr: (-pr[0].specificity, not pr[1].allow, pr[1].line))
            selection = _Selection(
                group=name,
                patterns=tuple(compiled),
                signal_lines=tuple(s for group in chosen for s in group.content_signals),
                plain_prefixes=tuple(p.plain_prefix for p, _ in compiled if p.plain_prefix),
                special=tuple((p, r) for p, r in compiled if not p.plain_prefix and not p.never),
            )
        self._selections[token] = selection
        return selection

    def check(self, url_or_path: str, agent: str) -> RobotsVerdict:
        """May `agent` fetch `url_or_path`, and which rule says so."""
        path = request_path(url_or_path)
        if path == "/robots.txt":
            return RobotsVerdict(True, None, None, None, "robots.txt-always-allowed")
        status_reason = self._status_reason()
        if status_reason is not None:
            allowed = self.availability == "unavailable"
            product_token(agent)
            return RobotsVerdict(allowed, None, None, None, status_reason)
        selection = self._select(agent)
        if selection.group is None:
            return RobotsVerdict(True, None, None, None, "no-group")
        candidates = (selection.patterns if path.startswith(selection.plain_prefixes)
                      else selection.special)
        for pattern, rule in candidates:
            if pattern.matches(path):
                return RobotsVerdict(rule.allow, str(rule), rule.line, selection.group,
                                     "matched-rule")
        return RobotsVerdict(True, None, None, selection.group, "no-matching-rule")

    def agent_block(self, agent: str) -> BlockLevel:
        """Blocked from all, some or none of the site.

        "all": a Disallow covering every path and no Allow re-opening anything (an Allow of
        `/robots.txt` alone does not count: that file is always allowed). "some": any other
        Disallow that is not cancelled by an identical Allow (Allow wins that tie).
        """
        if self.availability != "ok":
            product_token(agent)
            return "all" if self.availability == "unreachable" else "none"
        selection = self._select(agent)
        allows = [p for p, rule in selection.patterns if rule.allow and not p.never]
        allow_keys = {p.key for p in allows}
        disallows = [
            p for p, rule in selection.patterns
            if not rule.allow and not p.never and p.key not in allow_keys
        ]
        if not disallows:
            return "none"
        reopening = [p for p in allows if normalise(p.text.rstrip("$")) != "/robots.txt"]
        if any(p.covers_everything for p in disallows) and not reopening:
            return "all"
        return "some"

    def content_signals(self, agent: str) -> dict[str, str]:
        """`Content-Signal` values in the group(s) applying to `agent`.

        Where the merged groups disagree on a key, "no" wins: the reading that reserves.
        """
        if self.availability != "ok":
            return {}
        merged: dict[str, str] = {}
        for line in self._select(agent).signal_lines:
            for key, value in line.values.items():
                if merged.get(key) != "no":
                    merged[key] = value
        return merged

    def content_signal_lines(self, agent: str) -> tuple[ContentSignalLine, ...]:
        if self.availability != "ok":
            return ()
        return self._select(agent).signal_lines

    def rules_for(self, agent: str) -> tuple[Rule, ...]:
        """The rules of the group(s) applying to `agent`, merged, in file order."""
        if self.availability != "ok":
            return ()
        return tuple(sorted((rule for _, rule in self._select(agent).patterns),
                            key=lambda rule: rule.line))

    def group_name(self, agent: str) -> str | None:
        """The user-agent token whose group applies to `agent` ("*" for the fallback)."""
        if self.availability != "ok":
            return None
        return self._select(agent).group


def parse_robots(text: str, *, status: int = 200) -> Robots:
    """Parse a robots.txt body fetched with HTTP `status` (0 when it could not be fetched)."""
    if not 200 <= status < 300:
        # The body of an error response is not a robots.txt (RFC 9309 §2.3.1.3-4).
        return Robots(status=status)
    parsed = parse_lines(text)
    return Robots(status=status, groups=parsed.groups, sitemaps=parsed.sitemaps,
                  ignored=parsed.ignored)


def evaluate_agents(
    robots: Robots, agents: Iterable[str] = DEFAULT_AI_AGENTS
) -> dict[str, AgentVerdict]:
    """Per agent: blocked from all / some / none, its content signals and its group."""
    return {
        agent: AgentVerdict(
            block=robots.agent_block(agent),
            content_signals=robots.content_signals(agent),
            group=robots.group_name(agent),
        )
        for agent in agents
    }


def stricter(old: str, new: str) -> bool:
    """Whether block level `new` is stricter than `old` ("none" < "some" < "all")."""
    for level in (old, new):
        if level not in _BLOCK_ORDER:
            raise ValueError(f"unknown block level {level!r}; expected none, some or all")
    return _BLOCK_ORDER[new] > _BLOCK_ORDER[old]


def __getattr__(name: str) -> Any:
    # `check_batch` moved to robots_batch, which imports this module; the CLI still asks
    # for it here (catalog/cli/tools.py), so it loads on first use rather than circularly.
    if name == "check_batch":
        from ingest.consent.robots_batch import check_batch

        return check_batch
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
