"""`govcat run POLICY`: admitted documents through langid → quality → dedup → pii."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from catalog.cli.common import (
    JsonOption,
    PolicyArgument,
    SourcesOption,
    Table,
    catalog,
    console,
    err_console,
    print_json,
    split_slugs,
)
from catalog.cli.progress import counting


def run(
    ctx: typer.Context,
    policy: PolicyArgument,
    sources: SourcesOption = None,
    executor: Annotated[str, typer.Option(help="local (processes) or ray.")] = "local",
    workers: Annotated[int | None, typer.Option(
        help="Worker processes for the local executor (default: all cores).")] = None,
    ray_address: Annotated[str | None, typer.Option(
        help="Attach the Ray executor to a running cluster: auto, HOST:PORT or "
             "ray://HOST:PORT (default: start a local Ray for the run).")] = None,
    badwords_list: Annotated[list[Path] | None, typer.Option(
        "--badwords-list", help="A bad-words list, one term a line (repeat for several; "
        "docs/content-filters.md).")] = None,
    toxicity_model: Annotated[Path | None, typer.Option(
        help="A joblib toxicity model (default: alt-profanity-check's).")] = None,
    fasttext_model: Annotated[Path | None, typer.Option(
        help="A fastText supervised quality classifier (DCLM style); its labels' "
             "probabilities become attributes.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Process the documents POLICY admits; the policy decides at every stage, with reasons.

    Running the same command after an interruption resumes the unfinished run.
    """
    from catalog.services import process as svc

    slugs = split_slugs(sources)
    filters = svc.ContentFilters(
        badwords_lists=tuple(str(p.resolve()) for p in badwords_list or ()),
        toxicity_model=str(toxicity_model.resolve()) if toxicity_model else None,
        fasttext_model=str(fasttext_model.resolve()) if fasttext_model else None)
    try:
        with counting("run", show_bytes=False, every=1) as advance:
            result = svc.run_pipeline(catalog(ctx), policy_ref=policy, sources=slugs,
                                      executor=executor, workers=workers, filters=filters,
                                      ray_address=ray_address,
                                      progress=lambda stage, n: advance(n, task=stage))
    except KeyboardInterrupt:
        err_console.print("interrupted: run the same command again to resume")
        raise typer.Exit(130) from None
    if json_out:
        print_json(result.to_dict())
        return
    resumed = " (resumed)" if result.resumed else ""
    console.print(f"run {result.run_id}{resumed}: {result.policy}, admission from gate run "
                  f"{result.gate_run_id}; {result.kept:,} documents kept", markup=False)
    table = Table("stage", "docs in", "tokens in", "kept", "tokens kept", "dropped (rule: docs)",
                  "redacted", ids={"dropped (rule: docs)"}, title="funnel")
    for f in result.funnel:
        dropped = "; ".join(f"{r}: {n:,}" for r, n in f.dropped.most_common()) or "-"
        redacted = ", ".join(f"{k} {v}" for k, v in sorted(f.redacted.items()) if v) or "-"
        table.add_row(f.stage, f"{f.docs_in:,}", f"{f.tokens_in:,}", f"{f.kept:,}",
                      f"{f.kept_tokens:,}", dropped, redacted)
    console.print(table)
