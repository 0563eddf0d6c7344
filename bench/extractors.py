"""HTML → text extractors on generated pages: speed and how much article vs boilerplate they keep.

    .venv/bin/python -m bench.extractors [--pages 2000] [--trafilatura-pages 2000]

Generates varied pages (news, blog, docs, shop layouts: navigation, cookie banners,
sidebars, related links, footers around article paragraphs, lists, tables, code, scripts
and styles). Every article sentence and every boilerplate phrase is planted, so quality is
measured exactly: the share of article sentences found in the output (recall), the same for
short article lines (list items, one-line paragraphs), and the share of boilerplate phrases
that leaked into it.

Measured in this process: resiliparse main-content extraction as `ingest.html.extract_text`
does it (what govcat uses), and resiliparse's all-visible-text mode as the baseline. When
trafilatura can be imported here, or from `bench/.venv-extract` (see RESULTS-web.md for how
it was built), it is measured on the same pages in a worker process.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

WORDS = """
the of and to in a is that for it as was with be by on not he this are or his from at which
but have an they you were her she there been one all we their has would when if so no out up
into more other could its time only new some these two may first then do any like my now over
such our man me even most made after also did many before must through back years where much
your way well down should because each just those people how too little state good very make
world still own see men work long get here between both life being under never day same
another know while last might us great old year off come since against go came right used
take three river valley farmers harvest winter summer village market bridge harbour council
museum library station garden forest mountain island coast weather storm rain season
history school teacher students research study report survey results energy water
engineers building railway factory workers wages prices trade ships cargo city streets
doctor hospital patients medicine science laboratory experiment data analysis model theory
music concert orchestra painting gallery artist novel poet chapter author reader language
""".split()
TOPICS = [
    "Regional transport", "Coastal erosion", "Municipal budget", "Orchard cooperative",
    "Railway heritage", "Public libraries", "Wetland birds", "Solar farms", "Local elections",
    "Fishing quotas", "Mountain rescue", "School meals", "Urban gardens", "Bridge repairs",
]  # fmt: skip
BOILERPLATE = [
    "Subscribe to our newsletter", "Sign in to your account", "Accept all cookies",
    "We use cookies to improve your experience on our site", "Manage cookie preferences",
    "Follow us on social media", "Share this article on Facebook", "Share on Twitter",
    "Copy link to clipboard", "Terms of service", "Privacy policy", "Contact the newsroom",
    "Advertise with us", "Careers at Example Media", "All rights reserved", "Back to top",
    "Most read this week", "Recommended for you", "Sponsored content from our partners",
    "Download our mobile app", "Skip to main content", "Open navigation menu",
    "Search the archive", "Latest headlines", "Editor's picks", "Read more stories",
    "Leave a comment below", "Log in to reply", "Add to basket", "Free delivery over 50 euros",
    "Customer reviews", "Frequently asked questions", "Return policy", "Site map",
    "Accessibility statement", "Report a problem with this page", "Join our community",
]  # fmt: skip
NAV = ["Home", "World", "Politics", "Business", "Science", "Culture", "Sport", "Travel",
       "Opinion", "Weather", "Podcasts", "Video", "About", "Archive"]  # fmt: skip


@dataclass
class Page:
    html: str
    article: list[str] = field(default_factory=list)  # planted article sentences
    short: list[str] = field(default_factory=list)  # short article lines: list items, one-liners
    boilerplate: list[str] = field(default_factory=list)  # planted boilerplate phrases


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(12, 26))]
    return " ".join(words).capitalize() + rng.choice([".", ".", ".", "!", "?"])


def _paragraph(rng: random.Random, planted: list[str]) -> str:
    sentences = [_sentence(rng) for _ in range(rng.randint(2, 6))]
    planted.extend(sentences)
    return "<p>" + " ".join(sentences) + "</p>"


def _links(rng: random.Random, labels: list[str], cls: str) -> str:
    items = "".join(f'<li><a href="/{s.lower()}">{s}</a></li>' for s in labels)
    return f'<ul class="{cls}">{items}</ul>'


def _mega_menu(rng: random.Random) -> str:
    """Nested navigation with many short links, as big sites have (not planted)."""
    columns = []
    for section in rng.sample(NAV, rng.randint(4, 10)):
        links = "".join(
            f'<li class="menu-item"><a class="menu-link" href="/{section.lower()}/{n}">'
            f'<span class="icon"><svg viewBox="0 0 8 8"><path d="M0 0h8v8H0z"/></svg></span>'
            f"{section} {n}</a></li>"
            for n in range(rng.randint(4, 12))
        )
        columns.append(f'<div class="menu-col"><h5>{section}</h5><ul>{links}</ul></div>')
    return f'<div class="mega-menu" aria-hidden="true">{"".join(columns)}</div>'


def _script(rng: random.Random) -> str:
    body = ";".join(
        f"window.cfg_{rng.randint(0, 9999)}={{id:{rng.randint(0, 10**6)},t:'{rng.choice(WORDS)}'}}"
        for _ in range(rng.randint(50, 400))
    )
    return f"<script>{body}</script>"


def _style(rng: random.Random) -> str:
    rules = "".join(
        f".c{n}{{margin:{rng.randint(0, 20)}px;color:#{rng.randint(0, 0xFFFFFF):06x}}}"
        for n in range(rng.randint(30, 150))
    )
    return f"<style>{rules}</style>"


def _table(rng: random.Random) -> str:
    rows = "".join(
        "<tr>" + "".join(f"<td>{rng.choice(WORDS)} {rng.randint(1, 999)}</td>" for _ in range(4))
        + "</tr>"
        for _ in range(rng.randint(3, 10))
    )  # fmt: skip
    head = "<thead><tr><th>Item</th><th>Q1</th><th>Q2</th><th>Q3</th></tr></thead>"
    return f"<table>{head}{rows}</table>"


def _short(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 8))).capitalize()


def _list(rng: random.Random, planted: list[str], tag: str = "ul") -> str:
    entries = [_short(rng) for _ in range(rng.randint(3, 7))]
    planted.extend(entries)
    return f"<{tag}>" + "".join(f"<li>{e}</li>" for e in entries) + f"</{tag}>"


def _boiler(rng: random.Random, planted: list[str], *sizes: int) -> list[list[str]]:
    """Distinct boilerplate phrases for one page, split into groups of `sizes`."""
    chosen = rng.sample(BOILERPLATE, sum(sizes))
    planted.extend(chosen)
    groups, start = [], 0
    for size in sizes:
        groups.append(chosen[start : start + size])
        start += size
    return groups


def _body(rng: random.Random, page: Page, paragraphs: int) -> str:
    parts = []
    for i in range(paragraphs):
        parts.append(_paragraph(rng, page.article))
        if i == 1 and rng.random() < 0.6:
            parts.append(_list(rng, page.short, rng.choice(["ul", "ol"])))
        if i == 2 and rng.random() < 0.5:
            line = _short(rng) + "."
            page.short.append(line)
            parts.append(f"<p>{line}</p>")
        if i == 3 and rng.random() < 0.5:
            parts.append(_table(rng))
        if i == 2 and rng.random() < 0.4:
            parts.append(f'<figure><img src="/i/{i}.jpg" alt="photo"><figcaption>'
                         f"{rng.choice(TOPICS)} in pictures</figcaption></figure>")  # fmt: skip
    return "".join(parts)


def _news(rng: random.Random, page: Page) -> str:
    title = f"{rng.choice(TOPICS)}: {_sentence(rng)[:60]}"
    bp = page.boilerplate
    top, cookie, side, foot = _boiler(rng, bp, 2, 2, 3, 4)
    return (
        f"<header><a class='skip' href='#main'>{top[0]}</a>"
        f"<nav>{_links(rng, rng.sample(NAV, 8), 'menu')}{_mega_menu(rng)}</nav>"
        f"<div class='account'><a href='/login'>{top[1]}</a></div></header>"
        f"<div class='cookie-banner'><p>{cookie[0]}.</p><button>{cookie[1]}</button></div>"
        f"<main id='main'><article><h1>{title}</h1><p class='byline'>By A. Writer, "
        f"{rng.randint(1, 28)} May 2024</p>{_body(rng, page, rng.randint(4, 12))}"
        f"</article><aside class='related'><h3>{side[0]}</h3>"
        f"{_links(rng, [f'{t} update' for t in rng.sample(TOPICS, 4)], 'related')}"
        f"<p>{side[1]}</p><p>{side[2]}</p></aside></main>"
        f"<footer>{_links(rng, foot[:3], 'footer-links')}<p>© 2024 Example Media. {foot[3]}.</p>"
        "</footer>"
    )


def _blog(rng: random.Random, page: Page) -> str:
    bp = page.boilerplate
    head, side, foot = _boiler(rng, bp, 1, 4, 3)
    comments = "".join(
        f"<div class='comment'><b>reader{n}</b><p>{_sentence(rng)}</p></div>"
        for n in range(rng.randint(0, 4))
    )
    return (
        f"<div id='wrapper'><div class='header'><div class='logo'>My Blog</div>"
        f"<div class='menu'>{_links(rng, rng.sample(NAV, 6), 'nav')}{_mega_menu(rng)}</div>"
        f"<form class='search'><input name='q' placeholder='{head[0]}'></form></div>"
        f"<div class='content'><div class='post'><h2>{rng.choice(TOPICS)}</h2>"
        f"<div class='entry-content'>{_body(rng, page, rng.randint(3, 9))}</div>"
        f"<div class='share'><a href='#'>{side[0]}</a> <a href='#'>{side[1]}</a></div></div>"
        f"<div class='comments'><h3>{side[2]}</h3>{comments}</div></div>"
        f"<div class='sidebar widget-area'><h4>{side[3]}</h4>"
        f"{_links(rng, [f'{t} notes' for t in rng.sample(TOPICS, 5)], 'recent-posts')}</div>"
        f"<div class='footer'><p>{foot[0]} · {foot[1]} · {foot[2]}</p></div></div>"
    )


def _docs(rng: random.Random, page: Page) -> str:
    bp = page.boilerplate
    top, foot = _boiler(rng, bp, 2, 3)
    toc = _links(rng, [f"Section {n}" for n in range(1, rng.randint(6, 14))], "toc")
    sections = "".join(
        f"<h2>{rng.choice(TOPICS)}</h2>{_paragraph(rng, page.article)}"
        f"<pre><code>def f{n}(x):\n    return x * {n}\n</code></pre>{_paragraph(rng, page.article)}"
        for n in range(rng.randint(2, 5))
    )
    return (
        f"<div class='topbar'><a href='/'>Docs</a> <a href='/search'>{top[0]}</a>"
        f" <a href='/feedback'>{top[1]}</a></div>"
        f"<div class='container'><div class='sidebar toc'>{toc}</div>"
        f"<div class='doc-body' role='main'><h1>{rng.choice(TOPICS)} guide</h1>{sections}"
        f"{_table(rng)}</div></div>"
        f"<div class='footer'><span>{foot[0]}</span> <span>{foot[1]}</span> "
        f"<span>{foot[2]}</span></div>"
    )


def _shop(rng: random.Random, page: Page) -> str:
    bp = page.boilerplate
    top, mid, foot = _boiler(rng, bp, 2, 3, 4)
    return (
        f"<header><nav>{_links(rng, rng.sample(NAV, 5), 'menu')}{_mega_menu(rng)}</nav>"
        f"<div class='promo'>{top[0]}</div><a href='/account'>{top[1]}</a></header>"
        f"<div class='product'><h1>{rng.choice(TOPICS)} handbook</h1>"
        f"<div class='price'>{rng.randint(5, 90)}.99 EUR</div><button>{mid[0]}</button>"
        f"<div class='description'>{_body(rng, page, rng.randint(2, 4))}</div>"
        f"<div class='reviews'><h3>{mid[1]}</h3><p>{mid[2]}</p></div></div>"
        f"<footer>{_links(rng, foot, 'footer-links')}</footer>"
    )


LAYOUTS: list[Callable[[random.Random, Page], str]] = [_news, _news, _blog, _docs, _shop]


def make_page(rng: random.Random) -> Page:
    page = Page(html="")
    body = rng.choice(LAYOUTS)(rng, page)
    head = (
        f"<head><meta charset='utf-8'><title>{rng.choice(TOPICS)} | Example</title>"
        "<meta name='viewport' content='width=device-width'>"
        f"{_style(rng)}{_script(rng)}</head>"
    )
    page.html = f"<!doctype html><html lang='en'>{head}<body>{body}{_script(rng)}</body></html>"
    return page


def make_pages(n: int, seed: int = 7) -> list[Page]:
    rng = random.Random(seed)
    return [make_page(rng) for _ in range(n)]


# --- measuring ------------------------------------------------------------------------

_SPACE = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text)


@dataclass
class Quality:
    recall: float  # planted article sentences found in the output
    short_recall: float  # planted short article lines (list items, one-line paragraphs) found
    leaked: float  # planted boilerplate phrases found in the output


def score(pages: list[Page], outputs: list[str]) -> Quality:
    found = planted = short_found = short = leaked = boiler = 0
    for page, out in zip(pages, outputs, strict=True):
        text = _norm(out)
        found += sum(s in text for s in page.article)
        planted += len(page.article)
        short_found += sum(s in text for s in page.short)
        short += len(page.short)
        leaked += sum(b in text for b in page.boilerplate)
        boiler += len(page.boilerplate)
    return Quality(found / max(planted, 1), short_found / max(short, 1), leaked / max(boiler, 1))


def timed(fn: Callable[[str], str], pages: list[Page]) -> tuple[float, list[str]]:
    start = time.perf_counter()
    outputs = [fn(p.html) for p in pages]
    return time.perf_counter() - start, outputs


def trafilatura_fn() -> Callable[[str], str] | None:
    try:
        import trafilatura
    except ImportError:
        return None

    def run(html: str) -> str:
        return trafilatura.extract(html, include_comments=False, include_tables=True) or ""

    return run


def trafilatura_in_venv(pages: list[Page]) -> tuple[float, list[str], str] | None:
    python = Path(__file__).parent / ".venv-extract" / "bin" / "python"
    if not python.exists():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "pages.json", Path(tmp) / "out.json"
        src.write_text(json.dumps([p.html for p in pages]))
        worker = (
            "import json,sys,time,trafilatura\n"
            "pages=json.load(open(sys.argv[1]))\n"
            "t=time.perf_counter()\n"
            "out=[trafilatura.extract(h,include_comments=False,include_tables=True) or ''"
            " for h in pages]\n"
            "t=time.perf_counter()-t\n"
            "json.dump({'seconds':t,'out':out,'version':trafilatura.__version__},"
            "open(sys.argv[2],'w'))\n"
        )
        subprocess.run([str(python), "-c", worker, str(src), str(dst)], check=True)
        result = json.loads(dst.read_text())
    return result["seconds"], result["out"], result["version"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--trafilatura-pages", type=int, default=2000)
    args = parser.parse_args()

    from resiliparse.extract.html2text import extract_plain_text

    from ingest.html import EXTRACTOR_VERSION, extract_text

    pages = make_pages(args.pages)
    mb = sum(len(p.html.encode()) for p in pages) / 1e6
    print(f"{len(pages)} pages, {mb:.1f} MB of HTML, mean {mb * 1e3 / len(pages):.1f} KB/page")
    rows = []

    seconds, outs = timed(extract_text, pages)
    rows.append((f"resiliparse {EXTRACTOR_VERSION} main content (govcat)", len(pages), mb,
                 seconds, score(pages, outs)))  # fmt: skip
    seconds, outs = timed(lambda h: extract_plain_text(h, main_content=False), pages)
    rows.append(("resiliparse all visible text (baseline)", len(pages), mb, seconds,
                 score(pages, outs)))  # fmt: skip

    subset = pages[: args.trafilatura_pages]
    sub_mb = sum(len(p.html.encode()) for p in subset) / 1e6
    fn = trafilatura_fn()
    if fn is not None:
        import trafilatura

        seconds, outs = timed(fn, subset)
        rows.append((f"trafilatura {trafilatura.__version__}", len(subset), sub_mb, seconds,
                     score(subset, outs)))  # fmt: skip
    elif subset and (ran := trafilatura_in_venv(subset)) is not None:
        seconds, outs, ver = ran
        rows.append((f"trafilatura {ver} (bench/.venv-extract)", len(subset), sub_mb, seconds,
                     score(subset, outs)))  # fmt: skip
    else:
        print("trafilatura: not importable here and no bench/.venv-extract; skipped")

    print(f"{'extractor':<48} {'pages':>6} {'pages/s':>8} {'MB/s':>6} {'recall':>7} "
          f"{'short':>7} {'leaked':>7}")  # fmt: skip
    for name, n, size, seconds, q in rows:
        print(f"{name:<48} {n:>6} {n / seconds:>8.0f} {size / seconds:>6.2f} "
              f"{q.recall:>7.1%} {q.short_recall:>7.1%} {q.leaked:>7.1%}")  # fmt: skip
    base = rows[0][3] / rows[0][1]
    for name, n, _, seconds, _ in rows[1:]:
        print(f"time per page vs govcat's extractor: {name}: {seconds / n / base:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
