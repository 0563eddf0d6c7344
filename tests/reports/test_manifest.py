import hashlib
import json

import pytest

from common.atomic import file_sha256
from reports.errors import ManifestError
from reports.manifest import (
    FORMAT,
    canonical_json,
    canonical_sha256,
    load_manifest,
    manifest_bytes,
    manifest_problems,
    write_manifest,
)
from tests.reports.release_corpus import cut_release


def test_manifest_bytes_are_canonical():
    body = {"name": "démo", "b": [1, {"z": 1, "a": 2}], "a": None}
    data = manifest_bytes(body)
    assert data == (json.dumps(body, sort_keys=True, indent=2, ensure_ascii=False)
                    + "\n").encode()
    assert "démo".encode() in data and data.endswith(b"}\n")
    reordered = {"a": None, "b": [1, {"a": 2, "z": 1}], "name": "démo"}
    assert manifest_bytes(reordered) == data
    with pytest.raises(ManifestError, match="canonical JSON"):
        canonical_json({"x": float("nan")})
    with pytest.raises(ManifestError, match="canonical JSON"):
        canonical_json({"x": object()})


def test_canonical_sha256_ignores_key_order_only():
    a = canonical_sha256({"policy": "p", "stages": [1, 2], "k": {"y": 1, "x": 2}})
    b = canonical_sha256({"k": {"x": 2, "y": 1}, "stages": [1, 2], "policy": "p"})
    assert a == b
    assert a == hashlib.sha256(b'{"k":{"x":2,"y":1},"policy":"p","stages":[1,2]}').hexdigest()
    assert canonical_sha256({"stages": [2, 1], "policy": "p", "k": {"y": 1, "x": 2}}) != a


def test_write_and_load_round_trip(tmp_path):
    written = write_manifest(tmp_path, {"name": "n", "version": "1.0.0"})
    path = tmp_path / "manifest.json"
    assert written.sha256 == file_sha256(path)
    loaded = load_manifest(tmp_path)
    assert loaded == {"format": FORMAT, "name": "n", "version": "1.0.0"}
    assert path.read_bytes() == manifest_bytes(loaded)
    with pytest.raises(ManifestError, match="format"):
        write_manifest(tmp_path, {"format": "other/2"})


@pytest.mark.parametrize(("content", "message"), [
    (None, "no manifest"),
    (b"{oops", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b"[1, 2]", "expected a JSON object"),
    (b'{"format": "govcat-release/2"}', "format is 'govcat-release/2'"),
    (b'{"name": "x"}', "format is None"),
])
def test_load_refuses_a_missing_broken_or_foreign_manifest(tmp_path, content, message):
    if content is not None:
        (tmp_path / "manifest.json").write_bytes(content)
    with pytest.raises(ManifestError, match=message) as err:
        load_manifest(tmp_path)
    assert str(tmp_path / "manifest.json") in str(err.value)
    assert "\n" not in str(err.value)


def test_a_cut_manifest_has_no_structural_problems(tmp_path):
    _, manifest = cut_release(tmp_path)
    assert manifest_problems(load_manifest(tmp_path)) == []
    assert load_manifest(tmp_path) == manifest


def test_structural_problems_are_named(tmp_path):
    _, manifest = cut_release(tmp_path)
    broken = json.loads(json.dumps(manifest))
    broken["files"][0]["sha256"] = "XYZ"
    broken["files"][1]["path"] = "../escape.parquet"
    broken["files"].append(dict(broken["files"][2]))
    broken["files"].append({"path": "reports/card.md", "kind": "report", "sha256": "0" * 64,
                            "bytes": 1})
    broken["tokens"] = -1
    broken["merkle"]["algorithm"] = "sha1"
    del broken["merkle"]["root"]
    problems = manifest_problems(broken)
    assert any("data/part-00000.parquet: sha256" in p for p in problems)
    assert any("'../escape.parquet' is not a relative path" in p for p in problems)
    assert any("is listed twice" in p for p in problems)
    assert any("'reports/card.md' is not a relative path" in p for p in problems)
    assert "tokens: missing or not a count" in problems
    assert any(p.startswith("merkle.algorithm is 'sha1'") for p in problems)
    assert "merkle.root: missing or not 64 lowercase hex" in problems
    assert manifest_problems({})[0] == "files: missing or not a list"
