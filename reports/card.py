"""The Hugging Face dataset card (README.md) of a release, through huggingface_hub's DatasetCard.

    text = render_card(facts, meta)                     # a new card
    text = render_card(facts, meta, existing=old_text)  # regenerated over an edited one

`facts` is the catalog's ReleaseFacts (or its `to_dict()`), `meta` the release metadata
(reports/metadata.py). The YAML header holds what the Hub indexes; the body follows the Hub's
dataset card template, filled from the catalog (docs/croissant-and-card.md).

Regenerating never clobbers what govcat does not own: in the header, govcat replaces only the
keys in `OWNED_KEYS` (its `default` config and its tags are merged into the ones already
there); in the body, a section is replaced only when govcat has something to say in it, and
every other section of the existing card stays where it was. `DatasetCard.validate()` asks
the Hub, so it is never called: `check_card_data` checks the values against the Hub's
documented lists instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reports.errors import CardError
from reports.metadata import get as meta_get

__all__ = [
    "CARD_PLACEHOLDER",
    "COLUMNS",
    "HUB_LICENSES",
    "HUB_TASK_CATEGORIES",
    "LANGUAGE_MIN_SHARE",
    "NO_LICENSE",
    "OWNED_KEYS",
    "SIZE_CATEGORIES",
    "SPDX_TO_HUB",
    "as_plain",
    "card_license",
    "check_card_data",
    "composition_rows",
    "data_files",
    "main_languages",
    "name_version",
    "release_totals",
    "render_card",
    "size_category",
    "spdx_url",
]

# A language is listed in the header when it holds at least 1% of the release's tokens: the
# header is for finding a corpus by language, and a language with less would make it show
# up for searches it cannot serve. The body lists every language with its share.
LANGUAGE_MIN_SHARE = 0.01
CARD_PLACEHOLDER = "[More Information Needed]"
MIXED_LICENSE_NAME = "mixed"
LICENSES_ANCHOR = "README.md#licenses"  # the body's "### Licenses" section
SHARDS_LISTED = 20
SPLIT_GLOB = "data/*.parquet"
NO_LICENSE = "(none)"  # the manifest's key for documents without a concluded licence

# The Hub's licence ids, as its documentation's "Licenses" page lists them.
HUB_LICENSES = frozenset((
    "apache-2.0", "mit", "openrail", "bigscience-openrail-m", "creativeml-openrail-m",
    "bigscience-bloom-rail-1.0", "bigcode-openrail-m", "afl-3.0", "artistic-2.0", "bsl-1.0",
    "bsd", "bsd-2-clause", "bsd-3-clause", "bsd-3-clause-clear", "c-uda", "cc", "cc0-1.0",
    "cc-by-2.0", "cc-by-2.5", "cc-by-3.0", "cc-by-4.0", "cc-by-sa-3.0", "cc-by-sa-4.0",
    "cc-by-nc-2.0", "cc-by-nc-3.0", "cc-by-nc-4.0", "cc-by-nd-4.0", "cc-by-nc-nd-3.0",
    "cc-by-nc-nd-4.0", "cc-by-nc-sa-2.0", "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0",
    "cdla-sharing-1.0", "cdla-permissive-1.0", "cdla-permissive-2.0", "wtfpl", "ecl-2.0",
    "epl-1.0", "epl-2.0", "etalab-2.0", "eupl-1.1", "agpl-3.0", "gfdl", "gpl", "gpl-2.0",
    "gpl-3.0", "lgpl", "lgpl-2.1", "lgpl-3.0", "isc", "lppl-1.3c", "ms-pl", "mpl-2.0",
    "odc-by", "odbl", "openrail++", "osl-3.0", "postgresql", "ofl-1.1", "ncsa", "unlicense",
    "zlib", "pddl", "lgpl-lr", "deepfloyd-if-license", "llama2", "gemma", "unknown", "other",
))

# SPDX id -> the Hub's id, only where both name the same licence. Families (bsd, cc, gpl,
# gfdl...) are never a target: a family id would drop the version. The "-or-later" GNU
# licences have no Hub id ("gpl-3.0" is the Hub's name for GPL v3 as such), so they are
# `other`. Ids are SPDX's canonical spelling (common.spdx.canonical).
SPDX_TO_HUB: dict[str, str] = {
    "Apache-2.0": "apache-2.0", "MIT": "mit", "AFL-3.0": "afl-3.0",
    "Artistic-2.0": "artistic-2.0", "BSL-1.0": "bsl-1.0", "BSD-2-Clause": "bsd-2-clause",
    "BSD-3-Clause": "bsd-3-clause", "BSD-3-Clause-Clear": "bsd-3-clause-clear",
    "C-UDA-1.0": "c-uda", "CC0-1.0": "cc0-1.0", "CC-BY-2.0": "cc-by-2.0",
    "CC-BY-2.5": "cc-by-2.5", "CC-BY-3.0": "cc-by-3.0", "CC-BY-4.0": "cc-by-4.0",
    "CC-BY-SA-3.0": "cc-by-sa-3.0", "CC-BY-SA-4.0": "cc-by-sa-4.0",
    "CC-BY-NC-2.0": "cc-by-nc-2.0", "CC-BY-NC-3.0": "cc-by-nc-3.0",
    "CC-BY-NC-4.0": "cc-by-nc-4.0", "CC-BY-ND-4.0": "cc-by-nd-4.0",
    "CC-BY-NC-ND-3.0": "cc-by-nc-nd-3.0", "CC-BY-NC-ND-4.0": "cc-by-nc-nd-4.0",
    "CC-BY-NC-SA-2.0": "cc-by-nc-sa-2.0", "CC-BY-NC-SA-3.0": "cc-by-nc-sa-3.0",
    "CC-BY-NC-SA-4.0": "cc-by-nc-sa-4.0", "CDLA-Sharing-1.0": "cdla-sharing-1.0",
    "CDLA-Permissive-1.0": "cdla-permissive-1.0", "CDLA-Permissive-2.0": "cdla-permissive-2.0",
    "WTFPL": "wtfpl", "ECL-2.0": "ecl-2.0", "EPL-1.0": "epl-1.0", "EPL-2.0": "epl-2.0",
    "etalab-2.0": "etalab-2.0", "EUPL-1.1": "eupl-1.1", "AGPL-3.0-only": "agpl-3.0",
    "GPL-2.0-only": "gpl-2.0", "GPL-3.0-only": "gpl-3.0", "LGPL-2.1-only": "lgpl-2.1",
    "LGPL-3.0-only": "lgpl-3.0", "ISC": "isc", "LPPL-1.3c": "lppl-1.3c", "MS-PL": "ms-pl",
    "MPL-2.0": "mpl-2.0", "ODC-By-1.0": "odc-by", "ODbL-1.0": "odbl", "OSL-3.0": "osl-3.0",
    "PostgreSQL": "postgresql", "OFL-1.1": "ofl-1.1", "NCSA": "ncsa", "Unlicense": "unlicense",
    "Zlib": "zlib", "PDDL-1.0": "pddl", "LGPLLR": "lgpl-lr",
}

# The Hub's task categories: the task (pipeline) types its metadata accepts.
HUB_TASK_CATEGORIES = frozenset((
    "text-classification", "token-classification", "table-question-answering",
    "question-answering", "zero-shot-classification", "translation", "summarization",
    "feature-extraction", "text-generation", "text2text-generation", "fill-mask",
    "sentence-similarity", "text-to-speech", "text-to-audio", "automatic-speech-recognition",
    "audio-to-audio", "audio-classification", "audio-text-to-text", "voice-activity-detection",
    "depth-estimation", "image-classification", "object-detection", "image-segmentation",
    "text-to-image", "image-to-text", "image-to-image", "image-to-video",
    "unconditional-image-generation", "video-classification", "reinforcement-learning",
    "robotics", "tabular-classification", "tabular-regression", "tabular-to-text",
    "table-to-text", "multiple-choice", "text-ranking", "text-retrieval",
    "time-series-forecasting", "text-to-video", "image-text-to-text",
    "visual-question-answering", "document-question-answering",
    "zero-shot-image-classification", "graph-ml", "mask-generation",
    "zero-shot-object-detection", "text-to-3d", "image-to-3d", "image-feature-extraction",
    "video-text-to-text", "keypoint-detection", "visual-document-retrieval", "any-to-any",
    "biology", "other",
))
DEFAULT_TASK_CATEGORIES = ("text-generation",)

# (upper bound exclusive, label), the Hub's size_categories by number of examples.
SIZE_CATEGORIES: tuple[tuple[float, str], ...] = (
    (1e3, "n<1K"), (1e4, "1K<n<10K"), (1e5, "10K<n<100K"), (1e6, "100K<n<1M"),
    (1e7, "1M<n<10M"), (1e8, "10M<n<100M"), (1e9, "100M<n<1B"), (1e10, "1B<n<10B"),
    (1e11, "10B<n<100B"), (1e12, "100B<n<1T"), (float("inf"), "n>1T"),
)
MULTILINGUALITY = frozenset(("monolingual", "multilingual", "translation", "other"))
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")

# The release's text shard columns (docs/release-format.md): name -> what it holds.
COLUMNS: dict[str, str] = {
    "id": "The catalog's document id (e.g. `web/ab12…`); the shards are in id order.",
    "text": "The text as released, after personal data was replaced by placeholders.",
    "source": "The slug of the catalog source the document came from.",
    "url": "Where the document was collected.",
    "license": "The concluded licence of the document, an SPDX expression.",
    "language": "The detected language (ISO 639 code).",
    "n_tokens": "Tokens in `text`.",
    "collected_at": "When the document was collected (UTC; empty when unknown).",
    "metadata": "A JSON object with what the connector recorded (keys sorted, compact).",
}

# Header keys govcat writes; a regeneration replaces these and keeps every other key.
# `tags` and `configs` are merged, not replaced (see `_merge_data`).
OWNED_KEYS = ("pretty_name", "license", "license_name", "license_link", "language",
              "multilinguality", "size_categories", "task_categories", "tags", "configs")


# --------------------------------------------------------------------------- facts


def as_plain(value: Any) -> dict[str, Any]:
    """facts or metadata as a plain dict: a ReleaseFacts (its to_dict()) or a mapping."""
    if value is None:
        return {}
    if hasattr(value, "to_dict"):
        return dict(value.to_dict())
    if isinstance(value, Mapping):
        return dict(value)
    raise CardError(f"expected a mapping of facts, got {type(value).__name__}")


def composition_rows(facts: Mapping[str, Any], key: str, counts_key: str) -> list[dict[str, Any]]:
    """A composition table [{key, documents, tokens, share}], from the facts when gathered,
    else from the manifest's counts (largest first)."""
    rows = (facts.get("composition") or {}).get(key)
    if rows is not None:
        return list(rows)
    counts = ((facts.get("manifest") or {}).get("counts") or {}).get(counts_key) or {}
    total = sum(int(v.get("tokens", 0)) for v in counts.values())
    docs = sum(int(v.get("documents", 0)) for v in counts.values())
    out = []
    for name, value in counts.items():
        d, t = int(value.get("documents", 0)), int(value.get("tokens", 0))
        share = t / total if total else (d / docs if docs else 0.0)
        out.append({"key": name, "documents": d, "tokens": t, "share": round(share, 6)})
    return sorted(out, key=lambda r: (-r["tokens"], -r["documents"], r["key"]))


