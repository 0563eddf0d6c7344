"""Verify a release folder from its own files alone: no catalog, no database, no network.

What is checked (docs/release-format.md, "Verifying a release"):
  * every file listed in manifest.json is there and has the listed sha256 and size;
  * nothing else is there, apart from manifest.json, release.sig and reports/;
  * the Merkle root recomputed from index.parquet is the manifest's root;
  * document, token and byte totals agree with the files;
  * with `deep` (the default): every shard decodes, every document's text hashes to the
    index's content_sha256, and shard and index list the same documents at the same rows.

Files are hashed in 1 MiB blocks in a thread pool (hashlib and pyarrow release the GIL), and
a shard is decoded right after it is hashed, while its pages are still in the page cache.
Each problem is one line naming the file and, where there is one, the document.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from common.atomic import file_sha256
from common.storage import RemotePath, as_path, parquet_file, read_table, walk_files
from reports.errors import ManifestError, ProofError, ReleaseDataError
from reports.manifest import (
    INDEX_NAME,
    UNLISTED,
    load_manifest,
    manifest_problems,
)
from reports.merkle import (
    InclusionProof,
    document_leaf_hash,
    documents_root,
    packed_inclusion_proof,
    packed_root,
)

PROBLEM_KINDS = (
    "missing-file", "extra-file", "file-changed", "document-changed", "document-missing",
    "document-extra", "unreadable-shard", "merkle-mismatch", "manifest-invalid",
    "totals-mismatch",
)
# a shard rewritten wholesale would otherwise give one line per document
MAX_DOCUMENT_PROBLEMS = 20

Progress = Callable[[str, int], None]


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str
    path: str | None
    document: str | None
    detail: str

    def __str__(self) -> str:
        return self.detail


@dataclass(slots=True)
class VerifyReport:
    release_dir: Path
    deep: bool
    problems: list[Problem] = field(default_factory=list)
    files_checked: int = 0
    bytes_checked: int = 0
    documents_checked: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        return [p.detail for p in self.problems]

    def add(self, kind: str, detail: str, *, path: str | None = None,
            document: str | None = None) -> None:
        self.problems.append(Problem(kind, path, document, detail))


def _short(hex_digest: str | None) -> str:
    return f"{hex_digest[:12]}…" if hex_digest else "(none)"


def _names(ids: list[str]) -> str:
    head = ", ".join(ids[:MAX_DOCUMENT_PROBLEMS])
    more = len(ids) - MAX_DOCUMENT_PROBLEMS
    return head + (f" (+{more} more)" if more > 0 else "")


def _present_files(root: Path | RemotePath) -> set[str]:
    """The release's files (POSIX paths relative to it), without those UNLISTED at its top."""
    return {p for p in walk_files(root) if p.split("/")[0] not in UNLISTED}


# --- reading index.parquet ------------------------------------------------------------------

class _Index:
    """index.parquet's columns; as Python lists only when a check needs them row by row."""

    def __init__(self, table: Any):
        self.table = table
        self.size = table.num_rows

    @cached_property
    def ids(self) -> list[str]:
        return self.table["id"].to_pylist()

    @cached_property
    def shas(self) -> list[str]:
        return self.table["content_sha256"].to_pylist()

    @cached_property
    def rows(self) -> list[int]:
        return self.table["row"].to_pylist()

    def positions(self) -> dict[str, Any]:
        """Shard → the index positions placed there (numpy arrays, in index order)."""
        import numpy as np
        import pyarrow.compute as pc

        codes = pc.dictionary_encode(self.table["shard"]).combine_chunks()
        indices = codes.indices.to_numpy(zero_copy_only=False)
        order = np.argsort(indices, kind="stable")
        bounds = np.searchsorted(indices[order], np.arange(len(codes.dictionary) + 1))
        return {shard: order[bounds[i]:bounds[i + 1]]
                for i, shard in enumerate(codes.dictionary.to_pylist()) if shard is not None}


def _read_index(path: Path | RemotePath) -> _Index:
    return _Index(read_table(path, columns=["id", "content_sha256", "shard", "row"]))


def _well_formed(table: Any) -> bool:
    import pyarrow.compute as pc

    ids, shas = table["id"], table["content_sha256"]
    return (ids.null_count == 0 and shas.null_count == 0
            and not pc.any(pc.match_substring(ids, "\x00")).as_py()
            and bool(pc.all(pc.match_substring_regex(shas, "^[0-9a-f]{64}$")).as_py()))


