import pytest

from common import spdx
from common.spdx import (
    MAX_EXPRESSION_CHARS,
    LicenseExpressionError,
    and_all,
    canonical,
    is_equivalent,
    is_valid,
    license_keys,
    normalize,
    parse,
    suggest,
    try_normalize,
)


@pytest.mark.parametrize("given,expected", [
    ("MIT OR Apache-2.0", "MIT OR Apache-2.0"),
    ("mit or apache-2.0", "MIT OR Apache-2.0"),
    ("GPL-2.0+", "GPL-2.0-or-later"),
    ("(MIT AND LicenseRef-custom-1.0)", "MIT AND LicenseRef-custom-1.0"),
    ("DocumentRef-spdx-tool-1.2:LicenseRef-MIT-Style-2 OR mit",
     "DocumentRef-spdx-tool-1.2:LicenseRef-MIT-Style-2 OR MIT"),
    ("GPL-2.0-only WITH Classpath-exception-2.0", "GPL-2.0-only WITH Classpath-exception-2.0"),
    ("gpl-2.0+ with classpath-exception-2.0", "GPL-2.0-or-later WITH Classpath-exception-2.0"),
    ("  MIT  ", "MIT"),
])
def test_normalize(given, expected):
    assert normalize(given) == expected
    assert try_normalize(given) == expected
    assert is_valid(given)


@pytest.mark.parametrize("given,first", [("Apache2", "Apache-2.0"), ("CC BY 4.0", "CC-BY-4.0"),
                                         ("apache 2.0", "Apache-2.0")])
def test_unknown_ids_get_suggestions(given, first):
    with pytest.raises(LicenseExpressionError) as info:
        normalize(given)
    assert info.value.suggestions[0] == first
    assert first in str(info.value)
    assert suggest(given)[0] == first


@pytest.mark.parametrize("bad,problem", [
    ("", "empty expression"),
    ("   ", "empty expression"),
    ("(MIT", "not a valid expression"),
    ("MIT AND", "not a valid expression"),
    ("MIT,Apache-2.0", "not a valid expression"),
    ("Foo", "unknown licence id 'Foo'"),
    ("NOASSERTION", "unknown licence id 'NOASSERTION'"),
    ("MIT AND (Apache-2.0 OR Foo)", "unknown licence id 'Foo'"),
    ("Classpath-exception-2.0", "licence exception, allowed only after WITH"),
    ("MIT WITH Apache-2.0", "'Apache-2.0' after WITH is not an SPDX licence exception"),
])
def test_invalid(bad, problem):
    with pytest.raises(LicenseExpressionError, match="invalid licence") as info:
        normalize(bad)
    assert problem in info.value.problem
    assert isinstance(info.value, ValueError)
    assert try_normalize(bad) is None and not is_valid(bad)


def test_canonical_keeps_ids_spdx_does_not_know():
    assert canonical("noassertion and mit") == "noassertion AND MIT"
    assert canonical("LicenseRef-scancode-unknown OR gpl-2.0+") == (
        "LicenseRef-scancode-unknown OR GPL-2.0-or-later")
    with pytest.raises(LicenseExpressionError, match="not a valid expression"):
        canonical("MIT AND (")


def test_as_written_parse_keeps_the_spelling():
    parsed = parse("licenseref-publicdomain OR mit", as_written=True)
    assert parsed.render("{symbol.key}") == "licenseref-publicdomain OR mit"
    assert canonical("LicenseRef-PublicDomain") == "LicenseRef-scancode-public-domain"


def test_an_expression_over_the_limit_is_refused_before_parsing():
    just_fits = " AND ".join(["MIT"] * ((MAX_EXPRESSION_CHARS + 5) // 8))
    assert len(just_fits) <= MAX_EXPRESSION_CHARS
    assert normalize(just_fits).startswith("MIT AND MIT")
    licence_text = "Permission is hereby granted, free of charge, to any person " * 1800
    before = spdx._parse.cache_info()
    with pytest.raises(LicenseExpressionError) as info:
        parse(licence_text)
    after = spdx._parse.cache_info()
    assert (after.hits, after.misses) == (before.hits, before.misses)  # never parsed
    message = str(info.value)
    assert f"over the limit of {MAX_EXPRESSION_CHARS} characters" in message
    assert f"{len(licence_text.strip())} characters" in message
    assert len(message) < 300  # the expression is quoted only in part
    assert info.value.expression == licence_text.strip()
    assert try_normalize(licence_text) is None
    assert license_keys(licence_text) == frozenset({licence_text})


def test_parses_are_cached_and_the_cache_is_bounded():
    spdx._parse.cache_clear()
    first = parse("MIT OR ISC")
    assert parse(" MIT OR ISC ") is first  # the same parsed object, not a new parse
    for bad in ("(MIT", "(MIT"):
        with pytest.raises(LicenseExpressionError):
            parse(bad)
    info = spdx._parse.cache_info()
    assert info.hits == 2 and info.misses == 2  # a failure is cached like a result
    assert info.maxsize is not None and info.maxsize >= 1024


def test_one_licensing_object_for_the_process():
    assert spdx.licensing() is spdx.licensing()
    assert "MIT" in spdx.licensing().known_symbols


def test_keys_equivalence_and_conjunction():
    assert license_keys("GPL-2.0+ WITH Classpath-exception-2.0") == frozenset(
        {"GPL-2.0-or-later", "Classpath-exception-2.0"})
    assert license_keys("mit or isc") == license_keys("ISC AND MIT")
    assert is_equivalent("MIT OR Apache-2.0", "apache-2.0 or mit")
    assert not is_equivalent("MIT", "GPL-2.0-only")
    assert is_equivalent("(MIT", "(MIT") and not is_equivalent("(MIT", "MIT")
    assert and_all(["MIT", "Apache-2.0", "MIT"]) == "MIT AND Apache-2.0"
    assert and_all(["mit"]) == "MIT"
