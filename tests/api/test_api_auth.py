"""Authentication: API tokens and OIDC JWTs, every refusal a 401 with ``WWW-Authenticate``
and a reason that never quotes the credential; failures counted per address."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from runbook_engine.auth.ratelimit import FailureLimiter
from runbook_engine.auth.tokens import revoke_token, token_hash
from tests.api.conftest import ALICE, Api, bearer


@pytest.fixture(autouse=True)
def lenient(api: Api) -> Iterator[None]:
    """Room for the many refusals these tests provoke from one address (the limit has a test
    of its own, with a limiter of its own)."""
    before = api.server.authenticator.limiter
    api.server.authenticator.limiter = FailureLimiter(burst=10_000)
    yield
    api.server.authenticator.limiter = before


def refused(answer: httpx.Response, why: str = "") -> str:
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"] == 'Bearer realm="runbook"'
    assert answer.headers["content-type"].startswith("application/problem+json")
    detail: str = answer.json()["detail"]
    assert why in detail
    return detail


def test_no_header(api: Api) -> None:
    refused(api.client().get("/me"), "no Authorization header")


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer rbk_", "Basic YWxpY2U6c2VjcmV0", "rbk_abc", "Token rbk_abc", "Bearer ...."],
)
def test_garbage(api: Api, header: str) -> None:
    answer = api.client().get("/me", headers={"Authorization": header})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_a_forged_token(api: Api) -> None:
    real = api.token(ALICE)
    forged = real[:-6] + ("AAAAAA" if not real.endswith("AAAAAA") else "BBBBBB")
    detail = refused(api.client(forged).get("/me"), "unknown token")
    assert forged not in detail and forged[4:20] not in detail


def test_an_expired_token(api: Api) -> None:
    token = api.token(ALICE, lifetime=timedelta(seconds=-1))
    refused(api.client(token).get("/me"), "has expired")


def test_a_revoked_token_stops_working_at_once(api: Api) -> None:
    token = api.token(ALICE)
    client = api.client(token)  # one client: its kept-alive connection is no credential
    assert client.get("/me").status_code == 200
    record = api.store.token_by_hash(token_hash(token))
    assert record is not None and record.last_used_at is not None
    revoke_token(api.store, record.id)
    refused(client.get("/me"), "was revoked")
    refused(client.post("/runs", json={"runbook": "hello"}), "was revoked")


def test_a_good_jwt(api: Api) -> None:
    body = api.client(api.jwt()).get("/me").json()
    assert body == {
        "name": "Alice@Example.com",
        "via": "oidc:00u1abc",
        "groups": ["sre-leads"],
        "roles": None,
    }


def test_a_jwt_for_another_audience(api: Api) -> None:
    refused(api.client(api.jwt(aud="another-app")).get("/me"))


def test_a_jwt_from_another_issuer(api: Api) -> None:
    refused(api.client(api.jwt(iss="https://idp.example.net")).get("/me"))


def test_an_expired_jwt(api: Api) -> None:
    now = int(time.time())
    token = api.jwt(iat=now - 7200, exp=now - 3600)
    refused(api.client(token).get("/me"), "expired")


def test_a_jwt_with_a_forged_signature(api: Api) -> None:
    # signed by a key the IdP never published, under the key id of one it did
    impostor = api.idp.new_key(kid=api.idp_key.kid)
    token = api.idp.token(impostor)
    refused(api.client(token).get("/me"), "bad signature")
    # the real signature on altered claims
    header, claims, signature = api.jwt().split(".")
    altered = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    altered["email"] = "admin@example.com"
    payload = base64.urlsafe_b64encode(json.dumps(altered).encode()).decode().rstrip("=")
    refused(api.client(f"{header}.{payload}.{signature}").get("/me"), "bad signature")


def test_an_unsigned_jwt(api: Api) -> None:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    now = int(time.time())
    claims = {"iss": api.idp.issuer, "aud": "runbook-engine", "sub": "x", "exp": now + 300}
    token = f"{part({'alg': 'none'})}.{part({**claims, 'email': 'admin@example.com'})}."
    refused(api.client(token).get("/me"), "not accepted")


def test_a_jwt_with_an_unverified_email(api: Api) -> None:
    refused(api.client(api.jwt(email_verified=False)).get("/me"), "not verified")


def test_the_groups_claim_grants_a_runbooks_group(api: Api) -> None:
    started = api.client(api.jwt()).post("/runs", json={"runbook": "leads-only"})
    assert started.status_code == 201, started.text
    assert started.json()["requester"] == "Alice@Example.com"
    api.wait_status(started.json()["id"], "succeeded")
    # the same person without the group, by JWT or by token (which carries no groups)
    without = api.client(api.jwt(groups=["staff-only"])).post(
        "/runs", json={"runbook": "leads-only"}
    )
    assert without.status_code == 403
    assert "@sre-leads" in without.json()["detail"]
    assert api.as_user(ALICE).post("/runs", json={"runbook": "leads-only"}).status_code == 403


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def from_address(api: Api, address: str, token: str | None = None) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return api.client(token, transport=transport)


def test_repeated_failures_from_one_address_are_slowed(api: Api) -> None:
    clock = Clock()
    api.server.authenticator.limiter = FailureLimiter(burst=3, per=60.0, clock=clock)
    good = api.token(ALICE)
    client = api.client()
    for _ in range(2):
        assert client.get("/me", headers=bearer("rbk_guess")).status_code == 401
    # good requests take nothing from the bucket
    for _ in range(5):
        assert client.get("/me", headers=bearer(good)).status_code == 200
    assert client.get("/me", headers=bearer("rbk_guess")).status_code == 401
    slowed = client.get("/me", headers=bearer("rbk_guess"))
    assert slowed.status_code == 429
    assert slowed.headers["content-type"].startswith("application/problem+json")
    wait = int(slowed.headers["retry-after"])
    assert 1 <= wait <= 20  # one failure refills in 60 s / 3
    # over its limit, the address is refused before its credentials are looked at: a good
    # token from there waits too (the limiter guarantees no more than that)
    same = client.get("/me", headers=bearer(good))
    assert same.status_code == 429
    assert int(same.headers["retry-after"]) >= 1
    # another address has a bucket of its own
    elsewhere = from_address(api, "127.0.0.2", good)
    assert elsewhere.get("/me").status_code == 200
    assert elsewhere.get("/me", headers=bearer("rbk_guess")).status_code == 401
    # once the bucket has refilled, the good token works from the first address again
    clock.now += wait
    assert client.get("/me", headers=bearer(good)).status_code == 200
    assert client.get("/me", headers=bearer("rbk_guess")).status_code == 401
    assert client.get("/me", headers=bearer(good)).status_code == 429
