"""Mixtures: weighted releases with an intended use, their review policy, and sign-offs.

    create(catalog, name="m", components=["web@1.0.0:2", "books:0.5"], intended_use="commercial",
           jurisdiction="EU")
    sign_off(catalog, name="m", decision="approve", note="cleared by legal")

A component names a release pinned (`NAME@X.Y.Z`) or floating (`NAME`: its newest version at
each review). Weights are sampling weights: epochs over the release. A sign-off binds the
review it decided on (its sha256, stored with the review document) and what that review saw
(`basis`); it is stale, with every reason said, once a component release, the review policy,
a source record, a host's consent snapshots or the opt-out requests covering the mixture
change (docs/mixtures.md). Functions are keyword-only and return JSON-ready data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from catalog.errors import AlreadyExists, InvalidInput, NotFound
from catalog.models import (
    Mixture,
    MixtureComponent,
    MixtureReview,
    MixtureSignoff,
    Release,
    StoredReviewPolicy,
    utcnow,
)
from catalog.services.mixture_composition import effective_tokens
from catalog.services.mixture_staleness import stale_reasons
from catalog.services.review_policies import choose, current_policy, store_policy
from catalog.timeutil import iso_utc
from policies.errors import UnknownName
from policies.model import INTENDED_USES
from policies.review import default_pack

DECISIONS = ("approve", "reject", "approve-with-conditions")
_JURISDICTION = re.compile(r"[A-Z][A-Z0-9-]{1,19}")


# --------------------------------------------------------------------------- mixtures


def parse_component(spec: str) -> tuple[str, str | None, float]:
    """`NAME[@X.Y.Z][:WEIGHT]` -> (name, version or None, weight); the weight defaults to 1."""
    ref, sep, raw = spec.strip().rpartition(":")
    if not sep:
        ref, raw = spec.strip(), "1"
    try:
        weight = float(raw)
    except ValueError:
        raise InvalidInput(f"--component {spec[:80]!r}: the weight {raw[:20]!r} is not a "
                           "number (RELEASE[@X.Y.Z]:WEIGHT)") from None
    if not math.isfinite(weight) or weight <= 0:
        raise InvalidInput(f"--component {spec[:80]!r}: the weight must be a number above 0 "
                           "(epochs over the release)")
    name, _, version = ref.partition("@")
    if not name:
        raise InvalidInput(f"--component {spec[:80]!r}: expected RELEASE[@X.Y.Z]:WEIGHT")
    return name, version or None, weight


def find(session: Session, name: str) -> Mixture:
    row = session.execute(select(Mixture).where(Mixture.name == name)).scalars().first()
    if row is None:
        raise NotFound(f"no mixture {name!r} (`govcat mixture list` shows them)")
    return row


def _components(session: Session, mixture: Mixture) -> list[MixtureComponent]:
    return list(session.execute(select(MixtureComponent).where(
        MixtureComponent.mixture_id == mixture.id).order_by(MixtureComponent.position))
        .scalars())


def resolve_components(session: Session, mixture: Mixture
                       ) -> list[tuple[MixtureComponent, Release]]:
    """Each component with the release it stands for now (a floating one: the newest)."""
    from catalog.services.releases import find as find_release

    out = []
    for c in _components(session, mixture):
        ref = c.release_name + (f"@{c.release_version}" if c.release_version else "")
        out.append((c, find_release(session, ref)))
    return out


def create(catalog, *, name: str, components: Sequence[str], intended_use: str,
           jurisdiction: str, description: str | None = None,
           review_policy: str | None = None) -> dict[str, Any]:
    from catalog.services.release_cut import NAME
    from catalog.services.releases import find as find_release

    if not NAME.fullmatch(name or ""):
        raise InvalidInput(f"mixture name {name[:120]!r}: use 1-100 characters of a-z, 0-9, "
                           "'.', '_', '-', starting with a letter or digit")
    if intended_use not in INTENDED_USES:
        raise InvalidInput(f"--intended-use {intended_use!r}: expected one of "
                           f"{', '.join(INTENDED_USES)}")
    jurisdiction = (jurisdiction or "").strip().upper()
    if not _JURISDICTION.fullmatch(jurisdiction):
        raise InvalidInput(f"--jurisdiction {jurisdiction[:40]!r}: expected a code such as "
                           "EU, US, UK (2-20 letters, digits, '-')")
    if not components:
        raise InvalidInput("a mixture needs at least one --component RELEASE[@X.Y.Z]:WEIGHT")
    parsed = [parse_component(s) for s in components]
    names = [p[0] for p in parsed]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidInput(f"release {twice[0]} is listed twice; give it once with the weight "
                           "you want")
    with catalog.uow() as uow:
        if uow.session.execute(select(Mixture.id).where(Mixture.name == name)).first():
            raise AlreadyExists(f"mixture {name!r} exists (`govcat mixture show {name}`)")
        for rel_name, version, _ in parsed:
            find_release(uow.session, rel_name + (f"@{version}" if version else ""))
        try:
            policy = choose(uow, review_policy or default_pack(intended_use),
                                    intended_use)
        except UnknownName as exc:
            raise InvalidInput(str(exc)) from None
        mixture = Mixture(name=name, description=description, intended_use=intended_use,
                          jurisdiction=jurisdiction, review_policy=policy.name,
                          actor=uow.actor, created_at=utcnow())
        uow.session.add(mixture)
        uow.session.flush()
        for i, (rel_name, version, weight) in enumerate(parsed):
            uow.session.add(MixtureComponent(mixture_id=mixture.id, position=i,
                                             release_name=rel_name, release_version=version,
                                             weight=weight))
        uow.session.flush()
        uow.audit.record("mixture.create", "mixture", name, after={
            "intended_use": intended_use, "jurisdiction": jurisdiction,
            "description": description, "review_policy": policy.ref(),
            "components": [{"release": n + (f"@{v}" if v else ""), "weight": w}
                           for n, v, w in parsed]})
        uow.commit()
    return show(catalog, name=name)


def set_policy(catalog, *, name: str, review_policy: str) -> dict[str, Any]:
    """Review the mixture with another review policy (a pack, a file, a stored one) from now."""
    with catalog.uow() as uow:
        mixture = find(uow.session, name)
        before = {"review_policy": current_policy(uow.session, mixture.review_policy).ref()}
        try:
            policy = choose(uow, review_policy, mixture.intended_use)
        except UnknownName as exc:
            raise InvalidInput(str(exc)) from None
        mixture.review_policy = policy.name
        uow.session.add(mixture)
        uow.audit.record("mixture.set-policy", "mixture", name, before=before,
                         after={"review_policy": policy.ref()})
        uow.commit()
    return show(catalog, name=name)


def _summary(session: Session, mixture: Mixture) -> dict[str, Any]:
    comps = []
    for c, r in resolve_components(session, mixture):
        comps.append({"ref": c.release_name + (f"@{c.release_version}"
                                               if c.release_version else ""),
                      "release": f"{r.name}@{r.version}", "pinned": c.release_version is not None,
                      "weight": c.weight, "documents": r.documents, "tokens": r.tokens,
                      "effective_tokens": effective_tokens(r.tokens, c.weight)})
    policy = current_policy(session, mixture.review_policy)
    return {
        "name": mixture.name, "description": mixture.description,
        "intended_use": mixture.intended_use, "jurisdiction": mixture.jurisdiction,
        "review_policy": policy.ref(), "created_at": iso_utc(mixture.created_at),
        "created_by": mixture.actor, "components": comps,
        "totals": {k: sum(c[k] for c in comps)
                   for k in ("documents", "tokens", "effective_tokens")},
    }


def listing(catalog) -> list[dict[str, Any]]:
    with catalog.session() as s:
        rows = s.execute(select(Mixture).order_by(Mixture.name)).scalars().all()
        return [_summary(s, m) | {"signoff": signoff_state(s, m, history=False)} for m in rows]


def show(catalog, *, name: str) -> dict[str, Any]:
    """Components, weights, effective tokens and totals, and the sign-off state (stale, why)."""
    with catalog.session() as s:
        mixture = find(s, name)
        return _summary(s, mixture) | {"signoff": signoff_state(s, mixture)}


# --------------------------------------------------------------------------- review, sign-off


def review(catalog, *, name: str) -> dict[str, Any]:
    """The mixture's review as it is now (catalog/services/mixture_review.py), with the state
    of its newest sign-off; nothing is written."""
    from catalog.services import mixture_review

    with catalog.session() as s:
        mixture = find(s, name)
        policy = current_policy(s, mixture.review_policy)
        doc = mixture_review.build(s, catalog.layout, mixture, resolve_components(s, mixture),
                                   policy)
        doc["signoff"] = signoff_state(s, mixture, review=doc)
    return doc




def sign_off(catalog, *, name: str, decision: str, note: str,
             conditions: Sequence[str] = (), override: str | None = None,
             review_sha256: str | None = None) -> dict[str, Any]:
    """Record a reviewer's decision on the mixture's review as it is now, audited."""
    from catalog.audit import canonical_json
    from catalog.services import mixture_review

    if decision not in DECISIONS:
        raise InvalidInput(f"--decision {decision!r}: expected one of {', '.join(DECISIONS)}")
    note = (note or "").strip()
    if not note:
        raise InvalidInput("--note is required: say what the decision rests on")
    conditions = [c.strip() for c in conditions if c and c.strip()]
    if decision == "approve-with-conditions" and not conditions:
        raise InvalidInput("approve-with-conditions needs --conditions (each condition once)")
    if conditions and decision != "approve-with-conditions":
        raise InvalidInput("--conditions go with --decision approve-with-conditions")
    override = (override or "").strip() or None
    with catalog.session() as s:
        mixture = find(s, name)
        components = resolve_components(s, mixture)
        policy = current_policy(s, mixture.review_policy)
        doc = mixture_review.build(s, catalog.layout, mixture, components, policy)
    if review_sha256 and review_sha256.lower() != doc["sha256"]:
        raise InvalidInput(f"the review of {name} changed since the one you read "
                           f"(sha256 {review_sha256[:12]}…, now {doc['sha256'][:12]}…); "
                           "read `govcat mixture review` again")
    blocked = doc["verdict"] == "blocked"
    if override and (decision == "reject" or not blocked):
        raise InvalidInput("--override is for approving a review whose verdict is blocked; "
                           f"this review says {doc['verdict']}")
    if blocked and decision != "reject" and not override:
        reasons = "; ".join(f"{f['rule']}" + (f" ({f['component']})" if f["component"] else "")
                            for f in doc["findings"] if f["effect"] == "blocked")
        raise InvalidInput(f"the review of {name} says blocked ({reasons}); approving it needs "
                           "--override REASON")
    with catalog.uow() as uow:
        mixture = find(uow.session, name)
        stored = store_policy(uow, policy)
        row = uow.session.execute(select(MixtureReview).where(
            MixtureReview.mixture_id == mixture.id,
            MixtureReview.sha256 == doc["sha256"])).scalars().first()
        if row is None:
            row = MixtureReview(mixture_id=mixture.id, sha256=doc["sha256"],
                                verdict=doc["verdict"], review_policy_id=stored.id,
                                basis=doc["basis"],
                                document=canonical_json({k: v for k, v in doc.items()
                                                         if k != "signoff"}),
                                actor=uow.actor, created_at=utcnow())
            uow.session.add(row)
            uow.session.flush()
        signoff = MixtureSignoff(mixture_id=mixture.id, review_id=row.id, decision=decision,
                                 note=note, conditions=conditions, override_reason=override,
                                 actor=uow.actor, created_at=utcnow())
        uow.session.add(signoff)
        uow.session.flush()
        uow.audit.record("mixture.sign-off", "mixture", name, after={
            "signoff": signoff.id, "decision": decision, "note": note,
            "conditions": conditions, "override": override, "review": row.id,
            "review_sha256": doc["sha256"], "review_verdict": doc["verdict"],
            "review_policy": policy.ref()})
        uow.commit()
        signoff_id = signoff.id
    with catalog.session() as s:
        state = signoff_state(s, find(s, name))
    return state | {"signoff": signoff_id, "verdict": doc["verdict"]}


def _signoff_dict(session: Session, row: MixtureSignoff) -> dict[str, Any]:
    review = session.get(MixtureReview, row.review_id)
    policy = session.get(StoredReviewPolicy, review.review_policy_id)
    return {"id": row.id, "decision": row.decision, "actor": row.actor,
            "at": iso_utc(row.created_at), "note": row.note, "conditions": list(row.conditions),
            "override": row.override_reason is not None, "override_reason": row.override_reason,
            "review_sha256": review.sha256, "review_verdict": review.verdict,
            "review_policy": {"name": policy.name, "version": policy.version,
                              "sha256": policy.sha256}}


def signoff_state(session: Session, mixture: Mixture, *, review: dict[str, Any] | None = None,
                  history: bool = True) -> dict[str, Any]:
    """The newest sign-off, whether it is stale and why; `review`, when the caller has just
    built one, also tells whether its findings differ from those signed off."""
    rows = session.execute(select(MixtureSignoff).where(MixtureSignoff.mixture_id == mixture.id)
                           .order_by(MixtureSignoff.id)).scalars().all()
    if not rows:
        return {"state": "none", "stale": False, "reasons": [], "history": []}
    latest = rows[-1]
    signed = session.get(MixtureReview, latest.review_id)
    try:
        components = resolve_components(session, mixture)
    except NotFound:
        components = None
    reasons = stale_reasons(session, signed.basis, components=components,
                            policy=current_policy(session, mixture.review_policy).ref())
    if components is None:
        reasons.insert(0, "a component release of the review is no longer in the catalog")
    if review is not None and review["sha256"] != signed.sha256 and not reasons:
        reasons.append(f"the review's findings changed since the sign-off (sha256 "
                       f"{signed.sha256[:12]}… then, {review['sha256'][:12]}… now)")
    out = _signoff_dict(session, latest)
    state = "override" if out["override"] else out["decision"]
    out.update({"state": f"stale {state}" if reasons else state, "stale": bool(reasons),
                "reasons": reasons})
    if history:
        out["history"] = [_signoff_dict(session, r) for r in rows]
    return out
