"""The one Jinja2 environment of the reports, with the filters their templates share.

Templates live in reports/templates/. Autoescaping is on for every `*.html.j2` template and
off for Markdown and CSV, where the `md` filter escapes table cells instead. Undefined names
fail loudly (StrictUndefined): a report that silently printed nothing would lie.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

__all__ = ["environment", "markdown_page", "render"]


def _num(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def _pct(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{float(value) * 100:.{digits}f}%"


def _md(value: Any) -> str:
    """Text safe in a Markdown table cell (pipes escaped, one line)."""
    if value is None or value == "":
        return "–"
    text = " ".join(str(value).split())
    for ch in ("\\", "|", "*", "_", "`", "<", ">", "[", "]"):
        text = text.replace(ch, "\\" + ch)
    return text


def _md_block(value: Any) -> str:
    """Free text in a Markdown paragraph: kept as written, but no raw HTML."""
    if value is None:
        return ""
    return str(value).strip().replace("<", "&lt;").replace(">", "&gt;")


def _day(value: Any) -> str:
    return str(value)[:10] if value else "–"


def _yesno(value: Any) -> str:
    return "yes" if value else "no"


@lru_cache(maxsize=1)
def environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update({"num": _num, "pct": _pct, "md": _md, "md_block": _md_block,
                        "day": _day, "yesno": _yesno})
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


_CHART = re.compile(r"<p>@@chart:([a-z_]+)@@</p>")


def markdown_page(markdown: str, *, title: str, charts: dict[str, str] | None = None) -> str:
    """One self-contained HTML page from a report's Markdown: raw HTML in the Markdown is
    escaped (html=False), and each `@@chart:NAME@@` paragraph becomes its inline SVG."""
    from markdown_it import MarkdownIt
    from markupsafe import Markup

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    charts = charts or {}
    body = _CHART.sub(lambda m: f'<figure class="chart">{charts[m.group(1)]}</figure>'
                      if m.group(1) in charts else "", body)
    return render("page.html.j2", title=title, body=Markup(body))
