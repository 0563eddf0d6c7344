"""The `govcat` command line. Commands are thin: parse, call a service, print."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import click
import typer
from typer.core import TyperGroup

from catalog.cli import audit as audit_cli
from catalog.cli import consent as consent_cli
from catalog.cli import db as db_cli
from catalog.cli import gate as gate_cli
from catalog.cli import ingest as ingest_cli
from catalog.cli import license as license_cli
from catalog.cli import optout as optout_cli
from catalog.cli import policy as policy_cli
from catalog.cli import run as run_cli
from catalog.cli import source as source_cli
from catalog.cli import tools as tools_cli
from catalog.cli.common import CliState, err_console
from catalog.errors import GovcatError


class GovcatGroup(TyperGroup):
    """Turns every GovcatError into one line on stderr and its exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except GovcatError as exc:
            lines = exc.lines() if hasattr(exc, "lines") else [exc.message]
            for i, line in enumerate(lines):
                err_console.print(f"error: {line}" if i == 0 else line, markup=False)
            ctx.exit(exc.exit_code)
        finally:
            if isinstance(ctx.obj, CliState):
                ctx.obj.close()


app = typer.Typer(
    cls=GovcatGroup,
    name="govcat",
    help="A governance-aware data catalog for language-model training data.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    ctx: typer.Context,
    db_url: Annotated[str | None, typer.Option(
        "--db-url", envvar="GOVCAT_DATABASE_URL", show_envvar=True,
        help="Catalog database URL (sqlite:///PATH or postgresql://...). "
             "Default: a SQLite file under the data root.")] = None,
    actor: Annotated[str | None, typer.Option(
        "--actor", envvar="GOVCAT_ACTOR", show_envvar=True,
        help="Who is acting, for the audit log. Default: the OS user.")] = None,
    home: Annotated[Path | None, typer.Option(
        "--home", envvar="GOVCAT_HOME", show_envvar=True,
        help="Data root for shards and the default SQLite catalog. Default: ./.govcat")] = None,
) -> None:
    ctx.obj = CliState(db_url, actor, home)


app.add_typer(source_cli.app, name="source")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(ingest_cli.app, name="ingest")
app.add_typer(consent_cli.app, name="consent")
app.add_typer(license_cli.app, name="license")
app.add_typer(policy_cli.app, name="policy")
app.command("gate")(gate_cli.gate)
app.command("explain")(gate_cli.explain)
app.command("run")(run_cli.run)
app.add_typer(optout_cli.app, name="optout")
app.add_typer(tools_cli.app, name="tools")
app.add_typer(db_cli.app, name="db")


def main() -> None:
    app()
