"""Review policies in the catalog: each stored verbatim with its sha256, once per name + version.

A mixture names its review policy; a review uses the version current when it runs: the
built-in pack's (policies/review_packs/), or the newest stored under that name (a policy
file, stored when a mixture is created with it or switched to it).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from catalog.errors import AlreadyExists, InvalidInput, NotFound
from catalog.models import StoredReviewPolicy, utcnow
from policies.errors import InvalidPolicy
from policies.review import ReviewPolicy, list_review_packs, load_review_pack, load_review_policy


def _policy_error(source: str, exc: InvalidPolicy) -> InvalidInput:
    from catalog.services.policies import PolicyInvalid

    return PolicyInvalid(source, [str(e) for e in exc.errors])


def load_policy_ref(ref: str) -> ReviewPolicy | None:
    """A review policy from a file or a built-in pack; None when `ref` is neither."""
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise InvalidInput(f"{path}: no such file")
        try:
            return load_review_policy(path)
        except InvalidPolicy as exc:
            raise _policy_error(str(path), exc) from None
    if ref in list_review_packs():
        return load_review_pack(ref)
    return None


def current_policy(session: Session, name: str) -> ReviewPolicy:
    """The version of review policy `name` a review uses now: the built-in pack's, or the
    newest stored."""
    if name in list_review_packs():
        return load_review_pack(name)
    row = session.execute(select(StoredReviewPolicy).where(StoredReviewPolicy.name == name)
                          .order_by(StoredReviewPolicy.id.desc())).scalars().first()
    if row is None:
        raise NotFound(f"no review policy {name!r} (built-in packs: "
                       f"{', '.join(list_review_packs())})")
    return load_review_policy(row.text)


def store_policy(uow, policy: ReviewPolicy, *, file: bool = False) -> StoredReviewPolicy:
    """Store a review policy; the same name + version again only with the same text."""
    if file and policy.name in list_review_packs():
        raise InvalidInput(f"{policy.source}: {policy.name!r} is the name of a built-in review "
                           "pack; give your policy another name")
    existing = uow.session.execute(select(StoredReviewPolicy).where(
        StoredReviewPolicy.name == policy.name,
        StoredReviewPolicy.version == policy.version)).scalars().first()
    if existing is not None:
        if existing.sha256 != policy.sha256:
            raise AlreadyExists(
                f"review policy {policy.name} version {policy.version} is already stored with "
                f"other content (sha256 {existing.sha256[:12]}…, this one "
                f"{policy.sha256[:12]}…); give the changed policy a new version")
        return existing
    row = StoredReviewPolicy(name=policy.name, version=policy.version, sha256=policy.sha256,
                             text=policy.text, intended_use=policy.intended_use,
                             actor=uow.actor, created_at=utcnow())
    uow.session.add(row)
    uow.session.flush()
    uow.audit.record("review-policy.add", "review-policy", f"{policy.name}@{policy.version}",
                     after={"sha256": policy.sha256, "intended_use": policy.intended_use,
                            "id": row.id})
    return row


def choose(uow, ref: str, intended_use: str) -> ReviewPolicy:
    """The policy `ref` names (stored if new), refused unless written for `intended_use`."""
    policy = load_policy_ref(ref)
    if policy is None:
        policy = current_policy(uow.session, ref)
    else:
        store_policy(uow, policy, file=ref not in list_review_packs())
    if policy.intended_use != intended_use:
        raise InvalidInput(f"review policy {policy.name} is written for {policy.intended_use} "
                           f"use; this mixture is for {intended_use} use")
    return policy
