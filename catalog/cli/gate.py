"""`govcat gate POLICY` and `govcat explain DOC_ID`."""

from __future__ import annotations

from typing import Annotated

import typer

from catalog.cli.common import (
    JsonOption,
    PolicyArgument,
    SourcesOption,
    Table,
    catalog,
    console,
    print_json,
    split_slugs,
    state,
)
from catalog.cli.progress import counting


def gate(
    ctx: typer.Context,
    policy: PolicyArgument,
    sources: SourcesOption = None,
    json_out: JsonOption = False,
) -> None:
    """Run the policy's admission stage over the document index and record every decision."""
    from catalog.services import gate as svc

    slugs = split_slugs(sources)
    with counting(f"gate {policy}") as advance:
        result = svc.gate(catalog(ctx), policy_ref=policy, sources=slugs, progress=advance)
    if json_out:
        print_json(result.to_dict())
        return
    data = result.to_dict()
    console.print(f"gate run {result.run_id}: {result.policy} over {result.documents:,} "
                  f"documents ({result.tokens:,} tokens)", markup=False)
    for effect, n in sorted(result.by_effect.items()):
        console.print(f"  {effect}: {n:,} documents, {result.tokens_by_effect[effect]:,} tokens",
                      markup=False)
    table = Table("rule", "effect", "documents", "tokens", ids={"rule"},
                  title="per-rule counts (a document may count under several deny rules)")
    for r in data["rules"]:
        table.add_row(r["rule"], r["effect"], f"{r['documents']:,}", f"{r['tokens']:,}")
    console.print(table)
    console.print(f"decisions: {result.decisions_path}", markup=False)


def explain(ctx: typer.Context,
            doc_id: Annotated[str, typer.Argument(
                help="A document id (<source>/<hash>) or the document's URL.")],
            json_out: JsonOption = False) -> None:
    """A document's source, evidence, consent, and every decision with rule and reason."""
    from catalog.services import explain as explain_svc

    data = explain_svc.explain(catalog(ctx), doc_id=doc_id, agents=state(ctx).settings.agents)
    if json_out:
        print_json(data)
        return
    d, s = data["document"], data["source"]
    console.print(f"[bold]{d['id']}[/bold]")
    console.print(f"  native id {d['native_id']}; url {d['url'] or '-'}; collected "
                  f"{d['collected_at'] or '-'}; {d['n_tokens']:,} tokens; shard {d['shard']} "
                  f"row {d['shard_row']}", markup=False)
    console.print(f"  source {s['slug']} ({s['kind']}, status {s['status']}, ToS "
                  f"{s['tos_verdict']}, declared licence {s['declared_license'] or '-'})",
                  markup=False)
    console.print(f"  licence: declared {d['declared_license'] or '-'}, concluded "
                  f"{d['concluded_license'] or '-'}", markup=False)
    for e in data["license_evidence"]:
        console.print(f"    evidence ({e['scope']}, {e['role']}): {e['detector']} → "
                      f"{e['expression']} at {e['location'] or '-'}", markup=False)
    f = data["facts_now"]
    blocked_now = [a for a, ok in f.get("consent.now", {}).items() if not ok]
    blocked_then = [a for a, ok in f.get("consent.collection", {}).items() if not ok]
    console.print(f"  robots.txt: at collection {data['robots']['at_collection'] or 'none'} "
                  f"blocks {', '.join(blocked_then) or 'no listed agent'}; now "
                  f"{data['robots']['now'] or 'none'} blocks "
                  f"{', '.join(blocked_now) or 'no listed agent'}", markup=False)
    console.print(f"  reservation: {'reserved' if f.get('reservation.reserved') else 'none'} "
                  f"{', '.join(f.get('reservation.uses', []))}; opt-out requests: "
                  f"{', '.join(f.get('optout.request_ids', [])) or 'none'}", markup=False)
    if not data["decisions"]:
        console.print("  no decisions yet (run `govcat gate POLICY`)")
    pipeline = object()
    for dec in data["decisions"]:
        if dec["pipeline_run"] != pipeline:
            pipeline = dec["pipeline_run"]
            head = (f"processing run {pipeline}" if pipeline is not None
                    else f"gate run {dec['run']}")
            console.print(f"  {head} under {dec['policy']} (sha256 "
                          f"{dec['policy_sha256'][:12]}…):", markup=False)
        extra = ""
        if dec.get("redact"):
            extra = f" {', '.join(dec['redact'])} ({dec['redact_spans']} span(s))"
        console.print(f"    {dec['stage']:<9} run {dec['run']}: "
                      f"[bold]{dec['effect']}[/bold]{extra}")
        for r in dec["rules"]:
            console.print(f"      {r['rule']}: {r['reason']}", markup=False)
        for e in dec.get("errors", []):
            console.print(f"      could not evaluate: {e}", markup=False)
    for o in data.get("decontamination", []):
        console.print(f"  quotes evaluation set {o['set']} (run {o['run']}): {o['hits']} "
                      f"n-gram hit(s), longest overlap {o['longest']} words", markup=False)
    for rel in data.get("releases", []):
        if rel["holds"]:
            console.print(f"  in release {rel['release']}", markup=False)
        else:
            console.print(f"  left out of release {rel['release']}: {rel['reason']}",
                          markup=False)
