import hashlib
import json

import pytest

from reports.errors import ProofError, ReleaseDataError
from reports.merkle import (
    PROOF_FORMAT,
    InclusionProof,
    check_proof_file,
    document_leaf,
    document_leaf_hash,
    empty_root,
    inclusion_proof,
    leaf_hash,
    node_hash,
    packed_root,
    proof_to_json,
    root,
    verify_inclusion,
)

# The Certificate Transparency reference test vectors (transparency-dev/merkle, proof tests;
# the same in google/certificate-transparency): eight leaves, the root of every prefix, and
# audit paths given as (1-based leaf, tree size).
CT_LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
CT_ROOTS = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")]
CT_PATHS = {
    (1, 1): [],
    (1, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (6, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (3, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (2, 5): ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def test_hashes_match_rfc6962_vectors():
    assert empty_root().hex() == hashlib.sha256(b"").hexdigest() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert root([]) == empty_root()
    assert leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    assert leaf_hash(b"L123456").hex() == (
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56")
    assert node_hash(b"N123", b"N456").hex() == (
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb")


@pytest.mark.parametrize("size", range(1, 9))
def test_root_of_every_prefix_matches_ct_vectors(size):
    hashes = [leaf_hash(x) for x in CT_LEAVES[:size]]
    assert root(hashes) == CT_ROOTS[size - 1]
    assert packed_root(b"".join(hashes)) == CT_ROOTS[size - 1]


@pytest.mark.parametrize(("leaf", "size"), sorted(CT_PATHS))
def test_audit_paths_match_ct_vectors(leaf, size):
    hashes = [leaf_hash(x) for x in CT_LEAVES[:size]]
    proof = inclusion_proof(hashes, leaf - 1)
    assert [p.hex() for p in proof] == CT_PATHS[(leaf, size)]
    assert verify_inclusion(hashes[leaf - 1], leaf - 1, size, proof, CT_ROOTS[size - 1])


def _corruptions(index, size, proof, root_hash, leaf):
    yield "index - 1", (leaf, index - 1, size, proof, root_hash)
    yield "index + 1", (leaf, index + 1, size, proof, root_hash)
    yield "index ^ 2", (leaf, index ^ 2, size, proof, root_hash)
    yield "size * 2", (leaf, index, size * 2, proof, root_hash)
    yield "size // 2", (leaf, index, size // 2, proof, root_hash)
    yield "wrong leaf", (b"WrongLeaf", index, size, proof, root_hash)
    yield "empty root", (leaf, index, size, proof, empty_root())
    yield "random root", (leaf, index, size, proof, SOME_HASH)
    yield "trailing garbage", (leaf, index, size, [*proof, b""], root_hash)
    yield "trailing root", (leaf, index, size, [*proof, root_hash], root_hash)
    yield "preceding garbage", (leaf, index, size, [b"", *proof], root_hash)
    yield "preceding root", (leaf, index, size, [root_hash, *proof], root_hash)
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        yield f"bit flip in proof[{i}]", (leaf, index, size, flipped, root_hash)
    if proof:
        yield "removed component", (leaf, index, size, proof[:-1], root_hash)
    if len(proof) > 1:
        yield "inserted component", (leaf, index, size, [proof[0], SOME_HASH, *proof[1:]],
                                     root_hash)


@pytest.mark.parametrize(("leaf", "size"), [k for k in sorted(CT_PATHS) if k != (1, 1)])
def test_corrupted_proofs_are_rejected(leaf, size):
    hashes = [leaf_hash(x) for x in CT_LEAVES[:size]]
    proof = inclusion_proof(hashes, leaf - 1)
    accepted = [name for name, args in _corruptions(leaf - 1, size, proof, CT_ROOTS[size - 1],
                                                    hashes[leaf - 1])
                if verify_inclusion(*args)]
    assert accepted == []


def test_single_leaf_and_degenerate_trees():
    h = leaf_hash(b"data")
    assert root([h]) == h
    assert verify_inclusion(h, 0, 1, [], h)
    assert not verify_inclusion(h, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], h)
    for index, size in [(0, 0), (1, 0), (2, 1)]:
        assert not verify_inclusion(SOME_HASH, index, size, [], empty_root())


# The RFC 6962 §2.1 definitions, written recursively, to check the iterative code against.
def _split(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _mth(d):
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = _split(len(d))
    return hashlib.sha256(b"\x01" + _mth(d[:k]) + _mth(d[k:])).digest()


def _path(m, d):
    if len(d) <= 1:
        return []
    k = _split(len(d))
    if m < k:
        return _path(m, d[:k]) + [_mth(d[k:])]
    return _path(m - k, d[k:]) + [_mth(d[:k])]


def test_iterative_tree_equals_rfc_definition_for_0_to_70_leaves():
    data = [f"leaf {i}".encode() for i in range(70)]
    for n in range(71):
        d = data[:n]
        hashes = [leaf_hash(x) for x in d]
        expected_root = _mth(d)
        assert root(hashes) == expected_root, n
        for m in range(n):
            proof = inclusion_proof(hashes, m)
            assert proof == _path(m, d), (m, n)
            assert verify_inclusion(hashes[m], m, n, proof, expected_root), (m, n)
            if n > 1:
                assert not verify_inclusion(hashes[m], (m + 1) % n, n, proof, expected_root)


def test_bad_inputs_raise_the_library_error():
    with pytest.raises(ReleaseDataError):
        root([b"short"])
    with pytest.raises(ReleaseDataError):
        inclusion_proof([leaf_hash(b"a")], 1)
    with pytest.raises(ReleaseDataError):
        packed_root(b"x" * 33)


def test_document_leaf_encoding():
    sha = hashlib.sha256("héllo".encode()).hexdigest()
    assert document_leaf("web/é1", sha) == "web/é1".encode() + b"\x00" + sha.encode()
    assert document_leaf_hash("web/é1", sha) == leaf_hash(document_leaf("web/é1", sha))
    assert document_leaf_hash("a", sha) != document_leaf_hash("b", sha)
    with pytest.raises(ReleaseDataError, match="NUL"):
        document_leaf("a\x00b", sha)
    with pytest.raises(ReleaseDataError, match="hex"):
        document_leaf("a", sha.upper())
    with pytest.raises(ReleaseDataError, match="hex"):
        document_leaf("a", sha[:-1])


def _release_proof(n=13, index=5):
    ids = [f"doc/{i:03d}" for i in range(n)]
    shas = [hashlib.sha256(f"text {i}".encode()).hexdigest() for i in range(n)]
    hashes = [document_leaf_hash(d, s) for d, s in zip(ids, shas, strict=True)]
    tree_root = root(hashes)
    return InclusionProof(
        release="demo", version="1.0.0", document=ids[index], content_sha256=shas[index],
        leaf_index=index, tree_size=n, root=tree_root.hex(),
        audit_path=tuple(h.hex() for h in inclusion_proof(hashes, index)))


def test_proof_file_round_trip(tmp_path):
    proof = _release_proof()
    path = tmp_path / "proof.json"
    path.write_bytes(proof_to_json(proof))
    data = json.loads(path.read_text())
    assert data["format"] == PROOF_FORMAT
    assert list(data) == sorted(data)
    assert path.read_bytes().endswith(b"}\n")
    assert check_proof_file(path) == proof
    assert check_proof_file(data, expected_root=proof.root) == proof


def test_proof_file_failures_are_one_line_errors(tmp_path):
    good = _release_proof().to_dict()
    cases = {
        "other root": ({**good}, "e" * 64, "not the expected"),
        "changed text": ({**good, "content_sha256": "0" * 64}, None, "does not verify"),
        "other document": ({**good, "document": "doc/006"}, None, "does not verify"),
        "wrong index": ({**good, "leaf_index": 6}, None, "does not verify"),
        "format": ({**good, "format": "x/1"}, None, "format"),
        "no path": ({k: v for k, v in good.items() if k != "audit_path"}, None, "audit_path"),
        "bad hex": ({**good, "audit_path": ["zz"]}, None, "audit path entry"),
    }
    for name, (data, expected, message) in cases.items():
        with pytest.raises(ProofError, match=message) as err:
            check_proof_file(data, expected_root=expected)
        assert "\n" not in str(err.value), name
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ProofError, match="bad.json: not a readable JSON proof"):
        check_proof_file(tmp_path / "bad.json")
    with pytest.raises(ProofError, match="no such proof file"):
        check_proof_file(tmp_path / "missing.json")


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 33, 1000, 40_000])
def test_documents_root_is_the_packed_root_of_the_document_leaves(n):
    import pyarrow as pa

    from reports.merkle import documents_root

    ids = [f"web/{i:06d}-é" for i in range(n)]
    shas = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(n)]
    expected = packed_root(b"".join(document_leaf_hash(d, s)
                                    for d, s in zip(ids, shas, strict=True)))
    assert documents_root(pa.array(ids), pa.array(shas)) == expected
    # sliced arrays (as read from a file in chunks) give the same head
    if n > 2:
        assert documents_root(pa.array(["x", *ids]).slice(1), pa.array(["0" * 64, *shas])
                              .slice(1)) == expected
