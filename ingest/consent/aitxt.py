"""ai.txt as Spawning defines it: may the text at a URL be used to train AI?

Followed: Spawning's ai.txt (https://site.spawning.ai/spawning-ai-txt), the file its
generator writes at a site's root. Its syntax is robots.txt's — `User-Agent:` groups of
`Disallow:` / `Allow:` lines — and a value is either a path (`/`, `/drafts/`) or a file
type (`*.txt`, `*.jpg`). A Disallow means "do not use for AI training".

How it is read here (the format has no written matching rules, so we keep robots.txt's):

- Groups, agent matching and path patterns are RFC 9309's (`ingest.consent.robots`); the
  most specific rule wins, Allow on a tie, so `Disallow: /` with `Allow: *.txt` leaves
  `.txt` files usable.
- A file-type value `*.ext` matches the URL whose path (query aside) ends in `.ext`,
  case-insensitively — the meaning the generator gives it — rather than any path containing
  `.ext` as a plain robots.txt pattern would.
- The text of a URL without an extension, or with a server-page one (`.php`, `.asp`...),
  is a web page, so `*.html` rules apply to it as well as its own extension's; `*.txt`
  rules do not.
- No ai.txt (any non-2xx status) states nothing: nothing is disallowed. Unlike robots.txt
  a server error is not read as a refusal, since ai.txt is a statement, not access control.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from ingest.consent.paths import PathPattern, request_path
from ingest.consent.robots import Robots, parse_robots
from ingest.consent.robots_parser import Group, Rule

_FILE_TYPE = re.compile(r"\*\.([A-Za-z0-9]+)\$?")
_EXTENSION = re.compile(r"\.([A-Za-z0-9]+)$")
_PAGE_EXTENSIONS = frozenset({"htm", "html", "xhtml", "shtml", "php", "asp", "aspx", "jsp", "cfm"})


@dataclass(frozen=True, slots=True)
class AiTxtVerdict:
    disallowed: bool
    rule: str | None
    line: int | None
    group: str | None
    reason: Literal["matched-rule", "no-matching-rule", "no-group", "no-ai-txt"]


def content_types_of(url: str) -> frozenset[str]:
    """The file types the content at `url` answers to: its extension, and "html" for a page."""
    last = request_path(url).partition("?")[0].rsplit("/", 1)[-1]
    found = _EXTENSION.search(last)
    if not found:
        return frozenset({"html"})
    extension = found.group(1).lower()
    if extension in _PAGE_EXTENSIONS:
        return frozenset({extension, "html"})
    return frozenset({extension})


@lru_cache(maxsize=1024)
def _pattern(text: str) -> PathPattern:
    return PathPattern(text)


class AiTxt:
    """A parsed ai.txt (its text and HTTP status)."""

    def __init__(self, robots: Robots) -> None:
        self._robots = robots

    @property
    def status(self) -> int:
        return self._robots.status

    @property
    def groups(self) -> list[Group]:
        return self._robots.groups

    def check(self, url: str, agent: str = "*") -> AiTxtVerdict:
        """Whether the text at `url` is disallowed for AI training, and by which line."""
        if self._robots.availability != "ok":
            return AiTxtVerdict(False, None, None, None, "no-ai-txt")
        group = self._robots.group_name(agent)
        if group is None:
            return AiTxtVerdict(False, None, None, None, "no-group")
        path = request_path(url)
        kinds = content_types_of(url)
        candidates = sorted(
            self._robots.rules_for(agent),
            key=lambda rule: (-_pattern(rule.path).specificity, not rule.allow, rule.line),
        )
        for rule in candidates:
            if _matches(rule, path, kinds):
                return AiTxtVerdict(not rule.allow, str(rule), rule.line, group, "matched-rule")
        return AiTxtVerdict(False, None, None, group, "no-matching-rule")


def _matches(rule: Rule, path: str, kinds: frozenset[str]) -> bool:
    file_type = _FILE_TYPE.fullmatch(rule.path)
    if file_type:
        return file_type.group(1).lower() in kinds
    return _pattern(rule.path).matches(path)


def parse_ai_txt(text: str, *, status: int = 200) -> AiTxt:
    return AiTxt(parse_robots(text, status=status))