def release_totals(facts: Mapping[str, Any]) -> dict[str, int]:
    totals = facts.get("totals")
    if totals:
        return {k: int(totals.get(k, 0)) for k in ("documents", "tokens", "bytes")}
    manifest = facts.get("manifest") or {}
    return {k: int(manifest.get(k, 0)) for k in ("documents", "tokens", "bytes")}


def data_files(facts: Mapping[str, Any]) -> list[dict[str, Any]]:
    files = facts.get("data_files")
    if files is None:
        files = [f for f in (facts.get("manifest") or {}).get("files", [])
                 if f.get("kind") == "data"]
    return sorted(files, key=lambda f: f["path"])


def name_version(facts: Mapping[str, Any]) -> tuple[str, str]:
    manifest = facts.get("manifest") or {}
    return (str(facts.get("name") or manifest.get("name") or "release"),
            str(facts.get("version") or manifest.get("version") or "0.0.0"))


def size_category(documents: int) -> str:
    for bound, label in SIZE_CATEGORIES:
        if documents < bound:
            return label
    return SIZE_CATEGORIES[-1][1]  # pragma: no cover - inf bounds the table


def main_languages(facts: Mapping[str, Any], *, min_share: float = LANGUAGE_MIN_SHARE
                   ) -> list[str]:
    """ISO codes of the languages holding at least `min_share` of the tokens, largest first
    (unknown or malformed codes left out)."""
    out = []
    for row in composition_rows(facts, "by_language", "by_language"):
        code = str(row["key"]).lower()
        if row["share"] >= min_share and _LANGUAGE_CODE.fullmatch(code) and code not in out:
            out.append(code)
    return out


