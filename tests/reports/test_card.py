"""The Hugging Face dataset card: licence ids, languages, sizes, merging, round-trips."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml
from huggingface_hub import DatasetCard

from catalog.services.report_facts import _licenses
from common.spdx import canonical, licensing
from reports.card import (
    CARD_PLACEHOLDER,
    HUB_LICENSES,
    LANGUAGE_MIN_SHARE,
    OWNED_KEYS,
    SPDX_TO_HUB,
    card_license,
    check_card_data,
    main_languages,
    render_card,
    size_category,
)
from reports.errors import CardError
from reports.manifest import write_manifest
from tests.reports.release_corpus import cut_release, make_rows

META: dict[str, Any] = {
    "title": "Demo corpus",
    "summary": "A small multilingual test corpus.",
    "motivation": "To test the reports.",
    "creators": ["Jane Doe", "Data Lab"],
    "funding": "none",
    "publisher": "Data Lab",
    "homepage": "https://example.org/demo",
    "intended_uses": ["Language-model pretraining research."],
    "out_of_scope_uses": ["Identifying people."],
    "maintainer": "Data Lab",
    "contact": "data@example.org",
    "citation": "@misc{demo, title={Demo corpus}}",
    "keywords": ["web", "code"],
    "limitations": "Small.",
    "biases": "English-heavy.",
    "social_impact": "Little.",
    "updates": "Yearly.",
}


def shard_rows(folder: Path) -> list[dict[str, Any]]:
    """The released rows, read back from the shards."""
    rows = []
    for path in sorted((folder / "data").glob("*.parquet")):
        rows += pq.read_table(path).to_pylist()
    return rows


def release_facts(folder: Path, licences: tuple[str, ...] = ("CC-BY-4.0", "MIT", "Apache-2.0"),
                  *, n: int = 40) -> dict[str, Any]:
    """Cut a small release whose documents cycle through `licences`, and the facts the
    catalog would gather for it (counts computed from the rows, as the cut does)."""
    rows = make_rows(n)
    for i, row in enumerate(rows):
        row["license"] = licences[i % len(licences)]
    _files, manifest = cut_release(folder, rows)
    counts: dict[str, dict[str, dict[str, int]]] = {
        k: {} for k in ("by_source", "by_license", "by_language")}
    for row in rows:
        for key, value in (("by_source", row["source"]), ("by_license", row["license"]),
                           ("by_language", row["language"])):
            entry = counts[key].setdefault(value, {"documents": 0, "tokens": 0})
            entry["documents"] += 1
            entry["tokens"] += row["n_tokens"]
    manifest.update(
        created_at="2024-06-01T10:00:00+00:00", code_version="0.1.0 (abc123)",
        counts=counts, redacted={"EMAIL_ADDRESS": 3, "PHONE_NUMBER": 1},
        policy={"name": "research-permissive", "version": "2", "sha256": "ab" * 32},
        run={"id": 7, "gate_run": 6, "status": "finished"},
        sources=[{"slug": "code", "record_sha256": "cd" * 32},
                 {"slug": "web", "record_sha256": "ef" * 32}],
        funnel=[{"stage": "admission", "docs_in": n + 5, "kept": n, "dropped": {"optout": 5}},
                {"stage": "pii", "docs_in": n, "kept": n, "dropped": {}}],
    )
    write_manifest(folder, manifest)
    # the licence classes and obligations exactly as the catalog derives them (no database)
    licenses, obligations, combined = _licenses(counts["by_license"], manifest["tokens"],
                                                manifest["documents"])
    dated = [r["collected_at"] for r in rows if r["collected_at"] is not None]
    by_source = Counter(r["source"] for r in rows)
    return {
        "manifest": manifest, "name": "demo", "version": "1.0.0",
        "created_at": manifest["created_at"], "description": "a test release",
        "run": {"id": 7, "started_at": "2024-05-31T09:00:00+00:00",
                "finished_at": "2024-05-31T09:05:00+00:00"},
        "sources": [
            {"slug": "code", "kind": "code", "title": "Code hosting", "uri":
             "https://code.example.org/", "acquisition_method": "dump",
             "robots_handling": "not-applicable", "tos_verdict": "unrestricted",
             "declared_license": "MIT", "record_sha256": "cd" * 32,
             "documents": by_source["code"], "personal_data": "no"},
            {"slug": "web", "kind": "web-crawl", "title": "The web", "uri":
             "https://example.org/", "acquisition_method": "crawl",
             "robots_handling": "respected", "tos_verdict": "conditional",
             "record_sha256": "ef" * 32, "documents": by_source["web"],
             "personal_data": "yes"},
        ],
        "composition": {"collection_period": {"start": min(dated).isoformat(),
                                              "end": max(dated).isoformat()},
                        "undated_documents": n - len(dated)},
        "licenses": licenses, "obligations": obligations, "combined_use": combined,
        "policy": {"name": "research-permissive", "version": "2", "sha256": "ab" * 32,
                   "combining": "deny-overrides",
                   "rules": [{"stage": "admission", "id": "optout", "effect": "deny",
                              "reason": "the rights holder opted out"}]},
    }


def _header(text: str) -> dict[str, Any]:
    return yaml.safe_load(text.split("---\n")[1])


def _section(text: str, title: str) -> str:
    body = text.split(f" {title}\n", 1)[1]
    return body.split("\n#", 1)[0]


# --------------------------------------------------------------------------- licences


def test_a_release_whose_only_licence_is_cc_by_nc_gets_the_hub_id(tmp_path):
    facts = release_facts(tmp_path, ("CC-BY-NC-4.0",))
    path = tmp_path / "README.md"
    path.write_text(render_card(facts, META), encoding="utf-8")
    card = DatasetCard.load(path)
    assert card.data.license == "cc-by-nc-4.0"
    assert "license_name" not in card.data.to_dict() and "license_link" not in card.data.to_dict()
    assert "Commercial use: licences `CC-BY-NC-4.0` do not permit it." in card.text


def test_a_mixed_release_is_other_with_the_breakdown_in_the_body(tmp_path):
    facts = release_facts(tmp_path, ("CC-BY-4.0", "MIT", "Apache-2.0"))
    text = render_card(facts, META)
    header = _header(text)
    assert header["license"] == "other"
    assert header["license_name"] == "mixed" and header["license_link"] == "README.md#licenses"
    breakdown = _section(text, "Licenses")
    released = Counter(r["license"] for r in shard_rows(tmp_path))
    assert len(released) == 3
    for licence, documents in released.items():
        line = next(x for x in breakdown.splitlines() if x.startswith(f"| `{licence}` |"))
        assert line.split(" | ")[1] == str(documents)
    assert "3 different licences" in breakdown


def test_the_metadata_can_link_the_terms_of_a_mixed_release(tmp_path):
    facts = release_facts(tmp_path, ("CC-BY-4.0", "MIT"))
    text = render_card(facts, {**META, "license_link": "https://example.org/terms"})
    assert _header(text)["license_link"] == "https://example.org/terms"


@pytest.mark.parametrize(("licences", "expected"), [
    (["MIT"], ("mit", None, None)),
    (["GPL-3.0"], ("gpl-3.0", None, None)),  # deprecated id, canonical GPL-3.0-only
    (["GPL-3.0-or-later"], ("other", "gpl-3.0-or-later",
                            "https://spdx.org/licenses/GPL-3.0-or-later.html")),
    (["CC-BY-SA-2.5"], ("other", "cc-by-sa-2.5", "https://spdx.org/licenses/CC-BY-SA-2.5.html")),
    (["LicenseRef-Site-Terms"], ("other", "licenseref-site-terms", "README.md#licenses")),
    (["MIT OR Apache-2.0"], ("other", "mit-or-apache-2.0", "README.md#licenses")),
    (["(none)"], ("unknown", None, None)),
    (["MIT", "(none)"], ("other", "mixed", "README.md#licenses")),
    ([], ("unknown", None, None)),
])
def test_card_license(licences, expected):
    lic = card_license(licences)
    assert (lic.license, lic.license_name, lic.license_link) == expected


def test_every_mapped_licence_is_an_spdx_id_and_a_hub_id():
    known = licensing().known_symbols
    for spdx_id, hub_id in SPDX_TO_HUB.items():
        assert spdx_id in known and canonical(spdx_id) == spdx_id, spdx_id
        assert hub_id in HUB_LICENSES, hub_id
    # families would lose the version; "other" and "unknown" are not licences
    assert not set(SPDX_TO_HUB.values()) & {"bsd", "cc", "gpl", "lgpl", "gfdl", "openrail",
                                            "other", "unknown"}


# --------------------------------------------------------------------------- languages, size


def test_languages_below_the_share_are_left_out_of_the_header_but_told_in_the_body(tmp_path):
    facts = release_facts(tmp_path)
    facts["composition"]["by_language"] = [
        {"key": "en", "documents": 90, "tokens": 9850, "share": 0.985},
        {"key": "fr", "documents": 5, "tokens": 100, "share": 0.01},
        {"key": "de", "documents": 4, "tokens": 49, "share": 0.0049},
        {"key": "(unknown)", "documents": 1, "tokens": 1, "share": 0.0001},
    ]
    assert LANGUAGE_MIN_SHARE == 0.01
    assert main_languages(facts) == ["en", "fr"]
    text = render_card(facts, META)
    assert _header(text)["language"] == ["en", "fr"]
    assert _header(text)["multilinguality"] == "multilingual"
    assert "de (0.5%)" in _section(text, "Dataset Description")


def test_languages_from_the_manifest_counts(tmp_path):
    facts = release_facts(tmp_path)
    rows = shard_rows(tmp_path)
    tokens = Counter()
    for row in rows:
        tokens[row["language"]] += row["n_tokens"]
    assert main_languages(facts) == [k for k, _ in tokens.most_common()]


@pytest.mark.parametrize(("documents", "label"), [
    (0, "n<1K"), (999, "n<1K"), (1000, "1K<n<10K"), (99_999, "10K<n<100K"),
    (100_000, "100K<n<1M"), (10**9, "1B<n<10B"), (10**12 - 1, "100B<n<1T"),
    (10**12, "n>1T"),
])
def test_size_category(documents, label):
    assert size_category(documents) == label


# --------------------------------------------------------------------------- the card


def test_the_written_card_round_trips_through_datasetcard_load(tmp_path):
    facts = release_facts(tmp_path)
    text = render_card(facts, META)
    path = tmp_path / "README.md"
    path.write_text(text, encoding="utf-8")
    card = DatasetCard.load(path)
    assert str(card).rstrip("\n") + "\n" == text
    data = card.data.to_dict()
    assert data == _header(text)
    assert data["pretty_name"] == "Demo corpus"
    assert data["size_categories"] == ["n<1K"]
    assert data["task_categories"] == ["text-generation"]
    assert data["tags"] == ["code", "govcat", "web"]
    assert data["configs"] == [{"config_name": "default",
                                "data_files": [{"split": "train", "path": "data/*.parquet"}]}]
    assert check_card_data(data) == []
    # the config's glob finds the release's shards from the folder the card describes
    assert sorted(tmp_path.glob(data["configs"][0]["data_files"][0]["path"]))
    assert card.text.lstrip().startswith("# Dataset Card for Demo corpus")


def test_the_body_follows_the_hub_template_and_says_what_the_catalog_knows(tmp_path):
    facts = release_facts(tmp_path)
    text = render_card(facts, META)
    headings = [line for line in text.splitlines() if line.startswith("#")]
    order = ["## Dataset Details", "### Dataset Description", "### Dataset Sources",
             "## Uses", "### Direct Use", "### Out-of-Scope Use", "## Dataset Structure",
             "## Dataset Creation", "### Curation Rationale", "### Source Data",
             "#### Data Collection and Processing", "#### Who are the source data producers?",
             "### Annotations", "#### Personal and Sensitive Information",
             "## Bias, Risks, and Limitations", "### Recommendations", "## Citation",
             "## Glossary", "## More Information", "## Dataset Card Authors",
             "## Dataset Card Contact"]
    assert [h for h in headings if h in order] == order
    rows = shard_rows(tmp_path)
    structure = _section(text, "Dataset Structure")
    for f in facts["manifest"]["files"]:
        if f["kind"] == "data":
            assert f"| `{f['path']}` | {f['documents']} |" in structure and f["sha256"] in structure
    assert f"holds {len(rows)} documents" in text
    personal = _section(text, "Personal and Sensitive Information")
    assert "| EMAIL_ADDRESS | 3 |" in personal and "`web`" in personal
    collection = _section(text, "Data Collection and Processing")
    assert "research-permissive" in collection and "the rights holder opted out" in collection
    assert facts["composition"]["collection_period"]["start"] in collection
    assert "Data Lab — data@example.org" in _section(text, "Dataset Card Contact")
    assert "```bibtex\n@misc{demo" in _section(text, "Citation")


def test_rendering_is_deterministic_and_idempotent(tmp_path):
    facts = release_facts(tmp_path)
    first = render_card(facts, META)
    assert render_card(facts, dict(META)) == first
    assert render_card(facts, META, existing=first) == first


EXISTING = """---
license: other
license_name: old-terms
annotations_creators:
- found
dataset_info:
  features:
  - name: text
    dtype: string
  splits:
  - name: train
    num_examples: 3
