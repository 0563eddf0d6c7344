"""Charts: inline SVG, deterministic bytes, no external reference, readable labels."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from reports.charts import bar_chart, funnel_chart, timeline_chart
from tests.reports.report_facts import make_facts


def _check_svg(svg: str) -> ET.Element:
    assert svg.startswith("<svg ") and svg.rstrip().endswith("</svg>")
    root = ET.fromstring(svg)  # well-formed XML
    assert not re.search(r'(href|src)="(https?:|file:|//)', svg)
    ids = re.findall(r' id="([^"]+)"', svg)
    assert len(ids) == len(set(ids))
    return root


def test_bar_chart_is_deterministic_and_labelled():
    a = bar_chart("Tokens <by> licence", ["CC-BY-4.0", "MIT"], [300, 100])
    assert a == bar_chart("Tokens <by> licence", ["CC-BY-4.0", "MIT"], [300, 100])
    _check_svg(a)
    assert "CC-BY-4.0" in a and "300" in a and 'aria-label="Tokens &lt;by&gt; licence"' in a
    assert a != bar_chart("Tokens <by> licence", ["CC-BY-4.0", "MIT"], [300, 101])


def test_bar_chart_folds_the_tail_and_handles_nothing():
    many = bar_chart("t", [f"host{i}.example" for i in range(30)], list(range(30, 0, -1)))
    assert "other (11)" in many and "host18.example" in many and "host19.example" not in many
    _check_svg(bar_chart("empty", [], []))


def test_funnel_chart_shows_every_stage_and_rule():
    facts = make_facts()
    svg = funnel_chart(facts["funnel"])
    _check_svg(svg)
    for stage in facts["funnel"]:
        assert stage["stage"] in svg
        for rule in stage["dropped"]:
            assert rule in svg
    assert f"{facts['funnel'][-1]['kept']:,} of {facts['funnel'][-1]['docs_in']:,}" in svg


def test_timeline_chart_names_silent_agents():
    svg = timeline_chart("Blocks", ["2024-01-01", "2024-06-01"],
                         {"GPTBot": [0, 2], "CCBot": [0, 0]})
    _check_svg(svg)
    assert "GPTBot" in svg and "never blocked: CCBot" in svg
    _check_svg(timeline_chart("none", [], {}))


def test_two_charts_in_one_page_share_no_element_id():
    a, b = bar_chart("a", ["x"], [1]), bar_chart("b", ["y"], [2])
    ids = re.findall(r' id="([^"]+)"', a) + re.findall(r' id="([^"]+)"', b)
    assert len(ids) == len(set(ids))
