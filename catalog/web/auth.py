"""Logins, sessions and roles.

A session is a signed cookie (Starlette's SessionMiddleware, keyed by catalog/web/keys.py)
holding the user's name, a fingerprint of their password hash, and the CSRF token. Each
request reloads the account: a removed account, a changed role or a new password takes
effect at once (a new password ends the sessions opened with the old one).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from catalog.web import csrf
from catalog.web.acting import ActingCatalog
from catalog.web.render import html, message, wants_json

log = logging.getLogger("govcat.web")
router = APIRouter()


class NotLoggedIn(Exception):
    """No valid session: a page redirects to the login form, JSON gets 401."""


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def require_user(request: Request) -> dict[str, Any]:
    """The logged-in user (name, role); sets request.state.user and request.state.catalog."""
    from catalog.services import users

    name = request.session.get("user")
    if not isinstance(name, str):
        raise NotLoggedIn()
    base = request.app.state.catalog
    with base.session() as session:
        user = users.find(session, name)
        if user is None or request.session.get("fp") != users.fingerprint(user):
            request.session.pop("user", None)
            raise NotLoggedIn()
        role = user.role
    request.state.user = {"name": name, "role": role}
    request.state.catalog = ActingCatalog(base, name)
    return request.state.user


def require(action: str):
    """A dependency: the logged-in user's role may do `action` (services/users.PERMISSIONS)."""
    from catalog.services.users import PERMISSIONS, may

    def check(user: dict[str, Any] = Depends(require_user)) -> dict[str, Any]:
        if not may(user["role"], action):
            roles = " or ".join(sorted(PERMISSIONS[action]))
            what = action.replace("-", " ")
            raise HTTPException(403, f"Your role ({user['role']}) may not {what}; that takes "
                                     f"the {roles} role.")
        return user

    return check


def login_redirect(request: Request) -> Response:
    if wants_json(request):
        return message(request, "Log in", "log in first: this server serves nothing without a "
                                          "session", status=401)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)


def _safe_next(value: str | None) -> str:
    """Only a path of this site: never another host (`//evil`, `https://...`, `/\\evil`)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    return value


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    return html(request, "login.html", title="Log in", next=_safe_next(next), error=None)


@router.post("/login")
def login(request: Request, username: str = Form(""), password: str = Form(""),
          next: str = Form("/")) -> Response:
    from catalog.services import users

    limiter = request.app.state.limiter
    address = _client(request)
    name = username.strip()
    target = _safe_next(next)
    wait = limiter.retry_after(name, address)
    if wait:
        log.warning("login refused for %r from %s: too many failed attempts", name[:100], address)
        minutes = (wait + 59) // 60
        return html(request, "login.html", status=429, title="Log in", next=target,
                    error=f"Too many failed logins for this account or from this address. "
                          f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.")
    with request.app.state.catalog.session() as session:
        user = users.authenticate(session, name=name, password=password)
        fp = users.fingerprint(user) if user is not None else None
    if user is None:
        limiter.failed(name, address)
        log.warning("failed login for %r from %s", name[:100], address)
        return html(request, "login.html", status=401, title="Log in", next=target,
                    error="Unknown user name or wrong password.")
    limiter.succeeded(name)
    request.session.clear()  # nothing of an earlier session survives a login
    request.session.update({"user": user.name, "fp": fp})
    csrf.rotate(request)
    log.info("login %s from %s", user.name, address)
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
