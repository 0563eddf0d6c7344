"""All catalog tables, and the data models that cross the service boundary.

Table models hold what is stored; data models (`SourceCreate`, ...) hold what a caller may
send and are validated; they never inherit from a table model. Types are portable: the same
migrations run on SQLite and Postgres (strings for enumerations, JSON for open-ended maps).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from pydantic import field_validator
from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from catalog.vocabulary import (  # noqa: F401  (the source enumerations, named here too)
    PERSONAL_DATA,
    ROBOTS_HANDLING,
    SOURCE_KINDS,
    SOURCE_STATUSES,
    TOS_VERDICTS,
    PersonalData,
    RobotsHandling,
    SourceKind,
    TosVerdict,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(**kw: Any) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), **kw))


# --------------------------------------------------------------------------- sources


class SourceFields(SQLModel):
    """The free-text fields a source has both as a row and as what registering one takes."""

    title: str | None = None
    uri: str | None = None
    steward: str | None = None
    acquisition_method: str | None = None
    acquisition_date: date | None = None
    declared_license: str | None = None
    license_evidence_url: str | None = None
    tos_url: str | None = None
    jurisdiction: str | None = None


class Source(SourceFields, table=True):
    __tablename__ = "sources"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(index=True, unique=True, max_length=100)
    kind: str = Field(max_length=20)
    tos_verdict: str = Field(default="unknown", max_length=30)
    tos_quote: str | None = Field(default=None, sa_column=Column(Text))
    robots_handling: str = Field(default="unknown", max_length=20)
    personal_data: str = Field(default="unknown", max_length=10)
    status: str = Field(default="pending", max_length=10)
    status_reason: str | None = None
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class SourceCreate(SourceFields):
    """What registering a source takes: the enumerations as their Literal types, validated.
    Licence normalisation happens in the service."""

    slug: str
    kind: SourceKind
    tos_verdict: TosVerdict = "unknown"
    tos_quote: str | None = None
    robots_handling: RobotsHandling = "unknown"
    personal_data: PersonalData = "unknown"

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        import re

        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,99}", value or ""):
            raise ValueError(
                "must be 1-100 characters of a-z, 0-9, '.', '_', '-', starting with a letter "
                "or digit"
            )
        return value

    @field_validator(
        "title", "uri", "steward", "acquisition_method", "declared_license",
        "license_evidence_url", "tos_url", "tos_quote", "jurisdiction", mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value


SOURCE_FIELDS = tuple(SourceCreate.model_fields)


class LicenseEvidence(SQLModel, table=True):
    """One licence statement and where it came from: declared by the source, or found."""

    __tablename__ = "license_evidence"

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="sources.id", index=True)
    document_id: str | None = Field(default=None, index=True, max_length=200)
    run_id: int | None = Field(default=None, foreign_key="runs.id")
    role: str = Field(max_length=20)  # declared | finding | concluded
    detector: str = Field(max_length=60)
    detector_version: str | None = None
    expression: str
    score: float | None = None
    location: str | None = None  # file path or URL
    matched_text_sha256: str | None = Field(default=None, max_length=64)
    raw: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = _ts(nullable=False)


class TosReview(SQLModel, table=True):
    __tablename__ = "tos_reviews"

    id: int | None = Field(default=None, primary_key=True)
    source_id: int | None = Field(default=None, foreign_key="sources.id", index=True)
    host_id: int | None = Field(default=None, foreign_key="hosts.id", index=True)
    url: str | None = None
    snapshot_sha256: str | None = Field(default=None, max_length=64)
    verdict: str = Field(max_length=30)
    quote: str | None = Field(default=None, sa_column=Column(Text))
    reviewer: str
    reviewed_at: datetime = _ts(nullable=False)


# --------------------------------------------------------------------------- hosts & consent


class Host(SQLModel, table=True):
    __tablename__ = "hosts"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=255)
    created_at: datetime = _ts(nullable=False)


class RobotsSnapshot(SQLModel, table=True):
    """A dated copy of a host's robots.txt (or tdmrep.json / ai.txt), with its HTTP status."""

    __tablename__ = "robots_snapshots"
    __table_args__ = (
        UniqueConstraint("host_id", "kind", "fetched_at", "sha256", name="uq_robots_snapshot"),
    )

    id: int | None = Field(default=None, primary_key=True)
    host_id: int = Field(foreign_key="hosts.id", index=True)
    kind: str = Field(default="robots.txt", max_length=20)
    fetched_at: datetime = _ts(nullable=False)
    status: int = 200
    content: str = Field(default="", sa_column=Column(Text, nullable=False))
    sha256: str = Field(max_length=64)
    origin: str = Field(max_length=20)  # crawl | user
    source_id: int | None = Field(default=None, foreign_key="sources.id")
    run_id: int | None = Field(default=None, foreign_key="runs.id")
    created_at: datetime = _ts(nullable=False)


