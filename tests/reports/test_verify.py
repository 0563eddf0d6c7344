import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from common.atomic import text_sha256
from reports.errors import ProofError
from reports.manifest import manifest_bytes
from reports.merkle import check_proof_file, proof_to_json
from reports.verify import MAX_DOCUMENT_PROBLEMS, document_proof, verify_release
from tests.reports.release_corpus import cut_release, make_rows


@pytest.fixture
def release(tmp_path):
    folder = tmp_path / "demo" / "1.0.0"
    files, manifest = cut_release(folder, make_rows(60), shard_bytes=4000, row_group_rows=8)
    assert len([f for f in files.files if f.kind == "data"]) >= 3
    return folder


def _kinds(report):
    return sorted({p.kind for p in report.problems})


def _rewrite(path, change):
    """Rewrite a shard through pyarrow with `change(rows)` applied, as a tamperer would."""
    rows = pq.read_table(path).to_pylist()
    change(rows)
    pq.write_table(pa.Table.from_pylist(rows, schema=pq.read_schema(path)), path,
                   compression="zstd")


def _edit_manifest(folder, change):
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest)
    (folder / "manifest.json").write_bytes(manifest_bytes(manifest))


def test_an_intact_release_verifies_deep_and_shallow(release):
    (release / "reports").mkdir()
    (release / "reports" / "datasheet.md").write_text("added after the cut")
    (release / "release.sig").write_text("{}")
    seen = []
    deep = verify_release(release, progress=lambda path, n: seen.append((path, n)))
    assert deep.ok, deep.lines()
    assert deep.documents_checked == 60
    assert deep.files_checked == len(seen) == 6
    assert sum(n for _, n in seen) == deep.bytes_checked
    shallow = verify_release(release, deep=False)
    assert shallow.ok and shallow.documents_checked == 0


def test_an_edited_document_is_named_with_its_shard(release):
    shard = release / "data" / "part-00001.parquet"
    target = pq.read_table(shard)["id"][3].as_py()

    def edit(rows):  # same characters in another order: only the hash can tell
        assert rows[3]["text"] != rows[3]["text"][::-1]
        rows[3]["text"] = rows[3]["text"][::-1]

    _rewrite(shard, edit)
    report = verify_release(release)
    assert _kinds(report) == ["document-changed", "file-changed"]
    changed = [p for p in report.problems if p.kind == "document-changed"]
    assert [(p.path, p.document) for p in changed] == [("data/part-00001.parquet", target)]
    assert changed[0].detail.startswith(f"data/part-00001.parquet: document {target} changed")
    assert report.problems[0].detail.startswith("data/part-00001.parquet: sha256 ")
    shallow = verify_release(release, deep=False)
    assert _kinds(shallow) == ["file-changed"]


def test_text_bytes_are_checked_against_the_manifest(release):
    shard = release / "data" / "part-00001.parquet"

    def grow(rows):
        rows[0]["text"] += " (edited)"

    _rewrite(shard, grow)
    report = verify_release(release)
    assert _kinds(report) == ["document-changed", "file-changed", "totals-mismatch"]
    assert any("bytes of text" in p.detail for p in report.problems)


def test_a_flipped_byte_in_the_text_names_the_shard_and_its_documents(release):
    shard = release / "data" / "part-00001.parquet"
    meta = pq.ParquetFile(shard).metadata
    chunk = meta.row_group(1).column(1)  # the text of rows 8-15
    data = bytearray(shard.read_bytes())
    data[chunk.data_page_offset + chunk.total_compressed_size - 10] ^= 0x10
    shard.write_bytes(bytes(data))
    report = verify_release(release)
    assert _kinds(report) == ["file-changed", "unreadable-shard"]
    unreadable = next(p for p in report.problems if p.kind == "unreadable-shard")
    index = pq.read_table(release / "index.parquet").to_pylist()
    in_group = [r["id"] for r in index if r["shard"] == "data/part-00001.parquet"
                and 8 <= r["row"] < 16]
    assert unreadable.path == "data/part-00001.parquet"
    assert "row group 1 (rows 8-15)" in unreadable.detail
    assert unreadable.detail.endswith(", ".join(in_group))


