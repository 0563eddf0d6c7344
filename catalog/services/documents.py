"""Finding documents: `govcat docs list`.

Filters on the index (source, host, licence, collection time) go to SQL; filters on a run's
decisions (stage, effect, rule) and on its language attributes stay on their Parquet files,
which DuckDB reads and filters where they lie. The two are joined in id order one page at a
time (keyset pagination on the document id), so the first page costs a few small queries
however many documents match:

- each round takes the next K matching ids from each side (both are sorted by id), resolves
  everything up to the sparser side's K-th id — by intersecting the two chunks and probing the
  denser side with the sparser side's remaining ids — and quadruples K until the page is full;
- with no index filter every id from the Parquet side is only checked against the index.

Order is byte order of the id everywhere (Python, DuckDB, SQLite and the decision logs sort
that way). On Postgres the primary key serves it when the database collation is C / C.UTF-8;
under any other collation the id comparisons are made `COLLATE "C"`, still correct but
without the index's help.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.sql import ColumnElement

from catalog.context import Catalog
from catalog.errors import IntegrityError, InvalidInput, InvalidLicense, NotFound
from catalog.models import Document, Run, Shard, Source
from catalog.repositories import SourceRepository
from catalog.timeutil import iso_utc
from common.storage import duckdb_files
from policies.model import EFFECTS, STAGES
from policies.taxonomy import USE_ORDER

DEFAULT_LIMIT = 50
MAX_LIMIT = 10_000
LICENSE_CLASSES: tuple[str, ...] = USE_ORDER
_FIRST_CHUNK = 256
_MAX_CHUNK = 65_536
_IN_CHUNK = 5_000  # ids per IN (...) list: under SQLite's and psycopg's parameter limits
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})*")
_BYTE_ORDER_COLLATIONS = {"c", "posix", "c.utf-8", "c.utf8", "ucs_basic"}
_END = None  # a side that has no more ids


@dataclass(frozen=True)
class DocumentFilter:
    """What to look for; empty fields do not filter. Dates: after inclusive, before exclusive."""

    sources: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    license: str | None = None  # an SPDX expression, or one of LICENSE_CLASSES
    languages: tuple[str, ...] = ()
    run: int | None = None
    stage: str | None = None
    effect: str | None = None
    rule: str | None = None
    collected_after: datetime | None = None
    collected_before: datetime | None = None


@dataclass
class DocumentPage:
    documents: list[dict[str, Any]]
    limit: int
    after: str | None
    next_after: str | None  # the cursor of the next page, None on the last page
    filters: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"documents": self.documents, "count": len(self.documents), "limit": self.limit,
                "after": self.after, "next_after": self.next_after, "filters": self.filters}


# --------------------------------------------------------------------------- validation


def _split(values: Sequence[str]) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for value in values:
        for part in value.split(","):
            if part.strip():
                out[part.strip()] = None
    return tuple(out)


def _license_spec(value: str) -> tuple[str, str]:
    """("class", use) or ("expression", normalised SPDX expression)."""
    from common.spdx import LicenseExpressionError, normalize

    wanted = value.strip()
    if wanted.lower() in LICENSE_CLASSES:
        return "class", wanted.lower()
    try:
        return "expression", normalize(wanted)
    except LicenseExpressionError as exc:
        close = difflib.get_close_matches(wanted.lower(), LICENSE_CLASSES, n=1, cutoff=0.75)
        if close:
            raise InvalidInput(f"--license {value!r}: unknown licence class; did you mean "
                               f"{close[0]}? Classes are {', '.join(LICENSE_CLASSES)}") from None
        raise InvalidLicense(f"--license: {exc} (or a licence class: "
                             f"{', '.join(LICENSE_CLASSES)})", exc.suggestions) from None


def _check(filters: DocumentFilter, limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"--limit {limit}: expected 1 to {MAX_LIMIT:,}")
    if filters.run is None:
        for name, value in (("--stage", filters.stage), ("--effect", filters.effect),
                            ("--rule", filters.rule)):
            if value is not None:
                raise InvalidInput(f"{name} needs --run N: the run whose decisions to filter")
    if filters.stage is not None and filters.stage not in STAGES:
        raise InvalidInput(f"--stage {filters.stage!r}: stages are {', '.join(STAGES)}")
    if filters.effect is not None:
        stages = [filters.stage] if filters.stage else list(STAGES)
        allowed = list(dict.fromkeys(e for s in stages for e in EFFECTS[s]))
        if filters.effect not in allowed:
            where = f"stage {filters.stage}" if filters.stage else "any stage"
            raise InvalidInput(f"--effect {filters.effect!r}: effects of {where} are "
                               f"{', '.join(allowed)}")
    for code in filters.languages:
        if not _LANGUAGE.fullmatch(code.lower()):
            raise InvalidInput(f"--language {code!r}: expected an ISO 639 code such as en, de, zh")
    a, b = filters.collected_after, filters.collected_before
    if a is not None and b is not None and a >= b:
        raise InvalidInput(f"--collected-after {iso_utc(a)} is not before --collected-before "
                           f"{iso_utc(b)}")


# --------------------------------------------------------------------------- the Parquet side


_engines = None


def _duckdb():
    """The process's in-memory DuckDB (starting one costs ~30 ms; a cursor on it, nothing)."""
    global _engines
    import duckdb  # here, not at import: the CLI starts without it

    if _engines is None:
        from processing.stage import ProcessLocal

        _engines = ProcessLocal()
    return _engines.get("duckdb", duckdb.connect)


