import pytest

from ingest.consent.paths import PathPattern, normalise, request_path


def test_request_path_drops_authority_and_fragment():
    assert request_path("HTTPS://Example.com:8080/a/b?q=1#frag") == "/a/b?q=1"
    assert request_path("https://example.com") == "/"
    assert request_path("https://example.com?x") == "/?x"
    assert request_path("a/b") == "/a/b"
    # reserved characters compare escaped, the query's own delimiters stay
    assert request_path("/p:1?u=https://x&y=%3d") == "/p%3A1?u=https%3A%2F%2Fx&y=%3D"
    assert request_path("/%7euser/%41b") == "/~user/Ab"


def test_pattern_and_path_normalise_alike():
    # RFC 9309 Figure 4: the pattern and the path match whichever side is escaped
    pattern = PathPattern("/foo/bar?baz=https://foo.bar")
    assert pattern.matches(request_path("/foo/bar?baz=https%3A%2F%2Ffoo.bar"))
    assert PathPattern("/foo/bar?baz=https%3A%2F%2Ffoo.bar").matches(
        request_path("/foo/bar?baz=https://foo.bar"))
    assert normalise("/a*b", pattern=True) == "/a*b"
    assert normalise("/a*b") == "/a%2Ab"


@pytest.mark.parametrize(("pattern", "path", "matches"), [
    ("/fish", "/fish.html", True),
    ("/fish", "/Fish", False),
    ("/fish$", "/fish", True),
    ("/fish$", "/fish/", False),
    ("/*.php$", "/folder/a.php", True),
    ("/*.php$", "/a.php?x=1", False),
    ("", "/anything", False),
    ("/foo-%24", "/foo-$bar", True),
])
def test_pattern_matching(pattern, path, matches):
    assert PathPattern(pattern).matches(request_path(path)) is matches


def test_specificity_counts_a_wildcard_and_a_final_dollar_once():
    assert PathPattern("/tag/*?").specificity == 7
    assert PathPattern("/tag/api").specificity == 8
    assert PathPattern("/a$").specificity == 3
