"""HTML → main-content text, and the rights signals a page carries (resiliparse).

`extract_text` is what the web connectors store as a document's text and what
`govcat tools html2text FILE` prints. `html_signals` reads the consent meta tags and
Creative Commons links from the DOM; `header_signals` reads the HTTP headers that carry
the same kind of reservations. Nothing here decides anything: signals are kept verbatim
and the policies interpret them.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from typing import Any
from urllib.parse import urlsplit

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding, map_encoding_to_html5
from resiliparse.parse.html import HTMLTree

from ingest.types import ConsentSignal, LicenseFinding, SignalKind

__all__ = [
    "EXTRACTOR",
    "EXTRACTOR_VERSION",
    "CcLicense",
    "cc_license_from_url",
    "decode_html",
    "extract_text",
    "header_signals",
    "html_signals",
    "html_title",
    "parse_html",
]

EXTRACTOR = "resiliparse"
EXTRACTOR_VERSION = version("resiliparse")

# Alt texts are off: in articles they mostly repeat captions or say "logo", which is noise
# in training text. Everything else is resiliparse's default main-content extraction.
_EXTRACT_OPTIONS: dict[str, Any] = {
    "main_content": True,
    "preserve_formatting": True,
    "alt_texts": False,
}

# robots directives that reserve AI use; other robots directives (noindex...) are about
# search engines and are not recorded.
AI_ROBOTS_TOKENS = frozenset({"noai", "noimageai"})

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

Html = bytes | str | HTMLTree


def decode_html(data: bytes, *, encoding: str | None = None) -> tuple[str, str]:
    """Decode an HTML byte string; return `(text, encoding used)`.

    Order: byte-order mark; then UTF-8 when the bytes are valid UTF-8 (declared charsets
    are often wrong — servers default to ISO-8859-1 — while non-ASCII text that happens to
    be valid UTF-8 in another encoding is rare); then the transport's charset (`encoding`,
    e.g. from Content-Type); then `<meta charset>`; then uchardet's guess. Undecodable
    bytes fall back to UTF-8 / Windows-1252 inside `bytes_to_str`.
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            return bytes_to_str(data, name), name
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    chosen = _known_encoding(encoding) if encoding else None
    if chosen is None:
        chosen = detect_encoding(data, from_html_meta=True)
    return bytes_to_str(data, chosen), chosen


def _known_encoding(label: str) -> str | None:
    try:
        codecs.lookup(label)
    except LookupError:
        return None
    return map_encoding_to_html5(label)


def parse_html(html: Html, *, encoding: str | None = None) -> HTMLTree:
    """Parse once; the tree can then be given to `extract_text`, `html_signals`, `html_title`."""
    if isinstance(html, HTMLTree):
        return html
    if isinstance(html, bytes | bytearray | memoryview):
        html = decode_html(bytes(html), encoding=encoding)[0]
    return HTMLTree.parse(html)


def extract_text(html: Html, *, encoding: str | None = None) -> str:
    """Main-content plain text of a page (paragraphs kept, navigation and boilerplate dropped)."""
    return extract_plain_text(parse_html(html, encoding=encoding), **_EXTRACT_OPTIONS).strip()


def html_title(html: Html, *, encoding: str | None = None) -> str | None:
    title = parse_html(html, encoding=encoding).title
    if not title:
        return None
    return " ".join(title.split()) or None


# --- consent and licence signals -------------------------------------------------------

_META_SIGNALS: dict[str, SignalKind] = {
    "tdm-reservation": "tdm-reservation-meta",
    "tdm-policy": "tdm-policy-meta",
}
_HEADER_SIGNALS: dict[str, SignalKind] = {
    "x-robots-tag": "x-robots-tag",
    "tdm-reservation": "tdm-reservation-header",
    "tdm-policy": "tdm-policy-header",
    "content-signal": "content-signal",
}
_TOKEN_SPLIT = re.compile(r"[\s,;:]+")

# One selector so the elements come back in document order: all <meta> (few per page),
# links to creativecommons.org, and any element with rel=license.
_SIGNAL_SELECTOR = (
    'meta, a[href*="creativecommons.org" i], link[href*="creativecommons.org" i], '
    'area[href*="creativecommons.org" i], [rel~="license" i][href]'
)


def _reserves_ai(value: str) -> bool:
    return not AI_ROBOTS_TOKENS.isdisjoint(_TOKEN_SPLIT.split(value.lower()))


def html_signals(
    html: Html, *, encoding: str | None = None
) -> tuple[list[ConsentSignal], list[LicenseFinding]]:
    """Consent meta tags and Creative Commons licence links found in a page.

    - `<meta name="robots">` whose content has `noai`/`noimageai` → "meta-robots" with the
      whole content value; `<meta name="tdm-reservation|tdm-policy">` → verbatim.
    - `rel="license"` links, `<a>/<link>/<area href>` and `<meta content>` pointing at a CC
      licence or public-domain tool → one `LicenseFinding` per distinct licence, in page
      order; `extra["conflict"]` is true on all of them when the page names several.
    """
    tree = parse_html(html, encoding=encoding)
    signals: list[ConsentSignal] = []
    found: dict[str, LicenseFinding] = {}
    for el in tree.document.query_selector_all(_SIGNAL_SELECTOR):
        tag = el.tag
        if tag == "meta":
            name = (el.getattr("name") or "").strip().lower()
            content = (el.getattr("content") or "").strip()
            if not content:
                continue
            if name == "robots":
                if _reserves_ai(content):
                    signals.append(ConsentSignal("meta-robots", content, "html"))
            elif name in _META_SIGNALS:
                signals.append(ConsentSignal(_META_SIGNALS[name], content, "html"))
            elif "creativecommons.org" in content.lower():
                # The content may be a bare URL or a sentence that contains one.
                for url in _CC_URL.findall(content):
                    _add_cc(found, url, tag, rel_license=False)
            continue
        href = (el.getattr("href") or "").strip()
        rel_license = "license" in (el.getattr("rel") or "").lower().split()
        _add_cc(found, href, tag, rel_license=rel_license)
    licenses = list(found.values())
    if len(licenses) > 1:
        for finding in licenses:
            finding.extra["conflict"] = True
    return signals, licenses


