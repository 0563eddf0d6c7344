"""SPDX licence expressions, parsed once: the one parser ingest, policies and the catalog use.

Built on `license-expression` and the SPDX licence list it ships, loaded once per process
(`licensing()`). Two levels of checking:

- `canonical(text)` checks the grammar and spells every id SPDX knows the SPDX way
  (`mit or gpl-2.0+` -> `MIT OR GPL-2.0-or-later`); ids SPDX does not know stay as written.
  For evidence found in the wild (scancode, manifests), where an unknown id is information.
- `normalize(text)` also requires every id to be an SPDX id or a `LicenseRef-...` /
  `DocumentRef-...:LicenseRef-...` (allowed as they are, per the SPDX spec), and exceptions to
  appear only after WITH; otherwise `LicenseExpressionError` names the closest valid ids.
  For what a person declares.

Parsing is memoised in a bounded cache (failures too: a malformed expression repeated on every
document of a source is parsed once), and an expression longer than `MAX_EXPRESSION_CHARS` is
refused before it is parsed: a whole licence text in a licence field once cost every document
of its source 0.45 s of parsing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from functools import cache, lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from license_expression import LicenseExpression, Licensing

__all__ = [
    "MAX_EXPRESSION_CHARS",
    "LicenseExpressionError",
    "and_all",
    "canonical",
    "is_equivalent",
    "is_valid",
    "license_keys",
    "licensing",
    "normalize",
    "or_all",
    "parse",
    "suggest",
    "try_normalize",
]

MAX_EXPRESSION_CHARS = 2000
_PARSE_CACHE = 16384  # distinct expressions; a corpus has a few hundred
_SHOWN = 80  # characters of a refused expression quoted in its error

_LICENSE_REF = re.compile(r"^(DocumentRef-[A-Za-z0-9.\-]+:)?LicenseRef-[A-Za-z0-9.\-]+$")


class LicenseExpressionError(ValueError):
    """Not a valid SPDX expression; `suggestions` holds the closest valid ids, best first."""

    def __init__(self, expression: str, problem: str, suggestions: tuple[str, ...] = ()):
        self.expression = expression
        self.problem = problem
        self.suggestions = suggestions
        shown = expression if len(expression) <= _SHOWN else expression[:_SHOWN] + "…"
        hint = f"; did you mean {' or '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"invalid licence {shown!r}: {problem}{hint}")


@cache
def licensing() -> Licensing:
    """The SPDX licence list as a `license_expression.Licensing`, loaded once per process."""
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


@cache
def _grammar() -> Licensing:
    # No symbol table: ids come back spelled as written (the taxonomy looks them up so first).
    from license_expression import Licensing

    return Licensing()


def parse(expression: str, *, as_written: bool = False) -> LicenseExpression:
    """The parsed expression (shared from the cache: do not modify it).

    Ids SPDX knows are resolved to their SPDX symbols unless `as_written`. Raises
    LicenseExpressionError for an empty, over-long or ungrammatical expression; unknown ids
    are not checked here (see `normalize`).
    """
    text = (expression or "").strip()
    if len(text) > MAX_EXPRESSION_CHARS:
        raise LicenseExpressionError(
            text, f"{len(text)} characters, over the limit of {MAX_EXPRESSION_CHARS} "
            "characters for a licence expression")
    parsed = _parse(text, as_written)
    if isinstance(parsed, str):
        raise LicenseExpressionError(text, parsed)
    return parsed


@lru_cache(maxsize=_PARSE_CACHE)
def _parse(text: str, as_written: bool) -> LicenseExpression | str:
    """The expression, or the problem with it (cached like a result)."""
    from license_expression import ExpressionError

    if not text:
        return "empty expression"
    try:
        parsed = (_grammar() if as_written else licensing()).parse(text)
    except ExpressionError as exc:  # ExpressionParseError is one too
        return f"not a valid expression ({exc})"
    except (AttributeError, TypeError, ValueError) as exc:  # seen on odd input, e.g. stray "("
        return f"not a valid expression ({type(exc).__name__}: {exc})"
    return "empty expression" if parsed is None else parsed


def _render(parsed: LicenseExpression) -> str:
    return parsed.render("{symbol.key}")


def canonical(expression: str) -> str:
    """The expression with known ids spelled the SPDX way; unknown ids kept as written."""
    return _render(parse(expression))


def normalize(expression: str) -> str:
    """The canonical form of a valid SPDX expression, or LicenseExpressionError."""
    parsed = parse(expression)
    text = expression.strip()
    known = licensing().known_symbols
    unknown: list[str] = []
    misplaced: list[str] = []
    for symbol in _leaves(parsed):
        base, exception = _split(symbol)
        if base.key not in known and not _LICENSE_REF.match(base.key):
            unknown.append(base.key)
        elif base.is_exception:
            misplaced.append(f"{base.key!r} is a licence exception, allowed only after WITH")
        if exception is not None and not (exception.key in known and exception.is_exception):
            misplaced.append(f"{exception.key!r} after WITH is not an SPDX licence exception")
    if unknown:
        suggestions: list[str] = []
        for key in dict.fromkeys(unknown):
            suggestions.extend(x for x in suggest(key) if x not in suggestions)
        raise LicenseExpressionError(
            text, f"unknown licence id {', '.join(map(repr, dict.fromkeys(unknown)))}",
            tuple(suggestions))
    if misplaced:
        raise LicenseExpressionError(text, "; ".join(misplaced))
    return _render(parsed)


def try_normalize(expression: str) -> str | None:
    """`normalize`, or None for anything that is not a valid SPDX expression."""
    try:
        return normalize(expression)
    except LicenseExpressionError:
        return None


def is_valid(expression: str) -> bool:
    return try_normalize(expression) is not None


def license_keys(expression: str) -> frozenset[str]:
    """The ids an expression names, exceptions included, for comparing two expressions'
    substance. An expression that cannot be parsed is its own only key."""
    try:
        return frozenset(licensing().license_keys(parse(expression)))
    except LicenseExpressionError:
        return frozenset({expression})


def is_equivalent(a: str, b: str) -> bool:
    """Boolean equivalence over canonical ids (`MIT OR Apache-2.0` == `apache-2.0 or mit`);
    expressions that cannot be parsed are equivalent only when equal."""
    try:
        return bool(licensing().is_equivalent(parse(a), parse(b)))
    except LicenseExpressionError:
        return a == b


def and_all(expressions: Iterable[str]) -> str:
    """The conjunction of expressions (all apply), each licence once, in canonical form."""
    return _combine(expressions, "AND")


def or_all(expressions: Iterable[str]) -> str:
    """The disjunction of expressions (a choice among them), each licence once, canonical."""
    return _combine(expressions, "OR")


def _combine(expressions: Iterable[str], relation: str) -> str:
    # Terms already joined the same way are spliced in, so "(A AND B) AND A" reads "A AND B".
    kind = licensing().AND if relation == "AND" else licensing().OR
    terms: list[LicenseExpression] = []
    for expression in dict.fromkeys(expressions):
        parsed = parse(expression)
        for term in parsed.args if isinstance(parsed, kind) else (parsed,):
            if term not in terms:
                terms.append(term)
    return _render(terms[0] if len(terms) == 1 else kind(*terms))


def suggest(symbol: str, *, limit: int = 3) -> tuple[str, ...]:
    """The SPDX ids closest to `symbol`, best first."""
    keys = _squashed_keys()
    squashed = _squash(symbol)
    if squashed in keys:
        return (keys[squashed],)
    close = difflib.get_close_matches(squashed, list(keys), n=limit * 3, cutoff=0.6)
    return tuple(dict.fromkeys(keys[match] for match in close))[:limit]


@cache
def _squashed_keys() -> dict[str, str]:
    """Licence ids and their aliases reduced to lower-case alphanumerics, mapped to the id."""
    out: dict[str, str] = {}
    for key, symbol in licensing().known_symbols.items():
        if symbol.is_exception or key.startswith("LicenseRef-scancode"):
            continue
        out.setdefault(_squash(key), symbol.key)
        for alias in getattr(symbol, "aliases", ()) or ():
            out.setdefault(_squash(alias), symbol.key)
    return out


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _leaves(parsed: LicenseExpression) -> list:
    """The symbols of an expression in order, a `X WITH Y` as one leaf."""
    from license_expression import BaseSymbol

    if isinstance(parsed, BaseSymbol):  # a licence, or a licence WITH an exception
        return [parsed]
    return [leaf for arg in parsed.args for leaf in _leaves(arg)]


def _split(symbol):
    from license_expression import LicenseWithExceptionSymbol

    if isinstance(symbol, LicenseWithExceptionSymbol):
        return symbol.license_symbol, symbol.exception_symbol
    return symbol, None
