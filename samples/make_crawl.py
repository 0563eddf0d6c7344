"""Writes samples/crawl/sample.warc.gz: a small crawl written by us for the quickstart.

    .venv/bin/python samples/make_crawl.py

Three hosts, a robots.txt that blocks GPTBot and CCBot on one of them, pages with Creative
Commons links, a `noai` page, a `tdm-reservation` header, a French page, a near-duplicate,
a page with personal data, a low-quality page, plus request/metadata/non-HTML records.
Deterministic: the same bytes every run (fixed dates and record ids).
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

OUT = Path(__file__).parent / "crawl" / "sample.warc.gz"

ARTICLE = (
    "<p>The river town held its market every Saturday, and the farmers came early with their "
    "carts of apples, cheese and bread. {extra}</p>"
    "<p>By noon the square was full of people who had walked in from the villages around, "
    "and the sound of bargaining carried all the way to the old stone bridge.</p>"
    "<p>In the afternoon the musicians played near the fountain while children ran between "
    "the stalls, and the older men sat in the shade talking about the harvest and the "
    "weather that was to come.</p>"
    "<p>When the evening came the carts went home along the river road, and the town was "
    "quiet again until the next week, when it all began once more.</p>"
)

PAGES = [
    # (url, extra headers, head html, body html)
    ("https://news.example.org/market-day", [],
     '<link rel="license" href="https://creativecommons.org/licenses/by/4.0/">',
     ARTICLE.format(extra="It was the busiest day of the week for the whole valley.")
     + '<footer>Text available under <a rel="license" '
       'href="https://creativecommons.org/licenses/by/4.0/">CC BY 4.0</a>.</footer>'),
    ("https://news.example.org/market-day-copy", [],
     '<link rel="license" href="https://creativecommons.org/licenses/by/4.0/">',
     ARTICLE.format(extra="It was the busiest day of the week for the whole valley!")),
    ("https://news.example.org/private/notes", [], "",
     ARTICLE.format(extra="These notes were kept in a folder that robots were asked to skip.")),
    ("https://blog.example.net/bridges", [("X-Robots-Tag", "noai, noimageai")],
     '<meta name="robots" content="noai">',
     "<p>Stone bridges were built with arches because an arch carries its load down into "
     "the piers, and the stones press against each other so that the whole span stands "
     "firm for hundreds of years.</p><p>The masons who built them learned the craft from "
     "their fathers, and many of the bridges they made are still in use today, carrying "
     "cars and trucks that their builders could never have imagined.</p>"
     "<p>When a bridge is repaired the new stones are cut to match the old ones, so that "
     "the work can hardly be seen by anyone who walks across it.</p>"),
    ("https://blog.example.net/contact", [], "",
     "<p>You can write to the editor at jane.doe@example.net or call her at "
     "+1 415 555 0134 during office hours, and she will answer every letter that "
     "comes in about the articles on this site.</p><p>Our server logs record the address "
     "192.168.20.14 for the office network, and payment cards such as 4111 1111 1111 1111 "
     "are never stored on this site.</p><p>The office is open from nine to five on "
     "weekdays, and the staff will be glad to help with any question you may have.</p>"),
    ("https://shop.example.com/fr/marche", [("tdm-reservation", "1"),
                                           ("tdm-policy", "https://shop.example.com/tdm")],
     '<meta name="tdm-reservation" content="1">',
     "<p>Le marché de la ville avait lieu chaque samedi, et les paysans arrivaient tôt avec "
     "leurs charrettes de pommes, de fromages et de pain.</p><p>À midi, la place était "
     "pleine de gens venus à pied des villages voisins, et le bruit des marchandages "
     "portait jusqu'au vieux pont de pierre.</p><p>Le soir, les charrettes repartaient "
     "par la route du fleuve et la ville redevenait calme jusqu'à la semaine suivante.</p>"),
    ("https://shop.example.com/lorem", [], "",
     "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p><ul><li>buy</li>"
     "<li>buy now</li><li>buy today</li></ul>"),
    ("https://shop.example.com/guide", [], '<meta name="robots" content="index, follow">',
     "<p>This guide explains how to choose a good loaf of bread at the market. Look for a "
     "crust that is firm and dark, and a crumb that springs back when you press it.</p>"
     "<p>Ask the baker when the bread came out of the oven, because bread baked in the "
     "morning is at its best before the evening meal.</p><p>Keep the loaf in a cloth bag "
     "rather than in plastic, so that the crust stays crisp for another day.</p>"),
]

ROBOTS = {
    "news.example.org": "User-agent: GPTBot\nDisallow: /\n\nUser-agent: CCBot\nDisallow: /\n\n"
                        "User-agent: *\nDisallow: /private/\nAllow: /\n",
    "blog.example.net": "User-agent: *\nAllow: /\n",
}


def _id(n: int) -> str:
    return f"<urn:uuid:{uuid.UUID(int=n)}>"


def _http(body: bytes, content_type: str, extra=()) -> StatusAndHeaders:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra]
    return StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    n = 0

    def record(url, rtype, payload, http=None, date="2026-10-01T10:00:00Z", ctype=None):
        nonlocal n
        n += 1
        headers = {"WARC-Record-ID": _id(n), "WARC-Date": date}
        rec = writer.create_warc_record(url, rtype, payload=io.BytesIO(payload),
                                        http_headers=http, warc_headers_dict=headers,
                                        warc_content_type=ctype)
        writer.write_record(rec)

    record("", "warcinfo", b"software: govcat sample generator\r\n",
           ctype="application/warc-fields")
    for host, text in ROBOTS.items():
        body = text.encode()
        record(f"https://{host}/robots.txt", "response", body, _http(body, "text/plain"),
               date="2026-10-01T09:59:00Z")
    for i, (url, extra, head, body_html) in enumerate(PAGES):
        lang = "fr" if "/fr/" in url else "en"
        html = (f'<!doctype html><html lang="{lang}"><head><title>{url.rsplit("/", 1)[-1]}'
                f"</title>{head}</head><body><nav>Home | About | Contact</nav><main>"
                f"<h1>{url.rsplit('/', 1)[-1].replace('-', ' ').title()}</h1>{body_html}"
                "</main></body></html>").encode()
        record(url, "request", f"GET {url} HTTP/1.1\r\n\r\n".encode(),
               date=f"2026-10-01T10:{i:02d}:00Z", ctype="application/http; msgtype=request")
        record(url, "response", html, _http(html, "text/html; charset=utf-8", extra),
               date=f"2026-10-01T10:{i:02d}:01Z")
    png = b"\x89PNG\r\n\x1a\n" + bytes(32)
    record("https://shop.example.com/logo.png", "response", png, _http(png, "image/png"))
    record("https://shop.example.com/guide", "metadata", b"fetchTimeMs: 120\r\n",
           ctype="application/warc-fields")
    OUT.write_bytes(buf.getvalue())
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes, {n} records)")


if __name__ == "__main__":
    main()
