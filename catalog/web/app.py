"""The ASGI app: middleware, error pages, and the routers of each page group.

    app = create_app(catalog)                   # the key from GOVCAT_SECRET_KEY or the data root
    app = create_app(catalog, secret_key="...")  # tests

Order of the layers, outside in: security headers on every response; the signed session
cookie; the CSRF check of every unsafe request (an app-wide dependency); a login on every
route but /login and /static (a dependency of each page router).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from catalog.context import Catalog
from catalog.errors import (
    AlreadyExists,
    Busy,
    DatabaseUnreachable,
    GovcatError,
    IntegrityError,
    InvalidInput,
    NotFound,
    translate,
)
from catalog.web import csrf
from catalog.web.auth import NotLoggedIn, login_redirect, require_user
from catalog.web.ratelimit import LoginLimiter
from catalog.web.render import STATIC, message

log = logging.getLogger("govcat.web")

SESSION_COOKIE = "govcat_session"
SESSION_HOURS = 8
# Pages load nothing from elsewhere, run no script, and cannot be framed or send forms away.
# Charts are SVG images in data: URLs (an image runs no script).
CSP = ("default-src 'self'; img-src 'self' data:; script-src 'none'; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
_STATUS = ((NotFound, 404), (AlreadyExists, 409), (InvalidInput, 400), (Busy, 409),
           (IntegrityError, 409), (DatabaseUnreachable, 503))


class SecurityHeaders:
    """Adds HEADERS to every response; a route that sets its own (a sandboxed report, an SVG
    chart) keeps its own Content-Security-Policy. Authenticated pages are not cached."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        static = scope["path"].startswith("/static/")

        async def with_headers(event):
            if event["type"] == "http.response.start":
                have = {k.lower() for k, _ in event.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in HEADERS.items()
                         if k.encode() not in have]
                if not static and b"cache-control" not in have:
                    extra.append((b"cache-control", b"no-store"))
                event = {**event, "headers": [*event.get("headers", []), *extra]}
            await send(event)

        await self.app(scope, receive, with_headers)


def status_of(error: GovcatError) -> int:
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 500


def _error_page(request: Request, error: GovcatError) -> Response:
    status = status_of(error)
    lines = error.lines() if hasattr(error, "lines") else [error.message]
    text = "\n".join(lines)
    if status == 500 and type(error) is GovcatError:
        text = "Something went wrong on the server; the details are in its log."
    title = {404: "Not found", 409: "Conflict", 400: "Cannot do that", 503: "Unavailable"}.get(
        status, "Error")
    response = message(request, title, text, status=status)
    for key, value in HEADERS.items():  # a 500 leaves through no middleware
        response.headers.setdefault(key, value)
    return response


def create_app(catalog: Catalog, *, secret_key: str | None = None, https_only: bool = False,
               limiter: LoginLimiter | None = None) -> FastAPI:
    from catalog.web.keys import secret_key as stored_key
    from catalog.web.routes import audit, documents, home, mixtures, releases, sources

    app = FastAPI(title="govcat", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(csrf.guard)])
    app.state.catalog = catalog
    app.state.limiter = limiter or LoginLimiter()
    from catalog.web import auth

    app.include_router(auth.router)
    for module in (home, sources, documents, releases, mixtures, audit):
        app.include_router(module.router, dependencies=[Depends(require_user)])
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    key = secret_key or stored_key(catalog.layout.web_secret)
    app.add_middleware(SessionMiddleware, secret_key=key, session_cookie=SESSION_COOKIE,
                       max_age=SESSION_HOURS * 3600, same_site="lax", https_only=https_only)
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(NotLoggedIn)
    async def _not_logged_in(request: Request, exc: NotLoggedIn) -> Response:
        return login_redirect(request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        status = exc.status_code
        text = exc.detail if isinstance(exc.detail, str) else ""
        if not text or text == HTTPStatus(status).phrase:  # the framework's own words
            text = {404: "There is no such page.",
                    405: "This page does not take that kind of request."}.get(
                        status, "The request was refused.")
        titles = {403: "Not allowed", 404: "Not found", 405: "Not allowed"}
        return message(request, titles.get(status, "Refused"), text, status=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ())[1:]) or "request"
            problems.append(f"{where}: {err.get('msg', 'invalid')}")
        return message(request, "Cannot do that", "; ".join(problems)[:1000], status=400)

    @app.exception_handler(GovcatError)
    async def _govcat(request: Request, exc: GovcatError) -> Response:
        return _error_page(request, exc)

    @app.exception_handler(ValueError)
    @app.exception_handler(OSError)
    @app.exception_handler(SQLAlchemyError)
    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        error = translate(exc, url=catalog.url)
        if type(error) is GovcatError:
            log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return _error_page(request, error)

    return app
