"""The EU AI Act public summary: the template's sections, sources by category, top 10% of
domains, and the measures for reservations of rights with their counts."""

from __future__ import annotations

import re

import pytest

from reports.ai_act import render_ai_act, size_range, source_category
from tests.reports.report_facts import DOCS, META, make_facts

SECTIONS = ["1. General information", "1.1 Provider identification", "1.2 Model identification",
            "1.3 Modalities, overall training data size and other characteristics",
            "2. List of data sources", "2.1 Publicly available datasets",
            "2.2 Private non-publicly available datasets obtained from third parties",
            "2.2.1 Datasets commercially licensed by rightsholders or their representatives",
            "2.2.2 Private datasets obtained from other third parties",
            "2.3 Data crawled and scraped from online sources",
            "2.4 User data, 2.5 synthetic data, 2.6 other sources",
            "3. Data processing aspects",
            "3.1 Respect of reservation of rights from the text and data mining exception",
            "3.2 Removal of illegal content", "3.3 Other information"]


def test_sections_follow_the_template_and_name_provider_and_model():
    md = render_ai_act(make_facts(), META, date="2025-08-02")
    assert re.findall(r"^#{2,4} (.+)$", md, flags=re.M) == SECTIONS
    assert "Provider: Lab & Co" in md and "Contact: lab@example.org" in md
    assert "Versioned model name: lm 2.0" in md
    assert "Date of placement on the Union market: 2025-08-02" in md
    assert "Date of last update: 2025-08-02" in md
    missing = render_ai_act(make_facts(), {}, date="2025-08-02")
    for field in ("provider.name", "provider.contact", "model.name", "model.placed_on_market"):
        assert f"add `{field}` to the release metadata" in missing


def test_sources_go_to_their_category():
    md = render_ai_act(make_facts(), META, date="2025-08-02")
    public = md.split("### 2.1")[1].split("### 2.2")[0]
    licensed = md.split("#### 2.2.1")[1].split("#### 2.2.2")[0]
    crawled = md.split("### 2.3")[1].split("### 2.4")[0]
    assert "| forum |" in public and "| books |" in licensed and "| web |" in crawled
    assert "| web |" not in public


def test_top_ten_percent_of_domains_by_size():
    docs = [("web", f"h{i:02d}.example", "CC-BY-4.0", "commercial", "en", 10, 1000 - i * 10,
             "2024-01-01") for i in range(25)]
    facts = make_facts(docs)
    md = render_ai_act(facts, META, date="2025-08-02")
    table = md.split("top 10% of all domain names")[1]
    listed = re.findall(r"^\| (h\d\d\.example) \|", table, flags=re.M)
    assert listed == ["h00.example", "h01.example", "h02.example"]  # ceil(25 / 10), largest
    assert "(3 of 25)" in md


def test_reservation_measures_with_counts():
    facts = make_facts()
    md = render_ai_act(facts, META, date="2025-08-02")
    section = md.split("### 3.1")[1].split("### 3.2")[0]
    assert "| `optout-request` | opt-out request | deny | 1 | 30 |" in section
    assert "| GPTBot | 0 | 2 | 0 / 2 |" in section
    r = facts["consent"]["reservations"]
    assert f"TDMRep {r['tdmrep']}; noai {r['noai']}" in section
    assert f"{facts['optouts']['excluded_documents']} left out when the release was cut" \
        in section
    assert "`optout-1` (domain gone.example): 2 documents" in section


def test_size_ranges_and_the_html_page():
    assert size_range(10**9 - 1) == "less than 1 billion tokens"
    assert size_range(10**9) == "1 billion to 10 trillion tokens"
    assert size_range(10 * 10**12 + 1) == "more than 10 trillion tokens"
    assert source_category({"kind": "forum", "acquisition_method": "scraped pages"}) == "crawled"
    tokens = sum(d[5] for d in DOCS)
    html = render_ai_act(make_facts(), META, date="2025-08-02", fmt="html")
    assert f"{tokens:,} tokens" in html and html.count("<svg ") == 4
    assert "Lab &amp; Co" in html
    with pytest.raises(ValueError):
        render_ai_act(make_facts(), META, date="2025-08-02", fmt="pdf")