@dataclass(frozen=True)
class CardLicense:
    """The header's licence: a Hub id, or `other` with a name and a link."""

    license: str
    license_name: str | None = None
    license_link: str | None = None

    def fields(self) -> dict[str, str]:
        out = {"license": self.license}
        if self.license_name:
            out["license_name"] = self.license_name
        if self.license_link:
            out["license_link"] = self.license_link
        return out


def _canonical(expression: str) -> str:
    from common.spdx import LicenseExpressionError, canonical

    try:
        return canonical(expression)
    except LicenseExpressionError:
        return expression


def spdx_url(license_id: str) -> str | None:
    """The SPDX licence list page of an id SPDX lists (None for LicenseRef-… and the like)."""
    from common.spdx import licensing

    if license_id in licensing().known_symbols:
        return f"https://spdx.org/licenses/{license_id}.html"
    return None


def card_license(licences: Sequence[str], *, link: str | None = None) -> CardLicense:
    """The header licence of a release holding documents under `licences` (the distinct
    concluded expressions; "(none)" for documents without one).

    One licence the Hub lists -> its id; no licence known at all -> `unknown`; otherwise
    `other`, named by the licence (or `mixed` when there are several) and linked to `link`,
    else its SPDX page, else the card's own licence breakdown."""
    distinct = sorted({x if x == NO_LICENSE else _canonical(x) for x in licences})
    if not distinct or distinct == [NO_LICENSE]:
        return CardLicense("unknown")
    if len(distinct) == 1:
        only = distinct[0]
        if only in SPDX_TO_HUB:
            return CardLicense(SPDX_TO_HUB[only])
        name = re.sub(r"[^a-z0-9.+-]+", "-", only.lower()).strip("-") or "other"
        return CardLicense("other", name, link or spdx_url(only) or LICENSES_ANCHOR)
    return CardLicense("other", MIXED_LICENSE_NAME, link or LICENSES_ANCHOR)