def _index_leaves(index: _Index) -> bytes:
    """The packed Merkle leaf hashes of the index rows, in the order the index holds them."""
    leaves = bytearray()
    if not _well_formed(index.table):  # the checked per-row form names the bad row
        for doc_id, sha in zip(index.ids, index.shas, strict=True):
            leaves += document_leaf_hash(doc_id, sha)
        return bytes(leaves)
    # document_leaf_hash inlined (the columns were checked above): it runs once per document
    sha256 = hashlib.sha256
    for doc_id, sha in zip(index.ids, index.shas, strict=True):
        leaves += sha256(b"\x00" + doc_id.encode() + b"\x00" + sha.encode()).digest()
    return bytes(leaves)


# --- hashing and decoding one file (runs in the pool) ---------------------------------------

@dataclass(slots=True)
class _FileResult:
    path: str
    sha256: str = ""
    size: int = 0
    hash_error: str | None = None
    decoded: bool = False  # the footer was read: ids/text_shas hold one entry per row
    decode_error: str | None = None  # the whole file could not be opened as a shard
    ids: list[str | None] = field(default_factory=list)  # None: in an unreadable row group
    text_shas: list[str | None] = field(default_factory=list)
    bad_groups: list[tuple[int, int, int, str]] = field(default_factory=list)
    tokens: int = 0
    text_bytes: int = 0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _text_hashes(column: Any) -> tuple[list[str], int]:
    """sha256 of each text's UTF-8 bytes straight from the Arrow buffers (no str decoding),
    and the number of those bytes."""
    import numpy as np
    import pyarrow as pa

    if not pa.types.is_large_string(column.type):
        column = column.cast(pa.large_string())
    sha = hashlib.sha256
    out: list[str] = []
    total = 0
    for chunk in column.chunks if isinstance(column, pa.ChunkedArray) else [column]:
        _, offsets_buf, data_buf = chunk.buffers()
        n = len(chunk)
        offsets = np.frombuffer(offsets_buf, dtype=np.int64, count=chunk.offset + n + 1)
        offsets = offsets[chunk.offset:].tolist()
        total += offsets[-1] - offsets[0]
        data = memoryview(data_buf) if data_buf is not None else memoryview(b"")
        valid = chunk.is_valid().to_pylist() if chunk.null_count else None
        for i in range(n):
            if valid is not None and not valid[i]:
                out.append("")  # a null text never matches a content hash
            else:
                out.append(sha(data[offsets[i]:offsets[i + 1]]).hexdigest())
    return out, total


def _check_file(root: Path, path: str, decode: bool, expected_sha256: str | None) -> _FileResult:
    result = _FileResult(path)
    full = root / path
    try:
        result.sha256 = file_sha256(full)
        result.size = full.stat().st_size
    except OSError as exc:
        result.hash_error = exc.strerror or str(exc)
        return result
    if not decode:
        return result
    # An intact file needs only the columns the index is checked against, and its page
    # checksums cannot fail. A changed one is decoded whole with checksums verified, so damage
    # in any column shows as an unreadable row group instead of as garbled values.
    changed = result.sha256 != expected_sha256
    columns = None if changed else ["id", "text", "n_tokens"]
    try:
        pf = parquet_file(full, page_checksum_verification=changed)
        names = set(pf.schema_arrow.names)
        lacking = [c for c in ("id", "text", "n_tokens") if c not in names]
        if lacking:
            raise ValueError(f"not a release shard: no column {', '.join(lacking)}")
        group_rows = [pf.metadata.row_group(g).num_rows for g in range(pf.num_row_groups)]
    except Exception as exc:  # any decoding failure is the finding itself
        result.decode_error = _first_line(exc)
        return result
    start = 0
    for group, n_rows in enumerate(group_rows):
        try:
            table = pf.read_row_group(group, columns=columns)
            ids = table["id"].to_pylist()
            shas, text_bytes = _text_hashes(table["text"])
            tokens = sum(t for t in table["n_tokens"].to_pylist() if t is not None)
            if len(ids) != n_rows:
                raise ValueError(f"{len(ids)} rows where the footer says {n_rows}")
        except Exception as exc:  # reported per row group, the others are still checked
            result.bad_groups.append((group, start, n_rows, _first_line(exc)))
            ids, shas, tokens, text_bytes = [None] * n_rows, [None] * n_rows, 0, 0
        result.ids.extend(ids)
        result.text_shas.extend(shas)
        result.tokens += tokens
        result.text_bytes += text_bytes
        start += n_rows
    result.decoded = True
    return result


# --- comparing a decoded shard with the index ----------------------------------------------

