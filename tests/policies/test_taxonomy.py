from dataclasses import replace
from pathlib import Path

import pytest

from common.spdx import LicenseExpressionError, licensing
from policies.taxonomy import (
    USE_ORDER,
    TaxonomyError,
    combine,
    load_taxonomy,
)


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy()


POPULAR = [
    "MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "GPL-2.0-only", "GPL-2.0-or-later",
    "GPL-3.0-only", "GPL-3.0-or-later", "LGPL-2.1-only", "LGPL-2.1-or-later", "LGPL-3.0-only",
    "LGPL-3.0-or-later", "AGPL-3.0-only", "AGPL-3.0-or-later", "MPL-2.0", "EPL-2.0", "ISC",
    "Unlicense", "Zlib", "BSL-1.0", "CDDL-1.0", "EUPL-1.2", "Artistic-2.0", "OFL-1.1", "WTFPL",
    "0BSD", "Python-2.0", "PostgreSQL", "ODbL-1.0", "ODC-By-1.0", "PDDL-1.0",
    "CDLA-Permissive-2.0", "CDLA-Sharing-1.0", "CC0-1.0", "LicenseRef-PublicDomain",
    "LicenseRef-PD-US-Gutenberg", "LicenseRef-Proprietary", "LicenseRef-EULA",
    "LicenseRef-All-Rights-Reserved", "LicenseRef-Unknown", "LicenseRef-Academic-Only",
]


@pytest.mark.parametrize("license_id", POPULAR)
def test_builtin_covers_popular_licences(taxonomy, license_id):
    assert license_id in taxonomy
    assert taxonomy.classify(license_id).known


CC_KINDS = {  # kind -> (use, attribution, share_alike, no_derivatives, open)
    "BY": ("commercial", True, False, False, True),
    "BY-SA": ("commercial", True, True, False, True),
    "BY-ND": ("commercial", True, False, True, False),
    "BY-NC": ("non-commercial", True, False, False, False),
    "BY-NC-SA": ("non-commercial", True, True, False, False),
    "BY-NC-ND": ("non-commercial", True, False, True, False),
}


@pytest.mark.parametrize("version", ["1.0", "2.0", "2.5", "3.0", "4.0"])
@pytest.mark.parametrize("kind", sorted(CC_KINDS))
def test_creative_commons_versions_are_classified_by_kind(taxonomy, kind, version):
    got = taxonomy.classify(f"CC-{kind}-{version}")
    assert (got.use, got.attribution, got.share_alike, got.no_derivatives, got.open) == (
        CC_KINDS[kind]
    )


def test_every_spdx_creative_commons_id_is_in_the_taxonomy(taxonomy):
    spdx_ids = {
        key for key, symbol in licensing().known_symbols.items()
        if key == symbol.key and key.startswith("CC") and not symbol.is_exception
    }
    assert len(spdx_ids) > 50
    assert sorted(i for i in spdx_ids if i not in taxonomy) == []


def test_ported_creative_commons_keeps_the_class_of_its_kind(taxonomy):
    ported = taxonomy.classify("CC-BY-SA-3.0-DE")
    assert replace(ported, licenses=()) == replace(taxonomy.classify("CC-BY-SA-3.0"), licenses=())
    assert taxonomy.classify("CC-BY-NC-ND-3.0-IGO").use == "non-commercial"


def test_ids_are_case_insensitive_and_deprecated_spellings_map(taxonomy):
    assert taxonomy.classify("mit") == taxonomy.classify("MIT")
    assert taxonomy.classify("GPL-2.0+").licenses == ("GPL-2.0-or-later",)


def test_and_is_most_restrictive(taxonomy):
    got = taxonomy.classify("MIT AND CC-BY-NC-SA-4.0 AND CC0-1.0")
    assert got.use == "non-commercial"
    assert got.attribution and got.share_alike and not got.no_derivatives
    assert not got.open and got.known
    assert got.licenses == ("MIT", "CC-BY-NC-SA-4.0", "CC0-1.0")


def test_use_order_puts_academic_only_above_non_commercial(taxonomy):
    assert USE_ORDER == ("commercial", "unspecified", "non-commercial", "academic-only")
    got = taxonomy.classify("CC-BY-NC-4.0 AND LicenseRef-Academic-Only")
    assert got.use == "academic-only"
    assert taxonomy.classify("MIT AND LicenseRef-All-Rights-Reserved").use == "unspecified"


def test_or_lets_the_licensee_choose_the_least_restrictive(taxonomy):
    got = taxonomy.classify("GPL-2.0-only OR MIT")
    assert got.licenses == ("MIT",) and not got.share_alike
    assert taxonomy.classify("CC-BY-NC-4.0 OR CC-BY-4.0").use == "commercial"


def test_or_prefers_known_terms_over_unknown_ones(taxonomy):
    got = taxonomy.classify("LicenseRef-Whatever OR CC-BY-NC-4.0")
    assert got.known and got.use == "non-commercial"


def test_nested_and_or(taxonomy):
    got = taxonomy.classify("(MIT OR Apache-2.0) AND CC-BY-SA-4.0")
    assert got.licenses == ("MIT", "CC-BY-SA-4.0")
    assert got.share_alike and got.use == "commercial"


