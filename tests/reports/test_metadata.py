"""Release metadata: safe loading, one line per error with its line, required fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from reports.metadata import (
    FIELDS,
    MetadataError,
    complete,
    load_metadata,
    parse_metadata,
    required_missing,
)

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "release.yaml"
REQUIRED = [f.name for f in FIELDS if f.required and f.kind != "mapping"]


def test_the_sample_has_every_required_field_and_dates_become_text():
    meta = load_metadata(SAMPLE)
    assert required_missing(meta) == []
    assert meta["model"]["placed_on_market"] == "2025-08-02"
    assert isinstance(meta["intended_uses"], list)


def test_required_missing_lists_exactly_what_is_absent_or_blank():
    meta = parse_metadata("motivation: why\nfunding: '  '\nprovider:\n  name: Lab\n")
    missing = required_missing(meta)
    assert "motivation" not in missing and "provider.name" not in missing
    assert "funding" in missing and "provider.contact" in missing
    assert missing == [f for f in REQUIRED if f not in ("motivation", "provider.name")]
    assert required_missing({}) == REQUIRED


def test_each_problem_is_one_line_with_file_and_line():
    text = "motivation: ok\ntitel: typo\nprovider:\n  name: Lab\n  contact: [1, 2]\n" \
           "model:\n  placed_on_market: 2025-13-40\nhomepage: ftp://x\n"
    with pytest.raises(MetadataError) as info:
        parse_metadata(text, "r.yaml")
    problems = info.value.problems
    assert len(problems) == 4
    assert problems[0].startswith("r.yaml:2: titel: unknown field") and "'title'" in problems[0]
    assert problems[1].startswith("r.yaml:5: provider.contact")
    assert problems[2].startswith("r.yaml:7: model.placed_on_market")
    assert problems[3].startswith("r.yaml:8: homepage")
    assert all("\n" not in p for p in problems)


def test_aliases_and_unsafe_tags_are_refused():
    with pytest.raises(MetadataError, match=r"m.yaml:3: .*aliases are not allowed"):
        parse_metadata("a: &x {name: n}\nmotivation: m\nb: *x\n", "m.yaml")
    with pytest.raises(MetadataError, match="not valid YAML"):
        parse_metadata("motivation: !!python/object/apply:os.system [ls]\n", "m.yaml")


def test_not_a_mapping_and_missing_file():
    with pytest.raises(MetadataError, match=":1: expected a mapping"):
        parse_metadata("- a\n- b\n", "l.yaml")
    with pytest.raises(MetadataError, match="no such file"):
        load_metadata("/nonexistent/release.yaml")
    assert parse_metadata("") == {}


def test_complete_has_every_field():
    full = complete({"provider": {"name": "x"}})
    assert full["provider"]["name"] == "x" and full["provider"]["contact"] is None
    assert full["model"]["version"] is None and full["citation"] is None
