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

Choices where the RFC leaves room (each says why):

- Product tokens may contain digits (`MJ12bot`, `360Spider` exist in the wild), and a
  `User-agent:` value keeps only its leading token (`GPTBot/1.0` → `GPTBot`).
- "Most octets" is the length of the normalised pattern, `*` and a final `$` counting one
  each, as Google's reference parser measures it; equal lengths go to Allow (§2.2.2), then
  to the earlier line.
- Lines that are neither `user-agent` nor `allow`/`disallow` (Sitemap, Crawl-delay,
  Content-Signal...) neither start nor end a group (§2.2.4: other records "MUST NOT
  interfere"). Common misspellings (`Disalow`, `User agent`) are read as crawlers do.
- Percent-encoding (§2.2.2): both sides are normalised alike — an escaped unreserved
  character is decoded, every other octet outside the unreserved set is compared escaped
  (upper-case hex), except the delimiters: `/` in the path, the `?` that starts the query,
  `=` and `&` in the query (Figure 4 keeps `?baz=` and escapes `https://`). In patterns
  `*` stays a wildcard; a literal `*` or `$` is written `%2A` / `%24` (§2.2.3, Figure 6).
- HTTP status (§2.3.1): 2xx is parsed; 3xx (a redirect the caller did not follow) and 4xx
  mean "unavailable" → everything allowed; 5xx and 0/unknown ("unreachable", e.g. a network
  error) → everything disallowed. `/robots.txt` itself is always allowed.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from ingest.consent.agents import DEFAULT_AI_AGENTS

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


class InvalidAgentError(ValueError):
    """The agent asked about is not a product token."""


# --- paths and patterns ----------------------------------------------------------------

_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_ALREADY_NORMAL = re.compile(r"[A-Za-z0-9\-._~/]*(?:\?[A-Za-z0-9\-._~=&]*)?").fullmatch
_AUTHORITY = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.\-]*:)?//[^/?#]*")


def _normalise_part(text: str, safe: str) -> str:
    pieces = _ESCAPE.split(text)
    out: list[str] = []
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            # quote() escapes a bare "%" too, so "%zz" compares as "%25zz" on both sides.
            out.append(quote(piece, safe=safe, errors="replace"))
        else:
            char = chr(int(piece, 16))
            out.append(char if char in _UNRESERVED else f"%{piece.upper()}")
    return "".join(out)


def normalise(text: str, *, pattern: bool = False) -> str:
    """A path (with its query) or a rule pattern in the form both sides are compared in."""
    if _ALREADY_NORMAL(text):
        return text
    path, question, query = text.partition("?")
    wildcard = "*" if pattern else ""
    out = _normalise_part(path, "/" + wildcard)
    if question:
        # "=" and "&" delimit the query's fields, as "/" does the path's segments; the
        # reserved characters inside values compare escaped (RFC 9309 Figure 4).
        out += "?" + _normalise_part(query, "=&" + wildcard)
    return out


def request_path(url_or_path: str) -> str:
    """The normalised path and query of a URL (scheme, authority and fragment dropped)."""
    text = url_or_path.strip()
    authority = _AUTHORITY.match(text)
    if authority:
        text = text[authority.end() :]
    text = text.partition("#")[0]
    if not text.startswith("/"):
        text = "/" + text
    return normalise(text)


