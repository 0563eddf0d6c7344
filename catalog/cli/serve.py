"""`govcat serve`: the reviewers' web interface (docs/web.md)."""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from catalog.cli.common import catalog, err_console


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(
        "--host", help="Address to listen on. Anything but a loopback address lets other "
                       "machines reach the login page: put TLS in front of it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    https_cookies: Annotated[bool, typer.Option(
        "--https-cookies", help="Send the session cookie over HTTPS only (behind a TLS proxy)."
    )] = False,
) -> None:
    """The reviewers' web interface (needs a `govcat user`).

    Sources, documents, releases, mixtures and their sign-off, and the audit log, in a
    browser; every page needs a login (`govcat user add NAME --role admin`)."""
    import logging

    import uvicorn

    from catalog.web.app import create_app

    cat = catalog(ctx)
    cat.engine  # noqa: B018 - reach the database and create the schema before listening
    app = create_app(cat, https_only=https_cookies)
    with cat.session() as session:
        from catalog.services.users import listing

        if not listing(session):
            err_console.print("no user yet: create one with `govcat user add NAME --role admin`",
                              markup=False)
    if not _loopback(host):
        err_console.print(f"warning: listening on {host}, reachable from other machines; serve "
                          "it behind HTTPS (and pass --https-cookies)", markup=False)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    err_console.print(f"govcat web interface on http://{host}:{port}/ (Ctrl-C stops it)",
                      markup=False)
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False,
                proxy_headers=False)