def check_card_data(data: Mapping[str, Any]) -> list[str]:
    """One line per header value the Hub would not accept, checked against its documented
    lists (licences, size categories, task categories, multilinguality, ISO codes)."""
    problems = []
    lic = data.get("license")
    for value in ([lic] if isinstance(lic, str) else list(lic or [])):
        if value not in HUB_LICENSES:
            problems.append(f"license: {value!r} is not a Hub licence id")
    if lic == "other" and not data.get("license_name"):
        problems.append("license: other needs license_name")
    for key, allowed in (("size_categories", {s for _, s in SIZE_CATEGORIES}),
                         ("task_categories", HUB_TASK_CATEGORIES),
                         ("multilinguality", MULTILINGUALITY)):
        value = data.get(key)
        for item in ([value] if isinstance(value, str) else list(value or [])):
            if item not in allowed:
                problems.append(f"{key}: {item!r} is not one of the Hub's values")
    for code in data.get("language") or []:
        if not _LANGUAGE_CODE.fullmatch(str(code)):
            problems.append(f"language: {code!r} is not an ISO 639-1/3 code")
    for config in data.get("configs") or []:
        if not isinstance(config, Mapping) or not config.get("config_name") \
                or not config.get("data_files"):
            problems.append(f"configs: {config!r} needs config_name and data_files")
    return problems


# --------------------------------------------------------------------------- markdown


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ").strip() or "—"


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _pct(share: float) -> str:
    return f"{100 * float(share):.1f}%"


def _n(value: Any) -> str:
    return f"{int(value or 0):,}"


def _bullets(items: Iterable[Any]) -> str:
    return "\n".join(f"- {item}" for item in items)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    return [str(v) for v in value if str(v).strip()]


@dataclass(frozen=True)
class Section:
    level: int
    title: str
    body: str
    owned: bool = True  # False: govcat has nothing to say; an existing text wins

    @property
    def key(self) -> str:
        return _section_key(self.level, self.title)

    def text(self) -> str:
        head = f"{'#' * self.level} {self.title}"
        return f"{head}\n\n{self.body.strip()}\n" if self.body.strip() else f"{head}\n"


def _section_key(level: int, title: str) -> str:
    if level == 1:
        return "#title"  # the card's title, whatever it names
    text = re.sub(r"\[optional\]", "", title, flags=re.IGNORECASE)
    return " ".join(text.lower().split())


def _from_meta(level: int, title: str, text: str | None) -> Section:
    if text and text.strip():
        return Section(level, title, text)
    return Section(level, title, CARD_PLACEHOLDER, owned=False)


# --------------------------------------------------------------------------- the body


def _summary(facts: Mapping[str, Any], meta: Mapping[str, Any], pretty: str) -> str:
    name, version = name_version(facts)
    totals = release_totals(facts)
    sources = facts.get("sources") or (facts.get("manifest") or {}).get("sources") or []
    text = meta_get(meta, "summary") or facts.get("description") or \
        (facts.get("manifest") or {}).get("description") or ""
    policy = facts.get("policy") or (facts.get("manifest") or {}).get("policy") or {}
    lines = [text.strip()] if text.strip() else []
    said = (f"Release `{name}@{version}` holds {_n(totals['documents'])} documents "
            f"({_n(totals['tokens'])} tokens, {_n(totals['bytes'])} bytes of text) from "
            f"{len(sources)} source{'s' if len(sources) != 1 else ''}")
    if policy.get("name"):
        said += f", admitted under policy `{policy['name']}` version {policy.get('version')}"
    lines.append(said + ". Every number in this card comes from the catalog that cut it.")
    return "\n\n".join(lines)


def _description(facts, meta, lic: CardLicense, langs: list[dict[str, Any]]) -> str:
    created = facts.get("created_at") or (facts.get("manifest") or {}).get("created_at")
    language = ", ".join(f"{r['key']} ({_pct(r['share'])})" for r in langs) or CARD_PLACEHOLDER
    licence = lic.license if lic.license != "other" else (
        f"other: {lic.license_name} (see [Licenses](#licenses))")
    parts = []
    motivation = meta_get(meta, "motivation")
    if motivation:
        parts.append(motivation)
    parts.append(_bullets([
        f"**Curated by:** {', '.join(_as_list(meta_get(meta, 'creators'))) or CARD_PLACEHOLDER}",
        f"**Funded by:** {meta_get(meta, 'funding', CARD_PLACEHOLDER)}",
        f"**Shared by:** {meta_get(meta, 'publisher', CARD_PLACEHOLDER)}",
        f"**Language(s) (NLP):** {language}",
        f"**License:** {licence}",
        f"**Released:** {created or CARD_PLACEHOLDER}",
    ]))
    return "\n\n".join(parts)


