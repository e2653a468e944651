"""Signing in and out of the console: the form, the session cookie and its flags, CSRF on
every POST, redirects for visitors who are not signed in, revocation ending a session, and the
console mounted at / beside (never over) the server's other paths."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from starlette.requests import Request

from runbook_engine.auth.ratelimit import FailureLimiter
from runbook_engine.auth.tokens import revoke_token
from runbook_engine.web.session import SESSION_COOKIE, is_https
from tests.web.conftest import ALICE, BOB, Console, csrf_of


@pytest.fixture(autouse=True)
def generous_limiter(console: Console) -> Iterator[None]:
    """The failures one test makes on purpose do not slow the next (all come from one
    address); the rate-limit test installs a strict limiter of its own."""
    before = console.server.authenticator.limiter
    console.server.authenticator.limiter = FailureLimiter(burst=10_000)
    yield
    console.server.authenticator.limiter = before


def _set_cookie(answer: httpx.Response, name: str) -> str:
    found = [c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{name}=")]
    assert found, f"no {name} cookie in {answer.headers.get_list('set-cookie')}"
    return found[0]


def test_a_visitor_is_sent_to_the_sign_in_page(console: Console) -> None:
    client = console.client()
    answer = client.get("/")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin"
    deep = client.get("/runs/abc123?step=x")
    assert deep.status_code == 303
    assert deep.headers["location"] == "/signin?next=/runs/abc123%3Fstep%3Dx"
    page = client.get("/signin")
    assert page.status_code == 200
    assert 'name="token"' in page.text
    assert "Sign in with" not in page.text  # no IdP configured: no button for one
    assert "Sign out" not in page.text  # no navigation for a visitor
    assert 'href="/approvals"' not in page.text


def test_an_htmx_refresh_of_a_visitor_loads_the_sign_in_page(console: Console) -> None:
    answer = console.client().get("/runs", headers={"HX-Request": "true"})
    assert answer.status_code == 401
    assert answer.headers["hx-redirect"] == "/signin"


def test_signing_in_sets_a_signed_http_only_lax_cookie(console: Console) -> None:
    client = console.client()
    token = console.token(ALICE)
    answer = console.sign_in(client, token, next_path="/runs/nothing")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/runs/nothing"
    cookie = _set_cookie(answer, SESSION_COOKIE)
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "path=/" in flags
    assert "secure" not in flags  # plain http here
    assert token not in cookie  # the token itself is never kept
    home = client.get("/")
    assert home.status_code == 200
    assert ALICE in home.text
    assert "Signed in as alice@example.com." in home.text


def test_a_wrong_token_is_refused_with_its_reason(console: Console) -> None:
    client = console.client()
    answer = console.sign_in(client, "rbk_" + "x" * 43)
    assert answer.status_code == 401
    assert "Not signed in: unknown token." in answer.text
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    other = console.sign_in(client, "eyJhbGciOi.not.a-token")
    assert other.status_code == 401
    assert "not an API token" in other.text


def test_the_cookie_is_secure_behind_a_trusted_https_proxy(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNBOOK_TRUST_PROXY", "1")
    client = console.client()
    form = client.get("/signin")  # over http: its CSRF cookie is not Secure
    answer = client.post(
        "/signin",
        data={"csrf_token": csrf_of(form.text), "token": console.token(ALICE)},
        headers={"X-Forwarded-Proto": "https"},
    )
    assert answer.status_code == 303
    flags = [p.strip().lower() for p in _set_cookie(answer, SESSION_COOKIE).split(";")]
    assert "secure" in flags


def _request(headers: dict[str, str], scheme: str = "http") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    scope = {
        "type": "http",
        "scheme": scheme,
        "server": ("console.example", 443 if scheme == "https" else 80),
        "path": "/",
        "headers": raw,
    }
    return Request(scope)


def test_x_forwarded_proto_is_believed_only_when_told(monkeypatch: pytest.MonkeyPatch) -> None:
    forwarded = {"X-Forwarded-Proto": "https"}
    monkeypatch.delenv("RUNBOOK_TRUST_PROXY", raising=False)
    assert not is_https(_request(forwarded))
    assert is_https(_request({}, scheme="https"))
    monkeypatch.setenv("RUNBOOK_TRUST_PROXY", "1")
    assert is_https(_request(forwarded))
    assert is_https(_request({"X-Forwarded-Proto": "https, http"}))
    assert not is_https(_request({"X-Forwarded-Proto": "http"}))


def test_posts_without_the_csrf_token_are_refused(console: Console) -> None:
    client = console.as_user(ALICE)
    page = client.get("/")
    good = csrf_of(page.text)
    missing = client.post("/signout", data={"other": "field"})
    assert missing.status_code == 403
    assert "no CSRF token" in missing.text
    wrong = client.post("/signout", data={"csrf_token": good[:-2] + "xx"})
    assert wrong.status_code == 403
    assert "not this session" in wrong.text
    assert client.get("/").status_code == 200  # still signed in
    # another session's token is not this one's
    other = console.as_user(BOB)
    theirs = csrf_of(other.get("/").text)
    assert client.post("/signout", data={"csrf_token": theirs}).status_code == 403
    # a JSON body is not a form
    assert client.post("/signout", json={"csrf_token": good}).status_code == 415


def test_the_sign_in_form_needs_its_token_too(console: Console) -> None:
    client = console.client()
    answer = client.post("/signin", data={"token": console.token(ALICE)})
    assert answer.status_code == 403
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")


def test_signing_out_ends_the_session(console: Console) -> None:
    client = console.as_user(ALICE)
    token = csrf_of(client.get("/").text)
    answer = client.post("/signout", data={"csrf_token": token})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin"
    assert 'runbook_session=""' in answer.headers.get("set-cookie", "")
    assert client.get("/").status_code == 303


def test_revoking_the_token_signs_the_session_out(console: Console) -> None:
    client = console.client()
    token = console.token(ALICE)
    assert console.sign_in(client, token).status_code == 303
    assert client.get("/").status_code == 200
    record = next(t for t in console.store.list_tokens(ALICE) if t.last_used_at is not None)
    for t in console.store.list_tokens(ALICE):
        if t.revoked_at is None:
            revoke_token(console.store, t.id)
    answer = client.get("/")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin"
    assert f'{SESSION_COOKIE}=""' in answer.headers.get("set-cookie", "")
    assert record.id  # the session named it


def test_a_forged_or_stale_cookie_is_no_session(console: Console) -> None:
    client = console.client()
    client.cookies.set(SESSION_COOKIE, "W10.forged.signature")
    assert client.get("/").status_code == 303
    signed = console.as_user(ALICE)
    cookie = signed.cookies.get(SESSION_COOKIE)
    assert cookie is not None
    tampered = cookie.replace("alice", "admin") if "alice" in cookie else cookie[:-3] + "abc"
    fresh = console.client()
    fresh.cookies.set(SESSION_COOKIE, tampered)
    assert fresh.get("/").status_code == 303


def test_next_never_leaves_the_site(console: Console) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "runs"):
        client = console.client()
        answer = console.sign_in(client, console.token(ALICE), next_path=target)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/", target


def test_failed_sign_ins_are_rate_limited(console: Console) -> None:
    console.server.authenticator.limiter = FailureLimiter(burst=3, per=60.0)
    client = console.client()
    statuses = [console.sign_in(client, "rbk_" + "y" * 43).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    slowed = console.sign_in(client, console.token(ALICE))  # even a good token waits
    assert slowed.status_code == 429
    assert "too many failed sign-ins" in slowed.text
    assert int(slowed.headers["retry-after"]) > 0
    assert SESSION_COOKIE not in slowed.headers.get("set-cookie", "")


def test_the_console_shadows_none_of_the_other_paths(console: Console) -> None:
    client = console.client()
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["ok"] is True
    metrics = client.get("/metrics", follow_redirects=True)  # to /metrics/, as ever
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "runbook" in metrics.text
    api = client.get("/api/v1/runs")
    assert api.status_code == 401
    assert api.headers["content-type"].startswith("application/problem+json")
    assert client.post("/slack/events").status_code == 404  # Slack is not configured here
    hooks = client.post("/hooks/alertmanager", content=b"{}")
    assert hooks.headers["content-type"].startswith("application/problem+json")


def test_pages_carry_security_headers_and_static_assets_are_served(console: Console) -> None:
    client = console.client()
    page = client.get("/signin")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    for name in ("console.css", "theme.js", "htmx.min.js", "console.js", "run.js"):
        asset = client.get(f"/static/{name}")
        assert asset.status_code == 200, name
        assert "no-store" not in asset.headers.get("cache-control", "")
    assert client.get("/static/../session.py").status_code == 404


def test_an_unknown_page_is_a_page_saying_so(console: Console) -> None:
    client = console.as_user(ALICE)
    answer = client.get("/no/such/page")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "there is no such page" in answer.text
