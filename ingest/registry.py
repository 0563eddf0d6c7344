"""The registry of connectors, by versioned name (`warc_v1`, `gutenberg_v1`, ...).

A connector turns input paths of one format into a stream of `ingest.types.Item`s. Options
are typed per connector (a frozen dataclass) and built once from `key=value` strings at the
edge; an unknown connector name lists the known ones.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.types import Item


class UnknownFormatError(ValueError):
    """No connector is registered under that name."""


class ConnectorOptionError(ValueError):
    """An option given to a connector is unknown or has the wrong type."""


@dataclass(frozen=True)
class Connector:
    name: str  # versioned registry name, e.g. "warc_v1"
    kinds: tuple[str, ...]  # source kinds it suits: web-crawl, books, code, forum, ...
    description: str
    options_type: type  # a dataclass whose fields are the connector's options
    read: Callable[[Path, Any], Iterator[Item]]  # (path, options) -> items
    version: str = "1"

    def parse_options(self, raw: Mapping[str, str]) -> Any:
        return parse_options(self.options_type, raw, connector=self.name)


_REGISTRY: dict[str, Connector] = {}


def register(connector: Connector) -> Connector:
    _REGISTRY[connector.name] = connector
    return connector


def _load_builtin() -> None:
    # Imported here, not at module top, so that a connector's heavy dependency is only
    # loaded when the registry is asked for.
    import importlib
    import pkgutil

    import ingest.connectors as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"ingest.connectors.{mod.name}")


def connectors() -> list[Connector]:
    _load_builtin()
    return sorted(_REGISTRY.values(), key=lambda c: c.name)


def get(name: str) -> Connector:
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise UnknownFormatError(f"unknown format {name!r}; known formats: {known}") from None


def parse_options(options_type: type, raw: Mapping[str, str], *, connector: str) -> Any:
    """Build a connector's options dataclass from `key=value` strings, converting types."""
    fields = {f.name: f for f in dataclasses.fields(options_type)}
    hints = typing.get_type_hints(options_type)
    values: dict[str, Any] = {}
    for key, text in raw.items():
        name = key.replace("-", "_")
        if name not in fields:
            known = ", ".join(sorted(f.replace("_", "-") for f in fields)) or "none"
            raise ConnectorOptionError(
                f"{connector}: unknown option {key!r}; known options: {known}"
            )
        values[name] = _convert(hints[name], text, connector=connector, key=key)
    return options_type(**values)


def _convert(hint: Any, text: str, *, connector: str, key: str) -> Any:
    origin = typing.get_origin(hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)) and args:
        hint = args[0]
        origin = typing.get_origin(hint)
    try:
        if hint is bool:
            lowered = text.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"not a boolean: {text!r}")
        if hint is int:
            return int(text)
        if hint is float:
            return float(text)
        if origin is typing.Literal:
            allowed = typing.get_args(hint)
            if text not in allowed:
                raise ValueError(f"must be one of {', '.join(map(str, allowed))}")
            return text
        if origin in (tuple, list):
            return tuple(part.strip() for part in text.split(",") if part.strip())
        if origin is dict or hint is dict:
            pairs = [p.split(":", 1) for p in text.split(",") if p.strip()]
            return {a.strip(): b.strip() for a, b in pairs}
        return text
    except ValueError as exc:
        raise ConnectorOptionError(f"{connector}: option {key!r}: {exc}") from None