def _unreadable(report: VerifyReport, res: _FileResult, index: _Index | None,
                positions: list[int]) -> set[int]:
    """Report what could not be decoded; returns the index positions it covers."""
    if res.decode_error is not None:
        names = [index.ids[p] for p in positions] if index is not None else []
        report.add("unreadable-shard",
                   f"{res.path}: cannot be decoded ({res.decode_error}); the index places "
                   f"{len(names)} document(s) there" + (f": {_names(names)}" if names else ""),
                   path=res.path)
        return set(positions)
    covered: set[int] = set()
    for group, start, n_rows, error in res.bad_groups:
        inside = [p for p in positions if index is not None and start <= index.rows[p] < start
                  + n_rows]
        names = [index.ids[p] for p in inside] if index is not None else []
        report.add("unreadable-shard",
                   f"{res.path}: row group {group} (rows {start}-{start + n_rows - 1}) cannot be "
                   f"decoded ({error}); the index places {len(names)} document(s) there"
                   + (f": {_names(names)}" if names else ""), path=res.path)
        covered.update(inside)
    return covered


def _same_rows(index: _Index, positions: Any, res: _FileResult) -> bool:
    """Whether the shard holds exactly the index's documents for it, row for row."""
    import numpy as np
    import pyarrow as pa

    placed = index.table.take(pa.array(positions, pa.int64()))
    return (bool(np.array_equal(placed["row"].to_numpy(), np.arange(len(positions))))
            and placed["id"].to_pylist() == res.ids
            and placed["content_sha256"].to_pylist() == res.text_shas)


def _compare_shard(report: VerifyReport, res: _FileResult, index: _Index,
                   positions: list[int], unreadable: set[int]) -> None:
    shard = res.path
    n = len(res.ids)
    if not unreadable and len(positions) == n and _same_rows(index, positions, res):
        return
    positions = [int(p) for p in positions]
    actual = {doc: (row, sha) for row, (doc, sha) in enumerate(zip(res.ids, res.text_shas,
                                                                      strict=True))
              if doc is not None}
    expected = {index.ids[p]: (index.rows[p], index.shas[p]) for p in positions
                if p not in unreadable}
    n = sum(doc is not None for doc in res.ids)
    found: dict[str, list[tuple[str, str]]] = {
        "document-changed": [], "document-missing": [], "document-extra": []}
    for doc, (row, sha) in expected.items():
        if doc not in actual:
            found["document-missing"].append(
                (doc, f"{shard}: document {doc} is listed in index.parquet (row {row}) but is "
                      "not in the shard"))
            continue
        arow, asha = actual[doc]
        if asha != sha:
            found["document-changed"].append(
                (doc, f"{shard}: document {doc} changed (sha256 {_short(asha)} != index "
                      f"{_short(sha)})"))
        elif arow != row:
            found["document-changed"].append(
                (doc, f"{shard}: document {doc} is at row {arow}, the index says row {row}"))
    for doc, (row, _) in actual.items():
        if doc not in expected:
            found["document-extra"].append(
                (doc, f"{shard}: document {doc} (row {row}) is not listed in index.parquet"))
    if len(actual) != n:
        found["document-extra"].append(
            ("", f"{shard}: {n - len(actual)} row(s) repeat a document id"))
    for kind, items in found.items():
        for doc, detail in items[:MAX_DOCUMENT_PROBLEMS]:
            report.add(kind, detail, path=shard, document=doc or None)
        if len(items) > MAX_DOCUMENT_PROBLEMS:
            report.add(kind, f"{shard}: {len(items) - MAX_DOCUMENT_PROBLEMS} more "
                             f"{kind.replace('-', ' ')} problem(s)", path=shard)


# --- the whole folder ------------------------------------------------------------------------

def _check_index(report: VerifyReport, manifest: Mapping[str, Any], index: _Index) -> None:
    import pyarrow.compute as pc

    ids = index.table["id"]
    ordered = index.size < 2 or pc.all(pc.greater(ids.slice(1), ids.slice(0, index.size - 1))
                                       ).as_py() is not False
    previous: str | None = None
    for i, doc in enumerate(() if ordered else index.ids):
        if previous is not None and doc <= previous:
            kind = "document-extra" if doc == previous else "merkle-mismatch"
            what = "is listed twice" if doc == previous else f"comes after {previous}"
            report.add(kind, f"{INDEX_NAME}: document {doc} {what} (row {i}); the index must "
                             "be in strictly increasing id order", path=INDEX_NAME, document=doc)
            break
        previous = doc
    merkle = manifest.get("merkle") if isinstance(manifest.get("merkle"), dict) else {}
    try:
        computed = (documents_root(index.table["id"], index.table["content_sha256"]).hex()
                    if _well_formed(index.table) else packed_root(_index_leaves(index)).hex())
    except ReleaseDataError as exc:
        report.add("merkle-mismatch", f"{INDEX_NAME}: {exc}", path=INDEX_NAME)
        return
    if computed != merkle.get("root"):
        report.add("merkle-mismatch",
                   f"Merkle root recomputed from {INDEX_NAME} is {_short(computed)}, the "
                   f"manifest says {_short(merkle.get('root'))}", path=INDEX_NAME)
    if merkle.get("tree_size") != index.size:
        report.add("merkle-mismatch",
                   f"{INDEX_NAME} has {index.size} leaves, the manifest's merkle.tree_size "
                   f"is {merkle.get('tree_size')}", path=INDEX_NAME)


