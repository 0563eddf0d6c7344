"""RFC 6962 §2.1 Merkle trees (Certificate Transparency) over a release's documents.

    leaf hash  = SHA-256(0x00 || leaf bytes)
    node hash  = SHA-256(0x01 || left || right)
    MTH({})    = SHA-256("")

The tree over n leaves splits at the largest power of two smaller than n. Pairing the nodes
of each level from the left and carrying an unpaired last node up unchanged builds exactly
that tree, so the root and the audit paths are computed level by level without recursion
(fast enough for millions of leaves). Using the standard construction means a recipient can
check a proof with any Certificate Transparency tooling (docs/release-format.md).

A release's leaves are its documents in id order: `document_leaf(id, content_sha256)`.
Levels are kept packed (32 bytes per node in one bytes object) to stay memory-light.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from common.storage import as_path
from reports.errors import ProofError, ReleaseDataError
from reports.manifest import MERKLE_ALGORITHM as ALGORITHM
from reports.manifest import canonical_json

HASH_SIZE = 32
LEAF_DESCRIPTION = "utf8(id) || 0x00 || ascii(lowercase hex content_sha256), in id order"
PROOF_FORMAT = "govcat-inclusion-proof/1"

_HEX64 = re.compile(r"[0-9a-f]{64}")
_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def empty_root() -> bytes:
    return _sha256(b"").digest()


def document_leaf(doc_id: str, content_sha256_hex: str) -> bytes:
    """The leaf bytes of one released document.

    The NUL separator is unambiguous because ids never contain NUL and the hash is fixed-width
    hex; both are checked so that no two documents can share a leaf.
    """
    if "\x00" in doc_id:
        raise ReleaseDataError(f"document id {doc_id!r} contains a NUL character")
    if not _HEX64.fullmatch(content_sha256_hex):
        raise ReleaseDataError(
            f"document {doc_id}: content_sha256 {content_sha256_hex!r} is not 64 lowercase hex")
    return doc_id.encode("utf-8", "surrogatepass") + b"\x00" + content_sha256_hex.encode("ascii")


def document_leaf_hash(doc_id: str, content_sha256_hex: str) -> bytes:
    return leaf_hash(document_leaf(doc_id, content_sha256_hex))


def _pack(leaf_hashes: Sequence[bytes]) -> bytes:
    packed = b"".join(leaf_hashes)
    if len(packed) != HASH_SIZE * len(leaf_hashes) or any(
            len(h) != HASH_SIZE for h in leaf_hashes):
        raise ReleaseDataError("every leaf hash must be 32 bytes")
    return packed


def _next_level(level: bytes) -> bytes:
    n = len(level) // HASH_SIZE
    paired = (n // 2) * 2 * HASH_SIZE
    out = bytearray()
    for i in range(0, paired, 2 * HASH_SIZE):
        out += _sha256(b"\x01" + level[i:i + 2 * HASH_SIZE]).digest()
    if n % 2:
        out += level[paired:]
    return bytes(out)


def packed_root(packed: bytes | bytearray | memoryview) -> bytes:
    """The tree head over leaf hashes given as one buffer of 32-byte digests."""
    level = bytes(packed)
    if len(level) % HASH_SIZE:
        raise ReleaseDataError("packed leaf hashes must be a multiple of 32 bytes")
    if not level:
        return empty_root()
    while len(level) > HASH_SIZE:
        level = _next_level(level)
    return level


def documents_root(ids: Any, shas: Any) -> bytes:
    """The tree head over documents given as Arrow string arrays of ids and lowercase hex
    content hashes (checked well-formed by the caller): `packed_root` of their
    `document_leaf_hash`es, with every hash of the tree computed by DuckDB's sha256 in bulk,
    off the GIL, instead of one Python call per node."""
    import duckdb
    import numpy as np
    import pyarrow as pa

    n = len(ids)
    if n == 0:
        return empty_root()
    con = duckdb.connect()
    try:
        con.register("leaves", pa.Table.from_batches(pa.table({"id": ids, "sha": shas})
                                                     .to_batches(max_chunksize=_DUCKDB_BATCH)))
        level = _digests(con.sql(
            "select unhex(sha256('\\x00'::BLOB || encode(id) || '\\x00'::BLOB || "
            "encode(sha))) from leaves").arrow().read_all(), n)
        while len(level) > 1:
            pairs = len(level) // 2
            nodes = np.empty((pairs, 1 + 2 * HASH_SIZE), np.uint8)
            nodes[:, 0] = 1
            nodes[:, 1:] = level[:2 * pairs].reshape(pairs, 2 * HASH_SIZE)
            offsets = np.arange(0, nodes.size + 1, nodes.shape[1], dtype=np.int32)
            column = pa.Array.from_buffers(pa.binary(), pairs, [
                None, pa.py_buffer(offsets), pa.py_buffer(nodes)])
            con.register("nodes", pa.Table.from_batches(pa.table({"node": column}).to_batches(
                max_chunksize=_DUCKDB_BATCH)))
            upper = _digests(con.sql("select unhex(sha256(node)) from nodes").arrow()
                             .read_all(), pairs)
            con.unregister("nodes")
            level = np.vstack([upper, level[2 * pairs:]]) if len(level) % 2 else upper
        return level[0].tobytes()
    finally:
        con.close()


_DUCKDB_BATCH = 32768  # rows per Arrow batch: DuckDB hashes batches on all its threads


def _digests(table: Any, n: int) -> Any:
    """A one-column table of n 32-byte blobs as an (n, 32) uint8 array."""
    import numpy as np

    column = table.column(0).combine_chunks()
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[column.offset:
                                                                 column.offset + n + 1]
    if len(column) != n or column.null_count or not np.all(np.diff(offsets) == HASH_SIZE):
        raise ReleaseDataError("DuckDB returned malformed digests")  # never expected
    data = np.frombuffer(column.buffers()[2], dtype=np.uint8)
    return data[offsets[0]:offsets[-1]].reshape(n, HASH_SIZE)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over the given leaf hashes (already `leaf_hash`ed)."""
    return packed_root(_pack(leaf_hashes))


