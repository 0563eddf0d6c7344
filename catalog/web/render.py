"""Pages and their JSON: one data dict per page, rendered by a template or sent as JSON.

Every template is autoescaped: catalog text (titles, ToS quotes, URLs, robots.txt files,
document fields) is always shown as text. No template marks anything safe.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import ChainableUndefined, Environment, FileSystemLoader

from catalog.web import csrf

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def _percent(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f}%"


def _path(value: Any) -> str:
    """A value as one URL path segment (a release ref, a slug, a host); `/` kept for ids."""
    return quote(str(value), safe="/@")


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True,
                      undefined=ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(n=_number, pct=_percent, seg=_path, short=lambda s: str(s or "")[:12],
                       day=lambda s: str(s or "-")[:10],
                       when=lambda s: str(s or "-")[:19].replace("T", " "),
                      pretty=lambda v: json.dumps(v, indent=1, ensure_ascii=False, default=str))
    env.globals["query"] = lambda **kw: urlencode({k: v for k, v in kw.items()
                                                   if v not in (None, "", [])}, doseq=True)
    return env


_ENV = _environment()


def wants_json(request: Request) -> bool:
    """`Accept: application/json` (before or without text/html) asks for the page's data."""
    accept = request.headers.get("accept", "").lower()
    if "application/json" not in accept:
        return False
    html = accept.find("text/html")
    return html < 0 or accept.find("application/json") < html


def to_json(data: Any, status: int = 200) -> Response:
    body = json.dumps(data, ensure_ascii=False, default=str, indent=1)
    return Response(body, status_code=status, media_type="application/json")


def html(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    from catalog.services.users import may

    user = getattr(request.state, "user", None)
    try:
        token = csrf.token(request)
    except AssertionError:  # an error page rendered outside the session middleware
        token = ""
    text = _ENV.get_template(template).render(
        request=request, user=user, csrf_token=token, path=request.url.path,
        can=lambda action: bool(user) and may(user["role"], action), **context)
    return HTMLResponse(text, status_code=status)


def page(request: Request, template: str, data: Any, *, title: str, status: int = 200,
         **extra: Any) -> Response:
    """The page's `data` as JSON when asked for, else rendered by `template` (as `d`)."""
    if wants_json(request):
        return to_json(data, status)
    return html(request, template, status=status, d=data, title=title, **extra)


def message(request: Request, title: str, text: str, *, status: int) -> Response:
    """One message instead of a page: an error, a refusal, a missing thing."""
    if wants_json(request):
        return JSONResponse({"error": text, "status": status}, status_code=status)
    return html(request, "message.html", status=status, title=title, text=text)