def test_a_flipped_byte_anywhere_is_reported(release):
    shard = release / "data" / "part-00000.parquet"
    data = bytearray(shard.read_bytes())
    for offset in range(4, len(data) - 8, max(1, len(data) // 37)):
        data[offset] ^= 0x01
        shard.write_bytes(bytes(data))
        report = verify_release(release)
        assert not report.ok
        assert all(p.path == "data/part-00000.parquet" for p in report.problems), report.lines()
        assert report.problems[0].kind == "file-changed"
        data[offset] ^= 0x01
    shard.write_bytes(bytes(data))
    assert verify_release(release).ok


def test_a_broken_footer_names_the_documents_the_index_places_there(release):
    shard = release / "data" / "part-00000.parquet"
    shard.write_bytes(shard.read_bytes()[:-20])
    report = verify_release(release)
    unreadable = [p for p in report.problems if p.kind == "unreadable-shard"]
    assert len(unreadable) == 1 and unreadable[0].path == "data/part-00000.parquet"
    placed = [r["id"] for r in pq.read_table(release / "index.parquet").to_pylist()
              if r["shard"] == "data/part-00000.parquet"]
    assert len(placed) > MAX_DOCUMENT_PROBLEMS
    assert f"the index places {len(placed)} document(s) there" in unreadable[0].detail
    assert ", ".join(placed[:MAX_DOCUMENT_PROBLEMS]) in unreadable[0].detail
    assert unreadable[0].detail.endswith(f"(+{len(placed) - MAX_DOCUMENT_PROBLEMS} more)")


def test_documents_removed_from_or_added_to_a_shard(release):
    shard = release / "data" / "part-00002.parquet"
    rows = pq.read_table(shard).to_pylist()
    removed = rows[-1]["id"]

    def drop_last_add_one(rows):
        rows.pop()
        rows.append({**rows[0], "id": "zz/extra", "text": "smuggled in"})

    _rewrite(shard, drop_last_add_one)
    report = verify_release(release)
    missing = [p for p in report.problems if p.kind == "document-missing"]
    extra = [p for p in report.problems if p.kind == "document-extra"]
    assert [p.document for p in missing] == [removed]
    assert [p.document for p in extra] == ["zz/extra"]
    assert "file-changed" in _kinds(report)


def test_many_changed_documents_are_summarised(release):
    shard = release / "data" / "part-00000.parquet"
    n = pq.read_metadata(shard).num_rows

    def edit_all(rows):
        for row in rows:
            row["text"] += "!"

    _rewrite(shard, edit_all)
    changed = [p for p in verify_release(release).problems if p.kind == "document-changed"]
    assert len(changed) == MAX_DOCUMENT_PROBLEMS + 1
    assert changed[-1].document is None
    assert changed[-1].detail == (f"data/part-00000.parquet: {n - MAX_DOCUMENT_PROBLEMS} more "
                                  "document changed problem(s)")


def test_missing_and_extra_files(release):
    (release / "excluded.parquet").unlink()
    (release / "notes.txt").write_text("not part of the release")
    (release / "data" / ".part-00009.parquet.tmp-1-abcd").write_bytes(b"partial")
    report = verify_release(release)
    assert [(p.kind, p.path) for p in report.problems] == [
        ("missing-file", "excluded.parquet"),
        ("extra-file", "data/.part-00009.parquet.tmp-1-abcd"),
        ("extra-file", "notes.txt"),
    ]


def test_a_missing_shard_reports_its_documents(release):
    (release / "data" / "part-00002.parquet").unlink()
    report = verify_release(release)
    assert _kinds(report) == ["document-missing", "missing-file"]
    assert any("the index places" in p.detail and p.kind == "document-missing"
               for p in report.problems)


def test_a_tampered_manifest_is_caught(release):
    _edit_manifest(release, lambda m: m.update(documents=m["documents"] - 1,
                                               tokens=m["tokens"] + 5))
    report = verify_release(release)
    assert _kinds(report) == ["totals-mismatch"]
    assert any("documents is 59" in p.detail for p in report.problems)
    assert any("index.parquet lists 60 documents, the manifest says 59" in p.detail
               for p in report.problems)

    def new_root(m):
        m.update(documents=m["documents"] + 1, tokens=m["tokens"] - 5)
        m["merkle"]["root"] = "0" * 64

    _edit_manifest(release, new_root)
    report = verify_release(release)
    assert _kinds(report) == ["merkle-mismatch"]
    assert "the manifest says 000000000000…" in report.problems[0].detail


def test_a_tampered_index_is_caught(release):
    index = release / "index.parquet"
    table = pq.read_table(index)
    rows = table.to_pylist()
    rows[5]["content_sha256"] = text_sha256("something else")
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), index)
    report = verify_release(release)
    assert _kinds(report) == ["document-changed", "file-changed", "merkle-mismatch"]
    changed = next(p for p in report.problems if p.kind == "document-changed")
    assert changed.document == rows[5]["id"]