# --------------------------------------------------------------------------- documents & shards


class Document(SQLModel, table=True):
    """The index row of one document: identity, provenance and sizes — never the text."""

    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_source_host", "source_id", "host"),)

    id: str = Field(primary_key=True, max_length=200)  # <source-slug>/<hash of native id>
    # Indexed through ix_documents_source_host, whose first column it is.
    source_id: int = Field(foreign_key="sources.id")
    native_id: str
    url: str | None = None
    host: str | None = Field(default=None, max_length=255)
    content_sha256: str = Field(max_length=64, index=True)
    n_bytes: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    n_tokens: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    collected_at: datetime | None = _ts(nullable=True)
    created_at: datetime | None = _ts(nullable=True)
    declared_license: str | None = None
    concluded_license: str | None = None
    shard_id: int | None = Field(default=None, foreign_key="shards.id", index=True)
    shard_row: int | None = None
    run_id: int | None = Field(default=None, foreign_key="runs.id")
    # The document's own rights signals (HTTP headers, HTML meta) as JSON, null when none;
    # host-level files (robots.txt, tdmrep.json, ai.txt) are joined in at decision time.
    consent_signals: str | None = Field(default=None, sa_column=Column(Text))
    # Uses reserved for everyone by the document's own signals, comma-separated ("" = none).
    reserved_uses: str | None = Field(default=None, max_length=100)


class Shard(SQLModel, table=True):
    __tablename__ = "shards"

    id: int | None = Field(default=None, primary_key=True)
    source_id: int | None = Field(default=None, foreign_key="sources.id", index=True)
    run_id: int | None = Field(default=None, foreign_key="runs.id", index=True)
    kind: str = Field(max_length=20)  # documents | attributes | decisions
    stage: str | None = Field(default=None, max_length=40)
    path: str = Field(unique=True)  # relative to the data root, or an fsspec URL
    sha256: str = Field(max_length=64)
    n_docs: int = 0
    n_bytes: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = _ts(nullable=False)


class Run(SQLModel, table=True):
    __tablename__ = "runs"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)  # ingest | gate | process | release
    source_id: int | None = Field(default=None, foreign_key="sources.id", index=True)
    policy_id: int | None = Field(default=None, foreign_key="policies.id", index=True)
    status: str = Field(default="running", max_length=20)
    actor: str
    started_at: datetime = _ts(nullable=False)
    finished_at: datetime | None = _ts(nullable=True)
    code_version: str | None = None
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    stats: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class QuarantineRecord(SQLModel, table=True):
    """An input record that could not be read: kept with where it was and why."""

    __tablename__ = "quarantine"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id", index=True)
    source_id: int = Field(foreign_key="sources.id", index=True)
    file: str
    location: str
    reason: str = Field(max_length=60)
    detail: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = _ts(nullable=False)


# --------------------------------------------------------------------------- policies


class StoredPolicy(SQLModel, table=True):
    """A policy file, verbatim, with its hash; name + version identify it for good."""

    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_policy_name_version"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, index=True)
    version: str = Field(max_length=40)
    sha256: str = Field(max_length=64)
    text: str = Field(sa_column=Column(Text, nullable=False))
    intended_use: str = Field(max_length=20)
    jurisdiction: str | None = Field(default=None, max_length=20)
    actor: str
    created_at: datetime = _ts(nullable=False)


