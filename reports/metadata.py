"""The release metadata YAML: what the catalog cannot know, written by the release manager.

    meta = load_metadata("release.yaml")     # a plain dict; MetadataError lists every problem
    required_missing(meta)                   # ["provider.contact", ...] still to be written

Motivation, funding, the provider and model the EU AI Act summary names, intended and
out-of-scope uses, maintainer, contact and citation are facts about people and intentions, so
they come from this file; every number comes from the catalog. `FIELDS` is the whole schema
(docs/reports.md prints it); a key it does not list is an error, so a typo never silently
drops a field. YAML is read with the safe loader and aliases are refused: a metadata file is
short, and an alias bomb or a shared node has no place in it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from reports.errors import ReportsError

__all__ = ["FIELDS", "Field", "MetadataError", "complete", "load_metadata", "parse_metadata",
           "get", "required_missing", "validate_metadata"]


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # dotted path, e.g. "provider.contact"
    kind: str  # text | list | date | version | url | mapping
    required: bool
    help: str


FIELDS: tuple[Field, ...] = (
    Field("title", "text", False, "Human-readable name of the corpus (default: the release name)."),
    Field("summary", "text", False, "One paragraph on what the corpus is."),
    Field("motivation", "text", True, "Why the corpus was created; the gap it fills."),
    Field("creators", "list", True, "People or organisations who created the corpus."),
    Field("funding", "text", True, "Who funded the work (grant numbers), or 'none'."),
    Field("publisher", "text", False, "Organisation that publishes the release."),
    Field("homepage", "url", False, "Where the release is published."),
    Field("provider", "mapping", True, "The general-purpose AI model provider (AI Act 1.1)."),
    Field("provider.name", "text", True, "Provider's name."),
    Field("provider.contact", "text", True, "Provider's contact (address, e-mail or URL)."),
    Field("provider.authorised_representative", "text", False,
          "Authorised representative in the EU, if the provider is outside it."),
    Field("model", "mapping", True, "The model trained on this corpus (AI Act 1.2)."),
    Field("model.name", "text", True, "Model name."),
    Field("model.version", "text", True, "Model version."),
    Field("model.placed_on_market", "date", True,
          "Date the model was placed on the EU market (YYYY-MM-DD)."),
    Field("model.dependencies", "list", False,
          "Models this one was fine-tuned or distilled from (versioned names)."),
    Field("summary_version", "text", False, "Version of the AI Act summary (default 1.0)."),
    Field("intended_uses", "list", True, "What the corpus is for."),
    Field("out_of_scope_uses", "list", True, "Uses it must not be put to, and why."),
    Field("maintainer", "text", True, "Who maintains the corpus."),
    Field("contact", "text", True, "How to reach the maintainer (e-mail or URL)."),
    Field("citation", "text", True, "How to cite the corpus (BibTeX or plain text)."),
    Field("license_link", "url", False, "URL of the terms the release is distributed under."),
    Field("keywords", "list", False, "Keywords for catalogues."),
    Field("task_categories", "list", False,
          "Hugging Face task categories (default: text-generation)."),
    Field("limitations", "text", False, "Known limitations of the corpus."),
    Field("biases", "text", False, "Known biases."),
    Field("social_impact", "text", False, "Expected social impact."),
    Field("recommendations", "text", False, "Recommendations to users given the risks."),
    Field("sampling", "text", False, "How the documents were sampled from the sources."),
    Field("errata", "text", False, "Where errata are published."),
    Field("updates", "text", False, "How and how often the corpus is updated."),
    Field("retention", "text", False, "How long versions are kept; what happens to old ones."),
    Field("older_versions", "text", False, "Whether older versions stay available, and where."),
    Field("contributions", "text", False, "How others may extend or correct the corpus."),
    Field("crawlers", "list", False,
          "Crawlers that collected the crawled sources (names, e.g. CCBot for Common Crawl)."),
    Field("crawler_purposes", "text", False, "What the crawlers collected for (AI Act 2.3)."),
    Field("illegal_content", "text", False,
          "Measures taken to remove illegal content (AI Act 3.2)."),
    Field("other_processing", "text", False, "Other processing worth telling (AI Act 3.3)."),
    Field("other_sources", "text", False,
          "User data, synthetic data or other sources used besides this corpus (AI Act 2.4-2.6)."),
    Field("card_authors", "list", False, "Authors of the dataset card and datasheet."),
)
_BY_NAME = {f.name: f for f in FIELDS}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class MetadataError(ReportsError):
    """A metadata file unusable or invalid; `problems` holds one line per error."""

    def __init__(self, file: str, problems: list[str]):
        self.file = file
        self.problems = list(problems)
        super().__init__(f"{file}: {len(self.problems)} problem(s) in the release metadata"
                         if len(self.problems) != 1 else self.problems[0])

    def lines(self) -> list[str]:
        if len(self.problems) == 1:
            return [self.problems[0]]
        return [self.message, *(f"  {p}" for p in self.problems)]


class _NoAliasLoader(yaml.SafeLoader):
    """The safe loader, refusing aliases (and so anchors' reuse) outright. Dates stay text
    (checked by the schema), so a bad date is one problem line, not a crash."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers
                if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases are not allowed in release metadata", event.start_mark)
        return super().compose_node(parent, index)


def _lines(node: yaml.Node, prefix: str = "") -> dict[str, int]:
    """Dotted key path -> 1-based line of its value, for error messages."""
    out: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            path = f"{prefix}{key.value}"
            out[path] = key.start_mark.line + 1
            out.update(_lines(value, path + "."))
    return out


def parse_metadata(text: str, file: str = "<metadata>") -> dict[str, Any]:
    """Parse and validate metadata text; raises MetadataError listing every problem."""
    loader = _NoAliasLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}" if mark else file
        raise MetadataError(file, [f"{where}: not valid YAML: {exc.problem or exc}"]) from None
    except (yaml.YAMLError, ValueError) as exc:
        raise MetadataError(file, [f"{file}: not valid YAML: {exc}"]) from None
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise MetadataError(file, [f"{file}:1: expected a mapping of fields, got "
                                   f"{type(data).__name__}"])
    problems = validate_metadata(data, file=file, lines=_lines(node) if node else {})
    if problems:
        raise MetadataError(file, problems)
    return _normalised(data)


