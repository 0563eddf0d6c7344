"""CSRF: one random token per session, sent back with every form and checked on every POST.

The check is an app-wide dependency (catalog/web/app.py), so no route can forget it: a POST,
PUT, PATCH or DELETE without the session's token — as a form field `csrf_token` or an
`X-CSRF-Token` header — is refused with 403 before its handler runs.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import HTTPException, Request

SESSION_KEY = "csrf"
FIELD = "csrf_token"
HEADER = "x-csrf-token"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def token(request: Request) -> str:
    """The session's token, made on first use (an anonymous visitor's session holds one too,
    for the login form)."""
    value = request.session.get(SESSION_KEY)
    if not isinstance(value, str) or len(value) < 32:
        value = request.session[SESSION_KEY] = secrets.token_urlsafe(32)
    return value


def rotate(request: Request) -> str:
    request.session[SESSION_KEY] = secrets.token_urlsafe(32)
    return request.session[SESSION_KEY]


async def guard(request: Request) -> None:
    if request.method not in _UNSAFE:
        return
    expected = request.session.get(SESSION_KEY)
    sent = request.headers.get(HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(FIELD)
            sent = value if isinstance(value, str) else None
    if not (isinstance(expected, str) and sent and hmac.compare_digest(sent, expected)):
        raise HTTPException(403, "This form was not sent from a page of this site, or the page "
                                 "is older than your session: reload the page and try again.")
