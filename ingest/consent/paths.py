"""URL paths and Allow/Disallow patterns, normalised and matched as RFC 9309 compares them.

Shared by robots.txt, TDMRep locations and ai.txt, which borrow robots.txt's matching.

- Percent-encoding (§2.2.2): both sides are normalised alike — an escaped unreserved
  character is decoded, every other octet outside the unreserved set is compared escaped
  (upper-case hex), except the delimiters: `/` in the path, the `?` that starts the query,
  `=` and `&` in the query (Figure 4 keeps `?baz=` and escapes `https://`). In patterns
  `*` stays a wildcard; a literal `*` or `$` is written `%2A` / `%24` (§2.2.3, Figure 6).
- "Most octets" (§2.2.2) is the length of the normalised pattern, `*` and a final `$`
  counting one each, as Google's reference parser measures it (`PathPattern.specificity`).
"""

from __future__ import annotations

import re
import string
from urllib.parse import quote

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