def _totals(report: VerifyReport, manifest: Mapping[str, Any], entries: dict[str, dict],
            index: _Index | None, shard_docs: dict[str, int], shard_tokens: dict[str, int],
            text_bytes: int | None) -> None:
    def mismatch(detail: str, path: str | None = None) -> None:
        report.add("totals-mismatch", detail, path=path)

    documents, tokens = manifest.get("documents"), manifest.get("tokens")
    data = {p: e for p, e in entries.items() if e.get("kind") == "data"}
    listed_docs = sum(e.get("documents", 0) for e in data.values())
    if listed_docs != documents:
        mismatch(f"manifest: documents is {documents}, its data files list {listed_docs}")
    listed_tokens = sum(e.get("tokens", 0) for e in data.values())
    if listed_tokens != tokens:
        mismatch(f"manifest: tokens is {tokens}, its data files list {listed_tokens}")
    if index is not None:
        if index.size != documents:
            mismatch(f"{INDEX_NAME} lists {index.size} documents, the manifest says "
                     f"{documents}", INDEX_NAME)
        entry = entries.get(INDEX_NAME, {})
        if "documents" in entry and entry["documents"] != index.size:
            mismatch(f"{INDEX_NAME} lists {index.size} documents, its manifest entry says "
                     f"{entry['documents']}", INDEX_NAME)
        for path, e in sorted(data.items()):
            placed = shard_docs.get(path, 0)
            if "documents" in e and e["documents"] != placed:
                mismatch(f"{path}: the manifest says {e['documents']} documents, the index "
                         f"places {placed} there", path)
    if shard_tokens:
        for path, got in sorted(shard_tokens.items()):
            want = data.get(path, {}).get("tokens")
            if want is not None and want != got:
                mismatch(f"{path}: holds {got} tokens, the manifest says {want}", path)
        total = sum(shard_tokens.values())
        if total != tokens and len(shard_tokens) == len(data):
            mismatch(f"the shards hold {total} tokens, the manifest says {tokens}")
    if text_bytes is not None and text_bytes != manifest.get("bytes"):
        mismatch(f"the shards hold {text_bytes} bytes of text, the manifest's bytes is "
                 f"{manifest.get('bytes')}")


