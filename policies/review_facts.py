"""The review facts: what the conditions of a review policy may read about a training mixture.

A review is decided per component (one release and its sampling weight) and once for the
whole mixture. Both scopes see the same families of facts, aggregated over what they cover;
only component rules see `component.*`. Facts are passed flat, keyed by dotted path, as the
admission facts are (policies/facts.py).

Most families are counted in four measures, one fact each (`<family>.<measure>`):

    documents        documents of the component (of all components, for the mixture)
    tokens           their tokens as released
    effective_tokens tokens x weight: what training will see (weights are sampling epochs)
    share            effective_tokens / the scope's effective tokens, 0..1 (0 when empty)

A mixture counts a document once per component holding it, since training samples it from
each. Every measured family has evidence (the licences, sources, hosts, requests behind the
count) that a finding shows; `evidence_key` says which family a fact belongs to.

The CEL machinery checks conditions against facts visible at a pipeline stage. Review facts
are all known at once, so they are declared at the first stage and checked there.
"""

from __future__ import annotations

from policies.facts import TOS_VERDICTS, Fact, FactSchema

SCOPES: tuple[str, ...] = ("component", "mixture")
CHECK_STAGE = "admission"
MEASURES: tuple[str, ...] = ("documents", "tokens", "effective_tokens", "share")

# Licence obligations and problems, each a subset of the documents (a document may be in
# several: CC-BY-NC-SA is attribution, share-alike and non-commercial).
LICENSE_FAMILIES: dict[str, str] = {
    "non_commercial": "licence forbids commercial use (use class non-commercial)",
    "academic_only": "licence allows academic use only",
    "unknown": "no licence concluded, a licence the taxonomy does not know, or one that does "
               "not say whether commercial use is allowed (use class unspecified)",
    "attribution": "licence requires attribution",
    "share_alike": "licence requires derived works to be shared alike",
    "no_derivatives": "licence forbids derivative works",
    "conflict": "declared and concluded licences disagree",
}
# One family per terms-of-service verdict of the document's source: `tos.no_scraping_and_ai`.
TOS_FAMILIES: dict[str, str] = {v.replace("-", "_"): v for v in TOS_VERDICTS}
CONSENT_FAMILIES: dict[str, str] = {
    "blocked_at_collection": "robots.txt disallowed a listed agent for the URL when the "
                             "document was collected",
    "blocked_now": "the newest robots.txt disallows a listed agent for the URL",
    "stricter_since_cut": "robots.txt, Content-Signal, TDMRep or ai.txt became stricter for a "
                          "listed agent after the release was cut",
    "unknown": "no robots.txt snapshot of the document's host",
}
PII_FAMILIES: dict[str, str] = {
    "flagged": "from sources declaring personal data (personal_data: yes)",
    "unknown": "from sources whose personal data is not declared (personal_data: unknown)",
}


def _f(path: str, type_: str, description: str) -> Fact:
    return Fact(path, type_, CHECK_STAGE, description)


def _measured(prefix: str, what: str) -> tuple[Fact, ...]:
    return (
        _f(f"{prefix}.documents", "int", f"documents {what}"),
        _f(f"{prefix}.tokens", "int", f"tokens of the documents {what}"),
        _f(f"{prefix}.effective_tokens", "int", f"tokens x weight of the documents {what}"),
        _f(f"{prefix}.share", "double", f"share of the scope's effective tokens {what}"),
    )