def _sources_section(facts, meta) -> str:
    parts = [_bullets([f"**Repository:** {meta_get(meta, 'homepage', CARD_PLACEHOLDER)}"])]
    sources = facts.get("sources") or []
    if sources:
        parts.append(_table(
            ("source", "kind", "title", "URI", "declared licence", "documents", "tokens"),
            [(f"`{s['slug']}`", s.get("kind"), s.get("title"), s.get("uri"),
              s.get("declared_license"), _n(s.get("documents")), _n(s.get("tokens")))
             for s in sources]))
    return "\n\n".join(parts)


def _licenses_section(facts, lic: CardLicense) -> str:
    rows = facts.get("licenses")
    if rows is None:  # no gathered facts: the manifest's counts alone
        rows = [{"license": r["key"], **r}
                for r in composition_rows(facts, "by_license", "by_license")]
    parts = []
    if lic.license == "other" and lic.license_name == MIXED_LICENSE_NAME:
        parts.append(f"The documents carry {len(rows)} different licences; each document's "
                     "own licence is in its `license` column, and applies to it.")
    elif lic.license == "other":
        parts.append(f"Every document is under `{rows[0]['license']}`, which the Hub does not "
                     "list.")
    parts.append(_table(
        ("licence", "documents", "tokens", "share of tokens", "use", "attribution",
         "share-alike"),
        [(f"`{r['license']}`", _n(r.get("documents")), _n(r.get("tokens")),
          _pct(r.get("share", 0)), r.get("use", "—"), _yes(r.get("attribution")),
          _yes(r.get("share_alike"))) for r in rows]))
    obligations = facts.get("obligations") or {}
    said = [text for key, text in (
        ("attribution", "attribution is required for documents under "),
        ("share_alike", "adaptations must be shared alike for documents under "),
        ("non_commercial", "commercial use is not permitted for documents under "),
        ("no_derivatives", "no derivatives may be distributed of documents under "),
        ("unknown", "terms are unknown for documents under "))
        if obligations.get(key)
        for text in [text + ", ".join(f"`{x}`" for x in obligations.get(f"{key}_licenses", []))]]
    if said:
        parts.append("Obligations: " + "; ".join(said) + ".")
    if facts.get("combined_use"):
        parts.append(f"Use class of the whole release (the most restrictive of its licences): "
                     f"**{facts['combined_use']}**.")
    return "\n\n".join(parts)


def _yes(value: Any) -> str:
    return "—" if value is None else ("yes" if value else "no")


def _uses(facts, meta) -> list[Section]:
    direct = _as_list(meta_get(meta, "intended_uses"))
    avoid = _as_list(meta_get(meta, "out_of_scope_uses"))
    obligations = facts.get("obligations") or {}
    if obligations.get("non_commercial"):
        avoid.append("Commercial use: licences "
                     + ", ".join(f"`{x}`" for x in obligations.get("non_commercial_licenses", []))
                     + " do not permit it.")
    return [Section(2, "Uses", ""),
            _from_meta(3, "Direct Use", _bullets(direct) if direct else None),
            _from_meta(3, "Out-of-Scope Use", _bullets(avoid) if avoid else None)]


def _structure(facts) -> str:
    from reports.release_files import SHARD_SCHEMA

    files = data_files(facts)
    parts = [f"One configuration, `default`, with one split, `train`: the Parquet shards "
             f"`{SPLIT_GLOB}` ({len(files)} file{'s' if len(files) != 1 else ''}), in "
             "document id order.",
             _table(("column", "type", "meaning"),
                    [(f"`{f.name}`", str(f.type), COLUMNS.get(f.name, "")) for f in SHARD_SCHEMA])]
    listed = files[:SHARDS_LISTED]
    shard_rows = [(f"`{f['path']}`", _n(f.get("documents")), _n(f.get("tokens")),
                   _n(f.get("bytes")), f"`{f['sha256']}`") for f in listed]
    parts.append(_table(("file", "documents", "tokens", "bytes", "sha256"), shard_rows))
    if len(files) > len(listed):
        parts.append(f"…and {len(files) - len(listed)} more files, all listed with their "
                     "sha256 in `manifest.json`.")
    parts.append("```python\nfrom datasets import load_dataset\n\nds = load_dataset(\"parquet\", "
                 f"data_files=\"{SPLIT_GLOB}\", split=\"train\")\n```")
    return "\n\n".join(parts)


