"""The reviewers' web interface (`govcat serve`, docs/web.md): the catalog's services,
server-rendered with Jinja2, every page also as JSON (`Accept: application/json`).

    from catalog.web.app import create_app
    app = create_app(catalog)        # an ASGI app; uvicorn serves it

Nothing is served without a login (catalog/web/auth.py); every form carries a per-session
CSRF token (catalog/web/csrf.py); every write runs as the logged-in user, so the audit log
names them (catalog/web/acting.py).
"""
