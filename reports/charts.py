"""Charts as inline SVG strings, for the HTML reports (and anyone else who needs one).

    bar_chart("Tokens by licence class", ["commercial", "non-commercial"], [1200, 300])
    funnel_chart(manifest["funnel"])
    timeline_chart("Hosts blocking each AI agent", dates, {"GPTBot": [0, 2, 3]})

Each returns one `<svg>…</svg>` element (no XML prologue), ready to paste into HTML. They are
drawn by matplotlib's SVG backend on a private Figure — no pyplot, no global backend switch —
with a fixed hash salt and no date in the metadata, so the same data give the same bytes.
Text stays text (`svg.fonttype: none`), which keeps files small and readable by screen
readers; the browser picks the font.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

__all__ = ["bar_chart", "funnel_chart", "timeline_chart"]

_RC = {"svg.hashsalt": "govcat-reports", "svg.fonttype": "none", "font.size": 9,
       "font.family": "DejaVu Sans", "axes.spines.top": False, "axes.spines.right": False}
_PALETTE = ("#3b6ea5", "#e07b39", "#5a9e5a", "#c44e52", "#8172b2", "#937860", "#da8bc3",
            "#8c8c8c", "#ccb974", "#64b5cd")
_KEPT = "#3b6ea5"
_MAX_LABEL = 42


def _label(text: Any) -> str:
    value = str(text)
    return value if len(value) <= _MAX_LABEL else value[:_MAX_LABEL - 1] + "…"


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=72)


def _svg(fig, title: str) -> str:
    from matplotlib import rc_context
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    buf = io.StringIO()
    with rc_context(_RC):
        FigureCanvasSVG(fig)
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None},
                    bbox_inches="tight")
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    # Element ids other than the hashed clip paths repeat in every chart ("figure_1") and
    # would clash when several are inlined in one page; nothing refers to them.
    text = re.sub(r' id="(?!p[0-9a-f]{10})[^"]*"', "", text)
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.DOTALL)
    # An accessible name, and a size that shrinks with the page.
    return re.sub(r"<svg ", f'<svg role="img" aria-label="{escape(title, quote=True)}" '
                  'style="max-width:100%;height:auto" ', text, count=1).rstrip() + "\n"


def _empty(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes,
            color="#555555")
    ax.set_xticks([])
    ax.set_yticks([])


def bar_chart(title: str, labels: Sequence[Any], values: Sequence[float], *,
              unit: str = "tokens", max_bars: int = 20) -> str:
    """Horizontal bars, largest first as given; beyond `max_bars` the rest is one "other"."""
    from matplotlib import rc_context

    labels, values = [_label(x) for x in labels], [float(v) for v in values]
    if len(labels) > max_bars:
        rest = sum(values[max_bars - 1:])
        labels = labels[:max_bars - 1] + [f"other ({len(values) - max_bars + 1})"]
        values = values[:max_bars - 1] + [rest]
    with rc_context(_RC):
        fig = _figure(6.4, 0.9 + 0.32 * max(len(labels), 2))
        ax = fig.add_subplot()
        ax.set_title(title, loc="left", fontsize=11)
        if not labels:
            _empty(ax, "nothing to show")
            return _svg(fig, title)
        ys = list(range(len(labels)))
        ax.barh(ys, values, color=[_PALETTE[i % len(_PALETTE)] for i in ys], height=0.7)
        ax.set_yticks(ys, labels)
        ax.invert_yaxis()
        ax.set_xlabel(unit)
        top = max(values) or 1.0
        for y, v in zip(ys, values, strict=True):
            ax.text(v + top * 0.01, y, f"{v:,.0f}", va="center", fontsize=8)
        ax.set_xlim(0, top * 1.15)
    return _svg(fig, title)


def funnel_chart(funnel: Sequence[Mapping[str, Any]], *, title: str = "Documents per stage",
                 unit: str = "documents") -> str:
    """One bar per stage: what it passed on, then what each rule removed, stacked."""
    from matplotlib import rc_context

    key_in, key_kept, key_drop = (("tokens_in", "kept_tokens", "dropped_tokens")
                                  if unit == "tokens" else ("docs_in", "kept", "dropped"))
    stages = [str(f.get("stage")) for f in funnel]
    rules = sorted({r for f in funnel for r in (f.get(key_drop) or {})})
    colours = {r: _PALETTE[(i + 1) % len(_PALETTE)] for i, r in enumerate(rules)}
    with rc_context(_RC):
        fig = _figure(6.4, 1.2 + 0.45 * max(len(stages), 2) + 0.18 * len(rules))
        ax = fig.add_subplot()
        ax.set_title(title, loc="left", fontsize=11)
        if not stages:
            _empty(ax, "no funnel recorded")
            return _svg(fig, title)
        ys = list(range(len(stages)))
        kept = [float(f.get(key_kept) or 0) for f in funnel]
        ax.barh(ys, kept, color=_KEPT, height=0.65, label="passed on")
        left = list(kept)
        for rule in rules:
            widths = [float((f.get(key_drop) or {}).get(rule, 0)) for f in funnel]
            ax.barh(ys, widths, left=left, color=colours[rule], height=0.65,
                    label=f"removed: {_label(rule)}")
            left = [a + b for a, b in zip(left, widths, strict=True)]
        ax.set_yticks(ys, stages)
        ax.invert_yaxis()
        ax.set_xlabel(unit)
        top = max([float(f.get(key_in) or 0) for f in funnel] + [1.0])
        for y, f in zip(ys, funnel, strict=True):
            ax.text(float(f.get(key_in) or 0) + top * 0.01, y,
                    f"{int(f.get(key_kept) or 0):,} of {int(f.get(key_in) or 0):,}",
                    va="center", fontsize=8)
        ax.set_xlim(0, top * 1.3)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, frameon=False,
                  fontsize=8)
    return _svg(fig, title)


def timeline_chart(title: str, dates: Sequence[str], series: Mapping[str, Sequence[float]], *,
                   unit: str = "hosts", max_series: int = 8) -> str:
    """Step lines over dates (ISO strings), one per series; all-zero series are left out and
    named in a note, so the lines that matter stay readable."""
    from datetime import date

    from matplotlib import rc_context

    shown = {k: list(v) for k, v in series.items() if any(v)}
    silent = [k for k, v in series.items() if not any(v)]
    ranked = sorted(shown, key=lambda k: (-max(shown[k]), k))[:max_series]
    with rc_context(_RC):
        fig = _figure(6.4, 3.2)
        ax = fig.add_subplot()
        ax.set_title(title, loc="left", fontsize=11)
        if not dates:
            _empty(ax, "no robots.txt snapshots")
            return _svg(fig, title)
        xs = [date.fromisoformat(d[:10]) for d in dates]
        if not ranked:
            ax.plot(xs, [0] * len(xs), color="#8c8c8c", drawstyle="steps-post",
                    label="every agent")
        for i, name in enumerate(ranked):
            ax.plot(xs, shown[name], drawstyle="steps-post", marker="o", markersize=3,
                    color=_PALETTE[i % len(_PALETTE)], label=_label(name))
        ax.set_ylabel(unit)
        ax.set_ylim(bottom=0)
        ax.yaxis.get_major_locator().set_params(integer=True)
        fig.autofmt_xdate()
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
        if silent and ranked:
            ax.text(0, -0.32, "never blocked: " + _label(", ".join(silent)), fontsize=7,
                    transform=ax.transAxes, color="#555555")
    return _svg(fig, title)