def test_a_shard_token_count_edited_in_the_manifest(release):
    def bump(m):
        m["files"][0]["tokens"] += 3
        m["tokens"] += 3

    _edit_manifest(release, bump)
    report = verify_release(release)
    assert _kinds(report) == ["totals-mismatch"]
    assert any(p.path == "data/part-00000.parquet" for p in report.problems)
    # without decoding, the manifest is consistent with itself and the index
    assert verify_release(release, deep=False).ok


@pytest.mark.parametrize(("content", "message"), [
    (None, "no manifest"),
    (b"{", "not valid JSON"),
    (b'{"format": "x"}', "format is 'x'"),
])
def test_an_unusable_manifest_is_one_problem(release, content, message):
    if content is None:
        (release / "manifest.json").unlink()
    else:
        (release / "manifest.json").write_bytes(content)
    report = verify_release(release)
    assert [p.kind for p in report.problems] == ["manifest-invalid"]
    assert message in report.problems[0].detail


def test_document_proof_from_the_folder(release, tmp_path):
    index = pq.read_table(release / "index.parquet").to_pylist()
    manifest = json.loads((release / "manifest.json").read_text())
    for pos in (0, 17, 59):
        proof = document_proof(release, index[pos]["id"])
        assert proof.leaf_index == pos and proof.tree_size == 60
        assert proof.content_sha256 == index[pos]["content_sha256"]
        path = tmp_path / f"proof-{pos}.json"
        path.write_bytes(proof_to_json(proof))
        assert check_proof_file(path, expected_root=manifest["merkle"]["root"]) == proof
    with pytest.raises(ProofError, match="not in release demo 1.0.0"):
        document_proof(release, "web/99999")


def test_a_release_on_object_storage_is_written_and_verified_from_the_store(s3_root, tmp_path):
    """The same rows give the same objects as local files; verify reads only the store, and
    a flipped byte in an object is found with its shard and documents."""
    import fsspec

    from common.storage import as_path

    remote = as_path(f"{s3_root}/releases/demo/1.0.0")
    local = tmp_path / "demo" / "1.0.0"
    rows = make_rows(60)
    remote_files, _ = cut_release(remote, rows, shard_bytes=4000, row_group_rows=8)
    local_files, _ = cut_release(local, rows, shard_bytes=4000, row_group_rows=8)
    assert remote_files == local_files
    fs = fsspec.filesystem("s3")
    for f in local_files.files:
        assert fs.cat_file(remote.key + "/" + f.path) == (local / f.path).read_bytes(), f.path
    assert not list(tmp_path.glob("**/*.tmp*"))
    report = verify_release(remote)
    assert report.ok, report.lines()
    assert report.documents_checked == 60 and report.files_checked == len(local_files.files) + 2
    key = remote.key + "/data/part-00001.parquet"
    data = bytearray(fs.cat_file(key))
    data[len(data) // 3] ^= 0x10
    fs.pipe_file(key, bytes(data))
    report = verify_release(remote)
    assert not report.ok and "file-changed" in _kinds(report)
    assert all(p.path == "data/part-00001.parquet" for p in report.problems
               if p.kind != "totals-mismatch")
    fs.rm_file(remote.key + "/manifest.json")
    report = verify_release(remote)
    assert _kinds(report) == ["manifest-invalid"] and "no manifest" in report.lines()[0]
