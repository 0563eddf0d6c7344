"""`govcat release`: cut a processing run into a verifiable, signed corpus; list, show, diff."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from catalog.cli.common import JsonOption, Table, catalog, console, err_console, print_json

app = typer.Typer(help="Releases: cut a run into a verifiable, signed corpus.",
                  no_args_is_help=True)

ReleaseRef = Annotated[str, typer.Argument(
    help="A release: NAME@X.Y.Z, or NAME for its newest version.")]


@app.command("cut")
def cut(
    ctx: typer.Context,
    run: Annotated[str, typer.Argument(
        help="A completed processing run id (`govcat run` prints it), or `latest`.")],
    name: Annotated[str, typer.Option("--name", help="Release name (a-z, 0-9, . _ -).")],
    version: Annotated[str, typer.Option("--version", help="MAJOR.MINOR.PATCH, e.g. 1.0.0.")],
    description: Annotated[str | None, typer.Option(help="What the release is for.")] = None,
    shard_mb: Annotated[int, typer.Option(
        "--shard-mb", min=1, help="Text per shard, in MiB of UTF-8 (fixes shard boundaries).")
    ] = 256,
    json_out: JsonOption = False,
) -> None:
    """Write the documents RUN keeps as a release under <home>/releases/NAME/X.Y.Z/.

    zstd Parquet text shards (sorted by id), PII redacted as the pii stage decided, opt-outs
    received up to now left out, the run's decision log, and manifest.json with every file's
    sha256 and an RFC 6962 Merkle root over (document id, content sha256). Atomic: a killed
    cut leaves no release, and the same command completes it with the same bytes.
    """
    from catalog.cli.progress import counting
    from catalog.errors import InvalidInput
    from catalog.services import release_cut

    cat = catalog(ctx)
    if run == "latest":
        run_id = release_cut.latest_run(cat)
    elif run.isdigit():
        run_id = int(run)
    else:
        raise InvalidInput(f"run {run[:40]!r}: give a run id or `latest`")
    with counting(f"cut {name}@{version}", show_bytes=False) as advance:
        result = release_cut.cut(cat, run_id=run_id, name=name, version=version,
                                 description=description, shard_bytes=shard_mb * 2**20,
                                 progress=lambda _stage, n: advance(n))
    if json_out:
        print_json(result.to_dict())
        return
    verb = "cut" if result.created else "already cut (same content)"
    console.print(f"release {name}@{version} {verb}: {result.documents:,} documents, "
                  f"{result.tokens:,} tokens, {result.excluded:,} left out for opt-outs",
                  markup=False)
    console.print(f"  folder {result.path}", markup=False)
    console.print(f"  merkle root {result.merkle_root}", markup=False)


@app.command("verify")
def verify(
    ctx: typer.Context,
    release: Annotated[str, typer.Argument(
        help="A release folder, or NAME[@X.Y.Z] of a release the catalog knows.")],
    public_key: Annotated[Path | None, typer.Option(
        "--public-key", help="Also check release.sig against this EC public key (PEM).")] = None,
    proof: Annotated[Path | None, typer.Option(
        "--proof", help="Also check one document's inclusion proof (from `release prove`).")
    ] = None,
    quick: Annotated[bool, typer.Option(
        "--quick", help="Hash files only; do not decode shards and re-hash every document.")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Recompute every hash and the Merkle root from the release folder alone.

    Exit 6 listing every mismatch: an edited, missing or extra file, a document changed
    inside a shard, a tampered manifest, a bad signature or proof.
    """
    from catalog.errors import ChecksFailed
    from catalog.services import releases

    out = releases.verify(catalog(ctx), release, public_key=public_key, proof=proof,
                          deep=not quick)
    if json_out:
        print_json(out)
    elif out["ok"]:
        extra = [f"signature {out['signature']}"] if "signature" in out else []
        if "proof" in out:
            extra.append(f"proof of {out['proof']['document']} valid")
        console.print(f"ok: {out['folder']} verifies"
                      + (f" ({'; '.join(extra)})" if extra else ""), markup=False)
    if not out["ok"]:
        raise ChecksFailed(f"{out['folder']}: {len(out['problems'])} problem(s)",
                           out["problems"])


@app.command("prove")
def prove(
    ctx: typer.Context,
    document: Annotated[str, typer.Argument(help="A document id.")],
    release: Annotated[str | None, typer.Option(
        "--release", help="NAME[@X.Y.Z] (default: the newest release holding it).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the proof to FILE.")] = None,
) -> None:
    """The RFC 6962 inclusion proof of DOCUMENT in a release (JSON)."""
    import json

    from catalog.services import releases

    proof = releases.prove(catalog(ctx), document, release)
    if out is not None:
        from common.atomic import write_bytes_atomic

        write_bytes_atomic((json.dumps(proof, indent=2, sort_keys=True) + "\n").encode(), out)
        err_console.print(f"proof written to {out}", markup=False)
        return
    print_json(proof)


