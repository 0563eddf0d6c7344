"""The `govcat` command line. Commands are thin: parse, call a service, print.

A command's module is imported only when that command runs, so `govcat --help` and the
quick commands do not pay for the heavy libraries of the others (pyarrow, presidio,
DuckDB...). `govcat --help` lists the commands from COMMANDS without importing any of them.

Adding a command or a group is one line in COMMANDS: its name, where it lives
("module:attribute" — a `typer.Typer` for a group, a function for a single command) and the
one-line help `govcat --help` shows (tests/catalog/test_cli.py checks it matches the
command's own help).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.core import TyperCommand, TyperGroup

from catalog.errors import GovcatError, translate

COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("source", "catalog.cli.source:app", "Register and review data sources."),
    ("audit", "catalog.cli.audit:app", "The append-only audit log."),
    ("ingest", "catalog.cli.ingest:app",
     "Ingest raw data of a registered source: `govcat ingest SOURCE PATH...`."),
    ("consent", "catalog.cli.consent:app", "Consent signals per host, at collection time and now."),
    ("license", "catalog.cli.license:app", "Licences of the catalog's documents."),
    ("policy", "catalog.cli.policy:app", "Policies: rules, written as data, that gate documents."),
    ("gate", "catalog.cli.gate:gate",
     "Run the policy's admission stage over the document index and record every decision."),
    ("explain", "catalog.cli.gate:explain",
     "A document's source, evidence, consent, and every decision with rule and reason."),
    ("run", "catalog.cli.run:run",
     "Process the documents POLICY admits; the policy decides at every stage, with reasons."),
    ("optout", "catalog.cli.optout:app", "Opt-out requests from rights holders."),
    ("tools", "catalog.cli.tools:app", "Run one step on one input (debugging, measuring)."),
    ("db", "catalog.cli.db:app", "Catalog database schema."),
    ("docs", "catalog.cli.docs:app", "Find documents in the index."),
    ("release", "catalog.cli.release:app", "Releases: cut a run into a verifiable, signed corpus."),
    ("mixture", "catalog.cli.mixture:app", "Training mixtures: compliance review and sign-off."),
    ("verify", "catalog.cli.verify:verify",
     "Re-hash every shard (documents, attributes, decisions) against the catalog's sha256."),
    ("report", "catalog.cli.report:app", "Reports of a release: datasheet, card, AI Act summary."),
    ("decontam", "catalog.cli.decontam:app",
     "Benchmark decontamination: evaluation sets runs are checked against."),
    ("serve", "catalog.cli.serve:serve", "The reviewers' web interface (needs a `govcat user`)."),
    ("user", "catalog.cli.user:app", "Accounts of the web interface: viewer, reviewer, admin."),
)


def _log_traceback(ctx: typer.Context, exc: BaseException) -> None:
    """An unexpected error's traceback goes to <home>/logs/errors.log, not the terminal."""
    import traceback
    from datetime import UTC, datetime

    from catalog.cli.common import err_console

    settings = _settings(ctx)
    home = settings.home if settings else Path(".govcat")
    log = Path(home) / "logs" / "errors.log"
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as fh:
            fh.write(f"--- {datetime.now(UTC).isoformat()} govcat {' '.join(ctx.args)}\n")
            fh.write("".join(traceback.format_exception(exc)))
        err_console.print(f"(details in {log})", markup=False)
    except OSError:
        pass


def _settings(ctx: typer.Context) -> Any:
    """The settings, or None when they are what failed (a --home that is a URL)."""
    from catalog.cli.common import CliState

    if not isinstance(ctx.obj, CliState):
        return None
    try:
        return ctx.obj.settings
    except Exception:  # noqa: BLE001 - the error being reported is this one
        return None


class _NotLoaded(TyperCommand):
    """Stands for a command in `govcat --help` until the command itself is needed."""

    def __init__(self, name: str, target: str, help: str):
        super().__init__(name=name, help=help)
        self.target = target

    def load(self) -> Any:
        module, _, attribute = self.target.partition(":")
        obj = getattr(importlib.import_module(module), attribute)
        if isinstance(obj, typer.Typer):
            command = typer.main.get_group(obj)
        else:
            single = typer.Typer(add_completion=False)
            single.command(self.name)(obj)
            command = typer.main.get_command(single)
        command.name = self.name
        return command


class GovcatGroup(TyperGroup):
    """Loads commands on first use; turns every GovcatError into one line and its exit code."""

    def __init__(self, **attrs: Any):
        super().__init__(**attrs)
        for name, target, help in COMMANDS:
            self.commands.setdefault(name, _NotLoaded(name, target, help))
        self._listing = False

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:
        command = self.commands.get(cmd_name)
        if isinstance(command, _NotLoaded) and not self._listing:
            command = self.commands[cmd_name] = command.load()
        return command

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:
        self._listing = True  # the listing needs names and one-line helps only
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def invoke(self, ctx: typer.Context) -> Any:
        from catalog.cli.common import CliState, err_console

        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, click.exceptions.ClickException):
            raise
        except KeyboardInterrupt:
            # The run lifecycle has recorded the command as interrupted; its temporary
            # files go on the next start.
            err_console.print("interrupted: run the same command again to resume or redo it",
                              markup=False)
            ctx.exit(130)
        except Exception as exc:  # noqa: BLE001 - the one place every failure becomes a line
            settings = _settings(ctx)
            url = settings.resolved_database_url() if settings else None
            error = translate(exc, url=url)
            lines = error.lines() if hasattr(error, "lines") else [error.message]
            for i, line in enumerate(lines):
                err_console.print(f"error: {line}" if i == 0 else line, markup=False)
            if type(error) is GovcatError:  # not one we could name: keep the details
                _log_traceback(ctx, exc)
            ctx.exit(error.exit_code)
        finally:
            if isinstance(ctx.obj, CliState):
                try:
                    ctx.obj.close()
                except Exception:  # noqa: BLE001 - closing a lost connection must not raise
                    pass


app = typer.Typer(
    cls=GovcatGroup,
    name="govcat",
    help="A governance-aware data catalog for language-model training data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
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
    home: Annotated[str | None, typer.Option(
        "--home", envvar="GOVCAT_HOME", show_envvar=True,
        help="Local folder for the default SQLite catalog, logs, locks and caches, and the "
             "data root unless --data-root is given. Default: ./.govcat")] = None,
    data_root: Annotated[str | None, typer.Option(
        "--data-root", envvar="GOVCAT_DATA_ROOT", show_envvar=True,
        help="Where shards, decision logs, the dedup index and releases go: a folder or an "
             "fsspec URL (s3://BUCKET/PREFIX; credentials from the environment). "
             "Default: the home")] = None,
) -> None:
    from catalog.cli.common import CliState

    ctx.obj = CliState(db_url, actor, home, data_root)


def main() -> None:
    app()