def test_with_keeps_the_base_licence_class(taxonomy):
    got = taxonomy.classify("GPL-2.0-only WITH Classpath-exception-2.0")
    base = taxonomy.classify("GPL-2.0-only")
    assert got == base


def test_unknown_ids_are_unspecified_and_not_known(taxonomy):
    got = taxonomy.classify("LicenseRef-Never-Heard-Of")
    assert (got.use, got.known, got.open) == ("unspecified", False, False)
    assert not taxonomy.classify("MIT AND LicenseRef-Never-Heard-Of").known
    assert not taxonomy.classify("NOASSERTION").known


@pytest.mark.parametrize("bad", ["", "MIT AND", "(MIT"])
def test_unparseable_expression_raises(taxonomy, bad):
    with pytest.raises(LicenseExpressionError):
        taxonomy.classify(bad)


def test_licence_refs_are_looked_up_as_written(taxonomy):
    # license-expression aliases this id to scancode's; the taxonomy's own entry answers first.
    assert taxonomy.classify("LicenseRef-PublicDomain").licenses == ("LicenseRef-PublicDomain",)
    assert taxonomy.classify("licenseref-scancode-public-domain").licenses == (
        "LicenseRef-scancode-public-domain",)


def test_an_over_long_expression_is_refused_with_the_limit(taxonomy):
    with pytest.raises(LicenseExpressionError, match="over the limit of 2000 characters"):
        taxonomy.classify(" OR ".join(["MIT"] * 600))


def test_classes_are_cached_per_taxonomy_and_the_cache_is_bounded(taxonomy):
    first = taxonomy.classify("MIT OR Apache-2.0")
    assert taxonomy.classify("MIT OR Apache-2.0") is first
    assert 0 < taxonomy._cached.cache_info().maxsize < 100_000


def test_combine_for_a_mixture(taxonomy):
    mixture = combine(
        [taxonomy.classify("CC-BY-4.0"), taxonomy.classify("CC-BY-ND-4.0"),
         taxonomy.classify("LicenseRef-Unknown")]
    )
    assert mixture.use == "unspecified"
    assert mixture.no_derivatives and mixture.attribution and not mixture.open
    assert mixture.licenses == ("CC-BY-4.0", "CC-BY-ND-4.0", "LicenseRef-Unknown")
    with pytest.raises(ValueError):
        combine([])


def _write(tmp_path: Path, text: str, name: str = "extra.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_user_file_adds_and_overrides_entries(tmp_path):
    extra = _write(tmp_path, """
licenses:
  LicenseRef-ACME-Data-1.0: {use: academic-only, attribution: true, share_alike: false,
                             no_derivatives: false, open: false, name: ACME research data}
  mit: {use: non-commercial, attribution: true, share_alike: false, no_derivatives: false,
        open: false, notes: our lawyers say so}
""")
    taxonomy = load_taxonomy([extra])
    assert taxonomy.classify("LicenseRef-ACME-Data-1.0").use == "academic-only"
    assert taxonomy.get("MIT").notes == "our lawyers say so"
    assert taxonomy.classify("MIT").use == "non-commercial"
    assert taxonomy.digest != load_taxonomy().digest
    assert len(taxonomy) == len(load_taxonomy()) + 1


@pytest.mark.parametrize("body,entry,problem", [
    ("  MIT: {use: free, attribution: true, share_alike: false, no_derivatives: false, "
     "open: true}", "MIT", "'use' must be one of"),
    ("  MIT: {use: commercial, attribution: yes please, share_alike: false, "
     "no_derivatives: false, open: true}", "MIT", "'attribution' must be true or false"),
    ("  LicenseRef-X: {use: commercial, attribution: true}", "LicenseRef-X", "missing fields"),
    ("  LicenseRef-X: {use: commercial, attribution: true, share_alike: false, "
     "no_derivatives: false, open: true, sharealike: true}", "LicenseRef-X", "unknown fields"),
    ("  MIT AND GPL-2.0-only: {use: commercial}", "MIT AND GPL-2.0-only", "single SPDX"),
    ("  MIT: commercial", "MIT", "expected a mapping"),
])
def test_malformed_entry_names_file_and_entry(tmp_path, body, entry, problem):
    extra = _write(tmp_path, "licenses:\n" + body + "\n")
    with pytest.raises(TaxonomyError) as info:
        load_taxonomy([extra])
    message = str(info.value)
    assert str(extra) in message and f"entry {entry!r}" in message and problem in message
    assert info.value.entry == entry


@pytest.mark.parametrize("text,problem", [
    ("licenses: {MIT: [unclosed", "not valid YAML at line 1"),
    ("- MIT\n- GPL", "expected a mapping with a 'licenses:'"),
    ("licences:\n  MIT: {}\n", "expected a mapping with a 'licenses:'"),
])
def test_malformed_file_names_the_file(tmp_path, text, problem):
    extra = _write(tmp_path, text)
    with pytest.raises(TaxonomyError, match=problem) as info:
        load_taxonomy([extra])
    assert str(extra) in str(info.value)


def test_missing_user_file_is_a_taxonomy_error(tmp_path):
    with pytest.raises(TaxonomyError, match="cannot read"):
        load_taxonomy([tmp_path / "nope.yaml"])
