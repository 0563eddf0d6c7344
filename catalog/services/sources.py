"""Registering and reviewing sources. Every change appends to the audit log in the same
transaction; nothing is written unless the whole command succeeds."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import insert, select

from catalog.audit import PendingEvent
from catalog.errors import AlreadyExists, InvalidInput, InvalidLicense, RegistryError
from catalog.models import (
    SOURCE_FIELDS,
    TOS_VERDICTS,
    LicenseEvidence,
    Source,
    SourceCreate,
    TosReview,
    utcnow,
)
from catalog.repositories import SourceRepository
from catalog.timeutil import iso_utc
from catalog.unit_of_work import UnitOfWork
from common.spdx import LicenseExpressionError, normalize

# Registry columns may use the CLI flag names too.
FIELD_ALIASES = {
    "license": "declared_license",
    "licence": "declared_license",
    "declared_licence": "declared_license",
    "license_url": "license_evidence_url",
    "tos_clause": "tos_quote",
    "acquired": "acquisition_date",
    "acquired_at": "acquisition_date",
}


def source_record(source: Source) -> dict[str, Any]:
    """The source as plain JSON-ready data (for `show --json` and audit before/after)."""
    dumped = source.model_dump()
    data = {c.name: dumped.get(c.name) for c in Source.__table__.columns}
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = iso_utc(value)
        elif isinstance(value, date):
            data[key] = value.isoformat()
    return data


def normalize_license(expression: str | None) -> str | None:
    if expression is None:
        return None
    try:
        return normalize(expression)
    except LicenseExpressionError as exc:
        raise InvalidLicense(str(exc), exc.suggestions) from None


def validate_source(raw: Mapping[str, Any]) -> SourceCreate:
    """Build a SourceCreate from loose input; raise InvalidInput with one line per field."""
    clean: dict[str, Any] = {}
    unknown = []
    for key, value in raw.items():
        if value is None:  # an empty cell means "not given": the field's default applies
            continue
        name = str(key).strip().lower().replace("-", "_")
        name = FIELD_ALIASES.get(name, name)
        if name not in SOURCE_FIELDS:
            unknown.append(str(key))
            continue
        clean[name] = value
    problems = [f"unknown field {k!r}" for k in unknown]
    try:
        data = SourceCreate.model_validate(clean)
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "record"
            given = err.get("input")
            shown = f" (got {given!r})" if given is not None and not isinstance(given, dict) else ""
            problems.append(f"{field.replace('_', '-')}: {err['msg']}{shown}")
        raise InvalidInput("; ".join(problems)) from None
    if problems:
        raise InvalidInput("; ".join(problems))
    data.declared_license = normalize_license(data.declared_license)
    return data


def _new_source(data: SourceCreate) -> dict[str, Any]:
    now = utcnow()
    return {**data.model_dump(), "status": "pending", "created_at": now, "updated_at": now}


def _declared_evidence(source_id: int, data: SourceCreate) -> dict[str, Any] | None:
    if not data.declared_license:
        return None
    return dict(source_id=source_id, role="declared", detector="source-registration",
                expression=data.declared_license, location=data.license_evidence_url,
                created_at=utcnow())


def register_source(uow: UnitOfWork, *, data: SourceCreate) -> Source:
    repo = SourceRepository(uow.session)
    if repo.find(data.slug) is not None:
        raise AlreadyExists(f"source {data.slug!r} already exists")
    source = Source(**_new_source(data))
    uow.session.add(source)
    uow.session.flush()
    evidence = _declared_evidence(source.id, data)
    if evidence:
        uow.session.add(LicenseEvidence(**evidence))
    if data.tos_verdict != "unknown" or data.tos_quote:
        uow.session.add(TosReview(source_id=source.id, url=data.tos_url, verdict=data.tos_verdict,
                                  quote=data.tos_quote, reviewer=uow.actor,
                                  reviewed_at=utcnow()))
    uow.audit.record("source.register", "source", source.slug, after=source_record(source))
    return source


def read_registry(path: Path) -> list[dict[str, Any]]:
    """Rows of a YAML (list, or mapping with `sources:`) or CSV registry file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    suffix = path.suffix.lower()
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames:
            raise InvalidInput(f"{path}: empty CSV (no header row)")
        rows = []
        for row in reader:
            if None in row:
                raise InvalidInput(f"{path}: line {reader.line_num}: more values than columns")
            rows.append({k: (v if v != "" else None) for k, v in row.items()})
        return rows
    if suffix in (".yaml", ".yml", ".json"):
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}: " if mark else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise InvalidInput(f"{path}: {where}invalid YAML ({problem})") from None
        if isinstance(loaded, dict) and "sources" in loaded:
            loaded = loaded["sources"]
        if not isinstance(loaded, list) or not all(isinstance(r, dict) for r in loaded):
            raise InvalidInput(f"{path}: expected a list of sources (or `sources:` with a list)")
        return loaded
    raise InvalidInput(f"{path}: unknown registry format {suffix!r}; use .yaml, .yml or .csv")