def _collection(facts, meta) -> str:
    parts = []
    sources = facts.get("sources") or []
    if sources:
        parts.append("How each source was collected:\n\n" + _table(
            ("source", "kind", "acquisition", "acquired", "robots.txt", "terms of service"),
            [(f"`{s['slug']}`", s.get("kind"), s.get("acquisition_method"),
              s.get("acquisition_date"), s.get("robots_handling"), s.get("tos_verdict"))
             for s in sources]))
    period = (facts.get("composition") or {}).get("collection_period") or {}
    if period.get("start"):
        undated = (facts.get("composition") or {}).get("undated_documents") or 0
        parts.append(f"Documents were collected from {period['start']} to {period['end']}"
                     + (f" ({_n(undated)} without a collection date)." if undated else "."))
    sampling = meta_get(meta, "sampling")
    if sampling:
        parts.append(sampling)
    policy = facts.get("policy") or {}
    rules = policy.get("rules") or []
    if policy.get("name"):
        parts.append(f"Admission and processing followed policy `{policy['name']}` version "
                     f"{policy.get('version')} (sha256 `{policy.get('sha256')}`)"
                     + (f", combining rules by {policy['combining']}" if policy.get("combining")
                        else "") + ".")
    if rules:
        parts.append(_table(("stage", "rule", "effect", "reason"),
                            [(r.get("stage"), f"`{r.get('id')}`", r.get("effect"),
                              r.get("reason")) for r in rules]))
    funnel = facts.get("funnel") or (facts.get("manifest") or {}).get("funnel") or []
    if funnel:
        parts.append("The funnel, stage by stage:\n\n" + _table(
            ("stage", "documents in", "kept", "removed, by rule"),
            [(f.get("stage"), _n(f.get("docs_in")), _n(f.get("kept")),
              ", ".join(f"{k}: {_n(v)}" for k, v in sorted((f.get("dropped") or {}).items())))
             for f in funnel]))
    dup = facts.get("duplicates") or {}
    if dup.get("documents"):
        parts.append(f"Deduplication removed {_n(dup['documents'])} documents "
                     f"({_n(dup.get('tokens'))} tokens).")
    measures = facts.get("measures") or []
    if measures:
        parts.append("Reservations of rights honoured at admission:\n\n" + _table(
            ("rule", "kind", "documents removed", "reason"),
            [(f"`{m['rule']}`", m.get("kind"), _n(m.get("documents")), m.get("reason"))
             for m in measures]))
    optouts = facts.get("optouts") or (facts.get("manifest") or {}).get("optouts") or {}
    if optouts.get("applied") or optouts.get("excluded_documents"):
        parts.append(f"Opt-out requests recorded up to {optouts.get('honoured_up_to')} were "
                     f"honoured when the release was cut: {_n(optouts.get('excluded_documents'))}"
                     " documents left out.")
    return "\n\n".join(parts)


def _producers(facts) -> str:
    sources = facts.get("sources") or []
    if not sources:
        return ""
    return _table(("source", "steward", "title", "URI", "jurisdiction"),
                  [(f"`{s['slug']}`", s.get("steward"), s.get("title"), s.get("uri"),
                    s.get("jurisdiction")) for s in sources])


def _annotations(facts) -> str:
    models = facts.get("models") or (facts.get("manifest") or {}).get("models") or {}
    parts = ["The release adds no human annotations. Its columns are the collected text and "
             "what the pipeline measured:"]
    items = []
    for name, model in sorted(models.items()):
        if isinstance(model, Mapping):
            items.append(f"`{name}`: {model.get('name') or model.get('file') or name}"
                         + (f" (sha256 `{model['sha256']}`)" if model.get("sha256") else ""))
    parts.append(_bullets(items) if items else "No model-made attributes are recorded.")
    return "\n\n".join(parts)


def _personal(facts) -> str:
    pii = facts.get("pii") or {}
    redacted = pii.get("redacted") or (facts.get("manifest") or {}).get("redacted") or {}
    parts = []
    if redacted:
        parts.append("Personal data detected in the text was replaced by placeholders "
                     "(`|||TYPE|||`) before release:\n\n" + _table(
                         ("type", "spans replaced"),
                         [(k, _n(v)) for k, v in sorted(redacted.items())]))
        if pii.get("documents_redacted"):
            parts.append(f"{_n(pii['documents_redacted'])} released documents had at least one "
                         "span replaced.")
    else:
        parts.append("No personal data was found to replace in the released text.")
    if pii.get("documents_dropped"):
        parts.append(f"{_n(pii['documents_dropped'])} documents were left out for personal "
                     "data: " + ", ".join(f"`{k}` {_n(v)}" for k, v in
                                          sorted((pii.get("dropped_by_rule") or {}).items())))
    flagged = [s["slug"] for s in facts.get("sources") or [] if s.get("personal_data") == "yes"]
    if flagged:
        parts.append("Sources declared to hold personal data: "
                     + ", ".join(f"`{s}`" for s in flagged) + ".")
    parts.append("Detection is automatic and misses some personal data; report any you find "
                 "to the contact below.")
    return "\n\n".join(parts)


