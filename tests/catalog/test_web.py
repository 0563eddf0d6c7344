"""The web interface (`govcat serve`) through Starlette's TestClient, on both databases:
logins and roles, CSRF, escaping, rate limits, error pages, security headers, every page as
HTML and as JSON, sign-off and source decisions audited under the logged-in user; the `user`
commands; migration 0007."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from tests.catalog import test_mixtures
from tests.catalog.test_mixtures import _create, _robots

corpus = test_mixtures.corpus  # three sources, hosts and releases (clean, nc, sa)

PASSWORD = "correct horse battery"
JSON = {"accept": "application/json"}
ACCOUNTS = {"ada": "admin", "rex": "reviewer", "vic": "viewer"}
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Web:
    """The app on one catalog, its accounts (ada admin, rex reviewer, vic viewer), a clock
    for the login limiter."""

    def __init__(self, catalog):
        from catalog.web.app import create_app
        from catalog.web.ratelimit import LoginLimiter

        self.catalog = catalog
        self.clock = Clock()
        self.limiter = LoginLimiter(per_user=3, per_address=5, window=600, clock=self.clock)
        self.app = create_app(catalog, secret_key="s" * 48, limiter=self.limiter)
        self._made: set[str] = set()

    def account(self, name: str) -> None:
        """Made on first use: argon2 is slow on purpose, and most tests need one account."""
        from catalog.services import users

        if name in ACCOUNTS and name not in self._made:
            with self.catalog.uow() as uow:
                users.add_user(uow, name=name, role=ACCOUNTS[name], password=PASSWORD)
                uow.commit()
            self._made.add(name)

    def anonymous(self, **kw) -> TestClient:
        return TestClient(self.app, follow_redirects=False, **kw)

    def login(self, name: str, password: str = PASSWORD, client: TestClient | None = None):
        self.account(name)
        client = client or self.anonymous()
        r = client.post("/login", data={"username": name, "password": password,
                                        "csrf_token": token(client, "/login"), "next": "/"})
        return client, r

    def client(self, name: str) -> TestClient:
        client, r = self.login(name)
        assert r.status_code == 303, r.text
        return client


def token(client: TestClient, path: str = "/") -> str:
    return _TOKEN.search(client.get(path).text).group(1)


@pytest.fixture
def web(catalog) -> Web:
    return Web(catalog)


def _events(catalog, action: str) -> list:
    from catalog import audit

    with catalog.session() as s:
        return [e for e in audit.iter_events(s) if e.action == action]


# --------------------------------------------------------------------------- logins


GET_PAGES = ("/", "/sources", "/sources/web", "/hosts/a.example", "/snapshots/1", "/documents",
             "/documents/web/x", "/releases", "/releases/clean", "/releases/clean/verify",
             "/releases/clean/reports/datasheet.html", "/mixtures", "/mixtures/m",
             "/mixtures/m/review", "/audit")


def test_pages_without_a_session_redirect_to_login(web):
    client = web.anonymous()
    for path in GET_PAGES:
        r = client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
        assert client.get(path, headers=JSON).status_code == 401, path
    # Every route of the app but the login form, the logout and the stylesheet needs a login.
    open_paths = {"/login", "/logout", "/static"}
    guarded = [(path, methods) for path, methods in _routes(web.app.routes)
               if path not in open_paths]
    assert len(guarded) >= len(GET_PAGES)
    for path, methods in guarded:
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        for method in methods:
            r = client.request(method, concrete,
                               headers={"x-csrf-token": token(client, "/login")})
            assert r.status_code == 303 and "/login" in r.headers["location"], (method, path)


def _routes(routes):
    """(path, methods) of every route, through the routers the app includes."""
    for route in routes:
        if hasattr(route, "original_router"):
            yield from _routes(route.original_router.routes)
        else:
            yield route.path, sorted(getattr(route, "methods", None) or {"GET"})


def test_login_logout_and_wrong_passwords(web):
    client, r = web.login("rex", "wrong password")
    assert r.status_code == 401 and "Unknown user name or wrong password" in r.text
    _, r = web.login("nobody")
    assert r.status_code == 401 and "Unknown user name or wrong password" in r.text
    client = web.client("rex")
    home = client.get("/")
    assert home.status_code == 200 and "rex" in home.text and "reviewer" in home.text
    assert client.get("/", headers=JSON).json()["user"] == {"name": "rex", "role": "reviewer"}
    r = client.post("/logout", data={"csrf_token": token(client)})
    assert r.status_code == 303
    assert client.get("/").status_code == 303


def test_login_goes_back_to_the_page_asked_for_but_never_off_site(web):
    web.account("vic")
    client = web.anonymous()
    first = client.get("/audit?entity=user")
    assert first.headers["location"] == "/login?next=%2Faudit%3Fentity%3Duser"
    form = client.get(first.headers["location"]).text
    assert 'name="next" value="/audit?entity=user"' in form
    for target, lands in (("/audit?entity=user", "/audit?entity=user"),
                          ("//evil.example/", "/"), ("https://evil.example/", "/")):
        client = web.anonymous()
        r = client.post("/login", data={"username": "vic", "password": PASSWORD, "next": target,
                                        "csrf_token": token(client, "/login")})
        assert r.headers["location"] == lands


def test_logins_are_rate_limited_per_user_and_per_address(web):
    for _ in range(3):
        _, r = web.login("rex", "wrong password")
        assert r.status_code == 401
    _, r = web.login("rex")  # the right password, but too late
    assert r.status_code == 429 and "Too many failed logins" in r.text
    assert "Try again in 10 minutes" in r.text
    _, r = web.login("vic")  # another account from the same address still gets in
    assert r.status_code == 303
    for _ in range(2):  # the address reaches its limit of 5 failures
        web.login("vic", "wrong password")
    _, r = web.login("ada")
    assert r.status_code == 429
    web.clock.now += 601
    _, r = web.login("rex")
    assert r.status_code == 303


def test_a_new_password_ends_the_open_sessions(web, catalog):
    from catalog.services import users

    client = web.client("vic")
    assert client.get("/").status_code == 200
    with catalog.uow() as uow:
        users.set_password(uow, name="vic", password="another long password")
        uow.commit()
    assert client.get("/").status_code == 303
    _, r = web.login("vic", "another long password")
    assert r.status_code == 303


def test_a_forged_session_cookie_is_not_a_login(web):
    client = web.anonymous()
    client.cookies.set("govcat_session", "eyJ1c2VyIjogImFkYSJ9.forged.signature")
    assert client.get("/").status_code == 303


# --------------------------------------------------------------------------- safe by construction


def test_posts_without_the_csrf_token_are_refused(web, cli, corpus, catalog):
    _create(cli, "m", "clean")
    rex, ada = web.client("rex"), web.client("ada")
    for client, path, data in ((rex, "/mixtures/m/sign-off", {"decision": "approve",
                                                               "note": "fine"}),
                               (ada, "/sources/web/approve", {"reason": "checked"})):
        for sent in (data, {**data, "csrf_token": "not the token"}):
            r = client.post(path, data=sent)
            assert r.status_code == 403 and "reload the page" in r.text
    r = web.anonymous().post("/login", data={"username": "rex", "password": PASSWORD})
    assert r.status_code == 403
    assert _events(catalog, "mixture.sign-off") == [] and _events(catalog, "source.approve") == []
    from catalog.services import mixtures

    assert mixtures.show(catalog, name="m")["signoff"]["state"] == "none"


def test_catalog_text_is_escaped(web, cli):
    script = "<script>alert(1)</script>"
    r = cli("source", "add", "xss", "--kind", "web-crawl", "--title", script,
            "--tos-verdict", "conditional", "--tos-quote", f'"quoted" {script}',
            "--uri", "javascript:alert(2)")
    assert r.exit_code == 0, r.output
    client = web.client("vic")
    for path in ("/sources", "/sources/xss", "/audit"):
        page = client.get(path).text
        assert script not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path
    assert 'href="javascript:' not in client.get("/sources/xss").text
    assert client.get("/sources/xss", headers=JSON).json()["source"]["title"] == script


def test_every_response_carries_the_security_headers(web, cli, corpus):
    client = web.client("vic")
    for path in ("/", "/sources/web", "/nope", "/login"):
        r = client.get(path)
        assert r.headers["x-frame-options"] == "DENY", path
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-content-type-options"] == "nosniff"
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'none'" in csp
        assert "frame-ancestors 'none'" in csp
        assert r.headers["cache-control"] == "no-store"
    cookie = web.login("vic")[1].headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()


def test_errors_are_one_message_and_never_a_traceback(web, monkeypatch):
    client = web.client("vic")
    r = client.get("/sources/nope")
    assert r.status_code == 404 and "no source &#39;nope&#39;" in r.text
    assert client.get("/sources/nope", headers=JSON).json() == {
        "error": "no source 'nope'; `govcat source list` shows the registered ones",
        "status": 404}
    assert client.get("/no/such/page").status_code == 404
    r = client.get("/documents?run=abc")
    assert r.status_code == 400 and "give a run id" in r.text
    r = client.get("/documents?collected_after=yesterday")
    assert r.status_code == 400 and "expected YYYY-MM-DD" in r.text

    from catalog.services import sources

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals at /srv/x.py line 3")

    monkeypatch.setattr(sources, "source_details", broken)
    quiet = TestClient(web.app, raise_server_exceptions=False, follow_redirects=False)
    quiet.cookies = client.cookies
    r = quiet.get("/sources/anything")
    assert r.status_code == 500
    assert "the details are in its log" in r.text
    assert "Traceback" not in r.text and "secret internals" not in r.text
    assert r.headers["x-frame-options"] == "DENY"


# --------------------------------------------------------------------------- roles and writes


def test_a_viewer_and_an_admin_may_not_sign_off(web, cli, corpus, catalog):
    _create(cli, "m", "clean")
    for name in ("vic", "ada"):
        client = web.client(name)
        r = client.post("/mixtures/m/sign-off", data={
            "decision": "approve", "note": "looks fine", "csrf_token": token(client)})
        assert r.status_code == 403 and "takes the reviewer role" in r.text
        page = client.get("/mixtures/m/review").text
        assert "Sign off this review" not in page and "Only reviewers sign off" in page
    assert _events(catalog, "mixture.sign-off") == []


def test_a_reviewer_signs_off_and_the_audit_log_names_them(web, cli, corpus, catalog):
    _create(cli, "m", "clean", use="research")
    rex = web.client("rex")
    page = rex.get("/mixtures/m/review").text
    sha = re.search(r'name="review_sha256" value="([0-9a-f]{64})"', page).group(1)
    r = rex.post("/mixtures/m/sign-off", data={
        "decision": "approve-with-conditions", "note": "cleared <b>by legal</b>",
        "conditions": "attribution file shipped\n\nno redistribution",
        "review_sha256": sha, "csrf_token": token(rex)})
    assert r.status_code == 303 and r.headers["location"] == "/mixtures/m#signoff"
    [event] = _events(catalog, "mixture.sign-off")
    assert event.actor == "rex" and json.loads(event.after)["review_sha256"] == sha
    shown = rex.get("/mixtures/m").text
    assert "approve-with-conditions by rex" in shown and "no redistribution" in shown
    assert "cleared &lt;b&gt;by legal&lt;/b&gt;" in shown
    audit = rex.get("/audit?entity=mixture:m").text
    assert "mixture.sign-off" in audit and ">rex<" in audit
    state = rex.get("/mixtures/m", headers=JSON).json()["signoff"]
    assert state["conditions"] == ["attribution file shipped", "no redistribution"]
    # the same form against a review that has changed since is refused, in one line
    r = rex.post("/mixtures/m/sign-off", data={"decision": "approve", "note": "again",
                                               "review_sha256": "0" * 64,
                                               "csrf_token": token(rex)})
    assert r.status_code == 400 and "changed since the one you read" in r.text


def test_only_an_admin_approves_a_source_and_it_is_audited(web, cli, corpus, catalog):
    for name in ("vic", "rex"):
        client = web.client(name)
        r = client.post("/sources/web/approve", data={"reason": "ok",
                                                      "csrf_token": token(client)})
        assert r.status_code == 403 and "takes the admin role" in r.text
        assert "Approve" not in client.get("/sources/web").text
    ada = web.client("ada")
    r = ada.post("/sources/web/reject", data={"reason": "", "csrf_token": token(ada)})
    assert r.status_code == 400 and "a reason is required" in r.text
    r = ada.post("/sources/web/approve", data={"reason": "licence checked",
                                               "csrf_token": token(ada)})
    assert r.status_code == 303 and r.headers["location"] == "/sources/web"
    [event] = _events(catalog, "source.approve")
    assert event.actor == "ada" and json.loads(event.after)["status_reason"] == "licence checked"
    assert ada.get("/sources/web", headers=JSON).json()["source"]["status"] == "approved"


# --------------------------------------------------------------------------- the pages


def test_a_source_page_holds_fields_evidence_quotes_and_robots_verdicts_over_time(
        web, cli, corpus, tmp_path):
    _robots(cli, "a.example", "User-agent: GPTBot\nDisallow: /\n", "2025-08-01", tmp_path)
    client = web.client("vic")
    page = client.get("/sources/web").text
    assert "CC-BY-4.0" in page and "source-registration" in page
    assert "You may reuse the content for any purpose." in page
    assert 'href="/hosts/a.example"' in page
    data = client.get("/sources/web", headers=JSON).json()
    [host] = data["consent"]["hosts"]
    assert host["host"] == "a.example" and host["documents"] == 3
    assert [(s["fetched_at"][:10], s["verdicts"]["GPTBot"]) for s in host["robots"]] == [
        ("2025-01-01", "none"), ("2025-08-01", "all")]
    snap = host["robots"][1]["id"]
    assert f'href="/snapshots/{snap}"' in page
    snapshot = client.get(f"/snapshots/{snap}")
    assert "User-agent: GPTBot" in snapshot.text and "Disallow: /" in snapshot.text
    listing = client.get("/sources?status=pending", headers=JSON).json()
    assert [s["slug"] for s in listing] == ["nc", "sa", "web"]
    assert client.get("/sources?status=approved", headers=JSON).json() == []
    host_page = client.get("/hosts/a.example", headers=JSON).json()
    assert host_page["documents"] == 3 and len(host_page["snapshots"]) == 2


def test_document_search_filters_and_pages(web, cli, corpus):
    from ingest.documents import document_id

    client = web.client("vic")
    first = client.get("/documents?source=web&limit=2", headers=JSON).json()
    ids = sorted(document_id("web", f"w{i}") for i in range(3))
    assert [d["id"] for d in first["documents"]] == ids[:2]
    assert first["next_after"] == ids[1] and first["filters"]["sources"] == ["web"]
    page = client.get("/documents?source=web&limit=2").text
    nxt = re.search(r'<a rel="next" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    second = client.get(nxt, headers=JSON).json()
    assert [d["id"] for d in second["documents"]] == ids[2:] and second["next_after"] is None
    assert "Last page." in client.get(nxt).text
    by_licence = client.get("/documents?license=non-commercial", headers=JSON).json()
    assert {d["source"] for d in by_licence["documents"]} == {"nc"}
    by_host = client.get("/documents?host=c.example&host=b.example", headers=JSON).json()
    assert {d["host"] for d in by_host["documents"]} == {"b.example", "c.example"}
    assert client.get("/documents?license=CC-BY-99", headers=JSON).status_code == 400


def test_a_documents_life_links_its_source_host_and_releases(web, cli, corpus):
    from ingest.documents import document_id

    doc = document_id("web", "w0")
    client = web.client("vic")
    page = client.get(f"/documents/{doc}").text
    assert 'href="/sources/web"' in page and 'href="/hosts/a.example"' in page
    assert 'href="/releases/clean@1.0.0"' in page and "holds it" in page
    data = client.get(f"/documents/{doc}", headers=JSON).json()
    assert data["document"]["id"] == doc and data["releases"][0]["release"] == "clean@1.0.0"
    assert client.get("/documents/web/none").status_code == 404


def test_release_pages_show_the_manifest_charts_verification_and_sandboxed_reports(
        web, cli, corpus, catalog):
    client = web.client("vic")
    listing = client.get("/releases", headers=JSON).json()
    assert [r["release"] for r in listing] == ["clean@1.0.0", "nc@1.0.0", "sa@1.0.0"]
    page = client.get("/releases/clean").text
    assert "clean@1.0.0" in page and "/releases/clean@1.0.0/verify" in page
    data = client.get("/releases/clean", headers=JSON).json()
    assert data["documents"] == 3 and data["reports"]["files"] == []
    verified = client.get("/releases/clean/verify", headers=JSON).json()
    from catalog.services import releases

    expected = releases.verify(catalog, str(catalog.layout.release("clean", "1.0.0")),
                               deep=False)
    assert verified["ok"] is expected["ok"] and verified["problems"] == expected["problems"]
    shown = client.get("/releases/clean/verify").text
    assert ("verifies" if expected["ok"] else "does not verify") in shown
    # A report is served only if the reports manifest lists it, in a sandbox.
    folder = catalog.layout.release("clean", "1.0.0") / "reports"
    folder.mkdir()
    (folder / "datasheet.html").write_text("<h1>Datasheet</h1><script>alert(1)</script>")
    (folder / "secret.txt").write_text("not a report")
    (folder / "reports-manifest.json").write_text(json.dumps({"files": [
        {"path": "datasheet.html", "report": "datasheet", "format": "html", "bytes": 44}]}))
    r = client.get("/releases/clean@1.0.0/reports/datasheet.html")
    assert r.status_code == 200 and r.headers["content-security-policy"].startswith("sandbox")
    assert "script-src" not in r.headers["content-security-policy"]
    assert client.get("/releases/clean/reports/secret.txt").status_code == 404
    assert client.get("/releases/clean/reports/..%2Fmanifest.json").status_code == 404
    assert 'href="/releases/clean@1.0.0/reports/datasheet.html"' in client.get(
        "/releases/clean").text
    # a folder path is not a release name here, whatever the services accept
    assert client.get(f"/releases/{catalog.data_root}/verify").status_code == 404


def test_the_review_page_links_every_finding_to_its_evidence(web, cli, corpus):
    _create(cli, "m", "clean:1", "nc@1.0.0:2.5")
    client = web.client("rex")
    doc = client.get("/mixtures/m/review", headers=JSON).json()
    assert doc["verdict"] == "blocked"
    page = client.get("/mixtures/m/review").text
    for i, finding in enumerate(doc["findings"]):
        assert f'id="finding-{i}"' in page and finding["rule"] in page
    blocked = next(i for i, f in enumerate(doc["findings"]) if f["effect"] == "blocked")
    section = page.split(f'id="finding-{blocked}"')[1].split('<li id="finding-')[0]
    assert "CC-BY-NC-4.0" in section and 'href="/sources/nc"' in section
    assert 'href="/releases/nc@1.0.0"' in section
    assert "Override reason" in page  # a blocked review can only be approved with one
    assert page.count("<img src=\"data:image/svg+xml;base64,") >= 2
    listing = client.get("/mixtures", headers=JSON).json()
    assert [m["name"] for m in listing] == ["m"] and listing[0]["signoff"]["state"] == "none"
    shown = client.get("/mixtures/m", headers=JSON).json()
    assert shown["totals"]["effective_tokens"] == corpus["clean"] + round(corpus["nc"] * 2.5)


def test_the_audit_page_verifies_the_chain_and_pages_newest_first(web, cli, corpus):
    client = web.client("vic")
    data = client.get("/audit?limit=2", headers=JSON).json()
    assert data["verify"]["ok"] is True
    assert data["head"]["events"] == data["verify"]["events"]
    seqs = [e["seq"] for e in data["events"]]
    assert seqs == [data["head"]["events"], data["head"]["events"] - 1]
    older = client.get(f"/audit?limit=2&before={data['next_before']}", headers=JSON).json()
    assert [e["seq"] for e in older["events"]] == [seqs[1] - 1, seqs[1] - 2]
    sources = client.get("/audit?entity=source:web", headers=JSON).json()["events"]
    assert [e["action"] for e in sources] == ["source.register"]
    assert "Chain intact" in client.get("/audit").text
    assert 'href="/sources/web"' in client.get("/audit?entity=source").text


def test_a_broken_chain_shows_on_the_audit_page(web, cli, db_url):
    from sqlalchemy import text

    assert cli("source", "add", "a", "--kind", "other").exit_code == 0
    assert cli("source", "add", "b", "--kind", "other").exit_code == 0
    with web.catalog.engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # the append-only trigger, as its owner may
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE entity_id = 'a'"))
    page = web.client("vic").get("/audit").text
    assert "Chain broken" in page and "was modified" in page


# --------------------------------------------------------------------------- accounts, keys, schema


def test_user_commands(cli, catalog):
    r = cli("user", "add", "ana", "--role", "reviewer", "--password-stdin",
            input=PASSWORD + "\n")
    assert r.exit_code == 0 and "user ana added (reviewer)" in r.stdout
    r = cli("user", "add", "bo", "--role", "admin", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert r.exit_code == 0, r.output  # prompted, with confirmation
    for args, stdin, code, words in (
            (("add", "ana", "--role", "viewer"), PASSWORD, 5, "exists"),
            (("add", "cy", "--role", "root"), PASSWORD, 2, "expected one of viewer"),
            (("add", "cy", "--role", "viewer"), "short", 2, "too short"),
            (("add", "no spaces", "--role", "viewer"), PASSWORD, 2, "user name"),
            (("add", "cy", "--role", "viewer"), "", 2, "held no password"),
            (("set-role", "nobody", "admin"), None, 4, "no user")):
        extra = ("--password-stdin",) if args[0] == "add" else ()
        r = cli("user", *args, *extra, input=stdin)
        assert r.exit_code == code, (args, r.output)
        assert words in r.stderr and "Traceback" not in r.output
    assert cli("user", "set-role", "ana", "admin").exit_code == 0
    rows = json.loads(cli("user", "list", "--json").stdout)
    assert [(u["name"], u["role"]) for u in rows] == [("ana", "admin"), ("bo", "admin")]
    assert all("hash" not in json.dumps(u) for u in rows)
    r = cli("user", "passwd", "ana", "--password-stdin", input="a new long password\n")
    assert r.exit_code == 0
    from catalog.services import users

    with catalog.session() as s:
        assert users.authenticate(s, name="ana", password="a new long password") is not None
        assert users.authenticate(s, name="ana", password=PASSWORD) is None
        assert users.find(s, "ana").password_hash.startswith("$argon2id$")
    events = json.loads(cli("audit", "log", "--entity", "user", "--json").stdout)
    assert [e["action"] for e in events] == ["user.add", "user.add", "user.set-role",
                                             "user.passwd"]
    assert PASSWORD not in json.dumps(events) and "argon2" not in json.dumps(events)


def test_the_session_key_is_made_once_readable_by_its_owner_only(tmp_path):
    from catalog.errors import ConfigError
    from catalog.web.keys import secret_key

    path = tmp_path / "home" / "web-secret.key"
    first = secret_key(path, env="")
    assert len(first) >= 32 and (path.stat().st_mode & 0o777) == 0o600
    assert secret_key(path, env="") == first
    assert secret_key(path, env="k" * 40) == "k" * 40
    with pytest.raises(ConfigError, match="at least 32"):
        secret_key(path, env="short")
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        secret_key(path, env="")


def test_serve_binds_to_loopback_unless_told(monkeypatch, tmp_path):
    from catalog.cli import serve

    assert serve._loopback("127.0.0.1") and serve._loopback("::1")
    assert serve._loopback("localhost") and not serve._loopback("0.0.0.0")
    import inspect

    assert inspect.signature(serve.serve).parameters["host"].default == "127.0.0.1"


def test_migration_0007_goes_down_and_up_and_matches_the_models(db_url):
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect
    from sqlmodel import SQLModel

    from catalog import db

    engine = db.create_catalog_engine(db_url)
    try:
        db.upgrade(engine)
        assert "users" in inspect(engine).get_table_names()
        command.downgrade(db._alembic_config(engine), "0006")
        assert "users" not in inspect(engine).get_table_names()
        db.upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(
                conn, opts={"compare_type": True}), SQLModel.metadata)
        assert [d for d in diff if "users" in repr(d)] == []
    finally:
        engine.dispose()
