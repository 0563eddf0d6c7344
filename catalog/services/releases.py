"""Releases as the catalog knows them: find, list, show, diff; verify, prove and sign a folder.

Verification and proofs use only the release folder (reports/verify.py), so what the catalog
says here a recipient without it can check; the catalog only tells where the folder is.
Library errors (reports/errors.py) become the catalog's typed errors here, at the boundary.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from catalog.errors import IntegrityError, InvalidInput, NotFound
from catalog.models import (
    Release,
    ReleaseExclusion,
    ReleaseFile,
    ReleaseMember,
    Run,
    StoredPolicy,
    utcnow,
)
from catalog.runs import decision_logs
from catalog.timeutil import iso_utc
from common.storage import RemotePath, as_path
from policies import decision_log


def parse_ref(ref: str) -> tuple[str, str | None]:
    name, _, version = ref.partition("@")
    return name, version or None


def find(session, ref: str) -> Release:
    """NAME@X.Y.Z, or NAME for its newest version."""
    name, version = parse_ref(ref)
    stmt = select(Release).where(Release.name == name)
    if version:
        stmt = stmt.where(Release.version == version)
    rows = session.execute(stmt).scalars().all()
    if not rows:
        raise NotFound(f"no release {ref!r} (`govcat release list` shows them)")
    return max(rows, key=lambda r: tuple(int(x) for x in r.version.split(".")))


def release_dir(catalog, ref: str) -> Path | RemotePath:
    """A folder given as a path (or a store URL), or the folder of a release the catalog
    knows."""
    path = as_path(ref)
    if path.is_dir():
        return path
    with catalog.session() as s:
        return catalog.layout.absolute(find(s, ref).path)


def recorded_audit_head(catalog, ref: str) -> tuple[int, str]:
    """The audit head a release's manifest recorded at cut time (read from its folder, which
    a database edit cannot rewrite together with the chain)."""
    from reports.errors import ReportsError
    from reports.manifest import load_manifest

    try:
        head = load_manifest(release_dir(catalog, ref)).get("audit_head") or {}
    except ReportsError as exc:
        raise InvalidInput(str(exc)) from None
    if not head.get("hash"):
        raise InvalidInput(f"release {ref!r}: its manifest records no audit head")
    return int(head.get("seq", 0)), str(head["hash"])


def summary(r: Release) -> dict[str, Any]:
    return {"release": f"{r.name}@{r.version}", "name": r.name, "version": r.version,
            "description": r.description, "run": r.run_id, "documents": r.documents,
            "tokens": r.tokens, "bytes": r.n_bytes, "merkle_root": r.merkle_root,
            "manifest_sha256": r.manifest_sha256, "path": r.path,
            "created_at": iso_utc(r.created_at), "actor": r.actor,
            "optouts_up_to": iso_utc(r.optouts_up_to),
            "signed": r.signature_sha256 is not None, "signed_at": iso_utc(r.signed_at)}


def listing(catalog) -> list[dict[str, Any]]:
    with catalog.session() as s:
        rows = s.execute(select(Release).order_by(Release.name, Release.id)).scalars().all()
        excluded = dict(s.execute(select(ReleaseExclusion.release_id, func.count())
                                  .group_by(ReleaseExclusion.release_id)).all())
    return [summary(r) | {"excluded": int(excluded.get(r.id, 0))} for r in rows]


def show(catalog, ref: str) -> dict[str, Any]:
    from reports.errors import ReportsError
    from reports.manifest import load_manifest

    with catalog.session() as s:
        r = find(s, ref)
        files = s.execute(select(ReleaseFile).where(ReleaseFile.release_id == r.id)
                          .order_by(ReleaseFile.path)).scalars().all()
        excluded = s.execute(select(ReleaseExclusion).where(
            ReleaseExclusion.release_id == r.id).order_by(ReleaseExclusion.document_id)
            .limit(1000)).scalars().all()
        policy = s.get(StoredPolicy, s.get(Run, r.run_id).policy_id)
        from catalog.services.decontam import release_overlaps

        decontamination = release_overlaps(catalog, s, r)
    folder = catalog.layout.absolute(r.path)
    try:
        manifest = load_manifest(folder)
    except ReportsError as exc:
        manifest = {"error": str(exc)}
    return summary(r) | {
        "policy": f"{policy.name}@{policy.version}",
        "files": [{"path": f.path, "kind": f.kind, "sha256": f.sha256, "bytes": f.n_bytes,
                   "documents": f.documents, "tokens": f.tokens} for f in files],
        "counts": manifest.get("counts", {}), "funnel": manifest.get("funnel", []),
        "optouts": manifest.get("optouts", {}), "redacted": manifest.get("redacted", {}),
        "excluded_documents": [{"document": e.document_id, "reason": e.reason,
                                "requests": (e.request_ids or "").split(",")}
                               for e in excluded],
        "folder": str(folder), "manifest_error": manifest.get("error"),
        "decontamination": decontamination,  # evaluation sets its documents quote
    }


# --------------------------------------------------------------------------- checks


def verify(catalog, ref: str, *, public_key: Path | None = None, proof: Path | None = None,
           deep: bool = True, progress=None) -> dict[str, Any]:
    """Everything recomputed from the folder; `ok` False lists each problem."""
    from reports.errors import ReportsError
    from reports.merkle import check_proof_file
    from reports.signing import verify_signature
    from reports.verify import verify_release

    folder = release_dir(catalog, ref)
    report = verify_release(folder, deep=deep, progress=progress)
    problems = [str(p) for p in report.problems]
    out: dict[str, Any] = {"folder": str(folder), "deep": deep}
    if public_key is not None:
        try:
            verify_signature(folder, public_key)
            out["signature"] = "valid"
        except ReportsError as exc:
            out["signature"] = "invalid"
            problems.append(str(exc))
    if proof is not None:
        from reports.manifest import load_manifest

        try:
            root = (load_manifest(folder).get("merkle") or {}).get("root")
            checked = check_proof_file(proof, expected_root=root)
            out["proof"] = {"document": getattr(checked, "document", None), "valid": True}
        except ReportsError as exc:
            out["proof"] = {"valid": False}
            problems.append(str(exc))
    out["ok"] = not problems
    out["problems"] = problems
    return out


def prove(catalog, doc_id: str, ref: str | None = None) -> dict[str, Any]:
    from reports.errors import ReportsError
    from reports.verify import document_proof

    with catalog.session() as s:
        if ref is None:
            rows = s.execute(select(Release).join(
                ReleaseMember, ReleaseMember.release_id == Release.id)
                .where(ReleaseMember.document_id == doc_id).order_by(Release.id)).scalars().all()
            if not rows:
                raise NotFound(f"no release holds document {doc_id!r}")
            release = rows[-1]
        else:
            release = find(s, ref)
    try:
        proof = document_proof(catalog.layout.absolute(release.path), doc_id)
    except ReportsError as exc:
        raise InvalidInput(str(exc)) from None
    return proof.to_dict()


def keygen(private: Path, public: Path) -> dict[str, str]:
    from reports.errors import ReportsError
    from reports.signing import generate_keypair

    try:
        priv, pub = generate_keypair(private, public)
    except ReportsError as exc:
        raise InvalidInput(str(exc)) from None
    return {"private_key": str(priv), "public_key": str(pub)}


def sign(catalog, ref: str, *, key: Path) -> dict[str, Any]:
    from common.atomic import file_sha256
    from reports.errors import ReportsError
    from reports.signing import sign_release
    from reports.verify import verify_release

    with catalog.session() as s:
        release = find(s, ref)
    folder = catalog.layout.absolute(release.path)
    report = verify_release(folder, deep=False)
    if not report.ok:
        raise IntegrityError(f"{release.name}@{release.version} does not verify; not signing "
                             f"it: {report.problems[0]}")
    try:
        signature = sign_release(folder, key)
    except ReportsError as exc:
        raise InvalidInput(str(exc)) from None
    digest = file_sha256(signature)
    with catalog.uow() as uow:
        row = uow.session.get(Release, release.id)
        row.signature_sha256, row.signed_at = digest, utcnow()
        uow.session.add(row)
        uow.audit.record("release.signed", "release", f"{release.name}@{release.version}",
                         after={"signature_sha256": digest, "key": Path(key).name})
        uow.commit()
    return {"release": f"{release.name}@{release.version}", "signature": str(signature),
            "sha256": digest}


# --------------------------------------------------------------------------- membership


def holding(catalog, session, doc_id: str) -> list[dict[str, Any]]:
    """The releases that hold a document, and those cut from a run that saw it but left it
    out, with why (an opt-out at cut time, or the run's decision)."""
    out = []
    held = session.execute(select(Release, ReleaseMember.content_sha256).join(
        ReleaseMember, ReleaseMember.release_id == Release.id)
        .where(ReleaseMember.document_id == doc_id).order_by(Release.id)).all()
    held_ids = set()
    for release, sha in held:
        held_ids.add(release.id)
        out.append({"release": f"{release.name}@{release.version}", "holds": True,
                    "content_sha256": sha})
    excluded = {e.release_id: e for e in session.execute(select(ReleaseExclusion).where(
        ReleaseExclusion.document_id == doc_id)).scalars()}
    for release in session.execute(select(Release).order_by(Release.id)).scalars():
        if release.id in held_ids:
            continue
        if release.id in excluded:
            out.append({"release": f"{release.name}@{release.version}", "holds": False,
                        "reason": f"opt-out {excluded[release.id].request_ids} honoured at "
                                  "cut time"})
            continue
        logs = decision_logs(session, session.get(Run, release.run_id))
        why = _drop_reason(catalog.layout, logs, doc_id)
        if why is not None:
            out.append({"release": f"{release.name}@{release.version}", "holds": False,
                        "reason": why})
    return out


def _drop_reason(layout, logs, doc_id: str) -> str | None:
    """The first stage whose decision stopped the document, with its rules; None if none.
    `logs` are in pipeline order (`catalog.runs.decision_logs`)."""
    for stage, path in logs:
        rec = decision_log.find(layout.absolute(path), doc_id)
        if rec is not None and rec["effect"] not in ("allow", "keep", "redact"):
            rules = ", ".join(rec["rule_ids"]) or decision_log.DEFAULT_RULE
            return f"{rec['effect']} at {stage} ({rules})"
    return None


# --------------------------------------------------------------------------- diff


def diff(catalog, a_ref: str, b_ref: str) -> dict[str, Any]:
    """What left and what came between two releases, each with why, by source and licence."""
    with catalog.session() as s:
        a, b = find(s, a_ref), find(s, b_ref)

        def members(release: Release) -> dict[str, tuple[str, int]]:
            return {d: (sha, n) for d, sha, n in s.execute(select(
                ReleaseMember.document_id, ReleaseMember.content_sha256,
                ReleaseMember.n_tokens).where(ReleaseMember.release_id == release.id))}

        ma, mb = members(a), members(b)
        removed = sorted(set(ma) - set(mb))
        added = sorted(set(mb) - set(ma))
        changed = sorted(d for d in set(ma) & set(mb) if ma[d][0] != mb[d][0])
        excluded_b = {e.document_id: e.request_ids for e in s.execute(
            select(ReleaseExclusion).where(ReleaseExclusion.release_id == b.id)).scalars()}
        excluded_a = {e.document_id: e.request_ids for e in s.execute(
            select(ReleaseExclusion).where(ReleaseExclusion.release_id == a.id)).scalars()}
        from catalog.models import Document, Source

        info = {}
        ids = removed + added + changed
        for start in range(0, len(ids), 5000):
            chunk = ids[start:start + 5000]
            for doc_id, slug, lic in s.execute(
                    select(Document.id, Source.slug, func.coalesce(
                        Document.concluded_license, Document.declared_license))
                    .join(Source, Source.id == Document.source_id)
                    .where(Document.id.in_(chunk))):
                info[doc_id] = (slug, lic or "(none)")
        sources_a = {v[0] for d, v in info.items() if d in ma}
        sources_a |= {slug for (slug,) in s.execute(
            select(Source.slug).join(Document, Document.source_id == Source.id)
            .join(ReleaseMember, ReleaseMember.document_id == Document.id)
            .where(ReleaseMember.release_id == a.id).distinct())}
        logs_a = decision_logs(s, s.get(Run, a.run_id))
        logs_b = decision_logs(s, s.get(Run, b.run_id))
        layout = catalog.layout

        def why_removed(doc_id: str) -> str:
            if doc_id in excluded_b:
                return f"opt-out {excluded_b[doc_id]}"
            dropped = _drop_reason(layout, logs_b, doc_id)
            if dropped is not None:
                if dropped.startswith("drop at dedup"):
                    return "duplicate of an earlier release or document (dedup)"
                return f"policy now drops it: {dropped}"
            return "not in the later run (its source or document was not processed)"

        def why_added(doc_id: str) -> str:
            if info.get(doc_id, ("",))[0] not in sources_a:
                return "new source"
            if doc_id in excluded_a:
                return f"was left out for opt-out {excluded_a[doc_id]} (since withdrawn)"
            dropped = _drop_reason(layout, logs_a, doc_id)
            if dropped is not None:
                return f"the earlier run dropped it ({dropped}); the later one keeps it"
            return "new document"

        def group(docs, why, tokens_of):
            by: dict[tuple[str, str, str], list[int]] = {}
            for d in docs:
                slug, lic = info.get(d, ("(unknown)", "(none)"))
                slot = by.setdefault((why(d), slug, lic), [0, 0])
                slot[0] += 1
                slot[1] += tokens_of(d)
            return [{"why": w, "source": src, "license": lic, "documents": n, "tokens": t}
                    for (w, src, lic), (n, t) in sorted(by.items(),
                                                        key=lambda kv: (-kv[1][0], kv[0]))]

        return {
            "a": f"{a.name}@{a.version}", "b": f"{b.name}@{b.version}",
            "removed": {"documents": len(removed), "tokens": sum(ma[d][1] for d in removed),
                        "by": group(removed, why_removed, lambda d: ma[d][1])},
            "added": {"documents": len(added), "tokens": sum(mb[d][1] for d in added),
                      "by": group(added, why_added, lambda d: mb[d][1])},
            "changed": {"documents": len(changed),
                        "by": group(changed, lambda d: "document changed (text or redaction)",
                                    lambda d: mb[d][1])},
            "unchanged": len(set(ma) & set(mb)) - len(changed),
            "by_source": _by_source(removed, added, info),
        }


def _by_source(removed, added, info) -> dict[str, dict[str, int]]:
    out: dict[str, Counter] = {}
    for label, docs in (("removed", removed), ("added", added)):
        for d in docs:
            slug = info.get(d, ("(unknown)",))[0]
            out.setdefault(slug, Counter())[label] += 1
    return {k: dict(v) for k, v in sorted(out.items())}