def load_metadata(path: str | Path) -> dict[str, Any]:
    """Read a metadata file (see `parse_metadata`)."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MetadataError(file, [f"{file}: no such file"]) from None
    except UnicodeDecodeError:
        raise MetadataError(file, [f"{file}: not UTF-8 text"]) from None
    except OSError as exc:
        raise MetadataError(file, [f"{file}: cannot be read ({exc.strerror})"]) from None
    return parse_metadata(text, file)


def _kind_problem(field: Field, value: Any) -> str | None:
    if value is None:
        return None  # missing; required_missing reports it
    if field.kind == "mapping":
        return None if isinstance(value, dict) else "expected a mapping"
    if field.kind == "list":
        if isinstance(value, str):
            return None  # one item
        if not isinstance(value, list) or not all(isinstance(v, str | int | float)
                                                  for v in value):
            return "expected a list of strings"
        return None
    if field.kind == "date":
        if isinstance(value, datetime):
            return None
        if isinstance(value, date) or (isinstance(value, str) and _DATE.fullmatch(value)):
            try:
                date.fromisoformat(str(value))
            except ValueError:
                return f"not a date: {value!r}"
            return None
        return f"expected a date YYYY-MM-DD, got {value!r}"
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return "expected text"
    if field.kind == "url" and not re.match(r"https?://\S+$", str(value)):
        return f"expected an http(s) URL, got {str(value)[:80]!r}"
    return None


def validate_metadata(data: dict[str, Any], *, file: str = "<metadata>",
                      lines: dict[str, int] | None = None) -> list[str]:
    """One line per problem ("file:line: field: problem"): unknown fields, wrong types.
    Missing required fields are not problems here (see `required_missing`)."""
    lines = lines or {}
    problems: list[str] = []

    def where(path: str) -> str:
        return f"{file}:{lines[path]}" if path in lines else file

    def walk(mapping: dict[str, Any], prefix: str) -> None:
        for key, value in mapping.items():
            path = f"{prefix}{key}"
            field = _BY_NAME.get(path)
            if field is None:
                close = difflib.get_close_matches(path, list(_BY_NAME), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append(f"{where(path)}: {path}: unknown field{hint}")
                continue
            problem = _kind_problem(field, value)
            if problem:
                problems.append(f"{where(path)}: {path}: {problem}")
            elif field.kind == "mapping" and isinstance(value, dict):
                walk(value, path + ".")

    walk(data, "")
    return problems


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value) or (
        isinstance(value, str) and not value.strip())


def _get(meta: dict[str, Any], path: str) -> Any:
    value: Any = meta
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def required_missing(meta: dict[str, Any]) -> list[str]:
    """Every required field still missing or empty, in schema order. A missing mapping is
    listed with its required children (so the list says exactly what to write)."""
    out = []
    for field in FIELDS:
        if field.required and field.kind != "mapping" and _blank(_get(meta or {}, field.name)):
            out.append(field.name)
    return out


def _normalised(data: dict[str, Any]) -> dict[str, Any]:
    """Dates as ISO strings, one-item lists as lists, text stripped: JSON-ready."""

    def norm(path: str, value: Any) -> Any:
        field = _BY_NAME.get(path)
        if isinstance(value, dict):
            return {k: norm(f"{path}.{k}" if path else k, v) for k, v in value.items()}
        if field is not None and field.kind == "date" and isinstance(value, date | datetime):
            return (value.date() if isinstance(value, datetime) else value).isoformat()
        if field is not None and field.kind == "list":
            items = [value] if isinstance(value, str) else list(value or [])
            return [str(v).strip() for v in items if str(v).strip()]
        if isinstance(value, str):
            return value.strip()
        if isinstance(value, int | float) and field is not None and field.kind != "date":
            return str(value)
        return value

    return {k: norm(k, v) for k, v in data.items()}


def get(meta: dict[str, Any], path: str, default: Any = None) -> Any:
    """A field by dotted path, or `default` when missing or blank."""
    value = _get(meta or {}, path)
    return default if _blank(value) else value


def complete(meta: dict[str, Any] | None) -> dict[str, Any]:
    """The metadata with every schema field present (None when not given), for templates."""
    out: dict[str, Any] = {}
    for field in FIELDS:
        parent, _, leaf = field.name.rpartition(".")
        target = out
        if parent:
            target = out.setdefault(parent, {})
            if not isinstance(target, dict):
                continue
        value = _get(meta or {}, field.name)
        if field.kind == "mapping":
            target.setdefault(leaf, {})
        else:
            target[leaf] = None if _blank(value) else value
    return out
