"""Registering and reviewing sources. Every change appends to the audit log in the same
transaction; nothing is written unless the whole command succeeds."""

from __future__ import annotations

import csv
import io
import reprlib
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

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
from common import yamlsafe
from common.spdx import MAX_EXPRESSION_CHARS, LicenseExpressionError, normalize

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

# Characters a free-text field may hold: ample for any real value, and bounded so that no field
# slows what reads it back (the declared licence is parsed again for each document ingested).
FIELD_LIMITS = {
    "slug": 100, "title": 500, "uri": 2000, "steward": 500, "acquisition_method": 500,
    "declared_license": MAX_EXPRESSION_CHARS, "license_evidence_url": 2000, "tos_url": 2000,
    "tos_quote": 20_000, "jurisdiction": 100, "status_reason": 2000,
}
# The fields that may span lines; in any other a line break means a quote left open in a CSV.
MULTILINE_FIELDS = frozenset({"tos_quote", "status_reason"})
_SHOWN_CHARS = 100


def shown(value: Any) -> str:
    """`repr(value)` cut to about 100 characters, never rendering more of it than that."""
    short = reprlib.Repr()
    short.maxstring = short.maxother = _SHOWN_CHARS
    short.maxlist = short.maxtuple = short.maxdict = short.maxset = 10
    short.maxlevel = 3
    text = short.repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…"


def field_problem(name: str, value: Any) -> str | None:
    """Why a free-text field's value is refused (too long, a line break where none belongs)."""
    if not isinstance(value, str) or name not in FIELD_LIMITS:
        return None
    text = value.strip()
    if len(text) > FIELD_LIMITS[name]:
        return (f"{name.replace('_', '-')}: {len(text):,} characters, over the limit of "
                f"{FIELD_LIMITS[name]:,}")
    if name not in MULTILINE_FIELDS and ("\n" in text or "\r" in text):
        line = text.replace("\r", "\n").split("\n", 1)[0]
        return f"{name.replace('_', '-')}: a line break after {shown(line)} (one line expected)"
    return None


def _check_fields(**values: Any) -> None:
    problems = [p for name, value in values.items() if (p := field_problem(name, value))]
    if problems:
        raise InvalidInput("; ".join(problems))


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
    problems = [f"unknown field {shown(str(k))}" for k in unknown]
    refused = set()
    for name, value in clean.items():
        if (problem := field_problem(name, value)) is not None:
            problems.append(problem)
            refused.add(name)
    try:
        data = SourceCreate.model_validate(clean)
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "record"
            if field not in refused:  # said once, by field_problem
                given = err.get("input")
                got = (f" (got {shown(given)})"
                       if given is not None and not isinstance(given, dict) else "")
                problems.append(f"{field.replace('_', '-')}: {err['msg']}{got}")
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


def read_registry(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """Rows of a YAML (list, or mapping with `sources:`) or CSV registry file, each with its
    row number: the line it starts on in a CSV (the header is line 1), its position in YAML."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_rows(path, text)
    if suffix in (".yaml", ".yml", ".json"):
        try:
            loaded = yamlsafe.load(text)
        except yamlsafe.YamlError as exc:
            where = f"line {exc.line}: " if exc.line else ""
            raise InvalidInput(f"{path}: {where}invalid YAML ({exc.problem})") from None
        if isinstance(loaded, dict) and "sources" in loaded:
            loaded = loaded["sources"]
        if not isinstance(loaded, list) or not all(isinstance(r, dict) for r in loaded):
            raise InvalidInput(f"{path}: expected a list of sources (or `sources:` with a list)")
        return list(enumerate(loaded, start=1))
    raise InvalidInput(f"{path}: unknown registry format {suffix!r}; use .yaml, .yml or .csv")


def _csv_rows(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    """A CSV registry's rows, numbered as a spreadsheet shows them (the header is row 1).

    One malformed row (a quote left open, a stray quote, more or fewer values than columns)
    refuses the file: every row after it may be misread."""
    reader = csv.reader(io.StringIO(text), strict=True)
    rows: list[tuple[int, dict[str, Any]]] = []
    header: list[str] | None = None
    while True:
        number, start = len(rows) + (2 if header else 1), reader.line_num + 1
        where = f"row {number} (line {start})"
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            opened = (f"; a quote opened there is still open at line {reader.line_num}"
                      if reader.line_num > start else "")
            raise InvalidInput(f"{path}: {where}: malformed CSV ({exc}){opened}; nothing "
                               "imported") from None
        if not any(v.strip() for v in values):
            continue  # a blank line
        if header is None:
            header = [v.strip() for v in values]
            continue
        if len(values) != len(header):
            more = "more" if len(values) > len(header) else "fewer"
            raise InvalidInput(f"{path}: {where}: {len(values)} values for {len(header)} "
                               f"columns ({more} values than columns); nothing imported")
        rows.append((number, {k: (v if v != "" else None)
                              for k, v in zip(header, values, strict=True)}))
    if header is None:
        raise InvalidInput(f"{path}: empty CSV (no header row)")
    return rows


def import_sources(uow: UnitOfWork, *, path: Path) -> list[SourceCreate]:
    """Register every source of a registry file, all or nothing."""
    rows = read_registry(path)
    problems: list[str] = []
    valid: list[tuple[int, SourceCreate]] = []
    seen: dict[str, int] = {}
    for number, row in rows:
        label = f"row {number}"
        slug = row.get("slug")
        if slug:
            label += f" ({slug if isinstance(slug, str) and len(slug) <= 100 else shown(slug)})"
        try:
            data = validate_source(row)
        except InvalidInput as exc:
            problems.append(f"{label}: {exc.message}")
            continue
        if data.slug in seen:
            problems.append(f"{label}: slug {data.slug!r} repeats row {seen[data.slug]}")
            continue
        seen[data.slug] = number
        valid.append((number, data))
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
        raise InvalidInput(f"unknown ToS verdict {shown(verdict)}; expected one of "
                           f"{', '.join(TOS_VERDICTS)}")
    _check_fields(tos_quote=quote, tos_url=url)
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
    _check_fields(status_reason=reason)
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
