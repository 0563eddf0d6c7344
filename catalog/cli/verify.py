"""`govcat verify`: every shard against the sha256 the catalog recorded."""

from __future__ import annotations

from typing import Annotated

import typer

from catalog.cli.common import JsonOption, catalog, console, print_json


def verify(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Only this source's shards.")] = None,
    deep: Annotated[bool, typer.Option(
        "--deep", help="Also hash every document's text against its content hash.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Re-hash every shard (documents, attributes, decisions) against the catalog's sha256.

    Exit 6 listing each missing or changed shard (with --deep, each changed document).
    """
    from catalog.cli.progress import counting
    from catalog.errors import ChecksFailed
    from catalog.services.integrity import verify_shards

    with counting("verify", unit="shards") as advance:
        report = verify_shards(catalog(ctx), source=source, deep=deep,
                               progress=lambda n, b: advance(n, b))
    if json_out:
        print_json(report.to_dict())
    elif report.ok:
        extra = f", {report.documents:,} documents re-hashed" if deep else ""
        console.print(f"ok: {report.shards:,} shard(s), {report.bytes / 1e6:,.1f} MB match the "
                      f"catalog{extra}", markup=False)
    if not report.ok:
        raise ChecksFailed(f"{len(report.problems)} problem(s) in {report.shards:,} shard(s)",
                           [p.detail for p in report.problems])
