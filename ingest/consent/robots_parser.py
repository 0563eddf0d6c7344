"""robots.txt text read into groups, per RFC 9309 §2.1-2.2, keeping every line number.

Choices where the RFC leaves room (each says why):

- Product tokens may contain digits (`MJ12bot`, `360Spider` exist in the wild), and a
  `User-agent:` value keeps only its leading token (`GPTBot/1.0` → `GPTBot`).
- Lines that are neither `user-agent` nor `allow`/`disallow` (Sitemap, Crawl-delay,
  Content-Signal...) neither start nor end a group (§2.2.4: other records "MUST NOT
  interfere"). Common misspellings (`Disalow`, `User agent`) are read as crawlers do.
- A line that takes no part in matching is kept as an `IgnoredLine` with the reason, so a
  reader can see what was skipped.
- A byte-order mark before the first line is skipped, whole or broken, as Google's parser
  does (it skips the leading bytes that begin `EF BB BF`): in the text, U+FEFF, the U+FFFD
  a UTF-8 decoder makes of a cut mark, or its Latin-1 reading `ï»¿`. Only what begins the
  mark goes; any other byte stays and spoils the first line alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field


class InvalidAgentError(ValueError):
    """The agent asked about is not a product token."""


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


_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
# U+FEFF; one U+FFFD per broken mark (or per byte, for decoders that do that); Latin-1 and
# cp1252 mojibake; Python's surrogateescape bytes.
_BOM = re.compile("^(?:\ufeff|\ufffd{1,2}|\u00ef(?:\u00bb\u00bf?)?|\udcef(?:\udcbb\udcbf?)?)")
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


@dataclass(frozen=True, slots=True)
class ParsedRobots:
    """A robots.txt body as written: its groups, sitemaps and the lines that took no part."""

    groups: tuple[Group, ...]
    sitemaps: tuple[str, ...]
    ignored: tuple[IgnoredLine, ...]


def parse_lines(text: str) -> ParsedRobots:
    """Read a robots.txt body (an HTTP 2xx one) into its groups, line by line."""
    builders: list[_GroupBuilder] = []
    sitemaps: list[str] = []
    ignored: list[IgnoredLine] = []
    current: _GroupBuilder | None = None
    reading_agents = False
    for number, raw in enumerate(_LINES.split(_BOM.sub("", text, count=1)), start=1):
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
    return ParsedRobots(tuple(b.build() for b in builders), tuple(sitemaps), tuple(ignored))