_MIXTURE: tuple[Fact, ...] = (
    _f("mixture.name", "string", "the mixture's name"),
    _f("mixture.intended_use", "string", "research or commercial"),
    _f("mixture.jurisdiction", "string", "where the model is trained or used, e.g. EU, US"),
    _f("mixture.components", "int", "number of components"),
    _f("mixture.documents", "int", "documents of all components (once per component)"),
    _f("mixture.tokens", "int", "tokens of all components"),
    _f("mixture.effective_tokens", "int", "sum over components of tokens x weight"),
)
_COMPONENT: tuple[Fact, ...] = (
    _f("component.release", "string", "the release, NAME@X.Y.Z"),
    _f("component.name", "string", "the release's name"),
    _f("component.version", "string", "the release's version"),
    _f("component.weight", "double", "sampling weight (epochs over the release)"),
    _f("component.documents", "int", "documents in the release"),
    _f("component.tokens", "int", "tokens in the release"),
    _f("component.effective_tokens", "int", "tokens x weight"),
    _f("component.share", "double", "share of the mixture's effective tokens, 0..1"),
    _f("component.policy", "string", "admission policy of the released run, NAME@VERSION"),
    _f("component.policy_intended_use", "string", "intended use of that admission policy"),
)
_SHARED: tuple[Fact, ...] = (
    *(f for key, what in LICENSE_FAMILIES.items()
      for f in _measured(f"license.{key}", f"whose {what}")),
    _f("license.ids", "list(string)", "every licence id concluded for some document, sorted"),
    _f("license.uses", "list(string)", "every licence use class present: commercial, "
       "unspecified, non-commercial, academic-only"),
    *(f for key, verdict in TOS_FAMILIES.items()
      for f in _measured(f"tos.{key}", f"from sources whose terms-of-service verdict is "
                                       f"{verdict}")),
    _f("tos.verdicts", "list(string)", "every terms-of-service verdict of a source, sorted"),
    *(f for key, what in CONSENT_FAMILIES.items()
      for f in _measured(f"consent.{key}", f"for which {what}")),
    _f("consent.stricter_hosts", "int", "hosts whose consent became stricter since the cut"),
    *_measured("reservation", "with rights reserved for text-and-data mining or AI training "
               "(their own signals at collection, or the host's TDMRep, ai.txt or "
               "Content-Signal now)"),
    _f("reservation.uses", "list(string)", "every reserved use found: tdm, ai-train, ..."),
    *_measured("optout.new", "covered by opt-out requests the release's cut did not honour "
               "(received or recorded after it)"),
    _f("optout.new_requests", "int", "opt-out requests covering some of those documents"),
    *(f for key, what in PII_FAMILIES.items() for f in _measured(f"pii.{key}", what)),
    _f("pii.redacted", "map(string, int)", "entity type -> spans replaced by placeholders in "
       "the released text"),
    _f("pii.redacted_spans", "int", "spans replaced, all types"),
    _f("pii.found", "map(string, int)", "entity type -> spans the pii stage found in the "
       "released documents (empty when the run's attributes are not at hand)"),
    _f("pii.dropped_documents", "int", "documents the pii stage dropped from the run"),
)

COMPONENT_SCHEMA = FactSchema(_MIXTURE + _COMPONENT + _SHARED)
MIXTURE_SCHEMA = FactSchema(_MIXTURE + _SHARED)
SCHEMAS: dict[str, FactSchema] = {"component": COMPONENT_SCHEMA, "mixture": MIXTURE_SCHEMA}


def evidence_key(path: str) -> str | None:
    """The family whose evidence backs a fact: `license.non_commercial.tokens` ->
    `license.non_commercial`; None for facts about the mixture or component themselves."""
    head, _, last = path.rpartition(".")
    if path.startswith(("mixture.", "component.")):
        return None
    if last in MEASURES:
        return head
    if path.startswith("pii."):
        return "pii"
    return {"license.ids": "license", "license.uses": "license", "tos.verdicts": "tos",
            "consent.stricter_hosts": "consent.stricter_since_cut",
            "reservation.uses": "reservation", "optout.new_requests": "optout.new"}.get(path)


def measured_families() -> tuple[str, ...]:
    """Every `<family>` counted in the four measures, in schema order."""
    seen: dict[str, None] = {}
    for fact in _SHARED:
        head, _, last = fact.path.rpartition(".")
        if last in MEASURES:
            seen[head] = None
    return tuple(seen)