class PathPattern:
    """One Allow/Disallow (or TDMRep location) pattern, ready to match normalised paths."""

    __slots__ = ("text", "anchored", "specificity", "_prefix", "_parts", "never")

    def __init__(self, text: str) -> None:
        self.text = text
        self.anchored = text.endswith("$")
        body = text[:-1] if self.anchored else text
        norm = normalise(body, pattern=True)
        self.specificity = len(norm) + self.anchored
        self.never = not body and not self.anchored  # an empty pattern matches nothing
        parts = re.sub(r"\*+", "*", norm).split("*")
        self._prefix = parts[0]
        self._parts = tuple(parts[1:])

    @property
    def plain_prefix(self) -> str:
        """The pattern when it is a plain prefix (no `*`, no `$`), else ""."""
        return "" if self.never or self.anchored or self._parts else self._prefix

    @property
    def covers_everything(self) -> bool:
        return not self.anchored and self._prefix in ("", "/") and all(not p for p in self._parts)

    @property
    def key(self) -> tuple[str, tuple[str, ...], bool]:
        return (self._prefix, self._parts, self.anchored)

    def matches(self, path: str) -> bool:
        """Whether the pattern matches the normalised `path` from its first octet."""
        if self.never or not path.startswith(self._prefix):
            return False
        if not self._parts:
            return not self.anchored or len(path) == len(self._prefix)
        # Glob with `*` only: taking each middle part at its leftmost place is never worse
        # than a later place, so one left-to-right scan decides (no backtracking).
        pos = len(self._prefix)
        *middle, last = self._parts
        for part in middle:
            found = path.find(part, pos)
            if found < 0:
                return False
            pos = found + len(part)
        if self.anchored:
            return len(path) - len(last) >= pos and path.endswith(last)
        return path.find(last, pos) >= 0


# --- the parsed file -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    allow: bool
    path: str  # the pattern as written
    line: int

    def __str__(self) -> str:
        return f"{'Allow' if self.allow else 'Disallow'}: {self.path}"


@dataclass(frozen=True, slots=True)
class ContentSignalLine:
    """A Cloudflare `Content-Signal: search=yes, ai-train=no` line of a group."""

    line: int
    raw: str
    values: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Group:
    """One group as written: its user-agent tokens (in order), rules and content signals."""

    agents: tuple[str, ...]
    rules: tuple[Rule, ...]
    content_signals: tuple[ContentSignalLine, ...]
    line: int  # line of its first user-agent


@dataclass(frozen=True, slots=True)
class IgnoredLine:
    """A line that took no part in matching, kept so a reader can see what was skipped."""

    line: int
    text: str
    reason: str


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


# --- parsing -----------------------------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
_LINES = re.compile(r"\r\n|\r|\n")
_KEYS = {
    "user-agent": "user-agent",
    "useragent": "user-agent",
    "user agent": "user-agent",
    "allow": "allow",
    "disallow": "disallow",
    "disalow": "disallow",
    "dissallow": "disallow",
    "dissalow": "disallow",
    "sitemap": "sitemap",
    "site-map": "sitemap",
    "content-signal": "content-signal",
}


def product_token(agent: str) -> str:
    """`agent` as a product token ("GPTBot", "*"), or InvalidAgentError."""
    token = agent.strip() if isinstance(agent, str) else ""
    if token == "*" or _TOKEN.fullmatch(token):
        return token
    raise InvalidAgentError(
        f"agent {agent!r} is not a robots.txt product token: use letters, digits, '_' and "
        "'-' (e.g. 'GPTBot'), or '*'"
    )


def parse_content_signal(value: str) -> dict[str, str]:
    """`search=yes, ai-train=no` → {"search": "yes", "ai-train": "no"} (lower-cased)."""
    values: dict[str, str] = {}
    for part in value.split(","):
        key, equals, setting = part.partition("=")
        key, setting = key.strip().lower(), setting.strip().lower()
        if equals and key and setting:
            values[key] = setting
    return values


def _split_line(line: str) -> tuple[str, str] | None:
    key, colon, value = line.partition(":")
    if colon:
        return key.strip().lower(), value.strip()
    # "Disallow /x": crawlers read a known key followed by whitespace as well.
    words = line.split(None, 1)
    if words and words[0].lower() in _KEYS:
        return words[0].lower(), words[1].strip() if len(words) > 1 else ""
    return None


@dataclass
class _GroupBuilder:
    line: int
    agents: list[str] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    signals: list[ContentSignalLine] = field(default_factory=list)

    def build(self) -> Group:
        return Group(tuple(self.agents), tuple(self.rules), tuple(self.signals), self.line)