def _bounds(*, lo: str | None = None, ids: Sequence[str] | None = None
            ) -> tuple[list[str], list[Any]]:
    """DuckDB conditions on the id: after a cursor, or among sorted ids (whose range lets
    DuckDB skip the row groups of a sorted file that cannot hold them)."""
    if ids is not None:
        return (["id BETWEEN ? AND ?", "id IN (SELECT unnest(?::VARCHAR[]))"],
                [ids[0], ids[-1], list(ids)])
    if lo is not None:
        return ["id > ?"], [lo]
    return [], []


class _Parquet:
    """Matching ids from a run's decision logs and langid attributes, through DuckDB."""

    def __init__(self, decisions: list[tuple[str, str]], effect: str | None, rule: str | None,
                 lang_files: list[str], languages: tuple[str, ...]):
        self.decisions = decisions  # (stage, file), one file per stage
        self.effect = effect
        self.rule = rule
        self.lang_files = lang_files
        self.languages = languages
        self._con = _duckdb().cursor()
        # Files on an object store: DuckDB reads them through the store's fsspec filesystem.
        duckdb_files(self._con, [*(path for _, path in decisions), *lang_files])

    def close(self) -> None:
        self._con.close()

    def _conditions(self, bounds: tuple[list[str], list[Any]]) -> tuple[str, list[Any]]:
        conditions, values = bounds
        where, params = list(conditions), list(values)
        if self.effect is not None:
            where.append("effect = ?")
            params.append(self.effect)
        if self.rule is not None:
            where.append("list_contains(rule_ids, ?)")
            params.append(self.rule)
        return " AND ".join(where) or "true", params

    def _languages(self, bounds: tuple[list[str], list[Any]], columns: str) -> tuple[str, list]:
        conditions, values = bounds
        marks = ", ".join("?" for _ in self.languages)
        where = " AND ".join([f"lang IN ({marks})", *conditions])
        return (f"SELECT {columns} FROM read_parquet(?) WHERE {where}",
                [self.lang_files, *self.languages, *values])

    def _ids(self, bounds: tuple[list[str], list[Any]], limit: int | None) -> list[str]:
        top = f" ORDER BY id LIMIT {int(limit)}" if limit else ""
        if not self.decisions:
            sql, params = self._languages(bounds, "id")
            return [row[0] for row in self._con.execute(sql + top, params).fetchall()]
        head, params = "", []
        where, values = self._conditions(bounds)
        if self.lang_files:
            # Read once, whatever the number of stages; each stage's log is semi-joined to it.
            lang_sql, params = self._languages(bounds, "id")
            head = f"WITH lang AS MATERIALIZED ({lang_sql}) "
            where += " AND id IN (SELECT id FROM lang)"
        # Each log is sorted and holds a document once, so the first K ids of the union are
        # among the first K of each log: a top-K per log lets DuckDB stop early in each file.
        parts = []
        for _, path in self.decisions:
            parts.append(f"(SELECT id FROM read_parquet(?) WHERE {where}{top})")
            params += [path, *values]
        union = " UNION ALL ".join(parts)
        if len(parts) > 1:
            union = f"SELECT DISTINCT id FROM ({union})"
        sql = f"{head}SELECT id FROM ({union}){top or ' ORDER BY id'}"
        return [row[0] for row in self._con.execute(sql, params).fetchall()]

    def next(self, after: str | None, k: int) -> list[str]:
        return self._ids(_bounds(lo=after), k)

    def probe(self, ids: Sequence[str]) -> list[str]:
        """Which of these sorted ids match, in order."""
        found: list[str] = []
        for start in range(0, len(ids), _MAX_CHUNK):
            found += self._ids(_bounds(ids=ids[start:start + _MAX_CHUNK]), None)
        return found

    def annotate(self, ids: Sequence[str]) -> tuple[dict[str, list[dict[str, Any]]],
                                                   dict[str, tuple[str, float | None]]]:
        """The matching decisions and the language of a page's documents."""
        decided: dict[str, list[dict[str, Any]]] = {}
        langs: dict[str, tuple[str, float | None]] = {}
        if not ids:
            return decided, langs
        bounds = _bounds(ids=sorted(ids))
        if self.decisions:
            where, values = self._conditions(bounds)
            # The stage comes from the catalog's shard row, so logs older than the `stage`
            # column read the same; only id, effect and rule_ids are read from the files.
            parts, params = [], []
            for stage, path in self.decisions:
                parts.append("SELECT id, ?::VARCHAR AS stage, effect, rule_ids "
                             f"FROM read_parquet(?) WHERE {where}")
                params += [stage, path, *values]
            sql = " UNION ALL ".join(parts)
            for doc_id, stage, effect, rules in self._con.execute(sql, params).fetchall():
                decided.setdefault(doc_id, []).append(
                    {"stage": stage, "effect": effect, "rule_ids": list(rules or [])})
            for rows in decided.values():
                rows.sort(key=lambda r: STAGES.index(r["stage"]))
        if self.lang_files:
            sql, params = self._languages(bounds, "id, lang, lang_score")
            for doc_id, lang, score in self._con.execute(sql, params).fetchall():
                langs[doc_id] = (lang, score)
        return decided, langs