class DecisionCount(SQLModel, table=True):
    """Per run, stage and rule: how many documents and tokens got which effect."""

    __tablename__ = "decision_counts"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id", index=True)
    stage: str = Field(max_length=20)
    rule_id: str = Field(max_length=100)  # "(default)" when the stage default applied
    effect: str = Field(max_length=30)
    documents: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    tokens: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class OptOutRequest(SQLModel, table=True):
    """A rights holder's request to leave the corpus; applied when the next release is cut."""

    __tablename__ = "optout_requests"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)  # domain | url-prefix | doc-id | content-sha256
    value: str = Field(index=True)
    requester: str
    received_at: datetime = _ts(nullable=False)
    status: str = Field(default="open", max_length=20)  # open | withdrawn
    note: str | None = Field(default=None, sa_column=Column(Text))
    actor: str
    created_at: datetime = _ts(nullable=False)


# --------------------------------------------------------------------------- audit


class AuditEvent(SQLModel, table=True):
    """One event of the append-only, hash-chained audit log.

    `before`/`after` are canonical JSON text (not a JSON column) so that the bytes hashed
    are the bytes stored, on every database.
    """

    __tablename__ = "audit_events"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: str = Field(max_length=40)  # ISO 8601 UTC, as hashed
    actor: str
    action: str = Field(max_length=60, index=True)
    entity_type: str = Field(max_length=40)
    entity_id: str = Field(max_length=200)
    before: str | None = Field(default=None, sa_column=Column(Text))
    after: str | None = Field(default=None, sa_column=Column(Text))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


Index("ix_audit_entity", AuditEvent.entity_type, AuditEvent.entity_id)  # type: ignore[arg-type]