tags:
- hand-written
configs:
- config_name: sample
  data_files: sample.parquet
- config_name: default
  data_files: old/*.parquet
---

# Dataset Card for Old name

Old summary.

## Dataset Details

### Dataset Description

Old description.

## Uses

### Direct Use

Old uses.

### Our Evaluation Notes

Held-out results live in the wiki.

## Dataset Structure

Old structure.

```
# not a heading: inside a code block
```

### Annotations

#### Annotation process

Two annotators labelled topics.

## Glossary

- **shard**: one Parquet file.

## Dataset Card Contact

old@example.org
"""


def test_regenerating_keeps_what_govcat_does_not_own(tmp_path):
    facts = release_facts(tmp_path, ("CC-BY-4.0",))
    meta = {k: v for k, v in META.items() if k != "intended_uses"}
    text = render_card(facts, meta, existing=EXISTING)
    header = _header(text)
    # owned keys replaced (license_name goes with the licence it named) ...
    assert header["license"] == "cc-by-4.0" and "license_name" not in header
    assert header["pretty_name"] == "Demo corpus"
    # ... the others kept, tags and configs merged
    assert header["annotations_creators"] == ["found"]
    assert header["dataset_info"]["splits"] == [{"name": "train", "num_examples": 3}]
    assert header["tags"] == ["hand-written", "code", "govcat", "web"]
    assert [c["config_name"] for c in header["configs"]] == ["default", "sample"]
    assert header["configs"][0]["data_files"] == [{"split": "train", "path": "data/*.parquet"}]
    assert set(header) - set(OWNED_KEYS) == {"annotations_creators", "dataset_info"}
    # owned sections rewritten, title included
    assert "Old structure." not in text and "Old description." not in text
    assert "# Dataset Card for Demo corpus" in text and "Old name" not in text
    assert "data@example.org" in _section(text, "Dataset Card Contact")
    # sections govcat has nothing for keep their text; its own stay where they were
    assert "Old uses." in _section(text, "Direct Use")
    assert "- **shard**: one Parquet file." in _section(text, "Glossary")
    notes = text.index("### Our Evaluation Notes")
    assert text.index("### Direct Use") < notes < text.index("## Dataset Structure")
    assert "Held-out results live in the wiki." in text
    process = text.index("#### Annotation process")
    assert text.index("### Annotations") < process < text.index(
        "#### Personal and Sensitive Information")
    # a second regeneration changes nothing
    assert render_card(facts, meta, existing=text) == text
    assert check_card_data(DatasetCard(text).data.to_dict()) == []


def test_a_section_govcat_learns_to_fill_replaces_the_placeholder(tmp_path):
    facts = release_facts(tmp_path)
    bare = {k: v for k, v in META.items() if k != "intended_uses"}
    before = render_card(facts, bare)
    assert CARD_PLACEHOLDER in _section(before, "Direct Use")
    after = render_card(facts, META, existing=before)
    assert "Language-model pretraining research." in _section(after, "Direct Use")


def test_a_card_without_header_is_regenerated(tmp_path):
    facts = release_facts(tmp_path)
    text = render_card(facts, META, existing="Some notes before any heading.\n\n## Extra\n\nx\n")
    assert text.startswith("---\n")
    assert "Some notes before any heading." in text and "## Extra\n\nx" in text


def test_an_unknown_task_category_is_refused_with_the_closest_one(tmp_path):
    facts = release_facts(tmp_path)
    with pytest.raises(CardError, match="'text-generaton' \\(did you mean 'text-generation'"):
        render_card(facts, {**META, "task_categories": ["text-generaton"]})
    text = render_card(facts, {**META, "task_categories": ["fill-mask", "text-generation"]})
    assert _header(text)["task_categories"] == ["fill-mask", "text-generation"]


def test_an_unreadable_existing_card_is_one_line(tmp_path):
    facts = release_facts(tmp_path)
    with pytest.raises(CardError, match="the existing card cannot be read"):
        render_card(facts, META, existing="---\nlicense: [mit\n---\n# x\n")


def test_check_card_data_flags_values_the_hub_does_not_list():
    problems = check_card_data({
        "license": "cc-by-nc-4", "size_categories": ["n<1k"], "task_categories": ["lm"],
        "language": ["en", "English"], "multilinguality": "bilingual",
        "configs": [{"config_name": "default"}]})
    assert [p.split(":")[0] for p in problems] == [
        "license", "size_categories", "task_categories", "multilinguality", "language",
        "configs"]
    assert check_card_data({"license": "other"}) == ["license: other needs license_name"]


def test_header_values_a_person_wrote_are_theirs_to_answer_for(tmp_path):
    facts = release_facts(tmp_path)
    existing = ("---\ntags: hand-written\nconfigs:\n- config_name: raw\n  data_dir: raw\n"
                "task_ids:\n- language-modeling\n---\n# Old\n")
    header = _header(render_card(facts, META, existing=existing))
    assert header["tags"] == ["hand-written", "code", "govcat", "web"]
    assert header["configs"][1] == {"config_name": "raw", "data_dir": "raw"}
    assert header["task_ids"] == ["language-modeling"]
