"""The registry of connectors, by versioned name (`warc_v1`, `gutenberg_v1`, ...).

A connector turns input paths of one format into a stream of `ingest.types.Item`s. Options
are typed per connector (a frozen dataclass) and built once from `key=value` strings at the
edge. The registry is `common.registry.Registry`, the one the processing stages use too: an
unknown name lists the known ones, a second connector under a taken name is refused.

Exceptions (all ValueError)::

    UnknownFormatError       no connector is registered under that name
    DuplicateFormatError     two different connectors claim one name
    FormatNameError          a connector name is not `<words>_v<N>`
    ConnectorOptionError     an option given to a connector is unknown or has the wrong type
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.registry import DuplicateNameError, InvalidNameError, Registry, UnknownNameError
from ingest.types import Item


class UnknownFormatError(UnknownNameError):
    """No connector is registered under that name."""


class DuplicateFormatError(DuplicateNameError):
    """Two different connectors claim one name."""


class FormatNameError(InvalidNameError):
    """A connector name that is not versioned, or disagrees with the connector's `version`."""


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


_CONNECTORS: Registry[Connector] = Registry(
    "format", plugins="ingest.connectors", unknown=UnknownFormatError,
    duplicate=DuplicateFormatError, invalid=FormatNameError)


def register(connector: Connector) -> Connector:
    return _CONNECTORS.register(connector.name, connector, version=connector.version)


def connectors() -> list[Connector]:
    return [connector for _, connector in _CONNECTORS.items()]


def names() -> list[str]:
    return _CONNECTORS.names()


def get(name: str) -> Connector:
    return _CONNECTORS.get(name)


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
