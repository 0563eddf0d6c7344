"""Stored policies: verbatim text and its hash, one row per name + version, never changed."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from catalog.errors import AlreadyExists, InvalidInput, NotFound
from catalog.models import StoredPolicy, utcnow
from catalog.unit_of_work import UnitOfWork
from policies import packs
from policies.errors import InvalidPolicy, PolicyError
from policies.loader import load_policy, validate_policy_file
from policies.model import Policy


class PolicyInvalid(InvalidInput):
    """A policy file with errors; `problems` holds one line per error."""

    def __init__(self, source: str, problems: list[str]):
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} error(s) in the policy")

    def lines(self) -> list[str]:
        return [self.message, *(f"  {p}" for p in self.problems)]


def validate_file(path: Path) -> list[PolicyError]:
    if not path.exists():
        raise InvalidInput(f"{path}: no such file")
    return validate_policy_file(path)


def _load(path: Path) -> Policy:
    try:
        return load_policy(path)
    except InvalidPolicy as exc:
        raise PolicyInvalid(str(path), [str(e) for e in exc.errors]) from None


def load_ref(ref: str) -> Policy | None:
    """A policy from a file path or a built-in pack name; None when `ref` is neither."""
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.exists():
            raise InvalidInput(f"{path}: no such file")
        return _load(path)
    if ref in packs.list_packs():
        return _load(Path(packs.path(ref)))
    return None


def store(uow: UnitOfWork, policy: Policy) -> tuple[StoredPolicy, bool]:
    """Store a policy; the same name + version again is a no-op only if the text is the same."""
    existing = uow.session.execute(select(StoredPolicy).where(
        StoredPolicy.name == policy.name, StoredPolicy.version == policy.version)).scalars().first()
    if existing is not None:
        if existing.sha256 != policy.sha256:
            raise AlreadyExists(
                f"policy {policy.name} version {policy.version} is already stored with different "
                f"content (sha256 {existing.sha256[:12]}…, this file {policy.sha256[:12]}…); "
                "give the changed policy a new version")
        return existing, False
    row = StoredPolicy(name=policy.name, version=policy.version, sha256=policy.sha256,
                       text=policy.text, intended_use=policy.intended_use,
                       jurisdiction=policy.jurisdiction, actor=uow.actor, created_at=utcnow())
    uow.session.add(row)
    uow.session.flush()
    uow.audit.record("policy.add", "policy", f"{policy.name}@{policy.version}",
                     after={"sha256": policy.sha256, "intended_use": policy.intended_use,
                            "jurisdiction": policy.jurisdiction, "id": row.id})
    return row, True


def find(session: Session, ref: str) -> StoredPolicy:
    """A stored policy by `name` (newest version) or `name@version`."""
    name, _, version = ref.partition("@")
    stmt = select(StoredPolicy).where(StoredPolicy.name == name)
    if version:
        stmt = stmt.where(StoredPolicy.version == version)
    row = session.execute(stmt.order_by(StoredPolicy.created_at.desc(),
                                        StoredPolicy.id.desc())).scalars().first()
    if row is None:
        known = sorted({f"{n}@{v}" for n, v in session.execute(
            select(StoredPolicy.name, StoredPolicy.version)).all()})
        hint = f"; stored: {', '.join(known)}" if known else ""
        raise NotFound(f"no stored policy {ref!r} (and no such file or built-in pack: "
                       f"{', '.join(packs.list_packs())}){hint}")
    return row


def resolve(uow: UnitOfWork, ref: str) -> tuple[StoredPolicy, Policy]:
    """A file or pack (stored on first use) or a stored policy, as stored row + parsed policy."""
    policy = load_ref(ref)
    if policy is not None:
        row, _ = store(uow, policy)
        return row, policy
    row = find(uow.session, ref)
    return row, load_policy(row.text)


def listing(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(select(StoredPolicy).order_by(StoredPolicy.name,
                                                         StoredPolicy.created_at)).scalars()
    return [{"name": r.name, "version": r.version, "sha256": r.sha256,
             "intended_use": r.intended_use, "jurisdiction": r.jurisdiction,
             "added_by": r.actor, "added_at": r.created_at.isoformat()} for r in rows]


def diff(a: Policy, b: Policy) -> dict[str, Any]:
    """Rule-level differences per stage, plus a unified diff of the texts."""
    stages: dict[str, Any] = {}
    for stage in sorted(set(a.stages) | set(b.stages)):
        ra = {r.id: r for r in a.rules(stage)}
        rb = {r.id: r for r in b.rules(stage)}
        changed = [i for i in ra.keys() & rb.keys()
                   if (ra[i].effect, ra[i].condition, ra[i].params) !=
                   (rb[i].effect, rb[i].condition, rb[i].params)]
        entry = {"added": sorted(rb.keys() - ra.keys()), "removed": sorted(ra.keys() - rb.keys()),
                 "changed": sorted(changed)}
        if a.defaults.get(stage) != b.defaults.get(stage):
            entry["default"] = {"from": a.defaults.get(stage), "to": b.defaults.get(stage)}
        if any(entry.values()):
            stages[stage] = entry
    header = {k: {"from": getattr(a, k), "to": getattr(b, k)}
              for k in ("intended_use", "jurisdiction", "combining")
              if getattr(a, k) != getattr(b, k)}
    if tuple(a.agents) != tuple(b.agents):
        header["agents"] = {"from": list(a.agents), "to": list(b.agents)}
    text = "".join(difflib.unified_diff(a.text.splitlines(keepends=True),
                                        b.text.splitlines(keepends=True),
                                        f"{a.name}@{a.version}", f"{b.name}@{b.version}"))
    return {"a": f"{a.name}@{a.version}", "b": f"{b.name}@{b.version}", "header": header,
            "stages": stages, "text_diff": text}
