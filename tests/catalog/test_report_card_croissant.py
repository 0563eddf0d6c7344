"""`govcat report card|croissant` on a release the catalog cut: the Hub card and the Croissant
file describe the real folder (SQLite and Postgres)."""

from __future__ import annotations

import json
from pathlib import Path

import mlcroissant as mlc
import pytest
from huggingface_hub import DatasetCard

from reports.card import check_card_data, main_languages
from reports.croissant import RAI_FIELDS, missing_required
from tests.catalog.test_process import _ingest, _run

pytestmark = pytest.mark.slow  # a small corpus is processed and cut first (a few seconds)

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "release.yaml"


@pytest.fixture
def release(cli, tmp_path) -> Path:
    _ingest(cli, tmp_path)
    out = _run(cli, "--workers", "1")
    r = cli("release", "cut", str(out["run"]), "--name", "demo", "--version", "1.0.0")
    assert r.exit_code == 0, r.output
    return cli.home / "releases" / "demo" / "1.0.0"


def test_card_and_croissant_of_a_cut_release(cli, release):
    manifest = json.loads((release / "manifest.json").read_text())
    r = cli("report", "all", "demo", "--meta", str(SAMPLE), "--date", "2025-07-01")
    assert r.exit_code == 0, r.output
    folder = release / "reports"
    index = json.loads((folder / "reports-manifest.json").read_text())
    assert {"README.md", "croissant.json"} <= {f["path"] for f in index["files"]}
    assert not [s for s in index["skipped"] if s["report"] in ("card", "croissant")]

    card = DatasetCard.load(folder / "README.md")
    data = card.data.to_dict()
    assert check_card_data(data) == []
    licences = sorted(manifest["counts"]["by_license"])
    if len(licences) > 1:  # the sample corpus mixes licences; the metadata links the terms
        assert (data["license"], data["license_name"], data["license_link"]) == (
            "other", "mixed", "https://example.org/govcat/sample-corpus/terms")
        for licence in licences:
            assert f"| `{licence}` | {manifest['counts']['by_license'][licence]['documents']:,} |" \
                in card.text
    assert data["language"] == main_languages({"manifest": manifest})
    assert f"holds {manifest['documents']:,} documents" in card.text
    for entity, spans in manifest["redacted"].items():
        assert f"| {entity} | {spans:,} |" in card.text

    doc = json.loads((folder / "croissant.json").read_text())
    assert missing_required(doc) == [] and set(RAI_FIELDS) - {"rai:dataSocialImpact"} <= set(doc)
    assert [d["@id"] for d in doc["prov:wasDerivedFrom"]] == [
        f"urn:govcat:source:{s['slug']}" for s in manifest["sources"]]
    assert doc["prov:wasGeneratedBy"]["@id"] == f"urn:govcat:run:{manifest['run']['id']}"
    dataset = mlc.Dataset(jsonld=str(folder / "croissant.json"))
    ids = [record[f"{rs.uuid}/id"].decode()
           for rs in dataset.metadata.record_sets for record in dataset.records(rs.uuid)]
    assert len(ids) == manifest["documents"] and ids == sorted(ids)
    assert cli("release", "verify", "demo").exit_code == 0

    # Edited by hand, then regenerated: the edits govcat does not own survive.
    edited = (folder / "README.md").read_text().replace(
        "## Glossary\n\n[More Information Needed]", "## Glossary\n\n- **shard**: a file.")
    (folder / "README.md").write_text(edited.replace("tags:\n", "tags:\n- mine\n", 1))
    assert cli("report", "all", "demo", "--meta", str(SAMPLE), "--date",
               "2025-07-01").exit_code == 0
    again = DatasetCard.load(folder / "README.md")
    assert "- **shard**: a file." in again.text and "mine" in again.data.tags
