"""Signing in to the console through an IdP: the authorization-code flow with PKCE against the
fake IdP of tests/auth (redirect, authorize, callback, session), what the session keeps and
who it is to the pages, and every way the sign-in can fail (a tampered state, a wrong nonce,
an expired ID token, a refused code, the IdP's own error) shown as a message on the sign-in
page. One browser test clicks the button through the fake IdP to the runs page."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from runbook_engine.server.serve import Server
from runbook_engine.web.oidc_signin import FLOW_COOKIE, Discovery, OidcSignIn
from runbook_engine.web.session import SESSION_COOKIE, Session, Sessions
from tests.api.conftest import write_env
from tests.auth.idp import CLIENT_ID, CLIENT_SECRET, FakeIdp, serve_idp
from tests.web.conftest import ALICE, OPTIONS, Console

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def idp() -> Iterator[FakeIdp]:
    with serve_idp() as served:
        served.publish(served.new_key())
        yield served


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, idp: FakeIdp) -> Iterator[Console]:
    """A server whose console signs in through ``idp`` (a confidential client)."""
    root = tmp_path_factory.mktemp("web-oidc")
    with pytest.MonkeyPatch.context() as mp:
        write_env(root, mp)
        for var in ("RUNBOOK_SESSION_KEY", "RUNBOOK_TRUST_PROXY", "RUNBOOK_OIDC_REDIRECT_URI"):
            mp.delenv(var, raising=False)
        mp.setenv("RUNBOOK_OIDC_ISSUER", idp.issuer)
        mp.setenv("RUNBOOK_OIDC_AUDIENCE", "runbook-api")
        mp.setenv("RUNBOOK_OIDC_CLIENT_ID", CLIENT_ID)
        mp.setenv("RUNBOOK_OIDC_CLIENT_SECRET", CLIENT_SECRET)
        mp.delenv("RUNBOOK_OIDC_CLIENT_AUTH", raising=False)
        server = Server(None, OPTIONS)
        server.start()
        made = Console(root, server, server.store)
        try:
            yield made
        finally:
            made.close()
            server.stop()


@pytest.fixture(autouse=True)
def fresh_idp(idp: FakeIdp, console: Console) -> Iterator[None]:
    """Each test starts with the IdP handing out good tokens for Alice."""
    yield
    idp.deny = None
    idp.id_token_claims = {}
    idp.auth_method = "client_secret_basic"
    signin = console.server.web.state.oidc_signin
    assert isinstance(signin, OidcSignIn)
    signin.auth_method = ""


def _cookie_header(answer: httpx.Response, name: str) -> str:
    found = [c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{name}=")]
    assert found, f"no {name} cookie in {answer.headers.get_list('set-cookie')}"
    return found[0]


def to_idp(console: Console, client: httpx.Client, next_path: str = "") -> httpx.Response:
    """``/signin/oidc``: the redirect to the IdP's authorization endpoint."""
    answer = client.get("/signin/oidc" + (f"?next={next_path}" if next_path else ""))
    assert answer.status_code == 303, answer.text
    return answer


def at_idp(location: str) -> str:
    """The IdP's answer to the browser: where it sends it back to (the callback)."""
    answer = httpx.get(location, timeout=10.0)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def sign_in(console: Console, client: httpx.Client, next_path: str = "") -> httpx.Response:
    back = at_idp(to_idp(console, client, next_path).headers["location"])
    return client.get(back)


def test_the_sign_in_page_offers_the_idp(console: Console, idp: FakeIdp) -> None:
    page = console.client().get("/signin?next=/runbooks")
    assert page.status_code == 200
    assert "Sign in with 127.0.0.1" in page.text
    assert 'href="/signin/oidc?next=%2Frunbooks"' in page.text
    assert 'name="token"' in page.text  # token sign-in stays


