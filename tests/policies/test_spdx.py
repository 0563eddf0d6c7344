import pytest

from policies.spdx import LicenseExpressionError, normalize, suggest


@pytest.mark.parametrize("given,expected", [
    ("MIT OR Apache-2.0", "MIT OR Apache-2.0"),
    ("mit or apache-2.0", "MIT OR Apache-2.0"),
    ("GPL-2.0+", "GPL-2.0-or-later"),
    ("(MIT AND LicenseRef-custom-1.0)", "MIT AND LicenseRef-custom-1.0"),
    ("GPL-2.0-only WITH Classpath-exception-2.0", "GPL-2.0-only WITH Classpath-exception-2.0"),
])
def test_normalize(given, expected):
    assert normalize(given) == expected


@pytest.mark.parametrize("given,first", [("Apache2", "Apache-2.0"), ("CC BY 4.0", "CC-BY-4.0")])
def test_unknown_ids_get_suggestions(given, first):
    with pytest.raises(LicenseExpressionError) as info:
        normalize(given)
    assert info.value.suggestions[0] == first
    assert first in str(info.value)
    assert suggest(given)[0] == first


@pytest.mark.parametrize("bad", ["", "(MIT", "MIT AND", "Foo"])
def test_invalid(bad):
    with pytest.raises(LicenseExpressionError):
        normalize(bad)
