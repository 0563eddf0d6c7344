"""Whether a sign-off still holds: what changed since its review saw the catalog.

A review records its `basis`: the release each component stood for (with its manifest
sha256) and its weight, the review policy (name, version, sha256), the record hash of every
source, the newest robots/TDMRep/ai.txt snapshot and opt-out request ids, and the opt-out
requests covering each release. A sign-off is stale once any of these changes in a way that
reaches the mixture, and each change is said in one sentence: a component now resolving to
another release, a new review policy version, a source record edited, a consent snapshot of a
host of the mixture with new content, an opt-out request covering its documents received or
withdrawn. Everything is checked with a few small queries (new snapshots and requests only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from catalog.models import (
    Document,
    Host,
    MixtureComponent,
    OptOutRequest,
    Release,
    ReleaseMember,
    RobotsSnapshot,
    Source,
)
from catalog.services.mixture_composition import open_requests, optout_matches, record_sha256
from catalog.timeutil import iso_utc

_CHUNK = 1000


def stale_reasons(session: Session, basis: dict[str, Any], *,
                  components: Sequence[tuple[MixtureComponent, Release]] | None,
                  policy: dict[str, str]) -> list[str]:
    """What changed since a review saw `basis`, one sentence each (empty: nothing).
    `components` are the mixture's components resolved now (None: a release is gone) and
    `policy` the review policy's current name, version and sha256."""
    reasons: list[str] = []
    seen = {c["ref"]: c for c in basis.get("components", [])}
    current = components or []
    for c, r in current:
        ref = c.release_name + (f"@{c.release_version}" if c.release_version else "")
        old = seen.pop(ref, None)
        now = f"{r.name}@{r.version}"
        if old is None:
            reasons.append(f"component {ref} was added since the review")
        elif old["release"] != now:
            reasons.append(f"component {ref} now resolves to {now}; the review saw "
                           f"{old['release']}")
        elif old["manifest_sha256"] != r.manifest_sha256:
            reasons.append(f"release {now} changed: manifest sha256 "
                           f"{old['manifest_sha256'][:12]}… then, {r.manifest_sha256[:12]}… now")
        elif float(old["weight"]) != float(c.weight):
            reasons.append(f"the weight of {ref} changed from {old['weight']} to {c.weight}")
    if components is not None:
        reasons.extend(f"component {ref} was removed since the review" for ref in seen)
    then = basis.get("review_policy", {})
    now_policy = policy
    if now_policy != then:
        reasons.append(f"the review policy is now {now_policy['name']}@{now_policy['version']} "
                       f"(sha256 {now_policy['sha256'][:12]}…); the review used "
                       f"{then.get('name')}@{then.get('version')} "
                       f"(sha256 {str(then.get('sha256'))[:12]}…)")
    records = basis.get("sources", {})
    for s in session.execute(select(Source).where(Source.slug.in_(sorted(records)))).scalars():
        if record_sha256(s) != records[s.slug]:
            reasons.append(f"source {s.slug}'s record changed since the review (ToS verdict "
                           f"now {s.tos_verdict}, personal data {s.personal_data}, status "
                           f"{s.status})")
    release_ids = [r.id for _, r in current]
    reasons.extend(_snapshot_changes(session, release_ids, int(basis.get("snapshots_upto", 0))))
    reasons.extend(_optout_changes(session, current, basis))
    return reasons


def _mixture_hosts(session: Session, release_ids: Sequence[int], hosts: Sequence[str]
                   ) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(hosts), _CHUNK):
        found.update(session.execute(
            select(Document.host).join(ReleaseMember, ReleaseMember.document_id == Document.id)
            .where(ReleaseMember.release_id.in_(list(release_ids)),
                   Document.host.in_(hosts[i:i + _CHUNK])).distinct()).scalars())
    return found


def _snapshot_changes(session: Session, release_ids: Sequence[int], upto: int) -> list[str]:
    new = session.execute(select(RobotsSnapshot, Host.name).join(
        Host, Host.id == RobotsSnapshot.host_id).where(RobotsSnapshot.id > upto)
        .order_by(RobotsSnapshot.id)).all()
    if not new:
        return []
    ours = _mixture_hosts(session, release_ids, sorted({name for _, name in new}))
    reasons = []
    for snap, host in new:
        if host not in ours:
            continue
        prev = session.execute(select(RobotsSnapshot).where(
            RobotsSnapshot.host_id == snap.host_id, RobotsSnapshot.kind == snap.kind,
            RobotsSnapshot.id <= upto).order_by(RobotsSnapshot.fetched_at.desc(),
                                                RobotsSnapshot.id.desc())).scalars().first()
        if prev is not None and (prev.sha256, prev.status) == (snap.sha256, snap.status):
            continue  # fetched again, same content
        saw = (f"snapshot {prev.id} fetched {iso_utc(prev.fetched_at)[:10]}" if prev
               else "no snapshot")
        reasons.append(f"{snap.kind} of {host} changed: snapshot {snap.id} fetched "
                       f"{iso_utc(snap.fetched_at)[:10]} (sha256 {snap.sha256[:12]}…) was "
                       f"recorded after the review, which saw {saw}")
    return reasons


def _optout_changes(session: Session, current: Sequence[tuple[MixtureComponent, Release]],
                    basis: dict[str, Any]) -> list[str]:
    reasons = []
    matched = basis.get("optouts", {})
    if matched:
        ids = [int(r.split("-")[1]) for r in matched]
        for req in session.execute(select(OptOutRequest).where(OptOutRequest.id.in_(ids))
                                   .order_by(OptOutRequest.id)).scalars():
            if req.status != "open":
                covered = ", ".join(f"{n} document(s) of {rel}"
                                    for rel, n in matched[f"optout-{req.id}"].items())
                reasons.append(f"opt-out optout-{req.id} was {req.status} since the review "
                               f"(it covered {covered})")
    new = open_requests(session, after_id=int(basis.get("optouts_upto", 0)))
    if not new:
        return reasons
    for _, release in current:
        found = optout_matches(session, release.id, new, None)
        for r in found.requests:
            reasons.append(f"opt-out {r['request']} ({r['kind']} {r['value']}, received "
                           f"{str(r['received_at'])[:10]}) covers {r['documents']:,} "
                           f"document(s), {r['tokens']:,} tokens, of "
                           f"{release.name}@{release.version}; it was recorded after the "
                           "review")
    return reasons