@app.command("keygen")
def keygen(
    private_key: Annotated[Path, typer.Option("--private-key", help="Where to write it.")] =
    Path("release-key.pem"),
    public_key: Annotated[Path, typer.Option("--public-key", help="Where to write it.")] =
    Path("release-key.pub"),
) -> None:
    """Make an EC P-256 key pair for signing releases (model-signing accepts EC keys only)."""
    from catalog.services import releases

    out = releases.keygen(private_key, public_key)
    console.print(f"private key {out['private_key']} (keep it secret), public key "
                  f"{out['public_key']}", markup=False)


@app.command("sign")
def sign(
    ctx: typer.Context,
    release: ReleaseRef,
    key: Annotated[Path, typer.Option("--key", help="EC private key (PEM).")],
) -> None:
    """Sign a release with OpenSSF model-signing: release.sig, a Sigstore bundle over every
    file's sha256, checkable with `model_signing verify key` without govcat."""
    from catalog.services import releases

    out = releases.sign(catalog(ctx), release, key=key)
    console.print(f"signed {out['release']}: {out['signature']} (sha256 {out['sha256']})",
                  markup=False)


@app.command("list")
def list_(ctx: typer.Context, json_out: JsonOption = False) -> None:
    """Every release the catalog holds."""
    from catalog.services import releases

    rows = releases.listing(catalog(ctx))
    if json_out:
        print_json(rows)
        return
    table = Table("release", "run", "documents", "tokens", "left out", "signed", "created",
                  ids={"release"})
    for r in rows:
        table.add_row(r["release"], str(r["run"]), f"{r['documents']:,}", f"{r['tokens']:,}",
                      f"{r['excluded']:,}", "yes" if r["signed"] else "no", r["created_at"])
    console.print(table)


@app.command("show")
def show(ctx: typer.Context, release: ReleaseRef, json_out: JsonOption = False) -> None:
    """A release: its run and policy, files, composition, funnel and opt-outs honoured."""
    from catalog.services import releases

    data = releases.show(catalog(ctx), release)
    if json_out:
        print_json(data)
        return
    console.print(f"[bold]{data['release']}[/bold] from run {data['run']} under "
                  f"{data['policy']}: {data['documents']:,} documents, {data['tokens']:,} "
                  f"tokens; signed: {'yes' if data['signed'] else 'no'}")
    console.print(f"  folder {data['folder']}; merkle root {data['merkle_root']}", markup=False)
    console.print(f"  opt-outs honoured up to {data['optouts'].get('honoured_up_to', '-')}: "
                  f"{data['optouts'].get('excluded_documents', 0)} document(s) left out",
                  markup=False)
    contamination = data.get("decontamination") or {}
    if contamination.get("checked"):
        quoted = "; ".join(f"{name}: {o['documents']:,} document(s), longest {o['longest']} "
                           "words" for name, o in contamination["overlaps"].items())
        console.print(f"  evaluation sets checked: {', '.join(contamination['checked'])}; "
                      f"quoted: {quoted or 'none'}", markup=False)
    files = Table("file", "kind", "documents", "bytes", "sha256", ids={"file"})
    for f in data["files"]:
        files.add_row(f["path"], f["kind"], f"{f['documents']:,}", f"{f['bytes']:,}",
                      f["sha256"][:16] + "…")
    console.print(files)
    for key in ("by_source", "by_license", "by_language"):
        counts = data["counts"].get(key, {})
        if counts:
            table = Table(key.replace("by_", ""), "documents", "tokens",
                          ids={key.replace("by_", "")})
            for value, c in sorted(counts.items(), key=lambda kv: -kv[1]["documents"]):
                table.add_row(value, f"{c['documents']:,}", f"{c['tokens']:,}")
            console.print(table)


@app.command("diff")
def diff(ctx: typer.Context, a: ReleaseRef, b: ReleaseRef, json_out: JsonOption = False) -> None:
    """Documents and tokens added and removed from A to B, each with why, by source and
    licence (new source, a policy rule now drops it, opt-out N, duplicate, changed)."""
    from catalog.services import releases

    data = releases.diff(catalog(ctx), a, b)
    if json_out:
        print_json(data)
        return
    console.print(f"{data['a']} → {data['b']}: {data['added']['documents']:,} added "
                  f"({data['added']['tokens']:,} tokens), {data['removed']['documents']:,} "
                  f"removed ({data['removed']['tokens']:,} tokens), "
                  f"{data['changed']['documents']:,} changed, {data['unchanged']:,} unchanged",
                  markup=False)
    for label in ("removed", "added", "changed"):
        if not data[label]["by"]:
            continue
        table = Table("why", "source", "licence", "documents", "tokens",
                      ids={"source", "licence"}, title=label)
        for r in data[label]["by"]:
            table.add_row(r["why"], r["source"], r["license"], f"{r['documents']:,}",
                          f"{r['tokens']:,}")
        console.print(table)