def parse_robots(text: str, *, status: int = 200) -> Robots:
    """Parse a robots.txt body fetched with HTTP `status` (0 when it could not be fetched)."""
    if not 200 <= status < 300:
        # The body of an error response is not a robots.txt (RFC 9309 §2.3.1.3-4).
        return Robots(status=status)
    builders: list[_GroupBuilder] = []
    sitemaps: list[str] = []
    ignored: list[IgnoredLine] = []
    current: _GroupBuilder | None = None
    reading_agents = False
    for number, raw in enumerate(_LINES.split(text.removeprefix("\ufeff")), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        split = _split_line(line)
        if split is None:
            ignored.append(IgnoredLine(number, raw, "not a 'key: value' line"))
            continue
        key, value = split
        kind = _KEYS.get(key)
        if kind == "user-agent":
            if not reading_agents:
                current = _GroupBuilder(line=number)
                builders.append(current)
                reading_agents = True
            assert current is not None
            token = "*" if value == "*" else (m.group() if (m := _TOKEN.match(value)) else "")
            if token:
                current.agents.append(token)
            else:
                ignored.append(IgnoredLine(number, raw, "user-agent value is not a product token"))
        elif kind in ("allow", "disallow"):
            if current is None:
                ignored.append(IgnoredLine(number, raw, "rule before any user-agent line"))
                continue
            reading_agents = False
            current.rules.append(Rule(kind == "allow", value, number))
        elif kind == "content-signal":
            if current is None:
                ignored.append(IgnoredLine(number, raw, "content-signal outside any group"))
                continue
            current.signals.append(ContentSignalLine(number, value, parse_content_signal(value)))
        elif kind == "sitemap":
            sitemaps.append(value)
        else:
            ignored.append(IgnoredLine(number, raw, f"other record '{key}', not evaluated"))
    return Robots(
        status=status,
        groups=[b.build() for b in builders],
        sitemaps=sitemaps,
        ignored=ignored,
    )


# --- answers over many agents / many lines ----------------------------------------------


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


class _BadLine(ValueError):
    pass


_BATCH_CACHE_SIZE = 256


def check_batch(lines: Iterable[Mapping[str, Any] | str]) -> Iterator[dict[str, Any]]:
    """Answer `{robots, url, agent, status?}` objects (dicts or JSON lines) one by one.

    Each answer is `{input_line, allowed, rule, line, group, reason}`; a line that cannot
    be answered yields `{input_line, error}` instead and the batch goes on. Blank lines are
    skipped (JSON Lines allows them). Identical robots texts are parsed once.
    """
    parsed: dict[tuple[str, int], Robots] = {}
    for number, item in enumerate(lines, start=1):
        if isinstance(item, str) and not item.strip():
            continue
        try:
            robots, url, agent = _batch_request(item, parsed)
            verdict = robots.check(url, agent)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, InvalidAgentError...
            reason = str(exc) if isinstance(exc, ValueError) else "JSON nested too deeply"
            yield {"input_line": number, "error": f"line {number}: {reason}"}
            continue
        yield {"input_line": number, **asdict(verdict)}


def _batch_request(
    item: Mapping[str, Any] | str, parsed: dict[tuple[str, int], Robots]
) -> tuple[Robots, str, str]:
    record = json.loads(item) if isinstance(item, str) else item
    if not isinstance(record, Mapping):
        raise _BadLine(f"expected a JSON object, got {type(record).__name__}")
    for key in ("robots", "url", "agent"):
        if not isinstance(record.get(key), str):
            raise _BadLine(f"'{key}' must be a string")
    status = record.get("status", 200)
    if isinstance(status, bool) or not isinstance(status, int):
        raise _BadLine("'status' must be an integer HTTP status")
    key = (record["robots"], status)
    robots = parsed.get(key)
    if robots is None:
        if len(parsed) >= _BATCH_CACHE_SIZE:
            parsed.clear()
        robots = parsed[key] = parse_robots(record["robots"], status=status)
    return robots, record["url"], record["agent"]