def _risks(facts, meta, langs) -> str:
    parts = [text for text in (meta_get(meta, "limitations"), meta_get(meta, "biases")) if text]
    if langs:
        top = langs[0]
        parts.append(f"Languages are not balanced: `{top['key']}` holds {_pct(top['share'])} "
                     "of the tokens.")
    sources = composition_rows(facts, "by_source", "by_source")
    if len(sources) > 1:
        parts.append(f"Source `{sources[0]['key']}` holds {_pct(sources[0]['share'])} of the "
                     "tokens.")
    domains = (facts.get("composition") or {}).get("top_domains") or []
    if domains:
        parts.append("Largest domains by text: " + ", ".join(
            f"{d['host']} ({_pct(d.get('share', 0))})" for d in domains[:5]) + ".")
    unknown = (facts.get("obligations") or {}).get("unknown_licenses") or []
    if unknown:
        parts.append("Licences whose terms are unknown: "
                     + ", ".join(f"`{x}`" for x in unknown) + ".")
    return "\n\n".join(parts)


def _citation(meta) -> str | None:
    text = meta_get(meta, "citation")
    if not text:
        return None
    return f"```bibtex\n{text}\n```" if text.lstrip().startswith("@") else text


def _more(facts) -> str:
    name, version = name_version(facts)
    root = facts.get("merkle_root") or ((facts.get("manifest") or {}).get("merkle") or {}) \
        .get("root")
    items = ["`manifest.json` lists every file with its sha256 (format `govcat-release/1`)."]
    if root:
        items.append(f"Merkle root (RFC 6962, over the documents in id order): `{root}`.")
    code = facts.get("code_version") or (facts.get("manifest") or {}).get("code_version")
    if code:
        items.append(f"Cut by govcat {code}.")
    items.append(f"Check the folder with `govcat release verify {name}@{version}`, and prove "
                 f"one document is in it with `govcat release prove DOC`.")
    return _bullets(items)


def _contact(meta) -> str | None:
    bits = [x for x in (meta_get(meta, "maintainer"), meta_get(meta, "contact")) if x]
    return " — ".join(bits) or None


def _sections(facts, meta, lic: CardLicense, pretty: str) -> list[Section]:
    langs = [r for r in composition_rows(facts, "by_language", "by_language")]
    authors = _as_list(meta_get(meta, "card_authors"))
    return [
        Section(1, f"Dataset Card for {pretty}", _summary(facts, meta, pretty)),
        Section(2, "Dataset Details", ""),
        Section(3, "Dataset Description", _description(facts, meta, lic, langs)),
        Section(3, "Dataset Sources", _sources_section(facts, meta)),
        Section(3, "Licenses", _licenses_section(facts, lic)),
        *_uses(facts, meta),
        Section(2, "Dataset Structure", _structure(facts)),
        Section(2, "Dataset Creation", ""),
        _from_meta(3, "Curation Rationale", meta_get(meta, "motivation")),
        Section(3, "Source Data", ""),
        Section(4, "Data Collection and Processing", _collection(facts, meta)),
        _from_meta(4, "Who are the source data producers?", _producers(facts)),
        Section(3, "Annotations", _annotations(facts)),
        Section(4, "Personal and Sensitive Information", _personal(facts)),
        Section(2, "Bias, Risks, and Limitations", _risks(facts, meta, langs)),
        _from_meta(3, "Recommendations", meta_get(meta, "recommendations")),
        _from_meta(2, "Citation", _citation(meta)),
        Section(2, "Glossary", CARD_PLACEHOLDER, owned=False),
        Section(2, "More Information", _more(facts)),
        _from_meta(2, "Dataset Card Authors", ", ".join(authors) if authors else None),
        _from_meta(2, "Dataset Card Contact", _contact(meta)),
    ]


# --------------------------------------------------------------------------- merging