def import_sources(uow: UnitOfWork, *, path: Path) -> list[SourceCreate]:
    """Register every source of a registry file, all or nothing."""
    rows = read_registry(path)
    problems: list[str] = []
    valid: list[tuple[int, SourceCreate]] = []
    seen: dict[str, int] = {}
    offset = 2 if path.suffix.lower() == ".csv" else 1  # CSV rows start after the header
    for index, row in enumerate(rows):
        label = f"row {index + offset}"
        slug = row.get("slug")
        if slug:
            label += f" ({slug})"
        try:
            data = validate_source(row)
        except InvalidInput as exc:
            problems.append(f"{label}: {exc.message}")
            continue
        if data.slug in seen:
            problems.append(f"{label}: slug {data.slug!r} repeats row {seen[data.slug]}")
            continue
        seen[data.slug] = index + offset
        valid.append((index + offset, data))
    existing = SourceRepository(uow.session).existing_slugs(d.slug for _, d in valid)
    for row_no, data in valid:
        if data.slug in existing:
            problems.append(f"row {row_no} ({data.slug}): source {data.slug!r} already exists")
    if problems:
        raise RegistryError(str(path), problems)
    if not valid:
        raise InvalidInput(f"{path}: no sources in the file")
    creates = [d for _, d in valid]
    records = [_new_source(d) for d in creates]
    for start in range(0, len(records), 2000):
        uow.session.execute(insert(Source.__table__), records[start:start + 2000])
    ids = _ids_for(uow, [d.slug for d in creates])
    evidence = [e for d in creates if (e := _declared_evidence(ids[d.slug], d))]
    reviews = [dict(source_id=ids[d.slug], url=d.tos_url, verdict=d.tos_verdict,
                    quote=d.tos_quote, reviewer=uow.actor, reviewed_at=utcnow())
               for d in creates if d.tos_verdict != "unknown" or d.tos_quote]
    for start in range(0, len(evidence), 2000):
        uow.session.execute(insert(LicenseEvidence.__table__), evidence[start:start + 2000])
    for start in range(0, len(reviews), 2000):
        uow.session.execute(insert(TosReview.__table__), reviews[start:start + 2000])
    events = [PendingEvent("source.register", "source", rec["slug"],
                           after={**rec, "id": ids[rec["slug"]], "import_file": path.name})
              for rec in records]
    uow.audit.record_many(events)
    return creates


def _ids_for(uow: UnitOfWork, slugs: Sequence[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for start in range(0, len(slugs), 1000):
        chunk = list(slugs[start:start + 1000])
        ids.update(uow.session.execute(select(Source.slug, Source.id)
                                       .where(Source.slug.in_(chunk))).all())
    return ids


def review_source(uow: UnitOfWork, *, slug: str, verdict: str, quote: str | None,
                  reviewer: str | None, url: str | None = None,
                  snapshot_sha256: str | None = None) -> TosReview:
    if verdict not in TOS_VERDICTS:
        raise InvalidInput(f"unknown ToS verdict {verdict!r}; expected one of "
                           f"{', '.join(TOS_VERDICTS)}")
    source = SourceRepository(uow.session).get(slug)
    before = source_record(source)
    review = TosReview(source_id=source.id, url=url or source.tos_url,
                       snapshot_sha256=snapshot_sha256, verdict=verdict, quote=quote,
                       reviewer=reviewer or uow.actor, reviewed_at=utcnow())
    uow.session.add(review)
    source.tos_verdict = verdict
    if quote:
        source.tos_quote = quote
    if url:
        source.tos_url = url
    source.updated_at = utcnow()
    uow.session.add(source)
    uow.session.flush()
    uow.audit.record("source.review", "source", slug, before=before,
                     after={**source_record(source), "reviewer": review.reviewer})
    return review


def set_source_status(uow: UnitOfWork, *, slug: str, status: str, reason: str) -> Source:
    if not reason or not reason.strip():
        raise InvalidInput("a reason is required (--reason)")
    source = SourceRepository(uow.session).get(slug)
    before = source_record(source)
    source.status = status
    source.status_reason = reason.strip()
    source.updated_at = utcnow()
    uow.session.add(source)
    uow.session.flush()
    action = {"approved": "source.approve", "rejected": "source.reject"}[status]
    uow.audit.record(action, "source", slug, before=before, after=source_record(source))
    return source


def source_details(uow: UnitOfWork, *, slug: str) -> dict[str, Any]:
    repo = SourceRepository(uow.session)
    source = repo.get(slug)
    return {
        "source": source_record(source),
        "license_evidence": [
            {"role": e.role, "detector": e.detector, "expression": e.expression,
             "score": e.score, "location": e.location} for e in repo.evidence(source.id)
        ],
        "tos_reviews": [
            {"verdict": r.verdict, "quote": r.quote, "reviewer": r.reviewer, "url": r.url,
             "reviewed_at": iso_utc(r.reviewed_at)} for r in repo.reviews(source.id)
        ],
        "counts": repo.counts(source.id),
        "history": [
            {"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action}
            for e in repo.history(slug)
        ],
    }
