import gzip
import io
import json
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest import registry
from ingest.connectors.jsonl import JsonlOptions, ParquetOptions, read_jsonl, read_parquet
from ingest.textio import InputError, decode_text, iter_lines, parse_timestamp
from ingest.types import Item, Quarantined, RawDocument, Skipped

DOLMA = {
    "id": "doc-1",
    "text": "Hello world.",
    "source": "c4",
    "added": "2023-03-01T12:00:00.000Z",
    "created": "2019-04-18T00:00:00Z",
    "metadata": {"url": "https://example.org/a?b=1", "length": 12},
    "license": "cc-by-4.0",
    "title": "A page",
}


def _jsonl(path: Path, *objs: object) -> Path:
    path.write_bytes(
        b"".join((o if isinstance(o, bytes) else json.dumps(o).encode()) + b"\n" for o in objs)
    )
    return path


def _items(path: Path, **options: object) -> list[Item]:
    return list(read_jsonl(path, JsonlOptions(**options)))  # type: ignore[arg-type]


def test_dolma_record_with_mapped_fields(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "a.jsonl", DOLMA)
    [doc] = _items(
        path,
        url_field="metadata.url",
        license_field="license",
        title_field="title",
        metadata_fields=("source", "metadata.length", "absent"),
    )
    assert isinstance(doc, RawDocument)
    assert doc.native_id == "doc-1"
    assert doc.text == "Hello world."
    assert doc.url == "https://example.org/a?b=1"
    assert doc.host == "example.org"
    assert doc.created_at == datetime(2019, 4, 18, tzinfo=UTC)
    assert doc.collected_at == datetime(2023, 3, 1, 12, tzinfo=UTC)
    assert doc.title == "A page"
    assert doc.metadata == {"source": "c4", "metadata.length": 12, "absent": None}
    [finding] = doc.licenses
    assert (finding.detector, finding.expression, finding.raw, finding.location) == (
        "source-field",
        "CC-BY-4.0",
        "cc-by-4.0",
        "license",
    )


def test_hugging_face_shape_with_other_field_names(tmp_path: Path) -> None:
    record = {"doc_id": 17, "content": "Bonjour.", "timestamp": 1700000000, "lang": "fr"}
    path = _jsonl(tmp_path / "b.json", record)
    [doc] = _items(
        path,
        id_field="doc_id",
        text_field="content",
        created_field="timestamp",
        language_field="lang",
        url_field="",
    )
    assert isinstance(doc, RawDocument)
    assert (doc.native_id, doc.text, doc.language) == ("17", "Bonjour.", "fr")
    assert doc.created_at == datetime.fromtimestamp(1700000000, tz=UTC)
    assert doc.url is None and doc.licenses == []


def test_record_problems(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "c.jsonl",
        {"text": "no id"},
        {"id": "n", "text": None},
        {"id": "t"},
        {"id": ["x"], "text": "list id"},
        {"id": "b", "text": 5},
        {"id": "e", "text": "  "},
        {"id": "d", "text": "x", "created": "31/12/2020"},
        b'{"id": "j", "text": "unterminated}',
        b'{"id": "u", "text": "\xff\xfe"}',
        b"",
        {"id": "ok", "text": "fine"},
    )
    items = _items(path)
    assert [(i.reason, i.location) for i in items if not isinstance(i, RawDocument)] == [
        ("missing-id", "line 1"),
        ("missing-text", "line 2"),
        ("missing-text", "line 3"),
        ("bad-id", "line 4"),
        ("bad-text", "line 5"),
        ("empty-text", "line 6 (id e)"),
        ("bad-date", "line 7"),
        ("bad-json", "line 8"),
        ("invalid-utf8", "line 9"),
    ]
    assert isinstance(items[5], Skipped)
    assert isinstance(items[-1], RawDocument) and items[-1].native_id == "ok"


def test_truncated_gzip(tmp_path: Path) -> None:
    payload = b"".join(
        json.dumps({"id": i, "text": f"document number {i} " * 5}).encode() + b"\n"
        for i in range(2000)
    )
    compressed = gzip.compress(payload)
    path = tmp_path / "d.jsonl.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    items = _items(path)
    docs = [i for i in items if isinstance(i, RawDocument)]
    assert 0 < len(docs) < 2000
    assert [d.native_id for d in docs] == [str(i) for i in range(len(docs))]
    assert isinstance(items[-1], Quarantined)
    assert (items[-1].reason, items[-1].location) == (
        "truncated-compressed",
        f"line {len(docs) + 1}",
    )