def test_the_flow_signs_in_with_the_id_tokens_name_and_groups(
    console: Console, idp: FakeIdp
) -> None:
    client = console.client()
    start = to_idp(console, client, "/runbooks")
    location = urlsplit(start.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{idp.issuer}/authorize"
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == f"{console.url}/signin/oidc/callback"
    assert query["scope"] == "openid email profile groups"
    assert query["code_challenge_method"] == "S256"
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    assert query["code_challenge"] and query["code_challenge"] != query["state"]
    flow = _cookie_header(start, FLOW_COOKIE).lower().split(";", 1)[1]  # its flags
    assert "httponly" in flow and "samesite=lax" in flow and "path=/signin/oidc" in flow
    assert "secure" not in flow  # plain http on loopback

    back = client.get(at_idp(start.headers["location"]))
    assert back.status_code == 303, back.text
    assert back.headers["location"] == "/runbooks"
    session = _cookie_header(back, SESSION_COOKIE).lower().split(";", 1)[1]
    assert "httponly" in session and "samesite=lax" in session
    # the flow is over: its cookie goes, and the code went to the token endpoint once
    assert "max-age=0" in _cookie_header(back, FLOW_COOKIE).lower().split(";", 1)[1]
    exchanged = idp.token_requests[-1]
    assert exchanged["code_verifier"] and "client_secret" not in exchanged  # basic auth

    me = client.get("/me")
    assert me.status_code == 200, me.text
    assert "Signed in as Alice@Example.com" in me.text
    assert "oidc:00u1abc" in me.text
    assert "@sre-leads" in me.text and "@staff" in me.text
    # the policy sees the same principal: Alice is staff, so she sees the runs
    runs = client.get("/")
    assert runs.status_code == 200
    assert "Sign out" in runs.text


def test_the_session_ends_with_the_id_token(console: Console, idp: FakeIdp) -> None:
    idp.id_token_claims = {"exp": int(time.time()) + 90}
    client = console.client()
    assert sign_in(console, client).status_code == 303
    sessions = console.server.web.state.sessions
    assert isinstance(sessions, Sessions)
    found = sessions.decode(client.cookies[SESSION_COOKIE])
    assert found is not None and found.oidc_sub == "00u1abc" and not found.token_id
    assert found.expires <= time.time() + 90
    # an ended session (the same cookie, its expiry passed) is a visitor again
    ended = sessions.encode(replace(found, expires=time.time() - 1))
    client.cookies.set(SESSION_COOKIE, ended)
    assert client.get("/me").headers["location"] == "/signin?next=/me"


def test_an_oidc_session_needs_the_same_issuer(console: Console) -> None:
    sessions = console.server.web.state.sessions
    assert isinstance(sessions, Sessions)
    other = Session("", ALICE, time.time() + 600, "x", "00u1abc", "https://other.example", ())
    assert sessions.principal(other, "127.0.0.1") is None
    # nor may a token session be made without its token
    assert sessions.principal(Session("", ALICE, time.time() + 600, "x"), "127.0.0.1") is None


def test_a_tampered_state_is_refused(console: Console, idp: FakeIdp) -> None:
    client = console.client()
    back = at_idp(to_idp(console, client).headers["location"])
    parts = urlsplit(back)
    query = parse_qs(parts.query)
    code = query["code"][0]
    answer = client.get(f"/signin/oidc/callback?code={code}&state=forged")
    assert answer.status_code == 400
    assert "does not belong to this sign-in" in answer.text
    assert code not in answer.text
    assert SESSION_COOKIE not in client.cookies
    # without the flow's cookie (another browser), the callback is refused too
    assert console.client().get(back).status_code == 400


def test_a_wrong_nonce_is_refused(console: Console, idp: FakeIdp) -> None:
    idp.id_token_claims = {"nonce": "another-sign-in"}
    client = console.client()
    answer = sign_in(console, client)
    assert answer.status_code == 401
    assert "nonce is not this sign-in" in answer.text
    assert SESSION_COOKIE not in client.cookies


def test_an_expired_id_token_is_refused(console: Console, idp: FakeIdp) -> None:
    idp.id_token_claims = {"exp": int(time.time()) - 600}
    client = console.client()
    answer = sign_in(console, client)
    assert answer.status_code == 401
    assert "ID token was refused: the token has expired" in answer.text
    assert "Traceback" not in answer.text
    assert SESSION_COOKIE not in client.cookies


def test_an_idp_error_is_shown_on_the_sign_in_page(console: Console, idp: FakeIdp) -> None:
    idp.deny = "access_denied"
    client = console.client()
    answer = sign_in(console, client)
    assert answer.status_code == 401
    assert "the identity provider said access_denied: The user said no." in answer.text
    assert 'name="token"' in answer.text  # the sign-in page, to try again
    # a crafted link (no flow of this browser) gets the code only, not its words
    crafted = console.client().get(
        "/signin/oidc/callback?error=access_denied&error_description=Call+555-0100&state=x"
    )
    assert crafted.status_code == 401
    assert "said access_denied" in crafted.text and "555-0100" not in crafted.text


def test_a_refused_code_is_shown_on_the_sign_in_page(console: Console, idp: FakeIdp) -> None:
    client = console.client()
    back = at_idp(to_idp(console, client).headers["location"])
    state = parse_qs(urlsplit(back).query)["state"][0]
    answer = client.get(f"/signin/oidc/callback?code=made-up&state={state}")
    assert answer.status_code == 400
    assert "refused the sign-in code (invalid_grant)" in answer.text


def test_client_secret_post_when_the_idp_asks_for_it(console: Console, idp: FakeIdp) -> None:
    idp.auth_method = "client_secret_post"
    signin = console.server.web.state.oidc_signin
    assert isinstance(signin, OidcSignIn)
    signin.auth_method = "client_secret_post"
    client = console.client()
    assert sign_in(console, client).status_code == 303
    assert idp.token_requests[-1]["client_secret"] == CLIENT_SECRET
    assert client.get("/me").status_code == 200


def test_an_unreachable_idp_is_a_message_not_a_crash(console: Console) -> None:
    signin = console.server.web.state.oidc_signin
    assert isinstance(signin, OidcSignIn)
    kept = signin.discovery
    signin.discovery = Discovery("http://127.0.0.1:9")  # nothing listens on the discard port
    try:
        answer = console.client().get("/signin/oidc")
    finally:
        signin.discovery = kept
    assert answer.status_code == 503
    assert "the identity provider cannot be reached" in answer.text
    assert "Traceback" not in answer.text


def test_token_sign_in_still_works_beside_it(console: Console) -> None:
    client = console.as_user(ALICE)
    assert "token:" in client.get("/me").text


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")
def test_the_button_signs_in_through_the_idp_in_a_browser(console: Console) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            context = browser.new_context()
            context.set_default_timeout(10_000)
            page = context.new_page()
            page.goto(console.url + "/")
            expect(page).to_have_url(console.url + "/signin")
            page.get_by_role("link", name="Sign in with 127.0.0.1").click()
            expect(page).to_have_url(console.url + "/")
            expect(page.get_by_role("heading", name="Runs")).to_be_visible()
            expect(page.get_by_role("status").first).to_have_text("Signed in as Alice@Example.com.")
            expect(page.get_by_role("link", name="Alice@Example.com")).to_be_visible()
        finally:
            browser.close()
