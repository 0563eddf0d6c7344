"""`jsonl_v1` and `parquet_v1`: generic records in the Dolma / Hugging Face shape.

Each record needs an id and a text (`id_field`, `text_field`); `url_field`, `created_field`
(authored), `collected_field` (added to the corpus), `title_field`, `language_field` and
`license_field` are read when present, and `metadata_fields` are copied into metadata. A field
name may be a dotted path into nested objects (`metadata.url`); a key that itself contains the
dot wins. An empty option turns that field off.

Per record: no id / no text → Quarantined `missing-id` / `missing-text`; an id or text of the
wrong type → `bad-id` / `bad-text`; an unreadable date → `bad-date`; an empty text → Skipped
`empty-text`. `license_field` values become `LicenseFinding(detector="source-field")`,
normalised to SPDX when they are SPDX expressions.

JSONL (`.jsonl`, `.json`, `.ndjson`, gzip `.gz`, zstd `.zst` with the optional `zstandard`)
has the line-level checks of `ingest.textio.iter_json_lines` (`bad-json`, `invalid-utf8`,
`line-too-long`, truncated compression). Parquet is read in record batches of the needed
columns only; a file whose footer or pages cannot be read ends with `corrupt-parquet`, one
without the id or text column is quarantined whole as `missing-column`. In a folder, a file
linked from outside it (a symlink to /etc/passwd, or through `..`) is quarantined as
`path-escape`, never read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from common.spdx import try_normalize
from ingest.code_licenses import UNPARSED
from ingest.registry import Connector, register
from ingest.textio import (
    DEFAULT_MAX_LINE_BYTES,
    InputError,
    iter_files,
    iter_json_lines,
    outside_root,
    parse_timestamp,
)
from ingest.types import Item, LicenseFinding, Quarantined, RawDocument, Skipped

JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson", ".jsonl.gz", ".json.gz", ".ndjson.gz", ".jsonl.zst",
                  ".json.zst")  # fmt: skip
PARQUET_SUFFIXES = (".parquet",)
_MISSING = object()


@dataclass(frozen=True)
class RecordOptions:
    id_field: str = "id"
    text_field: str = "text"
    url_field: str = "url"
    created_field: str = "created"
    collected_field: str = "added"  # Dolma's name for when the record entered the corpus
    title_field: str = ""
    language_field: str = ""
    license_field: str = ""
    metadata_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class JsonlOptions(RecordOptions):
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES


@dataclass(frozen=True)
class ParquetOptions(RecordOptions):
    batch_size: int = 1024


def field_value(record: Mapping[str, Any], name: str) -> Any:
    """`record[name]`, or the value at the dotted path `name`; `_MISSING` when absent."""
    if name in record:
        return record[name]
    value: Any = record
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _optional(record: Mapping[str, Any], name: str) -> Any:
    if not name:
        return None
    value = field_value(record, name)
    return None if value is _MISSING else value


def _date(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return parse_timestamp(value)


def to_item(record: Mapping[str, Any], *, file: str, where: str, options: RecordOptions) -> Item:
    """The document for one record, or why it is not one."""
    raw_id = field_value(record, options.id_field)
    if raw_id is _MISSING or raw_id is None or raw_id == "":
        return Quarantined("missing-id", file, where, f"no {options.id_field!r}")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
        return Quarantined("bad-id", file, where, f"{options.id_field!r} is a {type(raw_id)}")
    native_id = str(raw_id)
    text = field_value(record, options.text_field)
    if text is _MISSING or text is None:
        detail = f"id {native_id}: no {options.text_field!r}"
        return Quarantined("missing-text", file, where, detail)
    if not isinstance(text, str):
        return Quarantined("bad-text", file, where, f"id {native_id}: text is a {type(text)}")
    if not text.strip():
        return Skipped("empty-text", file, f"{where} (id {native_id})")
    try:
        created_at = _date(_optional(record, options.created_field))
        collected_at = _date(_optional(record, options.collected_field))
    except ValueError as exc:
        return Quarantined("bad-date", file, where, f"id {native_id}: {exc}")

    url = _optional(record, options.url_field)
    url = url if isinstance(url, str) and url else None
    title = _optional(record, options.title_field)
    language = _optional(record, options.language_field)
    licenses = []
    license_value = _optional(record, options.license_field)
    if isinstance(license_value, str) and license_value.strip():
        licenses.append(
            LicenseFinding(
                detector="source-field",
                expression=try_normalize(license_value) or UNPARSED,
                location=options.license_field,
                raw=license_value,
            )
        )
    return RawDocument(
        native_id=native_id,
        text=text,
        url=url,
        host=urlsplit(url).hostname if url else None,
        collected_at=collected_at,
        created_at=created_at,
        title=title if isinstance(title, str) else None,
        language=language if isinstance(language, str) else None,
        metadata={name: _optional(record, name) for name in options.metadata_fields},
        licenses=licenses,
        file=file,
        location=where,
    )


# ---------------------------------------------------------------- JSONL


def read_jsonl(path: Path, options: JsonlOptions) -> Iterator[Item]:
    """Yield one item per line of the JSONL file(s) at `path` (a file or a folder)."""
    for file, supported in iter_files(path, JSONL_SUFFIXES):
        if (escaped := outside_root(file, path)) is not None:
            yield escaped
            continue
        if not supported:
            yield Skipped("unsupported-file", str(file))
            continue
        for record in iter_json_lines(file, max_line_bytes=options.max_line_bytes):
            if isinstance(record, Quarantined):
                yield record
            else:
                yield to_item(
                    record.value, file=str(file), where=f"line {record.line}", options=options
                )


# ---------------------------------------------------------------- Parquet


def read_parquet(path: Path, options: ParquetOptions) -> Iterator[Item]:
    """Yield one item per row of the Parquet file(s) at `path`, read batch by batch."""
    if options.batch_size <= 0:
        raise InputError(f"batch_size must be positive, got {options.batch_size}")
    for file, supported in iter_files(path, PARQUET_SUFFIXES):
        if (escaped := outside_root(file, path)) is not None:
            yield escaped
            continue
        if not supported:
            yield Skipped("unsupported-file", str(file))
            continue
        yield from _parquet_file(file, options)


def _parquet_file(file: Path, options: ParquetOptions) -> Iterator[Item]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    fields = [
        options.id_field, options.text_field, options.url_field, options.created_field,
        options.collected_field, options.title_field, options.language_field,
        options.license_field, *options.metadata_fields,
    ]  # fmt: skip
    row = 0
    try:
        parquet = pq.ParquetFile(file)
        names = set(parquet.schema_arrow.names)
        for required in (options.id_field, options.text_field):
            if _column(required, names) is None:
                yield Quarantined(
                    "missing-column",
                    str(file),
                    "schema",
                    f"no column for {required!r}; columns: {', '.join(sorted(names))}",
                )
                return
        columns = sorted({c for f in fields if f and (c := _column(f, names)) is not None})
        for batch in parquet.iter_batches(batch_size=options.batch_size, columns=columns):
            for record in batch.to_pylist():
                row += 1
                yield to_item(record, file=str(file), where=f"row {row}", options=options)
    except (pa.ArrowException, OSError) as exc:
        yield Quarantined("corrupt-parquet", str(file), f"row {row + 1}", str(exc)[:500])


def _column(field: str, names: set[str]) -> str | None:
    """The top-level column that holds `field` (itself, or the head of its dotted path)."""
    if field in names:
        return field
    head = field.split(".", 1)[0]
    return head if head in names else None


register(
    Connector(
        name="jsonl_v1",
        kinds=("any",),
        description="JSON lines (.jsonl, .gz, .zst) in Dolma / Hugging Face shape, fields mapped "
        "by options",
        options_type=JsonlOptions,
        read=read_jsonl,
    )
)
register(
    Connector(
        name="parquet_v1",
        kinds=("any",),
        description="Parquet files in Dolma / Hugging Face shape, read in record batches",
        options_type=ParquetOptions,
        read=read_parquet,
    )
)
