"""Built-in policy packs: YAML files shipped beside this module, each one documented in its
comments (the legal reasoning and every choice made).

- `research-permissive`  research use under EU DSM Art. 3 (reservations do not bind)
- `commercial-strict`    commercial use under Art. 4(3): every reservation, licence and ToS
                         restriction honoured, unreviewed ToS refused
- `open-licensed-only`   only openly licensed content, as in the Common Pile
"""

from __future__ import annotations

from pathlib import Path

from policies.errors import UnknownName
from policies.facts import DEFAULT_SCHEMA, FactSchema
from policies.loader import load_policy
from policies.model import Policy

_HERE = Path(__file__).resolve().parent

__all__ = ["list_packs", "load", "path"]


def list_packs() -> list[str]:
    """Names of the built-in packs, sorted."""
    return sorted(p.stem for p in _HERE.glob("*.yaml"))


def path(name: str) -> Path:
    """The YAML file of a built-in pack; UnknownName lists the known packs."""
    candidate = _HERE / f"{name.removesuffix('.yaml')}.yaml"
    if not candidate.is_file() or candidate.parent != _HERE:
        raise UnknownName("policy pack", name, list_packs())
    return candidate


def load(name: str, *, schema: FactSchema = DEFAULT_SCHEMA) -> Policy:
    return load_policy(path(name), schema=schema)
