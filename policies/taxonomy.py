"""The licence taxonomy: what a licence, or an SPDX expression of several, lets a trainer do.

Each licence has a class in the Data Provenance Initiative's terms (`use`, `attribution`,
`share_alike`) plus `no_derivatives` and `open`. The classes are data (`licenses.yaml` beside
this module, extended by user files); this module only reads them and combines them.

Combining, and why:

- **AND** (every licence applies) and `combine()` (the licences of a mixture) take the most
  restrictive of each field: the highest `use` in the order below, attribution / share-alike /
  no-derivatives if any part requires it, open only if every part is.
- **OR** (the licensee chooses) takes the least restrictive alternative among those whose
  terms are known — a licensee may pick MIT in `MIT OR GPL-2.0-only`, but cannot rely on
  terms nobody has classified. Ties go to the alternative written first.
- **WITH** keeps the class of the base licence: the known exceptions (Classpath, LLVM, GCC
  runtime...) only widen linking permissions, they never add restrictions.
- An id the taxonomy does not hold is `known=False`, `use="unspecified"`.

`use` order, least to most restrictive (`USE_ORDER`)::

    commercial < unspecified < non-commercial < academic-only

`unspecified` sits above `commercial` because nothing is granted, so a commercial policy cannot
rely on it; and below any explicit restriction, because it forbids nothing either (statutory
exceptions still apply). `academic-only` is the most restrictive: it allows a strict subset of
what non-commercial allows (non-commercial also lets non-profits and individuals use the work),
so `CC-BY-NC-4.0 AND LicenseRef-Academic-Only` leaves only academic use. The Data Provenance
Initiative's own resolver orders them the same way.

Exception tree::

    ValueError
    ├── TaxonomyError          a taxonomy file (or one of its entries) is malformed
    └── LicenseExpressionError an expression given to `classify` cannot be parsed
                               (`common.spdx`'s, the one every package raises)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args

from license_expression import AND, OR, LicenseSymbol, LicenseWithExceptionSymbol

from common import yamlsafe
from common.spdx import LicenseExpressionError, parse

__all__ = [
    "BUILTIN_TAXONOMY",
    "USE_ORDER",
    "LicenseClass",
    "LicenseTerms",
    "Taxonomy",
    "TaxonomyError",
    "Use",
    "combine",
    "load_taxonomy",
]

Use = Literal["commercial", "unspecified", "non-commercial", "academic-only"]
USE_ORDER: tuple[Use, ...] = get_args(Use)  # least to most restrictive
_USE_RANK = {use: rank for rank, use in enumerate(USE_ORDER)}

BUILTIN_TAXONOMY = Path(__file__).with_name("licenses.yaml")

_FLAGS = ("attribution", "share_alike", "no_derivatives", "open")
_REQUIRED = ("use", *_FLAGS)
_OPTIONAL = ("name", "notes")
_CLASS_CACHE = 8192


class TaxonomyError(ValueError):
    """A taxonomy file, or one entry in it, is malformed."""

    def __init__(self, file: Path | str, problem: str, entry: str | None = None):
        self.file = str(file)
        self.entry = entry
        self.problem = problem
        where = f"{self.file}: entry {entry!r}" if entry is not None else self.file
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True, slots=True)
class LicenseTerms:
    """One taxonomy entry, as written in a taxonomy file."""

    id: str
    name: str
    use: Use
    attribution: bool
    share_alike: bool
    no_derivatives: bool
    open: bool
    notes: str = ""
    source: str = ""  # the file the entry came from


@dataclass(frozen=True, slots=True)
class LicenseClass:
    """What an expression (or a mixture) allows, with the licence ids that decided it."""

    use: Use
    attribution: bool
    share_alike: bool
    no_derivatives: bool
    open: bool
    known: bool  # every licence involved is in the taxonomy
    licenses: tuple[str, ...]  # ids whose terms decided the class (the chosen OR branch)

    @property
    def restrictiveness(self) -> tuple[int, ...]:
        """Sort key, least restrictive first: unknown terms, then use, then obligations."""
        return (
            int(not self.known),
            _USE_RANK[self.use],
            int(self.no_derivatives),
            int(self.share_alike),
            int(self.attribution),
            int(not self.open),
        )


def combine(classes: Iterable[LicenseClass]) -> LicenseClass:
    """The class of several licences that all apply (an AND, or the parts of a mixture)."""
    parts = list(classes)
    if not parts:
        raise ValueError("combine() needs at least one licence class")
    licenses: dict[str, None] = {}
    for part in parts:
        licenses.update(dict.fromkeys(part.licenses))
    return LicenseClass(
        use=max((p.use for p in parts), key=_USE_RANK.__getitem__),
        attribution=any(p.attribution for p in parts),
        share_alike=any(p.share_alike for p in parts),
        no_derivatives=any(p.no_derivatives for p in parts),
        open=all(p.open for p in parts),
        known=all(p.known for p in parts),
        licenses=tuple(licenses),
    )


def _choose(classes: Iterable[LicenseClass]) -> LicenseClass:
    """The class of alternatives the licensee may choose between (an OR)."""
    return min(classes, key=lambda c: c.restrictiveness)  # min() keeps the first of ties


class Taxonomy:
    """Licence id -> terms, and the classification of SPDX expressions over them."""

    def __init__(self, terms: Mapping[str, LicenseTerms], *, sources: Sequence[Path] = ()):
        self._terms = {key.lower(): entry for key, entry in terms.items()}
        self.sources = tuple(sources)
        # Bounded: a corpus holds a few hundred distinct expressions, a hostile one millions.
        self._cached = lru_cache(maxsize=_CLASS_CACHE)(self._classify)

    def __len__(self) -> int:
        return len(self._terms)

    def __contains__(self, license_id: object) -> bool:
        return isinstance(license_id, str) and license_id.lower() in self._terms

    def get(self, license_id: str) -> LicenseTerms | None:
        return self._terms.get(license_id.lower())

    def ids(self) -> list[str]:
        return sorted(entry.id for entry in self._terms.values())

    @property
    def digest(self) -> str:
        """sha256 over the taxonomy files in load order, for decision records."""
        hasher = hashlib.sha256()
        for source in self.sources:
            hasher.update(source.read_bytes())
        return hasher.hexdigest()

    def classify(self, expression: str) -> LicenseClass:
        """The class of an SPDX expression (see the module docstring for AND / OR / WITH).

        Raises LicenseExpressionError when the expression cannot be parsed."""
        return self._cached(expression)

    def _classify(self, expression: str) -> LicenseClass:
        # Parsed as written so that an id is first looked up the way the user spelled it
        # (`LicenseRef-PublicDomain` has terms of its own); `_symbol` falls back to SPDX's.
        return self._walk(parse(expression, as_written=True))

    def _walk(self, node: Any) -> LicenseClass:
        if isinstance(node, LicenseWithExceptionSymbol):
            return self._symbol(node.license_symbol)
        if isinstance(node, LicenseSymbol):
            return self._symbol(node)
        if isinstance(node, AND):
            return combine(self._walk(arg) for arg in node.args)
        if isinstance(node, OR):
            return _choose(self._walk(arg) for arg in node.args)
        raise LicenseExpressionError(str(node), f"unexpected element {type(node).__name__}")

    def _symbol(self, symbol: LicenseSymbol) -> LicenseClass:
        entry = self._terms.get(symbol.key.lower()) or self._terms.get(_spdx_key(symbol.key))
        if entry is None:
            return LicenseClass(
                use="unspecified", attribution=False, share_alike=False, no_derivatives=False,
                open=False, known=False, licenses=(symbol.key,),
            )
        return LicenseClass(
            use=entry.use, attribution=entry.attribution, share_alike=entry.share_alike,
            no_derivatives=entry.no_derivatives, open=entry.open, known=True,
            licenses=(entry.id,),
        )


def load_taxonomy(extra_files: Sequence[Path] = ()) -> Taxonomy:
    """The built-in taxonomy, then each user file in order (later entries replace earlier)."""
    files = [BUILTIN_TAXONOMY, *(Path(f) for f in extra_files)]
    terms: dict[str, LicenseTerms] = {}
    for file in files:
        for entry in _read_file(file):
            terms[entry.id.lower()] = entry
    return Taxonomy({entry.id: entry for entry in terms.values()}, sources=files)


def _spdx_key(license_id: str) -> str:
    """The lower-cased SPDX spelling of an id (`GPL-2.0+` -> `gpl-2.0-or-later`)."""
    try:
        parsed = parse(license_id)
    except LicenseExpressionError:
        return license_id.lower()
    return parsed.key.lower() if isinstance(parsed, LicenseSymbol) else license_id.lower()


def _read_file(file: Path) -> list[LicenseTerms]:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TaxonomyError(file, f"cannot read ({exc})") from None
    try:
        data = yamlsafe.load(text)
    except yamlsafe.YamlError as exc:
        where = f" at line {exc.line}" if exc.line else ""
        raise TaxonomyError(file, f"not valid YAML{where}: {exc.problem[:200]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("licenses"), dict):
        raise TaxonomyError(file, "expected a mapping with a 'licenses:' mapping of licence ids")
    unknown_top = set(data) - {"version", "licenses"}
    if unknown_top:
        raise TaxonomyError(file, f"unknown top-level keys {sorted(unknown_top)}")
    return [_read_entry(file, key, value) for key, value in data["licenses"].items()]


def _read_entry(file: Path, key: Any, value: Any) -> LicenseTerms:
    license_id = _canonical_id(file, key)
    if not isinstance(value, dict):
        raise TaxonomyError(file, "expected a mapping of fields", entry=str(key))
    unknown = set(value) - set(_REQUIRED) - set(_OPTIONAL)
    if unknown:
        allowed = ", ".join((*_REQUIRED, *_OPTIONAL))
        raise TaxonomyError(
            file, f"unknown fields {sorted(unknown)}; allowed: {allowed}", entry=license_id
        )
    missing = [name for name in _REQUIRED if name not in value]
    if missing:
        raise TaxonomyError(file, f"missing fields {missing}", entry=license_id)
    if value["use"] not in USE_ORDER:
        raise TaxonomyError(
            file, f"'use' must be one of {', '.join(USE_ORDER)}, got {value['use']!r}",
            entry=license_id,
        )
    for flag in _FLAGS:
        if not isinstance(value[flag], bool):
            raise TaxonomyError(
                file, f"{flag!r} must be true or false, got {value[flag]!r}", entry=license_id
            )
    for name in _OPTIONAL:
        if name in value and not isinstance(value[name], str):
            raise TaxonomyError(file, f"{name!r} must be text", entry=license_id)
    return LicenseTerms(
        id=license_id,
        name=value.get("name") or license_id,
        use=value["use"],
        attribution=value["attribution"],
        share_alike=value["share_alike"],
        no_derivatives=value["no_derivatives"],
        open=value["open"],
        notes=value.get("notes", ""),
        source=str(file),
    )


def _canonical_id(file: Path, key: Any) -> str:
    """A single licence id, spelled as SPDX spells it when SPDX knows it.

    `LicenseRef-` ids stay as written: license-expression aliases a few of them to scancode's
    (`LicenseRef-PublicDomain` -> `LicenseRef-scancode-public-domain`), and both entries are
    kept so that either spelling finds its terms.
    """
    if not isinstance(key, str) or not key.strip():
        raise TaxonomyError(file, "licence ids must be non-empty text", entry=str(key))
    try:
        parsed = parse(key)
    except LicenseExpressionError:
        parsed = None
    if not isinstance(parsed, LicenseSymbol) or isinstance(parsed, LicenseWithExceptionSymbol):
        raise TaxonomyError(file, "not a single SPDX licence id or LicenseRef-", entry=key)
    return key.strip() if key.strip().startswith("LicenseRef-") else parsed.key