def packed_inclusion_proof(packed: bytes | bytearray | memoryview, index: int) -> list[bytes]:
    level = bytes(packed)
    n = len(level) // HASH_SIZE
    if len(level) % HASH_SIZE or not 0 <= index < n:
        raise ReleaseDataError(f"leaf index {index} is outside a tree of {n} leaves")
    path: list[bytes] = []
    i = index
    while n > 1:
        sibling = i ^ 1
        if sibling < n:
            path.append(level[sibling * HASH_SIZE:(sibling + 1) * HASH_SIZE])
        level = _next_level(level)
        i >>= 1
        n = len(level) // HASH_SIZE
    return path


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """The RFC 6962 §2.1.1 audit path of leaf `index`, from the leaf's sibling upwards."""
    return packed_inclusion_proof(_pack(leaf_hashes), index)


def verify_inclusion(leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes],
                     root: bytes) -> bool:
    """Whether `proof` leads from `leaf_hash` at `index` to `root` (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < tree_size or len(root) != HASH_SIZE or len(leaf_hash) != HASH_SIZE:
        return False
    fn, sn, r = index, tree_size - 1, leaf_hash
    for p in proof:
        if len(p) != HASH_SIZE or sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


@dataclass(frozen=True, slots=True)
class InclusionProof:
    release: str
    version: str
    document: str
    content_sha256: str
    leaf_index: int
    tree_size: int
    root: str
    audit_path: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PROOF_FORMAT,
            "release": self.release,
            "version": self.version,
            "document": self.document,
            "content_sha256": self.content_sha256,
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "root": self.root,
            "audit_path": list(self.audit_path),
        }


def proof_to_json(proof: InclusionProof) -> bytes:
    """The proof file's bytes: canonical JSON, as the manifest is written."""
    return canonical_json(proof.to_dict())


def _field(data: Mapping[str, Any], name: str, kind: type, where: str) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProofError(f"{where}: field {name!r} is missing or not a {kind.__name__}")
    return value


def _hex_hash(value: str, name: str, where: str) -> bytes:
    if not _HEX64.fullmatch(value):
        raise ProofError(f"{where}: {name} {value!r} is not a 64-digit lowercase hex sha256")
    return bytes.fromhex(value)


def check_proof_file(path_or_dict: str | os.PathLike[str] | Mapping[str, Any], *,
                     expected_root: str | None = None) -> InclusionProof:
    """Check an inclusion-proof file on its own; returns the proof, raises ProofError if not.

    The leaf is recomputed from the document id and content hash the file names, so a proof
    that verifies says: this exact text is in the release whose Merkle root is `root`. Pass
    the root from the release's manifest (or signature) as `expected_root` to bind it.
    """
    if isinstance(path_or_dict, Mapping):
        data, where = path_or_dict, "proof"
    else:
        where = str(path_or_dict)
        try:
            data = json.loads(as_path(path_or_dict).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ProofError(f"{where}: no such proof file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProofError(f"{where}: not a readable JSON proof ({exc})") from None
        if not isinstance(data, Mapping):
            raise ProofError(f"{where}: a proof file holds one JSON object")
    if data.get("format") != PROOF_FORMAT:
        raise ProofError(f"{where}: format is {data.get('format')!r}, expected {PROOF_FORMAT!r}")
    document = _field(data, "document", str, where)
    content = _field(data, "content_sha256", str, where)
    index = _field(data, "leaf_index", int, where)
    size = _field(data, "tree_size", int, where)
    root_hex = _field(data, "root", str, where)
    path_hex = _field(data, "audit_path", list, where)
    root_bytes = _hex_hash(root_hex, "root", where)
    _hex_hash(content, "content_sha256", where)
    audit = [_hex_hash(h if isinstance(h, str) else repr(h), "audit path entry", where)
             for h in path_hex]
    if expected_root is not None and expected_root.lower() != root_hex:
        raise ProofError(f"{where}: the proof is for root {root_hex[:12]}…, "
                         f"not the expected {expected_root[:12]}…")
    try:
        leaf = document_leaf_hash(document, content)
    except ReleaseDataError as exc:
        raise ProofError(f"{where}: {exc}") from None
    if not verify_inclusion(leaf, index, size, audit, root_bytes):
        raise ProofError(f"{where}: document {document} at leaf {index} of {size} does not "
                         f"verify against root {root_hex[:12]}…")
    return InclusionProof(
        release=str(data.get("release", "")), version=str(data.get("version", "")),
        document=document, content_sha256=content, leaf_index=index, tree_size=size,
        root=root_hex, audit_path=tuple(path_hex))


__all__ = [
    "ALGORITHM",
    "HASH_SIZE",
    "LEAF_DESCRIPTION",
    "PROOF_FORMAT",
    "InclusionProof",
    "check_proof_file",
    "document_leaf",
    "document_leaf_hash",
    "empty_root",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "packed_inclusion_proof",
    "packed_root",
    "proof_to_json",
    "root",
    "verify_inclusion",
]