def test_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage that is not deflate data at all" * 3)
    [item] = _items(path)
    assert isinstance(item, Quarantined) and item.reason == "corrupt-compressed"


def test_100_mb_single_line_is_not_loaded_whole(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    chunk = b"a" * (1024 * 1024)
    with path.open("wb") as out:
        out.write(b'{"id": "huge", "text": "')
        for _ in range(100):
            out.write(chunk)
        out.write(b'"}\n{"id": "after", "text": "still read"}\n')
    tracemalloc.start()
    started = time.perf_counter()
    try:
        items = _items(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - started
    assert [type(i).__name__ for i in items] == ["Quarantined", "RawDocument"]
    assert isinstance(items[0], Quarantined)
    assert (items[0].reason, items[0].location) == ("line-too-long", "line 1")
    assert str(100 * 1024 * 1024 + 24 + 3) in items[0].detail  # the whole line was measured
    assert isinstance(items[1], RawDocument) and items[1].native_id == "after"
    assert peak < 30 * 1024 * 1024  # the 10 MB limit plus a 1 MB read buffer, not 100 MB
    assert elapsed < 30  # generous: guards against reading byte by byte


def test_iter_lines_limits_and_edges() -> None:
    stream = io.BytesIO(b"12345\n123456\n1234567\nlast")
    lines = list(iter_lines(stream, file="mem", max_line_bytes=6))
    assert [(x.number, x.data, x.size) for x in lines] == [  # type: ignore[union-attr]
        (1, b"12345", 6),
        (2, b"123456", 7),  # exactly the limit, newline included in the read
        (3, None, 8),
        (4, b"last", 4),
    ]
    with pytest.raises(InputError):
        list(iter_lines(io.BytesIO(b""), file="mem", max_line_bytes=0))


def test_decode_text_and_timestamps() -> None:
    assert decode_text(b"\xef\xbb\xbfhi") == decode_text(b"hi").__class__("hi", "utf-8-sig")
    assert decode_text(b"\xff\xfe\x00", detect=False) is None
    assert parse_timestamp("2020-01-02") == datetime(2020, 1, 2, tzinfo=UTC)
    assert parse_timestamp(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_timestamp("") is None
    for bad in ("soon", True, "1e400", [1]):
        with pytest.raises(ValueError):
            parse_timestamp(bad)


def test_jsonl_folder_and_zst(tmp_path: Path) -> None:
    _jsonl(tmp_path / "b.jsonl", {"id": "b", "text": "B"})
    (tmp_path / "a.json.gz").write_bytes(gzip.compress(b'{"id": "a", "text": "A"}\n'))
    (tmp_path / "readme.txt").write_text("x")
    zstandard = pytest.importorskip("zstandard")
    (tmp_path / "c.jsonl.zst").write_bytes(
        zstandard.ZstdCompressor().compress(b'{"id": "c", "text": "C"}\n')
    )
    items = _items(tmp_path)
    assert [getattr(i, "native_id", None) or i.reason for i in items] == [  # type: ignore[union-attr]
        "a",
        "b",
        "c",
        "unsupported-file",
    ]


# ---------------------------------------------------------------- Parquet


def _parquet(path: Path, rows: list[dict[str, object]], row_group_size: int = 1000) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=row_group_size)
    return path


def test_parquet_in_batches(tmp_path: Path) -> None:
    rows = [
        {
            "id": f"r{i}",
            "text": f"row {i}",
            "created": datetime(2020, 1, 1 + i % 28),
            "metadata": {"url": f"https://h{i % 3}.org/{i}", "lang": "en"},
            "license": "MIT",
            "extra": i,
        }
        for i in range(2500)
    ]
    path = _parquet(tmp_path / "p.parquet", rows, row_group_size=700)
    options = ParquetOptions(
        url_field="metadata.url", license_field="license", metadata_fields=("extra",), batch_size=64
    )
    items = list(read_parquet(path, options))
    assert len(items) == 2500 and all(isinstance(i, RawDocument) for i in items)
    last = items[-1]
    assert isinstance(last, RawDocument)
    assert (last.native_id, last.text, last.url, last.host) == (
        "r2499",
        "row 2499",
        "https://h0.org/2499",
        "h0.org",
    )
    assert last.created_at == datetime(2020, 1, 1 + 2499 % 28, tzinfo=UTC)
    assert last.metadata == {"extra": 2499}
    assert last.licenses[0].expression == "MIT"


def test_parquet_missing_values_and_columns(tmp_path: Path) -> None:
    rows = [{"id": None, "text": "x"}, {"id": "b", "text": None}, {"id": "c", "text": "ok"}]
    path = _parquet(tmp_path / "m.parquet", rows)
    items = list(read_parquet(path, ParquetOptions()))
    assert [(i.reason, i.location) for i in items if isinstance(i, Quarantined)] == [
        ("missing-id", "row 1"),
        ("missing-text", "row 2"),
    ]
    [whole] = list(read_parquet(path, ParquetOptions(text_field="body")))
    assert isinstance(whole, Quarantined)
    assert (whole.reason, whole.location) == ("missing-column", "schema")


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = _parquet(tmp_path / "c.parquet", [{"id": str(i), "text": "t"} for i in range(100)])
    data = bytearray(path.read_bytes())
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(bytes(data[: len(data) // 2]))  # footer gone
    [item] = list(read_parquet(broken, ParquetOptions()))
    assert isinstance(item, Quarantined) and item.reason == "corrupt-parquet"
    data[4:200] = b"\xff" * 196  # pages garbled, footer intact
    garbled = tmp_path / "garbled.parquet"
    garbled.write_bytes(bytes(data))
    items = list(read_parquet(garbled, ParquetOptions()))
    assert isinstance(items[-1], Quarantined) and items[-1].reason == "corrupt-parquet"


def test_registered() -> None:
    assert registry.get("jsonl_v1").kinds == ("any",)
    parquet = registry.get("parquet_v1")
    options = parquet.parse_options({"metadata-fields": "a, b", "batch-size": "10"})
    assert options.metadata_fields == ("a", "b") and options.batch_size == 10
    with pytest.raises(InputError):
        list(read_parquet(Path("/nonexistent.parquet"), ParquetOptions()))


def _folder_with_links_out(tmp_path: Path, suffix: str, write) -> tuple[Path, Path]:
    """A dataset folder with one real file, a link to a file beside it, and links that lead
    out of it (absolute, and relative through `..`) to a file with the same shape."""
    outside = tmp_path / "outside"
    outside.mkdir()
    write(outside / f"secret{suffix}", "secret")
    data = tmp_path / "data"
    data.mkdir()
    write(data / f"a{suffix}", "inside")
    (data / f"b{suffix}").symlink_to(data / f"a{suffix}")  # stays inside: read
    (data / f"c{suffix}").symlink_to(f"../outside/secret{suffix}")
    (data / "sub").mkdir()
    (data / "sub" / f"d{suffix}").symlink_to(outside / f"secret{suffix}")
    return data, outside


def _write_jsonl(path: Path, word: str) -> None:
    _jsonl(path, {"id": f"{word}-1", "text": f"{word} text"})


def test_links_out_of_a_jsonl_folder_are_quarantined_not_read(tmp_path: Path) -> None:
    data, outside = _folder_with_links_out(tmp_path, ".jsonl", _write_jsonl)
    items = _items(data)
    docs = [i for i in items if isinstance(i, RawDocument)]
    assert [d.native_id for d in docs] == ["inside-1", "inside-1"]  # a.jsonl and b.jsonl
    assert "secret" not in repr(docs)
    escaped = [i for i in items if isinstance(i, Quarantined)]
    assert [(i.reason, Path(i.file).name) for i in escaped] == [
        ("path-escape", "c.jsonl"), ("path-escape", "d.jsonl")]
    assert str((outside / "secret.jsonl").resolve()) in escaped[0].detail
    # Naming the file itself is the user's choice of input, followed as given.
    assert [i.native_id for i in _items(data / "c.jsonl") if isinstance(i, RawDocument)] == [
        "secret-1"]


def test_links_out_of_a_parquet_folder_are_quarantined_not_read(tmp_path: Path) -> None:
    def write(path: Path, word: str) -> None:
        pq.write_table(pa.table({"id": [f"{word}-1"], "text": [f"{word} text"]}), path)

    data, _ = _folder_with_links_out(tmp_path, ".parquet", write)
    items = list(read_parquet(data, ParquetOptions()))
    assert [i.native_id for i in items if isinstance(i, RawDocument)] == ["inside-1"] * 2
    assert [i.reason for i in items if isinstance(i, Quarantined)] == ["path-escape"] * 2


def test_documents_say_where_they_were_read(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "a.jsonl", {"id": "1", "text": "x"}, b"", {"id": "2", "text": "y"})
    docs = [i for i in _items(path) if isinstance(i, RawDocument)]
    assert [(d.file, d.location) for d in docs] == [(str(path), "line 1"), (str(path), "line 3")]
