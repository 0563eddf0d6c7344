"""Croissant 1.1 JSON-LD of a release, with the RAI 1.0 vocabulary and PROV-O provenance.

    text = render_croissant(facts, meta)              # reports/croissant.json
    missing_required(json.loads(text))                # [] when every required field is there

`facts` is the catalog's ReleaseFacts (or its `to_dict()`), `meta` the release metadata
(reports/metadata.py). The file sits in the release folder's `reports/`, so the shards are
reached as `../data/part-NNNNN.parquet` (`data_base` changes that prefix).

What is written, and why (docs/croissant-and-card.md):

- one FileObject per shard, with its sha256 and size: mlcroissant checks a shard's hash when
  it reads it, so every record read is a record of the release that was cut;
- one RecordSet per shard, named after it, over the shard columns. A RecordSet reads from one
  FileObject or one FileSet; a FileSet has no checksum, and a local FileSet is only searched
  below the folder of the JSON-LD file, so it could not reach `../data` anyway;
- the RAI fields spelled as the RAI 1.0 vocabulary spells them (`dataCollectionTimeframe`,
  `dataManipulationProtocol`). mlcroissant 1.1 reads those two under other names
  (`dataCollectionTimeFrame`, `dataDataManipulationProtocol`) and ignores ours; it still
  validates, and any reader of the vocabulary finds them;
- provenance: `prov:wasDerivedFrom` one entity per source, `prov:wasGeneratedBy` the
  processing run as a `prov:Activity` that used the policy.

mlcroissant does not flag a missing name, url, creator or description, so `missing_required`
checks the fields the specification requires itself, and rendering refuses a document that
lacks one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reports.card import (
    COLUMNS,
    NO_LICENSE,
    as_plain,
    composition_rows,
    data_files,
    main_languages,
    name_version,
    release_totals,
    spdx_url,
)
from reports.errors import CroissantError
from reports.manifest import canonical_json
from reports.metadata import get as meta_get

__all__ = [
    "CONFORMS_TO",
    "CONTEXT",
    "PARQUET",
    "RAI_CONFORMS_TO",
    "RAI_FIELDS",
    "missing_required",
    "render_croissant",
]

CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
RAI_CONFORMS_TO = "http://mlcommons.org/croissant/RAI/1.0"
# application/vnd.apache.parquet validates but mlcroissant cannot read it.
PARQUET = "application/x-parquet"
DEFAULT_DATA_BASE = ".."

# The Croissant 1.1 context (as mlcroissant writes it), plus the RAI and PROV prefixes.
# @vocab must be https://schema.org/: the spec appendix's http:// form does not validate.
CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "description": {"@container": "@language"},
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileObject": "cr:fileObject",
    "fileProperty": "cr:fileProperty",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "name": {"@container": "@language"},
    "parentField": "cr:parentField",
    "path": "cr:path",
    "prov": "http://www.w3.org/ns/prov#",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

# The RAI 1.0 properties this renderer fills, in the vocabulary's spelling.
RAI_FIELDS = (
    "rai:dataCollection", "rai:dataCollectionType", "rai:dataCollectionTimeframe",
    "rai:dataPreprocessingProtocol", "rai:dataManipulationProtocol",
    "rai:personalSensitiveInformation", "rai:dataLimitations", "rai:dataBiases",
    "rai:dataUseCases", "rai:dataSocialImpact", "rai:dataReleaseMaintenancePlan",
)

# Shard column Arrow type -> Croissant dataType (the url column is a URL, not just text).
_DATA_TYPES = {"string": "sc:Text", "large_string": "sc:Text", "int64": "sc:Integer",
               "timestamp[us, tz=UTC]": "sc:DateTime"}
_COLUMN_TYPES = {"url": "sc:URL"}

_COLLECTION_TYPES = {"web-crawl": "Web Scraping"}


# --------------------------------------------------------------------------- checking


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str | list | dict):
        return bool(value.strip() if isinstance(value, str) else value)
    return True


def _first(doc: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in doc:
            return doc[key]
    return None


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _is_type(node: Mapping[str, Any], name: str, prefix: str) -> bool:
    types = _listed(node.get("@type"))
    return any(t in (f"{prefix}:{name}", name, f"{_PREFIXES[prefix]}{name}") for t in types)


_PREFIXES = {"sc": "https://schema.org/", "cr": "http://mlcommons.org/croissant/"}


def missing_required(doc: Mapping[str, Any]) -> list[str]:
    """Every field Croissant 1.1 requires that `doc` lacks, as JSON paths, in document order.

    Dataset: @context (with @vocab https://schema.org/), @type sc:Dataset, conformsTo 1.1,
    name, description, license, url, creator, datePublished, distribution. FileObject: name,
    contentUrl, encodingFormat and a checksum (sha256 or md5). FileSet: name, encodingFormat,
    includes. RecordSet: name and fields; Field: name, dataType, and a source (fileObject or
    fileSet, plus extract) unless its RecordSet holds inline data. A `prov:` or `rai:` term
    needs its prefix in @context."""
    out: list[str] = []
    context = doc.get("@context")
    if not isinstance(context, Mapping):
        out.append("@context")
        context = {}
    elif context.get("@vocab") != "https://schema.org/":
        out.append("@context.@vocab")
    if not _is_type(doc, "Dataset", "sc"):
        out.append("@type")
    if CONFORMS_TO not in _listed(_first(doc, "conformsTo", "dct:conformsTo")):
        out.append("conformsTo")
    for key in ("name", "description", "license", "url", "creator", "datePublished"):
        if not _present(doc.get(key)):
            out.append(key)
    for prefix in ("prov", "rai"):
        if any(k.startswith(prefix + ":") for k in doc) and prefix not in context:
            out.append(f"@context.{prefix}")
    distribution = _listed(doc.get("distribution"))
    if not distribution:
        out.append("distribution")
    for i, node in enumerate(distribution):
        where = f"distribution[{i}]"
        if not isinstance(node, Mapping):
            out.append(where)
            continue
        if _is_type(node, "FileObject", "cr"):
            need: tuple[str, ...] = ("name", "contentUrl", "encodingFormat")
            if not (_present(node.get("sha256")) or _present(node.get("md5"))):
                out.append(f"{where}.sha256")
        elif _is_type(node, "FileSet", "cr"):
            need = ("name", "encodingFormat", "includes")
        else:
            out.append(f"{where}.@type")
            continue
        out += [f"{where}.{k}" for k in need if not _present(node.get(k))]
    for i, record_set in enumerate(_listed(doc.get("recordSet"))):
        where = f"recordSet[{i}]"
        if not isinstance(record_set, Mapping):
            out.append(where)
            continue
        if not _present(record_set.get("name")):
            out.append(f"{where}.name")
        fields = _listed(record_set.get("field"))
        if not fields:
            out.append(f"{where}.field")
        inline = _present(record_set.get("data"))
        for j, field in enumerate(fields):
            at = f"{where}.field[{j}]"
            for key in ("name", "dataType"):
                if not _present(field.get(key)):
                    out.append(f"{at}.{key}")
            source = field.get("source")
            if inline:
                continue
            if not isinstance(source, Mapping) or not (
                    _present(source.get("fileObject")) or _present(source.get("fileSet"))):
                out.append(f"{at}.source")
            elif not _present(source.get("extract")):
                out.append(f"{at}.source.extract")
    return out


# --------------------------------------------------------------------------- building


def _licenses(facts: Mapping[str, Any]) -> list[str]:
    """Each licence id the release's documents carry, as its SPDX URL where SPDX lists it,
    largest share first; NOASSERTION when no document has a known licence."""
    from common.spdx import license_keys

    out: list[str] = []
    for row in composition_rows(facts, "by_license", "by_license"):
        if row["key"] == NO_LICENSE:
            continue
        for key in sorted(license_keys(row["key"])):
            value = spdx_url(key) or key
            if value not in out:
                out.append(value)
    return out or ["NOASSERTION"]


def _agent(kind: str, text: str) -> dict[str, Any]:
    return {"@type": kind, "name": text}


def _creators(meta: Mapping[str, Any]) -> list[dict[str, Any]]:
    creators = meta_get(meta, "creators") or []
    if isinstance(creators, str):
        creators = [creators]
    if creators:
        return [_agent("sc:Person", str(c)) for c in creators]
    fallback = meta_get(meta, "publisher") or meta_get(meta, "maintainer")
    return [_agent("sc:Organization", fallback)] if fallback else []


def _file_objects(facts: Mapping[str, Any], base: str) -> list[dict[str, Any]]:
    prefix = base.rstrip("/") + "/" if base not in ("", ".") else ""
    return [{
        "@type": "cr:FileObject",
        "@id": f["path"],
        "name": f["path"],
        "description": f"Text shard: {int(f.get('documents') or 0)} documents, "
                       f"{int(f.get('tokens') or 0)} tokens.",
        "contentUrl": prefix + f["path"],
        "contentSize": f"{int(f['bytes'])} B",
        "encodingFormat": PARQUET,
        "sha256": f["sha256"],
    } for f in data_files(facts)]


def _record_sets(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from reports.release_files import SHARD_SCHEMA

    out = []
    for file_object in files:
        stem = file_object["@id"].rsplit("/", 1)[-1].removesuffix(".parquet")
        out.append({
            "@type": "cr:RecordSet",
            "@id": stem,
            "name": stem,
            "description": f"The documents of {file_object['@id']}, one record each.",
            "key": {"@id": f"{stem}/id"},
            "field": [{
                "@type": "cr:Field",
                "@id": f"{stem}/{column.name}",
                "name": column.name,
                "description": COLUMNS.get(column.name, column.name),
                "dataType": _COLUMN_TYPES.get(column.name,
                                              _DATA_TYPES.get(str(column.type), "sc:Text")),
                "source": {"fileObject": {"@id": file_object["@id"]},
                           "extract": {"column": column.name}},
            } for column in SHARD_SCHEMA],
        })
    return out


def _date(value: str | None) -> str | None:
    return value[:10] if value else None


def _text(parts: list[str | None]) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())


def _rai(facts: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
    sources = facts.get("sources") or []
    composition = facts.get("composition") or {}
    out: dict[str, Any] = {}
    collection = [
        f"{s['slug']}: {s.get('kind') or 'unknown kind'}"
        + (f", acquired by {s['acquisition_method']}" if s.get("acquisition_method") else "")
        + (f" on {s['acquisition_date']}" if s.get("acquisition_date") else "")
        + (f" from {s['uri']}" if s.get("uri") else "")
        + f"; robots.txt {s.get('robots_handling') or 'unknown'}"
        + f"; terms of service {s.get('tos_verdict') or 'unknown'}"
        + f" ({int(s.get('documents') or 0)} documents released)."
        for s in sources]
    sampling = meta_get(meta, "sampling")
    out["rai:dataCollection"] = _text([
        f"{len(sources)} catalog sources." if sources else None, *collection, sampling]) or (
        "Collected by the govcat catalog from the sources its manifest lists.")
    kinds = sorted({_COLLECTION_TYPES.get(s.get("kind"), f"Existing collection ({s['kind']})")
                    for s in sources if s.get("kind")})
    out["rai:dataCollectionType"] = kinds or ["Others"]
    period = composition.get("collection_period") or {}
    if period.get("start"):
        out["rai:dataCollectionTimeframe"] = [period["start"], period["end"]]
    out["rai:dataPreprocessingProtocol"] = _preprocessing(facts)
    out["rai:dataManipulationProtocol"] = _manipulation(facts)
    out["rai:personalSensitiveInformation"] = _personal(facts)
    langs = composition_rows(facts, "by_language", "by_language")
    limitations = [x for x in (meta_get(meta, "limitations"),) if x]
    undated = composition.get("undated_documents")
    if undated:
        limitations.append(f"{undated} documents have no collection date.")
    unknown = (facts.get("obligations") or {}).get("unknown_licenses") or []
    if unknown:
        limitations.append("Licences whose terms are unknown: " + ", ".join(unknown) + ".")
    limitations.append("Personal data detection is automatic and misses some personal data.")
    out["rai:dataLimitations"] = limitations
    biases = [x for x in (meta_get(meta, "biases"),) if x]
    if langs:
        biases.append(f"Language {langs[0]['key']} holds {100 * langs[0]['share']:.1f}% of "
                      "the tokens.")
    by_source = composition_rows(facts, "by_source", "by_source")
    if len(by_source) > 1:
        biases.append(f"Source {by_source[0]['key']} holds {100 * by_source[0]['share']:.1f}% "
                      "of the tokens.")
    if biases:
        out["rai:dataBiases"] = biases
    uses = [str(u) for u in meta_get(meta, "intended_uses") or []]
    uses += [f"Out of scope: {u}" for u in meta_get(meta, "out_of_scope_uses") or []]
    if uses:
        out["rai:dataUseCases"] = uses
    if meta_get(meta, "social_impact"):
        out["rai:dataSocialImpact"] = meta_get(meta, "social_impact")
    plan = _text([
        f"Maintained by {meta_get(meta, 'maintainer')}." if meta_get(meta, "maintainer") else None,
        f"Contact: {meta_get(meta, 'contact')}." if meta_get(meta, "contact") else None,
        meta_get(meta, "updates"), meta_get(meta, "errata"), meta_get(meta, "retention"),
        meta_get(meta, "older_versions"),
        "Opt-out requests recorded in the catalog are honoured when the next version is cut."])
    out["rai:dataReleaseMaintenancePlan"] = plan
    return out


def _preprocessing(facts: Mapping[str, Any]) -> list[str]:
    policy = facts.get("policy") or (facts.get("manifest") or {}).get("policy") or {}
    out = []
    if policy.get("name"):
        out.append(f"Policy {policy['name']} version {policy.get('version')} (sha256 "
                   f"{policy.get('sha256')}) decided every document.")
    for rule in policy.get("rules") or []:
        out.append(f"{rule.get('stage')}/{rule.get('id')} ({rule.get('effect')}): "
                   f"{rule.get('reason')}")
    for stage in facts.get("funnel") or (facts.get("manifest") or {}).get("funnel") or []:
        dropped = stage.get("dropped") or {}
        out.append(f"Stage {stage.get('stage')}: {int(stage.get('docs_in') or 0)} documents in, "
                   f"{int(stage.get('kept') or 0)} kept"
                   + ("; removed " + ", ".join(f"{k} {v}" for k, v in sorted(dropped.items()))
                      if dropped else "") + ".")
    return out or ["Documents were released as the catalog admitted them."]


def _manipulation(facts: Mapping[str, Any]) -> str:
    pii = facts.get("pii") or {}
    redacted = pii.get("redacted") or (facts.get("manifest") or {}).get("redacted") or {}
    dup = facts.get("duplicates") or {}
    parts = []
    if redacted:
        parts.append("Personal data spans were replaced by placeholders (|||TYPE|||): "
                     + ", ".join(f"{k} {v}" for k, v in sorted(redacted.items())) + ".")
    if dup.get("documents"):
        parts.append(f"Deduplication removed {dup['documents']} documents.")
    optouts = facts.get("optouts") or (facts.get("manifest") or {}).get("optouts") or {}
    if optouts.get("excluded_documents"):
        parts.append(f"{optouts['excluded_documents']} documents were left out for opt-out "
                     "requests when the release was cut.")
    parts.append("Texts are otherwise released as collected; each document's metadata is "
                 "kept as a JSON object.")
    return " ".join(parts)


def _personal(facts: Mapping[str, Any]) -> list[str]:
    pii = facts.get("pii") or {}
    redacted = pii.get("redacted") or (facts.get("manifest") or {}).get("redacted") or {}
    out = [f"{k}: {v} spans replaced by a placeholder." for k, v in sorted(redacted.items())]
    if pii.get("documents_dropped"):
        out.append(f"{pii['documents_dropped']} documents were left out for personal data.")
    flagged = [s["slug"] for s in facts.get("sources") or [] if s.get("personal_data") == "yes"]
    if flagged:
        out.append("Sources declared to hold personal data: " + ", ".join(flagged) + ".")
    return out or ["No personal data was found to replace in the released text."]


def _prov(facts: Mapping[str, Any], name: str, version: str) -> dict[str, Any]:
    sources = facts.get("sources") or (facts.get("manifest") or {}).get("sources") or []
    derived = []
    for s in sources:
        entity: dict[str, Any] = {"@type": "prov:Entity",
                                  "@id": f"urn:govcat:source:{s['slug']}",
                                  "name": s.get("title") or s["slug"]}
        if s.get("uri"):
            entity["url"] = s["uri"]
        if s.get("declared_license"):
            entity["license"] = s["declared_license"]
        if s.get("record_sha256"):
            entity["identifier"] = f"sha256:{s['record_sha256']}"
        derived.append(entity)
    run = facts.get("run") or (facts.get("manifest") or {}).get("run") or {}
    policy = facts.get("policy") or (facts.get("manifest") or {}).get("policy") or {}
    code = facts.get("code_version") or (facts.get("manifest") or {}).get("code_version")
    activity: dict[str, Any] = {
        "@type": "prov:Activity",
        "@id": f"urn:govcat:run:{run.get('id')}" if run.get("id") is not None
        else f"urn:govcat:release:{name}@{version}",
        "name": f"govcat run {run.get('id')}" if run.get("id") is not None
        else f"govcat release {name}@{version}",
    }
    if run.get("started_at"):
        activity["prov:startedAtTime"] = run["started_at"]
    if run.get("finished_at"):
        activity["prov:endedAtTime"] = run["finished_at"]
    if code:
        activity["prov:wasAssociatedWith"] = {"@type": "prov:SoftwareAgent",
                                              "name": f"govcat {code}"}
    if policy.get("name"):
        activity["prov:used"] = {"@type": "prov:Entity",
                                 "@id": f"urn:govcat:policy:{policy['name']}@"
                                        f"{policy.get('version')}",
                                 "name": f"policy {policy['name']} {policy.get('version')}"}
    out: dict[str, Any] = {"prov:wasGeneratedBy": activity}
    if derived:
        out["prov:wasDerivedFrom"] = derived
    return out


def _usage(facts: Mapping[str, Any]) -> str:
    obligations = facts.get("obligations") or {}
    said = ["Each document's licence is in its license column and applies to it."]
    for key, text in (("attribution_licenses", "Attribution required"),
                      ("share_alike_licenses", "share-alike"),
                      ("non_commercial_licenses", "non-commercial use only"),
                      ("no_derivatives_licenses", "no derivatives")):
        if obligations.get(key):
            said.append(f"{text}: {', '.join(obligations[key])}.")
    if facts.get("combined_use"):
        said.append(f"Use class of the whole release: {facts['combined_use']}.")
    return " ".join(said)


def build_croissant(facts: Any, meta: Mapping[str, Any] | None = None, *,
                    data_base: str = DEFAULT_DATA_BASE, date: str | None = None
                    ) -> dict[str, Any]:
    """The Croissant document as a dict (see `render_croissant`)."""
    f = as_plain(facts)
    meta = as_plain(meta)
    manifest = f.get("manifest") or {}
    name, version = name_version(f)
    totals = release_totals(f)
    created = f.get("created_at") or manifest.get("created_at")
    description = meta_get(meta, "summary") or f.get("description") or \
        manifest.get("description") or ""
    description = _text([description, f"Release {name}@{version}: {totals['documents']} "
                         f"documents, {totals['tokens']} tokens, cut by the govcat catalog."])
    files = _file_objects(f, data_base)
    doc: dict[str, Any] = {
        "@context": dict(CONTEXT),
        "@type": "sc:Dataset",
        "conformsTo": [CONFORMS_TO, RAI_CONFORMS_TO],
        "name": meta_get(meta, "title", name),
        "description": description,
        "license": _licenses(f),
        "url": meta_get(meta, "homepage") or data_base or ".",
        "creator": _creators(meta),
        "datePublished": date or _date(created),
        "dateCreated": created,
        "version": version,
        "usageInfo": _usage(f),
        "distribution": files,
        "recordSet": _record_sets(files),
    }
    langs = main_languages(f)
    if langs:
        doc["inLanguage"] = langs
    keywords = meta_get(meta, "keywords")
    if keywords:
        doc["keywords"] = list(keywords)
    if meta_get(meta, "publisher"):
        doc["publisher"] = _agent("sc:Organization", meta_get(meta, "publisher"))
    if meta_get(meta, "citation"):
        doc["citeAs"] = meta_get(meta, "citation")
    doc.update(_rai(f, meta))
    doc.update(_prov(f, name, version))
    return {k: v for k, v in doc.items() if v is not None}


def render_croissant(facts: Any, meta: Mapping[str, Any] | None = None, *,
                     data_base: str = DEFAULT_DATA_BASE, date: str | None = None) -> str:
    """The release's Croissant 1.1 JSON-LD text (canonical JSON: sorted keys, two-space
    indent, one trailing newline), so the same facts and metadata give the same bytes.

    `data_base` is the path from the JSON-LD file to the release folder ("..": the file sits
    in `reports/`); `date` overrides datePublished (default: the day the release was cut).
    Raises CroissantError naming every required field that is missing."""
    doc = build_croissant(facts, meta, data_base=data_base, date=date)
    missing = missing_required(doc)
    if missing:
        hints = {"creator": "creators", "url": "homepage", "description": "summary"}
        named = [f"{m} (write {hints[m]} in the release metadata)" if m in hints else m
                 for m in missing]
        raise CroissantError("Croissant metadata lacks required fields: " + ", ".join(named))
    return canonical_json(doc).decode("utf-8")
