"""SPDX licence expressions: validate, normalise, and suggest the closest valid ids.

Built on `license-expression` (the SPDX licence list it ships). `LicenseRef-...` and
`DocumentRef-...:LicenseRef-...` symbols are accepted as they are, per the SPDX spec.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache

from license_expression import ExpressionError, Licensing, get_spdx_licensing

_LICENSE_REF = re.compile(r"^(DocumentRef-[A-Za-z0-9.\-]+:)?LicenseRef-[A-Za-z0-9.\-]+$")


class LicenseExpressionError(ValueError):
    """An expression that is not valid SPDX; `suggestions` holds the closest valid ids."""

    def __init__(self, expression: str, problem: str, suggestions: tuple[str, ...] = ()):
        self.expression = expression
        self.problem = problem
        self.suggestions = suggestions
        hint = f"; did you mean {' or '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"invalid licence {expression!r}: {problem}{hint}")


@lru_cache(maxsize=1)
def _licensing() -> Licensing:
    return get_spdx_licensing()


@lru_cache(maxsize=1)
def _squashed_keys() -> dict[str, str]:
    """Licence ids (and aliases) reduced to lower-case alphanumerics, mapped to the SPDX id."""
    out: dict[str, str] = {}
    for key, symbol in _licensing().known_symbols.items():
        if symbol.is_exception or key.startswith("LicenseRef-scancode"):
            continue
        out.setdefault(_squash(key), symbol.key)
        for alias in getattr(symbol, "aliases", ()) or ():
            out.setdefault(_squash(alias), symbol.key)
    return out


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def suggest(symbol: str, *, limit: int = 3) -> tuple[str, ...]:
    """The SPDX ids closest to `symbol`, best first."""
    keys = _squashed_keys()
    squashed = _squash(symbol)
    if squashed in keys:
        return (keys[squashed],)
    close = difflib.get_close_matches(squashed, list(keys), n=limit * 3, cutoff=0.6)
    seen: list[str] = []
    for match in close:
        if keys[match] not in seen:
            seen.append(keys[match])
    return tuple(seen[:limit])


def normalize(expression: str) -> str:
    """Return the canonical form of an SPDX expression, or raise LicenseExpressionError."""
    text = (expression or "").strip()
    if not text:
        raise LicenseExpressionError(expression, "empty expression")
    licensing = _licensing()
    try:
        parsed = licensing.parse(text)
    except ExpressionError as exc:
        raise LicenseExpressionError(text, f"not a valid expression ({exc})") from None
    if parsed is None:
        raise LicenseExpressionError(text, "empty expression")
    known = licensing.known_symbols
    unknown = [
        s.key
        for s in licensing.license_symbols(parsed)
        if s.key not in known and not _LICENSE_REF.match(s.key)
    ]
    if unknown:
        suggestions: list[str] = []
        for key in unknown:
            suggestions.extend(x for x in suggest(key) if x not in suggestions)
        raise LicenseExpressionError(
            text, f"unknown licence id {', '.join(map(repr, unknown))}", tuple(suggestions)
        )
    return parsed.render("{symbol.key}")


def is_valid(expression: str) -> bool:
    try:
        normalize(expression)
    except LicenseExpressionError:
        return False
    return True


@lru_cache(maxsize=65536)
def license_keys(expression: str) -> frozenset[str]:
    """The licence ids an expression names (for comparing two expressions' substance)."""
    try:
        return frozenset(_licensing().license_keys(expression))
    except ExpressionError:
        return frozenset({expression})