def verify_release(release_dir: str | os.PathLike[str], *, deep: bool = True,
                   progress: Progress | None = None,
                   workers: int | None = None) -> VerifyReport:
    """Check a release folder against its manifest; `report.ok` is True when nothing is wrong.

    `progress(path, n_bytes)` is called once per file when it has been checked (from the
    calling thread), so a progress bar over the listed files' sizes can advance.
    """
    started = time.perf_counter()
    root = as_path(release_dir)
    report = VerifyReport(release_dir=root, deep=deep)
    try:
        manifest = load_manifest(root)
    except ManifestError as exc:
        report.add("manifest-invalid", str(exc), path="manifest.json")
        report.seconds = time.perf_counter() - started
        return report
    for line in manifest_problems(manifest):
        report.add("manifest-invalid", f"manifest.json: {line}", path="manifest.json")
    entries: dict[str, dict] = {}
    for entry in manifest.get("files") if isinstance(manifest.get("files"), list) else []:
        if (isinstance(entry, dict) and isinstance(entry.get("path"), str)
                and entry["path"].split("/")[0] not in UNLISTED
                and entry["path"] not in entries):
            entries[entry["path"]] = entry

    present = _present_files(root)
    for path in sorted(set(entries) - present):
        report.add("missing-file", f"{path}: listed in the manifest but not in the folder",
                   path=path)
    for path in sorted(present - set(entries)):
        report.add("extra-file", f"{path}: in the folder but not listed in the manifest",
                   path=path)

    shards = sorted(p for p, e in entries.items() if e.get("kind") == "data" and p in present)
    others = sorted(p for p in entries if p in present and p not in shards)
    sizes = {p: (root / p).stat().st_size for p in shards + others}
    order = sorted(shards + others, key=lambda p: -sizes[p])  # largest first keeps cores busy
    results: dict[str, _FileResult] = {}
    index: _Index | None = None
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2) as pool:
        futures = {pool.submit(_check_file, root, p, deep and p in shards,
                               entries[p].get("sha256")): p for p in order}
        if INDEX_NAME in entries and INDEX_NAME in present:
            try:
                index = _read_index(root / INDEX_NAME)
            except Exception as exc:  # a damaged index is reported, not raised
                report.add("unreadable-shard",
                           f"{INDEX_NAME}: cannot be decoded ({_first_line(exc)})",
                           path=INDEX_NAME)
        elif INDEX_NAME not in entries:
            report.add("manifest-invalid", f"manifest.json: {INDEX_NAME} is not listed",
                       path="manifest.json")
        if index is not None:
            _check_index(report, manifest, index)
        for future in as_completed(futures):
            res = future.result()
            results[res.path] = res
            if progress is not None:
                progress(res.path, sizes[res.path])

    placed: dict[str, Any] = index.positions() if index is not None else {}
    for path in sorted(results):
        res, entry = results[path], entries[path]
        report.files_checked += 1
        report.bytes_checked += res.size
        if res.hash_error:
            report.add("missing-file", f"{path}: cannot be read ({res.hash_error})", path=path)
            continue
        if res.sha256 != entry.get("sha256"):
            report.add("file-changed", f"{path}: sha256 {_short(res.sha256)} != manifest "
                                       f"{_short(entry.get('sha256'))}", path=path)
        elif res.size != entry.get("bytes"):
            report.add("totals-mismatch", f"{path}: {res.size} bytes, the manifest says "
                                          f"{entry.get('bytes')}", path=path)
        if not deep or path not in shards:
            continue
        positions = placed.get(path, [])
        unreadable = _unreadable(report, res, index, positions)
        if not res.decoded:
            continue
        report.documents_checked += sum(doc is not None for doc in res.ids)
        if index is not None:
            _compare_shard(report, res, index, positions, unreadable)
    for shard in sorted(set(placed) - set(shards)):
        count = len(placed[shard])
        if shard in entries and shard not in present:
            report.add("document-missing", f"{shard}: the index places {count} document(s) in "
                       "this missing file", path=shard)
        else:
            report.add("document-missing", f"{INDEX_NAME} places {count} document(s) in "
                       f"{shard}, which is not a data file of the manifest", path=shard)
    clean = {p: r for p, r in results.items() if r.decoded and not r.bad_groups}
    shard_tokens = {p: r.tokens for p, r in clean.items()}
    shard_docs = {p: len(v) for p, v in placed.items()}
    every_shard = deep and len(clean) == len(shards) and all(p in present for p in entries
                                                             if entries[p].get("kind") == "data")
    text_bytes = sum(r.text_bytes for r in clean.values()) if every_shard else None
    _totals(report, manifest, entries, index, shard_docs, shard_tokens, text_bytes)
    report.seconds = time.perf_counter() - started
    return report


def document_proof(release_dir: str | os.PathLike[str], doc_id: str) -> InclusionProof:
    """The inclusion proof of one document, built from the folder's index and manifest."""
    root = as_path(release_dir)
    manifest = load_manifest(root)
    try:
        index = _read_index(root / INDEX_NAME)
    except Exception as exc:
        raise ProofError(f"{root / INDEX_NAME}: cannot be read ({exc})") from None
    pos = bisect.bisect_left(index.ids, doc_id)
    if pos == index.size or index.ids[pos] != doc_id:
        raise ProofError(f"document {doc_id} is not in release {manifest.get('name')} "
                         f"{manifest.get('version')}")
    leaves = _index_leaves(index)
    root_hex = packed_root(leaves).hex()
    merkle = manifest.get("merkle") or {}
    if root_hex != merkle.get("root"):
        raise ProofError(f"{root}: {INDEX_NAME} does not match the manifest's Merkle root; "
                         "run verify first")
    return InclusionProof(
        release=str(manifest.get("name", "")), version=str(manifest.get("version", "")),
        document=doc_id, content_sha256=index.shas[pos], leaf_index=pos,
        tree_size=index.size, root=root_hex,
        audit_path=tuple(h.hex() for h in packed_inclusion_proof(leaves, pos)))


__all__ = [
    "MAX_DOCUMENT_PROBLEMS",
    "PROBLEM_KINDS",
    "Problem",
    "VerifyReport",
    "document_proof",
    "verify_release",
]
