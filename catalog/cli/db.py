"""`govcat db`: schema migrations."""

from __future__ import annotations

import typer

from catalog.cli.common import console, state

app = typer.Typer(help="Catalog database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context,
            revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Migrate the catalog schema to the latest (or given) revision."""
    from catalog import db as catalog_db

    settings = state(ctx).settings
    engine = catalog_db.create_catalog_engine(settings.resolved_database_url())
    try:
        catalog_db.check_reachable(engine)
        before, after = catalog_db.upgrade(engine, revision)
    finally:
        engine.dispose()
    where = catalog_db.masked(settings.resolved_database_url())
    if before == after:
        console.print(f"{where}: already at revision {after}")
    else:
        console.print(f"{where}: upgraded {before or '(empty)'} -> {after}")


@app.command("current")
def current(ctx: typer.Context) -> None:
    """Show the catalog URL (password masked) and its schema revision."""
    from catalog import db as catalog_db

    settings = state(ctx).settings
    engine = catalog_db.create_catalog_engine(settings.resolved_database_url())
    try:
        catalog_db.check_reachable(engine)
        rev, head = catalog_db.current_revision(engine), catalog_db.head_revision(engine)
    finally:
        engine.dispose()
    note = "up to date" if rev == head else f"behind: head is {head}"
    console.print(f"{catalog_db.masked(settings.resolved_database_url())}: "
                  f"revision {rev or '(empty)'} ({note})")
