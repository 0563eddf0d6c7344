"""`govcat user`: accounts of the web interface (`govcat serve`), each with a role."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from catalog.cli.common import JsonOption, Table, catalog, console, print_json
from catalog.errors import InvalidInput

app = typer.Typer(help="Accounts of the web interface: viewer, reviewer, admin.",
                  no_args_is_help=True)

RoleOption = Annotated[str, typer.Option(
    "--role", help="viewer (reads), reviewer (also signs off mixtures) or admin (also "
                   "approves and rejects sources).")]
PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from the first line of standard input "
                             "instead of prompting.")]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if not password:
            raise InvalidInput("--password-stdin: standard input held no password")
        return password.rstrip("\r")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@app.command("add")
def add(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The login name.")],
        role: RoleOption, password_stdin: PasswordStdin = False) -> None:
    """Create an account (the password is prompted for, or read with --password-stdin)."""
    from catalog.services import users

    password = _password(password_stdin)
    with catalog(ctx).uow() as uow:
        user = users.add_user(uow, name=name, role=role, password=password)
        uow.commit()
    console.print(f"user {user.name} added ({user.role})", markup=False)


@app.command("passwd")
def passwd(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The login name.")],
           password_stdin: PasswordStdin = False) -> None:
    """Set a new password; the user's open web sessions end."""
    from catalog.services import users

    password = _password(password_stdin)
    with catalog(ctx).uow() as uow:
        users.set_password(uow, name=name, password=password)
        uow.commit()
    console.print(f"user {name}: password changed", markup=False)


@app.command("set-role")
def set_role(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The login name.")],
             role: Annotated[str, typer.Argument(help="viewer, reviewer or admin.")]) -> None:
    """Change what an account may do."""
    from catalog.services import users

    with catalog(ctx).uow() as uow:
        user = users.set_role(uow, name=name, role=role)
        uow.commit()
    console.print(f"user {user.name} is now {user.role}", markup=False)


@app.command("list")
def list_(ctx: typer.Context, json_out: JsonOption = False) -> None:
    """Every account and its role."""
    from catalog.services import users

    with catalog(ctx).session() as session:
        rows = users.listing(session)
    if json_out:
        print_json(rows)
        return
    table = Table("user", "role", "created by", "created", ids={"user"},
                  title=f"{len(rows)} user(s)")
    for r in rows:
        table.add_row(r["name"], r["role"], r["created_by"], r["created_at"])
    console.print(table)