class AuditHead(SQLModel, table=True):
    """The chain's last link, so that deleting the newest events is detected too."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = Field(max_length=64)


# --------------------------------------------------------------------------- releases


class Release(SQLModel, table=True):
    """A released corpus: the kept documents of one processing run, in a folder of its own
    whose manifest proves what is in it (docs/release-format.md)."""

    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_release_name_version"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, index=True)
    version: str = Field(max_length=40)
    description: str | None = Field(default=None, sa_column=Column(Text))
    run_id: int = Field(foreign_key="runs.id", index=True)  # the processing run released
    cut_run_id: int | None = Field(default=None, foreign_key="runs.id")  # the cut itself
    path: str  # relative to the data root
    manifest_sha256: str = Field(max_length=64)
    merkle_root: str = Field(max_length=64)
    documents: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    tokens: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    n_bytes: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    audit_seq: int = 0
    audit_hash: str = Field(default="", max_length=64)
    optouts_up_to: datetime = _ts(nullable=False)
    signature_sha256: str | None = Field(default=None, max_length=64)
    signed_at: datetime | None = _ts(nullable=True)
    actor: str
    created_at: datetime = _ts(nullable=False)


class ReleaseFile(SQLModel, table=True):
    __tablename__ = "release_files"

    id: int | None = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="releases.id", index=True)
    path: str  # relative to the release folder
    kind: str = Field(max_length=20)  # data | index | decisions | excluded
    sha256: str = Field(max_length=64)
    n_bytes: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    documents: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    tokens: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class ReleaseMember(SQLModel, table=True):
    """Document → release: which releases hold a document, with the text hash released."""

    __tablename__ = "release_members"

    release_id: int = Field(foreign_key="releases.id", primary_key=True)
    document_id: str = Field(primary_key=True, max_length=200, index=True)
    content_sha256: str = Field(max_length=64)
    n_tokens: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class ReleaseExclusion(SQLModel, table=True):
    """A document the run kept that the cut left out (an opt-out received after the run)."""

    __tablename__ = "release_exclusions"

    id: int | None = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="releases.id", index=True)
    document_id: str = Field(max_length=200, index=True)
    reason: str = Field(max_length=40)
    request_ids: str | None = None  # comma-separated opt-out request ids ("optout-3,optout-7")


# --------------------------------------------------------------------------- mixtures


class StoredReviewPolicy(SQLModel, table=True):
    """A review policy (policies/review.py), verbatim, with its hash; name + version for good."""

    __tablename__ = "review_policies"
    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_review_policy_name_version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, index=True)
    version: str = Field(max_length=40)
    sha256: str = Field(max_length=64)
    text: str = Field(sa_column=Column(Text, nullable=False))
    intended_use: str = Field(max_length=20)
    actor: str
    created_at: datetime = _ts(nullable=False)


class Mixture(SQLModel, table=True):
    """A weighted set of releases with an intended use, reviewed before it trains a model."""

    __tablename__ = "mixtures"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True, index=True)
    description: str | None = Field(default=None, sa_column=Column(Text))
    intended_use: str = Field(max_length=20)
    jurisdiction: str = Field(max_length=20)
    # The review policy's name: each review uses its newest stored version (or the pack's).
    review_policy: str = Field(max_length=100)
    actor: str
    created_at: datetime = _ts(nullable=False)


class MixtureComponent(SQLModel, table=True):
    """One release of a mixture and its sampling weight (epochs over the release)."""

    __tablename__ = "mixture_components"
    __table_args__ = (
        UniqueConstraint("mixture_id", "release_name", name="uq_mixture_component_release"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mixture_id: int = Field(foreign_key="mixtures.id", index=True)
    position: int = 0
    release_name: str = Field(max_length=100)
    release_version: str | None = Field(default=None, max_length=40)  # None: the newest
    weight: float = 1.0


class MixtureReview(SQLModel, table=True):
    """A review as signed off: the document (canonical JSON), its sha256, and the state of
    the catalog it saw (`basis`), against which a sign-off is later found stale."""

    __tablename__ = "mixture_reviews"
    __table_args__ = (UniqueConstraint("mixture_id", "sha256", name="uq_mixture_review_sha256"),)

    id: int | None = Field(default=None, primary_key=True)
    mixture_id: int = Field(foreign_key="mixtures.id", index=True)
    sha256: str = Field(max_length=64)
    verdict: str = Field(max_length=20)
    review_policy_id: int = Field(foreign_key="review_policies.id")
    basis: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    document: str = Field(sa_column=Column(Text, nullable=False))
    actor: str
    created_at: datetime = _ts(nullable=False)


class MixtureSignoff(SQLModel, table=True):
    """A reviewer's decision on a review; an approval of a blocked review carries the
    reason it was overridden."""

    __tablename__ = "mixture_signoffs"

    id: int | None = Field(default=None, primary_key=True)
    mixture_id: int = Field(foreign_key="mixtures.id", index=True)
    review_id: int = Field(foreign_key="mixture_reviews.id")
    decision: str = Field(max_length=30)  # approve | reject | approve-with-conditions
    note: str = Field(sa_column=Column(Text, nullable=False))
    conditions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    override_reason: str | None = Field(default=None, sa_column=Column(Text))
    actor: str
    created_at: datetime = _ts(nullable=False)


# --------------------------------------------------------------------------- web accounts


class User(SQLModel, table=True):
    """An account of the web interface (docs/web.md): a role and an argon2 password hash."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True, index=True)
    role: str = Field(max_length=20)  # viewer | reviewer | admin
    password_hash: str = Field(max_length=200)
    actor: str  # who created the account
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


# --------------------------------------------------------------------------- decontamination


class DecontamSet(SQLModel, table=True):
    """An evaluation set registered for decontamination (`govcat decontam add`): the file it
    came from by sha256, how its n-grams were made, and where its hashed n-gram index is."""

    __tablename__ = "decontam_sets"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True, index=True)
    file_name: str  # the file as given, for people; the sha256 is what identifies it
    file_sha256: str = Field(max_length=64)
    fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    n: int = 13
    normalisation: str = Field(max_length=40)
    examples: int = 0
    skipped_short: int = 0  # examples with fewer than n tokens (they cannot match)
    ngrams: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    index_path: str  # relative to the data root
    index_sha256: str = Field(max_length=64)
    actor: str
    created_at: datetime = _ts(nullable=False)