_HEADING = re.compile(r"(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"\s{0,3}(```|~~~)")


def _parse_sections(text: str) -> tuple[str, list[Section]]:
    """The body's text before its first heading, and its sections (ATX headings outside
    fenced code)."""
    preamble: list[str] = []
    sections: list[tuple[int, str, list[str]]] = []
    fence: str | None = None
    for line in text.splitlines():
        fenced = _FENCE.match(line)
        if fenced:
            fence = None if fence == fenced.group(1) else (fence or fenced.group(1))
        heading = _HEADING.fullmatch(line) if fence is None and not fenced else None
        if heading:
            sections.append((len(heading.group(1)), heading.group(2).strip(), []))
        elif sections:
            sections[-1][2].append(line)
        else:
            preamble.append(line)
    return ("\n".join(preamble).strip(),
            [Section(level, title, "\n".join(body).strip()) for level, title, body in sections])


def _is_placeholder(body: str) -> bool:
    text = re.sub(r"<!--.*?-->", "", body, flags=re.DOTALL).strip()
    return not text or text == CARD_PLACEHOLDER


def _merge_sections(generated: list[Section], existing: list[Section]) -> list[Section]:
    ours = {s.key for s in generated}
    theirs: dict[str, Section] = {}
    extras: dict[str | None, list[Section]] = {}
    anchor: str | None = None
    for section in existing:
        if section.key in ours:
            theirs.setdefault(section.key, section)
            anchor = section.key
        else:
            extras.setdefault(anchor, []).append(section)
    out = list(extras.get(None, []))
    for section in generated:
        kept = theirs.get(section.key)
        if not section.owned and kept is not None and not _is_placeholder(kept.body):
            section = Section(section.level, kept.title, kept.body, owned=False)
        out.append(section)
        out.extend(extras.get(section.key, []))
    return out


def _merge_data(ours: dict[str, Any], theirs: Mapping[str, Any]) -> dict[str, Any]:
    """Our keys replace theirs, except tags (union, theirs first) and configs (our `default`
    config replaces theirs; their other configs stay); every other key of theirs stays."""
    merged = dict(ours)
    tags = _as_list(theirs.get("tags"))
    merged["tags"] = tags + [t for t in ours.get("tags", []) if t not in tags]
    configs = theirs.get("configs")
    configs = [c for c in (configs if isinstance(configs, list) else [])
               if not (isinstance(c, Mapping) and c.get("config_name") == "default")]
    merged["configs"] = list(ours["configs"]) + configs
    for key, value in theirs.items():
        if key not in OWNED_KEYS:
            merged[key] = value
    return merged


# --------------------------------------------------------------------------- the card


def _header(facts, meta, lic: CardLicense, pretty: str) -> dict[str, Any]:
    langs = main_languages(facts)
    tasks = _as_list(meta_get(meta, "task_categories")) or list(DEFAULT_TASK_CATEGORIES)
    unknown = sorted(t for t in tasks if t not in HUB_TASK_CATEGORIES)
    if unknown:
        import difflib

        hints = [f"{t!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                 for t in unknown
                 for close in [difflib.get_close_matches(t, HUB_TASK_CATEGORIES, n=1)]]
        raise CardError("task_categories: not Hub task categories: " + ", ".join(hints))
    tags = sorted({*(_as_list(meta_get(meta, "keywords"))), "govcat"})
    data: dict[str, Any] = {"pretty_name": pretty, **lic.fields()}
    if langs:
        data["language"] = langs
        data["multilinguality"] = "multilingual" if len(langs) > 1 else "monolingual"
    data.update({
        "size_categories": [size_category(release_totals(facts)["documents"])],
        "task_categories": tasks,
        "tags": tags,
        "configs": [{"config_name": "default",
                     "data_files": [{"split": "train", "path": SPLIT_GLOB}]}],
    })
    return data


def render_card(facts: Any, meta: Mapping[str, Any] | None = None, *,
                existing: str | None = None) -> str:
    """The README.md text of the release's Hugging Face dataset card (see the module doc).

    Deterministic: the same facts, metadata and existing text give the same bytes."""
    from huggingface_hub import DatasetCard, DatasetCardData

    f = as_plain(facts)
    meta = as_plain(meta)
    name, _version = name_version(f)
    pretty = meta_get(meta, "title", name)
    licences = [r["key"] for r in composition_rows(f, "by_license", "by_license")]
    lic = card_license(licences, link=meta_get(meta, "license_link"))
    data = _header(f, meta, lic, pretty)
    problems = check_card_data(data)  # ours only: what a person wrote is theirs to answer for
    if problems:
        raise CardError("dataset card header: " + "; ".join(problems))
    sections = _sections(f, meta, lic, pretty)
    preamble = ""
    if existing is not None:
        try:
            old = DatasetCard(existing, ignore_metadata_errors=True)
        except Exception as exc:  # huggingface_hub raises ValueError or a YAML error
            raise CardError(f"the existing card cannot be read: {str(exc).splitlines()[0]}") \
                from None
        data = _merge_data(data, old.data.to_dict())
        preamble, old_sections = _parse_sections(old.text)
        sections = _merge_sections(sections, old_sections)
    card_data = DatasetCardData(**data)
    body = "\n".join(s.text() for s in sections)
    if preamble:
        body = f"{preamble}\n\n{body}"
    card = DatasetCard(f"---\n{card_data.to_yaml()}\n---\n\n{body}")
    return str(card).rstrip("\n") + "\n"
