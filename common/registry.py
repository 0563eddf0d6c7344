"""Plugins by versioned name: the one registry behind the ingest connectors and the stages.

A name is lower-case words joined by `_` and ends in its version, `_v<N>` (`warc_v1`,
`gopher_quality_v1`): a new behaviour gets a new name, so what a run recorded stays what it
ran. A registry:

- imports every module of its plugin package on the first question (each registers itself
  there), so nothing heavy loads before a plugin is asked for; a module that fails to import
  is kept aside and named in the error for an unknown name rather than hiding the others;
- refuses a second, different object under a taken name (the same object again is a no-op);
- answers an unknown name with the names it knows, other versions of the same base first.

Errors are ValueErrors. A package passes its own subclasses (`UnknownFormatError`,
`UnknownStageError`, ...) so its callers catch what they always caught:

    RegistryError
    ├── UnknownNameError     nothing is registered under that name
    ├── DuplicateNameError   a different object claims a registered name
    └── InvalidNameError     the name is not `<words>_v<N>`, or disagrees with the version
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
import re
import threading
from typing import Generic, TypeVar

__all__ = [
    "DuplicateNameError",
    "InvalidNameError",
    "Registry",
    "RegistryError",
    "UnknownNameError",
    "split_version",
]

T = TypeVar("T")

_NAME = re.compile(r"^(?P<base>[a-z][a-z0-9]*(?:_[a-z0-9]+)*)_v(?P<version>[0-9]+)$")


class RegistryError(ValueError):
    """Base of the registry's errors."""


class UnknownNameError(RegistryError):
    """Nothing is registered under that name."""


class DuplicateNameError(RegistryError):
    """A different object claims a name that is already registered."""


class InvalidNameError(RegistryError):
    """A name that is not `<words>_v<N>`, or whose version disagrees with the object's."""


def split_version(name: str) -> tuple[str, int] | None:
    """`("gopher_quality", 1)` for `gopher_quality_v1`; None for a name without a version."""
    match = _NAME.match(name)
    return (match["base"], int(match["version"])) if match else None


class Registry(Generic[T]):
    """Objects of one kind (`kind` names it in messages: "stage", "format") by versioned name."""

    def __init__(
        self,
        kind: str,
        *,
        plugins: str | None = None,
        unknown: type[UnknownNameError] = UnknownNameError,
        duplicate: type[DuplicateNameError] = DuplicateNameError,
        invalid: type[InvalidNameError] = InvalidNameError,
    ) -> None:
        self.kind = kind
        self._plugins = plugins  # dotted package whose modules register on import
        self._unknown = unknown
        self._duplicate = duplicate
        self._invalid = invalid
        self._entries: dict[str, T] = {}
        self._failures: dict[str, str] = {}
        self._loaded = plugins is None
        self._lock = threading.RLock()

    # ----------------------------------------------------------------- writing
    def register(self, name: str, obj: T, *, version: str | None = None) -> T:
        """Make `obj` available under `name`; `version`, when given, must be the name's."""
        parts = split_version(name)
        if parts is None:
            raise self._invalid(
                f"{self.kind} name {name!r} is not versioned: lower-case words joined by '_' "
                f"and ending in _v<N>, e.g. {_example(name)!r}")
        if version is not None and str(version) != str(parts[1]):
            raise self._invalid(
                f"{self.kind} {name!r} says version {version!r}, its name says {parts[1]}")
        with self._lock:
            existing = self._entries.get(name)
            if existing is not None and existing is not obj and existing != obj:
                raise self._duplicate(
                    f"two {self.kind}s claim the name {name!r}: {existing!r} and {obj!r}")
            self._entries[name] = obj
        return obj

    # ----------------------------------------------------------------- reading
    def get(self, name: str) -> T:
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            raise self._unknown(self._unknown_message(name)) from None

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def items(self) -> list[tuple[str, T]]:
        self._load()
        return sorted(self._entries.items())

    def versions(self, base: str) -> list[str]:
        """The registered names of one base (`quality` -> [`quality_v1`, ...]), oldest first."""
        found = [(parts[1], n) for n in self.names()
                 if (parts := split_version(n)) is not None and parts[0] == base]
        return [n for _, n in sorted(found)]

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    @property
    def load_failures(self) -> dict[str, str]:
        """Plugin modules that failed to import, with the reason."""
        self._load()
        return dict(self._failures)

    # ----------------------------------------------------------------- inside
    def _load(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            self._loaded = True  # first, so that a plugin asking the registry does not recurse
            package = importlib.import_module(self._plugins)  # type: ignore[arg-type]
            for module in pkgutil.iter_modules(package.__path__):
                qualified = f"{self._plugins}.{module.name}"
                try:
                    importlib.import_module(qualified)
                except ImportError as exc:
                    self._failures[qualified] = str(exc)

    def _unknown_message(self, name: str) -> str:
        parts = split_version(name)
        same_base = self.versions(parts[0] if parts else name)
        close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.75)
        hints = list(dict.fromkeys([*same_base, *close]))
        hint = f"did you mean {' or '.join(hints)}? " if hints else ""
        known = ", ".join(sorted(self._entries)) or "none"
        message = f"unknown {self.kind} {name!r}; {hint}known {self.kind}s: {known}"
        if self._failures:
            failed = "; ".join(f"{mod}: {err}" for mod, err in sorted(self._failures.items()))
            message += f" (not loaded: {failed})"
        return message


def _example(name: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "_", re.sub(r"_?v[0-9]+$", "", name.lower())).strip("_")
    return f"{words or 'name'}_v1"
