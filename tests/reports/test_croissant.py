"""Croissant 1.1 JSON-LD: valid for mlcroissant, records readable and hash-checked, RAI, PROV."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import mlcroissant as mlc
import pytest

from common.atomic import file_sha256
from reports.croissant import (
    CONFORMS_TO,
    PARQUET,
    RAI_FIELDS,
    build_croissant,
    missing_required,
    render_croissant,
)
from reports.errors import CroissantError
from tests.reports.test_card import META, release_facts, shard_rows

# mlcroissant writes records' text columns as bytes
_TEXT = ("id", "text", "source", "url", "license", "language", "metadata")


def _write(folder: Path, doc: dict[str, Any] | str, name: str = "croissant.json") -> Path:
    path = folder / "reports" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def _records(path: Path) -> list[dict[str, Any]]:
    dataset = mlc.Dataset(jsonld=str(path))
    out = []
    for record_set in dataset.metadata.record_sets:
        for record in dataset.records(record_set=record_set.uuid):
            row = {k.split("/", 1)[1]: v for k, v in record.items()}
            out.append({k: v.decode() if k in _TEXT and isinstance(v, bytes) else v
                        for k, v in row.items()})
    return out


@pytest.fixture
def release(tmp_path):
    facts = release_facts(tmp_path)
    return tmp_path, facts


def test_mlcroissant_validates_it_and_reads_every_released_document(release):
    folder, facts = release
    path = _write(folder, render_croissant(facts, META))
    records = _records(path)
    rows = shard_rows(folder)
    assert len(records) == len(rows) == facts["manifest"]["documents"]
    assert sorted(r["id"] for r in records) == [r["id"] for r in rows]
    by_id = {r["id"]: r for r in records}
    for row in rows:
        got = by_id[row["id"]]
        assert got["text"] == row["text"] and got["license"] == row["license"]
        assert got["n_tokens"] == row["n_tokens"] and got["metadata"] == row["metadata"]


def test_the_cli_validates_the_file(release):
    folder, facts = release
    path = _write(folder, render_croissant(facts, META))
    cli = Path(sys.executable).with_name("mlcroissant")
    done = subprocess.run([str(cli), "validate", "--jsonld", str(path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_each_shard_is_a_file_object_with_its_size_and_sha256(release):
    folder, facts = release
    doc = json.loads(render_croissant(facts, META))
    shards = sorted((folder / "data").glob("*.parquet"))
    objects = doc["distribution"]
    assert [o["contentUrl"] for o in objects] == [f"../data/{p.name}" for p in shards]
    for obj, path in zip(objects, shards, strict=True):
        assert obj["@type"] == "cr:FileObject" and obj["encodingFormat"] == PARQUET
        assert obj["sha256"] == file_sha256(path)
        assert obj["contentSize"] == f"{path.stat().st_size} B"
    assert [rs["name"] for rs in doc["recordSet"]] == [p.stem for p in shards]
    columns = [f["source"]["extract"]["column"] for f in doc["recordSet"][0]["field"]]
    assert columns == ["id", "text", "source", "url", "license", "language", "n_tokens",
                       "collected_at", "metadata"]


def test_a_wrong_sha256_is_caught_only_when_records_are_read(release):
    folder, facts = release
    doc = json.loads(render_croissant(facts, META))
    good = doc["distribution"][0]["sha256"]
    doc["distribution"][0]["sha256"] = ("0" if good[0] != "0" else "1") + good[1:]
    path = _write(folder, doc)
    dataset = mlc.Dataset(jsonld=str(path))  # validation does not read the files
    with pytest.raises(mlc.GenerationError) as caught:
        list(dataset.records(record_set=doc["recordSet"][0]["@id"]))
    assert "Hash of downloaded file" in str(caught.value.__cause__)
    # the other shards, whose hashes are right, still read
    assert list(dataset.records(record_set=doc["recordSet"][1]["@id"]))


def test_the_data_base_places_the_file_elsewhere(release):
    folder, facts = release
    text = render_croissant(facts, META, data_base=".")
    doc = json.loads(text)
    assert doc["distribution"][0]["contentUrl"] == "data/part-00000.parquet"
    path = folder / "croissant.json"
    path.write_text(text, encoding="utf-8")
    assert len(_records(path)) == facts["manifest"]["documents"]


def test_the_required_fields_are_there(release):
    folder, facts = release
    doc = json.loads(render_croissant(facts, META))
    assert missing_required(doc) == []
    assert doc["@context"]["@vocab"] == "https://schema.org/"
    assert doc["@context"]["conformsTo"] == "dct:conformsTo"
    assert doc["conformsTo"][0] == CONFORMS_TO
    assert doc["name"] == "Demo corpus" and doc["version"] == "1.0.0"
    assert doc["datePublished"] == "2024-06-01" and doc["url"] == "https://example.org/demo"
    assert doc["creator"] == [{"@type": "sc:Person", "name": "Jane Doe"},
                              {"@type": "sc:Person", "name": "Data Lab"}]
    assert render_croissant(facts, META, date="2024-07-01").count('"2024-07-01"') == 1


@pytest.mark.parametrize("key", ["name", "description", "license", "url", "creator",
                                 "datePublished", "distribution", "@type", "conformsTo"])
def test_missing_required_names_each_missing_dataset_field(release, key):
    _folder, facts = release
    doc = build_croissant(facts, META)
    del doc[key]
    assert key in missing_required(doc)


def test_missing_required_looks_inside_files_and_record_sets(release):
    _folder, facts = release
    doc = build_croissant(facts, META)
    broken = copy.deepcopy(doc)
    del broken["distribution"][0]["sha256"]
    del broken["distribution"][1]["contentUrl"]
    del broken["recordSet"][0]["field"][1]["source"]
    del broken["recordSet"][0]["field"][2]["dataType"]
    del broken["recordSet"][1]["field"][0]["source"]["extract"]
    broken["@context"]["@vocab"] = "http://schema.org/"
    del broken["@context"]["prov"]
    assert missing_required(broken) == [
        "@context.@vocab", "@context.prov", "distribution[0].sha256",
        "distribution[1].contentUrl", "recordSet[0].field[1].source",
        "recordSet[0].field[2].dataType", "recordSet[1].field[0].source.extract"]
    md5 = copy.deepcopy(doc)
    md5["distribution"][0]["md5"] = md5["distribution"][0].pop("sha256")
    assert missing_required(md5) == []
    fileset = copy.deepcopy(doc)
    fileset["distribution"].append({"@type": "cr:FileSet", "name": "all"})
    assert missing_required(fileset) == ["distribution[4].encodingFormat",
                                         "distribution[4].includes"]


def test_mlcroissant_alone_accepts_what_the_spec_requires(release):
    """Why missing_required exists: mlcroissant validates a dataset with no name, url,
    creator or description."""
    folder, facts = release
    doc = build_croissant(facts, META)
    for key in ("name", "url", "creator", "description"):
        del doc[key]
    mlc.Dataset(jsonld=str(_write(folder, doc)))
    assert missing_required(doc) == ["name", "description", "url", "creator"]


def test_rendering_refuses_a_dataset_without_creator(release):
    _folder, facts = release
    meta = {k: v for k, v in META.items() if k not in ("creators", "publisher", "maintainer")}
    with pytest.raises(CroissantError, match=r"creator \(write creators in the release"):
        render_croissant(facts, meta)
    no_people = {k: v for k, v in META.items() if k != "creators"}
    doc = json.loads(render_croissant(facts, no_people))  # the publisher stands in
    assert doc["creator"] == [{"@type": "sc:Organization", "name": "Data Lab"}]


def test_without_a_homepage_the_url_is_the_release_folder(release):
    folder, facts = release
    meta = {k: v for k, v in META.items() if k != "homepage"}
    doc = json.loads(render_croissant(facts, meta))
    assert doc["url"] == ".."
    written = _write(folder, doc)
    assert (written.parent / doc["url"] / "manifest.json").exists()


def test_the_rai_fields(release):
    folder, facts = release
    doc = json.loads(render_croissant(facts, META))
    assert set(RAI_FIELDS) <= set(doc)
    assert doc["@context"]["rai"] == "http://mlcommons.org/croissant/RAI/"
    assert "http://mlcommons.org/croissant/RAI/1.0" in doc["conformsTo"]
    period = facts["composition"]["collection_period"]
    dated = [r["collected_at"] for r in shard_rows(folder) if r["collected_at"]]
    assert doc["rai:dataCollectionTimeframe"] == [period["start"], period["end"]]
    assert period["start"] == min(dated).isoformat() and period["end"] == max(dated).isoformat()
    assert doc["rai:dataCollectionType"] == ["Existing collection (code)", "Web Scraping"]
    assert "EMAIL_ADDRESS: 3 spans replaced by a placeholder." in \
        doc["rai:personalSensitiveInformation"]
    assert any("the rights holder opted out" in p for p in doc["rai:dataPreprocessingProtocol"])
    assert doc["rai:dataUseCases"] == ["Language-model pretraining research.",
                                       "Out of scope: Identifying people."]
    metadata = mlc.Dataset(jsonld=str(_write(folder, doc))).metadata
    assert metadata.data_collection == doc["rai:dataCollection"]
    assert metadata.data_biases == doc["rai:dataBiases"]
    assert metadata.data_limitations == doc["rai:dataLimitations"]
    assert metadata.data_use_cases == doc["rai:dataUseCases"]
    assert metadata.data_social_impact == "Little."
    assert metadata.data_release_maintenance_plan == doc["rai:dataReleaseMaintenancePlan"]
    assert metadata.personal_sensitive_information == doc["rai:personalSensitiveInformation"]
    assert metadata.data_preprocessing_protocol == doc["rai:dataPreprocessingProtocol"]


def test_mlcroissant_reads_two_rai_terms_under_its_own_spelling(release):
    """Both spellings validate; the vocabulary's is what we write, mlcroissant's is the only
    one its Metadata exposes."""
    folder, facts = release
    doc = json.loads(render_croissant(facts, META))
    ours = mlc.Dataset(jsonld=str(_write(folder, doc))).metadata
    assert ours.data_collection_timeframe is None and ours.data_manipulation_protocol is None
    theirs = dict(doc)
    theirs["rai:dataCollectionTimeFrame"] = theirs.pop("rai:dataCollectionTimeframe")
    theirs["rai:dataDataManipulationProtocol"] = theirs.pop("rai:dataManipulationProtocol")
    read = mlc.Dataset(jsonld=str(_write(folder, theirs, "theirs.json"))).metadata
    assert read.data_manipulation_protocol == doc["rai:dataManipulationProtocol"]
    assert [d.isoformat() for d in read.data_collection_timeframe] == \
        doc["rai:dataCollectionTimeframe"]


def test_provenance(release):
    _folder, facts = release
    doc = json.loads(render_croissant(facts, META))
    assert doc["@context"]["prov"] == "http://www.w3.org/ns/prov#"
    derived = doc["prov:wasDerivedFrom"]
    assert [d["@id"] for d in derived] == ["urn:govcat:source:code", "urn:govcat:source:web"]
    assert derived[0]["url"] == "https://code.example.org/"
    assert derived[0]["identifier"] == "sha256:" + "cd" * 32
    run = doc["prov:wasGeneratedBy"]
    assert run["@type"] == "prov:Activity" and run["@id"] == "urn:govcat:run:7"
    assert run["prov:startedAtTime"] == "2024-05-31T09:00:00+00:00"
    assert run["prov:used"]["@id"] == "urn:govcat:policy:research-permissive@2"


@pytest.mark.parametrize(("licences", "expected"), [
    (("CC-BY-NC-4.0",), ["https://spdx.org/licenses/CC-BY-NC-4.0.html"]),
    (("MIT", "MIT OR Apache-2.0"), ["https://spdx.org/licenses/Apache-2.0.html",
                                    "https://spdx.org/licenses/MIT.html"]),
    (("LicenseRef-Site-Terms",), ["LicenseRef-Site-Terms"]),
    (("(none)",), ["NOASSERTION"]),
])
def test_the_licence_is_given_as_spdx_urls(tmp_path, licences, expected):
    facts = release_facts(tmp_path, licences)
    doc = json.loads(render_croissant(facts, META))
    assert sorted(doc["license"]) == expected


def test_rendering_is_deterministic_and_reads_gathered_or_manifest_facts(release):
    folder, facts = release
    text = render_croissant(facts, META)
    assert render_croissant(copy.deepcopy(facts), dict(META)) == text
    assert text.endswith("}\n") and json.loads(text)
    # the same release cut in another folder gives the same file: no path of ours in it
    other = folder.parent / (folder.name + "-again")
    other.mkdir()
    assert render_croissant(release_facts(other), META) == text
    assert str(folder) not in text