def _add_cc(found: dict[str, LicenseFinding], url: str, tag: str, *, rel_license: bool) -> None:
    cc = cc_license_from_url(url)
    if cc is None:
        return
    seen = found.get(cc.expression)
    if seen is not None:
        seen.extra["rel_license"] = seen.extra["rel_license"] or rel_license
        seen.extra["occurrences"] += 1
        return
    extra: dict[str, Any] = {
        "version": cc.version,
        "rel_license": rel_license,
        "conflict": False,
        "element": tag,
        "occurrences": 1,
    }
    if cc.jurisdiction:
        extra["jurisdiction"] = cc.jurisdiction
    found[cc.expression] = LicenseFinding(
        detector="cc-link", expression=cc.expression, location=url, raw=url, extra=extra
    )


def header_signals(
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | Any,
) -> list[ConsentSignal]:
    """Rights signals in HTTP headers (names case-insensitive, repeated headers all kept).

    `X-Robots-Tag` is recorded only when it carries `noai`/`noimageai` (whole value kept);
    `tdm-reservation`, `tdm-policy` and `Content-Signal` are recorded verbatim.
    Accepts a mapping, a list of `(name, value)` pairs, or a FastWARC `HeaderMap`.
    """
    pairs = headers.items() if hasattr(headers, "items") else headers
    signals: list[ConsentSignal] = []
    for name, value in pairs:
        kind = _HEADER_SIGNALS.get(name.strip().lower())
        value = value.strip()
        if kind is None or not value:
            continue
        if kind == "x-robots-tag" and not _reserves_ai(value):
            continue
        signals.append(ConsentSignal(kind, value, "http-header"))
    return signals


# --- Creative Commons URLs -------------------------------------------------------------

_CC_HOSTS = frozenset({"creativecommons.org", "www.creativecommons.org"})
_CC_LICENCES = {
    "by": "CC-BY",
    "by-sa": "CC-BY-SA",
    "by-nd": "CC-BY-ND",
    "by-nc": "CC-BY-NC",
    "by-nc-sa": "CC-BY-NC-SA",
    "by-nc-nd": "CC-BY-NC-ND",
    "by-nd-nc": "CC-BY-NC-ND",  # the 1.0 URL spelled the elements in this order
}
_CC_TOOLS = {"zero": "CC0", "mark": "CC-PDM"}
_VERSION = re.compile(r"^\d+\.\d+$")
_CC_URL = re.compile(r"(?:https?:)?(?://)?(?:www\.)?creativecommons\.org/[^\s\"'<>(),;]*", re.I)


@dataclass(frozen=True, slots=True)
class CcLicense:
    expression: str  # SPDX id, or LicenseRef-... when SPDX has none for it
    version: str | None
    jurisdiction: str | None = None


def cc_license_from_url(url: str) -> CcLicense | None:
    """Map a creativecommons.org licence / public-domain URL to its SPDX id, else None.

    `/licenses/by-sa/3.0/de/` → CC-BY-SA-3.0-DE (ported ids SPDX knows), otherwise the
    unported id with the jurisdiction kept aside; a URL without a version gives
    `LicenseRef-CC-BY-SA-unversioned`.
    """
    try:
        parts = urlsplit(url.strip() if "//" in url else "//" + url.strip())
    except ValueError:
        return None
    if (parts.hostname or "") not in _CC_HOSTS:
        return None
    segments = [s for s in parts.path.lower().split("/") if s]
    if len(segments) < 2:
        return None
    family, kind, rest = segments[0], segments[1], segments[2:]
    if family == "licenses" and kind in _CC_LICENCES:
        base = _CC_LICENCES[kind]
    elif family == "publicdomain" and kind in _CC_TOOLS:
        base = _CC_TOOLS[kind]
    else:
        return None
    if not rest or not _VERSION.match(rest[0]):
        return CcLicense(f"LicenseRef-{base}-unversioned", None)
    ver = rest[0]
    port = rest[1] if len(rest) > 1 and _is_jurisdiction(rest[1]) else None
    spdx = _spdx_ids()
    if port and f"{base}-{ver}-{port}".upper() in spdx:
        return CcLicense(spdx[f"{base}-{ver}-{port}".upper()], ver, port)
    if f"{base}-{ver}".upper() in spdx:
        return CcLicense(spdx[f"{base}-{ver}".upper()], ver, port)
    suffix = f"-{port.upper()}" if port else ""
    return CcLicense(f"LicenseRef-{base}-{ver}{suffix}", ver, port)


def _is_jurisdiction(segment: str) -> bool:
    # Ports are country codes ("de", "uk") or a few words ("igo", "scotland"); the other
    # segments after the version are pages: deed.en, legalcode, legalcode.de, rdf...
    return segment.isalpha() and not segment.startswith(("deed", "legalcode", "rdf"))


@cache
def _spdx_ids() -> dict[str, str]:
    """Upper-cased SPDX id → its canonical spelling, for the CC family."""
    from common.spdx import licensing

    return {
        key.upper(): key
        for key in licensing().known_symbols
        if key.upper().startswith("CC") and not key.startswith("LicenseRef")
    }
