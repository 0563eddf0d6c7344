"""The datasheet: seven sections, numbers from the facts, gaps named, self-contained HTML."""

from __future__ import annotations

import os
import re
import shutil
import struct
import zlib

import pytest

from reports.datasheet import SECTIONS, render_datasheet
from tests.reports.report_facts import META, make_facts


@pytest.fixture(scope="module")
def html() -> str:
    return render_datasheet(make_facts(), META, date="2025-07-01", fmt="html")


def test_markdown_has_all_seven_sections_and_the_facts_numbers():
    facts = make_facts()
    md = render_datasheet(facts, META, date="2025-07-01")
    headings = re.findall(r"^## \d\. (.+)$", md, flags=re.M)
    assert headings == list(SECTIONS)
    assert f"{facts['totals']['documents']:,} documents" in md
    assert f"{facts['totals']['tokens']:,} tokens" in md
    for row in facts["composition"]["by_source"] + facts["composition"]["by_language"]:
        assert f"| {row['key']} | {row['documents']:,} | {row['tokens']:,} |" in md
    for rule in facts["policy"]["rules"]:
        assert f"`{rule['id']}`" in md
    assert "Near-duplicate <MinHash>." not in md  # no raw HTML leaks into Markdown
    assert f"{facts['duplicates']['documents']:,} near-duplicate" in md
    assert "| EMAIL\\_ADDRESS | 3 | 2 |" in md
    assert "Use it \\| freely" not in md and "Use it | freely" in md  # quote kept verbatim
    assert "1 undated" not in md and "1 documents have no collection date" in md
    assert "Attribution is required for CC-BY-4.0, CC-BY-NC-4.0, CC-BY-SA-4.0" in md
    assert "Non-commercial only: CC-BY-NC-4.0" in md
    assert "@misc{x}" in md and "Grant 42" in md


def test_missing_metadata_is_named_not_invented():
    md = render_datasheet(make_facts(), {}, date="2025-07-01")
    for field in ("motivation", "creators", "funding", "intended_uses", "out_of_scope_uses",
                  "maintainer", "contact", "citation"):
        assert f"add `{field}` to the release metadata" in md


def test_html_is_self_contained_escaped_and_deterministic(html):
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("<svg ") == 6
    assert not re.search(r"<(link|script|img|iframe)\b", html)
    assert not re.search(r'(src|href)="(https?:|//|file:)', html)
    assert "To test <reports>." not in html and "To test &lt;reports&gt;." in html
    assert "Web &lt;crawl&gt;" in html
    assert html == render_datasheet(make_facts(), META, date="2025-07-01", fmt="html")
    assert html != render_datasheet(make_facts(), META, date="2025-07-02", fmt="html")


def test_unknown_format_is_refused():
    from reports.errors import ReportsError

    with pytest.raises(ReportsError, match="use one of md, html"):
        render_datasheet(make_facts(), META, date="2025-07-01", fmt="pdf")


# --------------------------------------------------------------------------- in a browser


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _png_is_one_colour(png: bytes) -> bool:
    """Decode an 8-bit RGB(A) PNG (what Chromium writes) and compare every pixel."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, ctype = 8, b"", 0, 0, 0
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        data = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", data[:10])
            assert depth == 8 and ctype in (2, 6)
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    raw = zlib.decompress(idat)
    bpp = 3 if ctype == 2 else 4
    stride = width * bpp
    prev = bytearray(stride)
    first = None
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if first is None:
            first = bytes(line[:bpp])
        if bytes(line) != first * width:
            return False
        prev = line
    return True


@pytest.mark.slow
def test_the_html_datasheet_renders_in_headless_chromium(html, tmp_path):
    binary = _chromium()
    if binary is None or shutil.which("chromedriver") is None:
        message = "chromium and chromium-driver are not installed (apt-get install chromium " \
                  "chromium-driver)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    page = tmp_path / "datasheet.html"
    page.write_text(html, encoding="utf-8")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,2400"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        driver.get(page.as_uri())
        assert driver.title.startswith("Datasheet: Sample corpus")
        sizes = driver.execute_script(
            "return Array.from(document.querySelectorAll('svg, img')).map(e => {"
            "const r = e.getBoundingClientRect(); return [r.width, r.height]; });")
        assert len(sizes) == 6 and all(w > 0 and h > 0 for w, h in sizes), sizes
        headings = driver.execute_script(
            "return Array.from(document.querySelectorAll('h2')).map(h => h.textContent);")
        assert len(headings) == 7
        shot = tmp_path / "datasheet.png"
        assert driver.save_screenshot(str(shot))
    finally:
        driver.quit()
    assert not _png_is_one_colour(shot.read_bytes())


def _png(rows: list[bytes], width: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, len(rows), 8, 2,
                                                            0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_the_blank_page_check_tells_one_colour_from_two():
    white = b"\xff\xff\xff" * 4
    assert _png_is_one_colour(_png([white] * 3, 4))
    assert not _png_is_one_colour(_png([white, white, b"\x00\x00\x00" + white[3:]], 4))