# --------------------------------------------------------------------------- the index side


_T = Document.__table__
_COLUMNS = ("id", "source_id", "url", "host", "collected_at", "declared_license",
            "concluded_license", "n_tokens", "n_bytes", "content_sha256")


class _Index:
    """Index rows matching the SQL filters, by id in byte order."""

    def __init__(self, conn, conditions: list[ColumnElement]):
        self.conn = conn
        self.conditions = conditions
        self.key = _T.c.id
        if conn.dialect.name == "postgresql" and not _byte_order(conn):
            self.key = _T.c.id.collate("C")

    @property
    def filters(self) -> bool:
        return bool(self.conditions)

    def _after(self, after: str | None) -> list[ColumnElement]:
        return [*self.conditions, *([self.key > after] if after is not None else [])]

    def rows(self, after: str | None, limit: int) -> list[dict[str, Any]]:
        stmt = (select(*[_T.c[c] for c in _COLUMNS]).where(*self._after(after))
                .order_by(self.key).limit(limit))
        return [dict(zip(_COLUMNS, row, strict=True)) for row in self.conn.execute(stmt)]

    def next(self, after: str | None, k: int) -> list[str]:
        stmt = select(_T.c.id).where(*self._after(after)).order_by(self.key).limit(k)
        return list(self.conn.execute(stmt).scalars())

    def probe(self, ids: Sequence[str]) -> list[str]:
        found: list[str] = []
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = list(ids[start:start + _IN_CHUNK])
            found += self.conn.execute(
                select(_T.c.id).where(_T.c.id.in_(chunk), *self.conditions)).scalars()
        return sorted(found)

    def fetch(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        stmt = select(*[_T.c[c] for c in _COLUMNS]).where(_T.c.id.in_(list(ids)))
        rows = [dict(zip(_COLUMNS, row, strict=True)) for row in self.conn.execute(stmt)]
        return sorted(rows, key=lambda r: r["id"])


def _byte_order(conn) -> bool:
    collation = conn.execute(text(
        "SELECT datcollate FROM pg_database WHERE datname = current_database()")).scalar()
    return str(collation).lower() in _BYTE_ORDER_COLLATIONS


def _effective_license() -> ColumnElement:
    # The licence the policies decide on: the concluded one, else the declared one.
    return func.coalesce(_T.c.concluded_license, _T.c.declared_license)


def _license_condition(conn, spec: tuple[str, str], scope: list[ColumnElement],
                       taxonomy) -> ColumnElement | None:
    """The index condition for a licence or a licence class; None when no document has it.

    An expression matches stored ones that are equivalent to it (`MIT OR Apache-2.0` finds
    `apache-2.0 or mit`); a class matches what the taxonomy puts in it. Either way only the
    distinct stored values are examined (a handful per source), never every row.
    """
    from common.spdx import LicenseExpressionError, is_equivalent

    kind, wanted = spec
    lic = _effective_license()
    values: list[str] = []
    with_null = False
    for (value,) in conn.execute(select(lic).where(*scope).distinct()):
        if kind == "class":
            try:
                use = taxonomy.classify(value or "LicenseRef-Unknown").use
            except LicenseExpressionError:
                use = "unspecified"  # nothing can be relied on in an unparseable expression
            hit = use == wanted
        else:
            hit = value is not None and is_equivalent(value, wanted)
        if hit and value is None:
            with_null = True
        elif hit:
            values.append(value)
    if not values and not with_null:
        return None
    condition = lic.in_(values) if values else None
    if with_null:
        condition = lic.is_(None) if condition is None else condition | lic.is_(None)
    return condition


# --------------------------------------------------------------------------- resolving runs


def _decision_files(catalog: Catalog, session, run: Run, stage: str | None
                    ) -> list[tuple[str, str]]:
    if run.kind not in ("gate", "process"):
        raise InvalidInput(f"run {run.id} is a {run.kind} run; only gate and process runs "
                           "have decisions")
    gate_run = run.config.get("gate_run") if run.kind == "process" else None
    owners = [run.id, *([int(gate_run)] if gate_run is not None else [])]
    shards = {(s.run_id, s.stage): s.path for s in session.execute(
        select(Shard).where(Shard.kind == "decisions", Shard.run_id.in_(owners))).scalars()}
    files = []
    for s in [stage] if stage else STAGES:
        owner = int(gate_run) if (s == "admission" and gate_run is not None) else run.id
        path = shards.get((owner, s))
        if path is not None:
            files.append((s, _existing(catalog, path, run.id)))
    if not files:
        what = f"{stage} decisions" if stage else "decisions"
        via = (f" (its admission is gate run {gate_run})"
               if stage == "admission" and gate_run is not None else "")
        raise InvalidInput(f"run {run.id} ({run.kind}, {run.status}) has no {what}{via}")
    return files


def _langid_files(catalog: Catalog, session, run: Run | None) -> tuple[int, list[str]]:
    stmt = select(Shard.run_id, Shard.path).where(Shard.kind == "attributes",
                                                  Shard.stage == "langid")
    if run is not None:
        rows = session.execute(stmt.where(Shard.run_id == run.id)).all()
        if not rows:
            hint = ("; --language needs a `govcat run` (process) run" if run.kind != "process"
                    else "")
            raise InvalidInput(f"run {run.id} ({run.kind}, {run.status}) has no language "
                               f"attributes{hint}")
    else:
        latest = session.execute(
            select(func.max(Run.id)).join(Shard, Shard.run_id == Run.id)
            .where(Run.kind == "process", Run.status == "completed",
                   Shard.kind == "attributes", Shard.stage == "langid")).scalar()
        if latest is None:
            raise InvalidInput("--language: no completed `govcat run` has language attributes "
                               "yet; run one, or name a run with --run")
        rows = session.execute(stmt.where(Shard.run_id == latest)).all()
    run_id = rows[0][0]
    return run_id, sorted(_existing(catalog, path, run_id) for _, path in rows)


def _existing(catalog: Catalog, rel: str, run_id: int) -> str:
    path = catalog.layout.absolute(rel)
    if not path.is_file():
        raise IntegrityError(f"run {run_id}: {rel} is recorded in the catalog but missing "
                             f"under {catalog.data_root}")
    return str(path)


# --------------------------------------------------------------------------- paging


def _merge(index: _Index, parquet: _Parquet, after: str | None, want: int) -> list[str]:
    """Up to `want` ids matching both sides, in order, after the cursor."""
    found: list[str] = []
    cursor, k = after, max(_FIRST_CHUNK, 2 * want)
    while True:
        a = parquet.next(cursor, k)
        end_a = a[-1] if len(a) == k else _END
        if not index.filters:
            found += index.probe(a)
            end = end_a
        else:
            b = index.next(cursor, k)
            end_b = b[-1] if len(b) == k else _END
            if end_b is _END or (end_a is not _END and end_a <= end_b):
                # The Parquet side is the denser: resolved up to its end by both chunks, then
                # up to the index chunk's end by probing the Parquet side with the rest of it.
                seen = set(a)
                both = [x for x in b if (end_a is _END or x <= end_a) and x in seen]
                rest = [x for x in b if end_a is not _END and x > end_a]
                found += both + parquet.probe(rest)
                end = end_b
            else:
                seen = set(b)
                both = [x for x in a if x <= end_b and x in seen]
                found += both + index.probe([x for x in a if x > end_b])
                end = end_a
        if len(found) >= want or end is _END:
            return found[:want]
        cursor, k = end, min(4 * k, _MAX_CHUNK)


def list_documents(catalog: Catalog, *, filters: DocumentFilter, limit: int = DEFAULT_LIMIT,
                   after: str | None = None, taxonomy=None) -> DocumentPage:
    """One page of the documents matching every filter, in id order after the cursor."""
    filters = replace(filters, sources=_split(filters.sources),
                      hosts=tuple(h.lower() for h in _split(filters.hosts)),
                      languages=tuple(code.lower() for code in _split(filters.languages)))
    _check(filters, limit)
    spec = _license_spec(filters.license) if filters.license else None
    shown: dict[str, Any] = {k: v for k, v in asdict(filters).items() if v not in (None, ())}
    for key in ("collected_after", "collected_before"):
        if key in shown:
            shown[key] = iso_utc(shown[key])
    if spec is not None:
        shown["license"] = {spec[0]: spec[1]}
    with catalog.session() as session:
        repo = SourceRepository(session)
        source_ids = [repo.get(slug).id for slug in filters.sources]
        run = None
        if filters.run is not None:
            run = session.get(Run, filters.run)
            if run is None:
                raise NotFound(f"no run {filters.run}")
        decisions = (_decision_files(catalog, session, run, filters.stage)
                     if run is not None else [])
        lang_files: list[str] = []
        if filters.languages:
            shown["language_run"], lang_files = _langid_files(catalog, session, run)
        slugs = dict(session.execute(select(Source.id, Source.slug)).all())
        conn = session.connection()
        scope: list[ColumnElement] = []
        if source_ids:
            scope.append(_T.c.source_id.in_(source_ids))
        if filters.hosts:
            scope.append(_T.c.host.in_(filters.hosts))
        if filters.collected_after is not None:
            scope.append(_T.c.collected_at >= filters.collected_after)
        if filters.collected_before is not None:
            scope.append(_T.c.collected_at < filters.collected_before)
        if spec is not None:
            if taxonomy is None and spec[0] == "class":
                from policies.taxonomy import load_taxonomy

                taxonomy = load_taxonomy()
            condition = _license_condition(conn, spec, scope, taxonomy)
            if condition is None:
                return DocumentPage([], limit, after, None, shown)
            scope.append(condition)
        index = _Index(conn, scope)
        annotations: tuple[dict, dict] = ({}, {})
        if decisions or lang_files:
            parquet = _Parquet(decisions, filters.effect, filters.rule, lang_files,
                               filters.languages)
            try:
                ids = _merge(index, parquet, after, limit + 1)
                rows = index.fetch(ids[:limit])
                annotations = parquet.annotate([r["id"] for r in rows])
            finally:
                parquet.close()
        else:
            rows = index.rows(after, limit + 1)
            ids = [r["id"] for r in rows]
            rows = rows[:limit]
    next_after = rows[-1]["id"] if len(ids) > limit and rows else None
    documents = [_record(r, slugs, annotations, decisions=bool(decisions),
                         language=bool(lang_files)) for r in rows]
    return DocumentPage(documents, limit, after, next_after, shown)


def _record(row: dict[str, Any], slugs: dict[int, str], annotations, *, decisions: bool,
            language: bool) -> dict[str, Any]:
    out = {"id": row["id"], "source": slugs.get(row["source_id"]), "url": row["url"],
           "host": row["host"], "collected_at": iso_utc(row["collected_at"]),
           "license": row["concluded_license"] or row["declared_license"],
           "declared_license": row["declared_license"],
           "concluded_license": row["concluded_license"], "n_tokens": row["n_tokens"],
           "n_bytes": row["n_bytes"], "content_sha256": row["content_sha256"]}
    decided, langs = annotations
    if language:
        lang, score = langs.get(row["id"], (None, None))
        out["lang"], out["lang_score"] = lang, score
    if decisions:
        out["decisions"] = decided.get(row["id"], [])
    return out


__all__ = ["DEFAULT_LIMIT", "LICENSE_CLASSES", "MAX_LIMIT", "DocumentFilter", "DocumentPage",
           "list_documents"]
