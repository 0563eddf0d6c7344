import codecs
from importlib.metadata import version

import pytest
from fastwarc.warc import HeaderMap

from ingest.html import (
    EXTRACTOR,
    EXTRACTOR_VERSION,
    cc_license_from_url,
    decode_html,
    extract_text,
    header_signals,
    html_signals,
    html_title,
    parse_html,
)
from ingest.types import ConsentSignal

ARTICLE = [
    "The river valley was settled by farmers who grew barley and kept goats on the slopes.",
    "Archaeologists found pottery shards that date the first houses to the early iron age.",
    "A stone bridge built two centuries later still carries traffic across the narrow gorge.",
]

PAGE = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>  Valley
  history </title></head>
<body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>
<li><a href="/contact">Contact us</a></li></ul></nav>
<main><article><h1>History of the valley</h1>
<p>{ARTICLE[0]}</p><p>{ARTICLE[1]}</p><p>{ARTICLE[2]}</p></article></main>
<footer><p>Copyright 2024 Example Media. All rights reserved.</p>
<ul><li><a href="/privacy">Privacy policy</a></li><li><a href="/terms">Terms</a></li></ul></footer>
</body></html>"""


def test_extractor_names_installed_resiliparse():
    assert EXTRACTOR == "resiliparse"
    assert EXTRACTOR_VERSION == version("resiliparse")


def test_extract_text_keeps_article_and_drops_navigation():
    text = extract_text(PAGE)
    for sentence in ARTICLE:
        assert sentence in text
    assert "Contact us" not in text
    assert "Privacy policy" not in text
    assert text == text.strip()


def test_extract_text_same_from_bytes_str_and_tree():
    data = PAGE.encode()
    assert extract_text(data) == extract_text(PAGE) == extract_text(parse_html(PAGE))


def test_extract_text_uses_meta_charset_for_non_utf8_bytes():
    html = (
        '<html><head><meta charset="windows-1252"></head><body><p>Un café à Zürich, très bon.</p>'
    )
    assert "Un café à Zürich" in extract_text(html.encode("cp1252"))


def test_transport_charset_used_when_bytes_are_not_utf8():
    html = "<p>Привет, как дела? Всё хорошо.</p>".encode("koi8-r")
    assert "Привет" in extract_text(html, encoding="koi8-r")


def test_valid_utf8_wins_over_a_wrong_transport_charset():
    html = "<p>Grüße aus München</p>".encode()
    assert extract_text(html, encoding="iso-8859-1") == "Grüße aus München"


def test_decode_html_strips_bom_and_reports_encoding():
    assert decode_html(codecs.BOM_UTF8 + b"<p>x</p>") == ("<p>x</p>", "utf-8")
    utf16 = codecs.BOM_UTF16_LE + "<p>é</p>".encode("utf-16-le")
    assert decode_html(utf16, encoding="iso-8859-1") == ("<p>é</p>", "utf-16-le")


def test_unknown_transport_charset_falls_back_to_detection():
    assert decode_html("<p>ça</p>".encode("cp1252"), encoding="no-such-charset")[0] == "<p>ça</p>"


def test_html_title_collapses_whitespace_and_is_none_when_missing():
    assert html_title(PAGE) == "Valley history"
    assert html_title("<html><body>x</body></html>") is None


def test_empty_and_binary_input_do_not_raise():
    assert extract_text("") == ""
    assert extract_text(b"") == ""
    assert html_signals(bytes(range(256)) * 4) == ([], [])


# --- consent signals ------------------------------------------------------------------


def test_meta_robots_with_noai_kept_whole_and_others_ignored():
    html = """<head><meta name="ROBOTS" content="noindex, NoAI">
    <meta name="robots" content="index, follow">
    <meta name="robots" content="noimageai">
    <meta name="googlebot" content="noai"></head>"""
    signals, licenses = html_signals(html)
    assert signals == [
        ConsentSignal("meta-robots", "noindex, NoAI", "html"),
        ConsentSignal("meta-robots", "noimageai", "html"),
    ]
    assert licenses == []


def test_noai_must_be_a_whole_token():
    assert html_signals('<meta name="robots" content="noaidable">') == ([], [])


def test_tdm_meta_tags_verbatim():
    html = """<meta name="tdm-reservation" content="1">
    <meta name="TDM-Policy" content=" https://example.com/tdm/policy.json ">"""
    signals, _ = html_signals(html.encode())
    assert signals == [
        ConsentSignal("tdm-reservation-meta", "1", "html"),
        ConsentSignal("tdm-policy-meta", "https://example.com/tdm/policy.json", "html"),
    ]


def test_header_signals_case_insensitive_and_repeated():
    headers = [
        ("X-Robots-Tag", "noindex"),
        ("x-robots-tag", "otherbot: noai, noimageai"),
        ("TDM-Reservation", "1"),
        ("tdm-policy", "https://example.com/policy.json"),
        ("content-signal", "search=yes, ai-train=no"),
        ("Content-Type", "text/html"),
    ]
    assert header_signals(headers) == [
        ConsentSignal("x-robots-tag", "otherbot: noai, noimageai", "http-header"),
        ConsentSignal("tdm-reservation-header", "1", "http-header"),
        ConsentSignal("tdm-policy-header", "https://example.com/policy.json", "http-header"),
        ConsentSignal("content-signal", "search=yes, ai-train=no", "http-header"),
    ]


def test_header_signals_from_mapping_and_fastwarc_headermap():
    assert header_signals({"Tdm-Reservation": "0"}) == [
        ConsentSignal("tdm-reservation-header", "0", "http-header")
    ]
    headers = HeaderMap()
    headers.append("X-Robots-Tag", "noai")
    headers.append("X-Robots-Tag", "noimageai")
    assert [s.value for s in header_signals(headers)] == ["noai", "noimageai"]


# --- Creative Commons links -----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expression", "ver", "port"),
    [
        ("https://creativecommons.org/licenses/by/4.0/", "CC-BY-4.0", "4.0", None),
        ("http://creativecommons.org/licenses/by-sa/3.0/deed.en", "CC-BY-SA-3.0", "3.0", None),
        (
            "//www.creativecommons.org/licenses/by-nc-nd/4.0/legalcode",
            "CC-BY-NC-ND-4.0",
            "4.0",
            None,
        ),
        ("https://creativecommons.org/licenses/by-nc-sa/2.5", "CC-BY-NC-SA-2.5", "2.5", None),
        ("https://creativecommons.org/licenses/by-nd/2.0/", "CC-BY-ND-2.0", "2.0", None),
        ("https://creativecommons.org/licenses/by-nc/1.0/", "CC-BY-NC-1.0", "1.0", None),
        ("https://creativecommons.org/licenses/by-nd-nc/1.0/", "CC-BY-NC-ND-1.0", "1.0", None),
        ("https://creativecommons.org/licenses/by/3.0/de/", "CC-BY-3.0-DE", "3.0", "de"),
        ("https://creativecommons.org/licenses/by-sa/3.0/fr/", "CC-BY-SA-3.0", "3.0", "fr"),
        (
            "https://creativecommons.org/licenses/by-sa/2.1/es/",
            "LicenseRef-CC-BY-SA-2.1-ES",
            "2.1",
            "es",
        ),
        ("https://creativecommons.org/publicdomain/zero/1.0/", "CC0-1.0", "1.0", None),
        ("https://creativecommons.org/publicdomain/mark/1.0/", "CC-PDM-1.0", "1.0", None),
        ("https://CreativeCommons.org/Licenses/BY-SA/4.0/", "CC-BY-SA-4.0", "4.0", None),
        ("creativecommons.org/licenses/by/4.0", "CC-BY-4.0", "4.0", None),
        ("https://creativecommons.org/licenses/by/", "LicenseRef-CC-BY-unversioned", None, None),
    ],
)
def test_cc_license_from_url(url, expression, ver, port):
    found = cc_license_from_url(url)
    assert found is not None
    assert (found.expression, found.version, found.jurisdiction) == (expression, ver, port)


@pytest.mark.parametrize(
    "url",
    [
        "https://creativecommons.org/about/",
        "https://creativecommons.org/licenses/GPL/2.0/",
        "https://creativecommons.org.evil.example/licenses/by/4.0/",
        "https://example.com/creativecommons.org/licenses/by/4.0/",
        "https://opensource.org/licenses/MIT",
        "http://[broken",
    ],
)
def test_non_cc_urls_are_not_licences(url):
    assert cc_license_from_url(url) is None


def test_cc_links_one_finding_per_licence_with_rel_and_meta():
    html = """<html><head>
    <link rel="license" href="https://creativecommons.org/licenses/by-sa/4.0/">
    </head><body><p>Text.</p>
    <a href="https://creativecommons.org/licenses/by-sa/4.0/deed.de">CC BY-SA 4.0</a>
    <a rel="license" href="/terms">Our terms</a>
    </body></html>"""
    signals, licenses = html_signals(html)
    assert signals == []
    assert len(licenses) == 1
    (finding,) = licenses
    assert finding.detector == "cc-link"
    assert finding.expression == "CC-BY-SA-4.0"
    assert finding.location == "https://creativecommons.org/licenses/by-sa/4.0/"
    assert finding.extra["version"] == "4.0"
    assert finding.extra["rel_license"] is True
    assert finding.extra["conflict"] is False
    assert finding.extra["occurrences"] == 2


def test_plain_anchor_is_not_rel_license():
    (finding,) = html_signals('<a href="https://creativecommons.org/licenses/by/4.0/">x</a>')[1]
    assert finding.extra["rel_license"] is False
    assert finding.extra["element"] == "a"


def test_meta_content_licence_and_conflict_between_licences():
    html = """<head><meta name="dc.rights" content="https://creativecommons.org/licenses/by-nc/4.0/">
    </head><body><a rel="license" href="https://creativecommons.org/licenses/by/4.0/">BY</a>
    <a href="https://creativecommons.org/publicdomain/zero/1.0/">CC0 image</a></body>"""
    _, licenses = html_signals(html)
    assert [f.expression for f in licenses] == ["CC-BY-NC-4.0", "CC-BY-4.0", "CC0-1.0"]
    assert [f.extra["element"] for f in licenses] == ["meta", "a", "a"]
    assert all(f.extra["conflict"] is True for f in licenses)
    assert [f.extra["rel_license"] for f in licenses] == [False, True, False]


def test_cc_url_inside_a_meta_sentence():
    html = """<meta name="copyright" content="Text licensed under CC BY 4.0
    (https://creativecommons.org/licenses/by/4.0/); photos all rights reserved">"""
    (finding,) = html_signals(html)[1]
    assert finding.expression == "CC-BY-4.0"
    assert finding.location == "https://creativecommons.org/licenses/by/4.0/"
