"""OIDC bearer JWTs against a local IdP serving keys the test generated."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import pytest

from runbook_engine.auth.jwks import JwksCache, KeysUnavailable, check_url
from runbook_engine.auth.oidc import OidcRefused, OidcSettings, OidcVerifier
from runbook_engine.errors import RunbookError
from tests.auth.idp import AUDIENCE, FakeIdp, serve_idp


@pytest.fixture
def idp() -> Iterator[FakeIdp]:
    with serve_idp() as served:
        yield served


def verifier(idp: FakeIdp, min_refetch: float = 30.0) -> OidcVerifier:
    settings = OidcSettings(idp.issuer, AUDIENCE)
    return OidcVerifier(settings, keys=JwksCache(idp.issuer, min_refetch=min_refetch))


def test_a_good_token_names_the_user_by_email_with_the_groups_claim(idp: FakeIdp) -> None:
    key = idp.publish(idp.new_key())
    principal = verifier(idp).verify(idp.token(key), source="10.0.0.7")
    assert principal.name == "Alice@Example.com"
    assert principal.key == "alice@example.com"
    assert principal.groups == frozenset({"sre-leads"})
    assert principal.via == "oidc:00u1abc"
    assert principal.source == "10.0.0.7"


def test_an_ec_key_verifies_es256(idp: FakeIdp) -> None:
    key = idp.publish(idp.new_key("EC"))
    assert verifier(idp).verify(idp.token(key, alg="ES256")).name == "Alice@Example.com"


def test_a_forged_signature_is_refused(idp: FakeIdp) -> None:
    published = idp.publish(idp.new_key(kid="k1"))
    forger = idp.new_key(kid="k1")  # same key id, a key of the forger's own
    check = verifier(idp)
    with pytest.raises(OidcRefused, match="bad signature"):
        check.verify(idp.token(forger))
    assert check.verify(idp.token(published)).name


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"iss": "https://evil.example"}, "iss"),
        ({"aud": "another-app"}, "aud"),
        ({"exp": int(time.time()) - 600}, "expired"),
        ({"nbf": int(time.time()) + 600}, "not yet valid"),
        ({"exp": None}, "exp"),
        ({"email": None}, "no email claim"),
        ({"email_verified": False}, "not verified"),
    ],
)
def test_claims_that_do_not_hold_are_refused(idp: FakeIdp, claims: dict, reason: str) -> None:
    key = idp.publish(idp.new_key())
    with pytest.raises(OidcRefused, match=reason):
        verifier(idp).verify(idp.token(key, **claims))


def test_a_small_clock_difference_is_forgiven(idp: FakeIdp) -> None:
    key = idp.publish(idp.new_key())
    token = idp.token(key, exp=int(time.time()) - 20)
    assert verifier(idp).verify(token).name


def _unsigned(idp: FakeIdp) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    claims = {"iss": idp.issuer, "aud": AUDIENCE, "sub": "x", "email": "eve@example.com"}
    return f"{part({'alg': 'none', 'kid': 'rsa-0'})}.{part(claims | {'exp': 2**31})}."


def test_alg_none_and_hmac_are_refused_before_any_key(idp: FakeIdp) -> None:
    idp.publish(idp.new_key())
    check = verifier(idp)
    with pytest.raises(OidcRefused, match="algorithm 'none' is not accepted"):
        check.verify(_unsigned(idp))
    hs = _unsigned(idp).replace(_unsigned(idp).split(".")[0], "eyJhbGciOiJIUzI1NiJ9")
    with pytest.raises(OidcRefused, match="algorithm 'HS256' is not accepted"):
        check.verify(hs)
    assert idp.jwks_fetches == 0  # refused on the header alone


def test_garbage_is_refused_without_echoing_it(idp: FakeIdp) -> None:
    with pytest.raises(OidcRefused) as refused:
        verifier(idp).verify("not-a-jwt-secret-value")
    assert "secret-value" not in str(refused.value)


def test_keys_are_cached_and_fetched_again_for_an_unknown_kid(idp: FakeIdp) -> None:
    old = idp.publish(idp.new_key(kid="old"))
    check = verifier(idp, min_refetch=0)
    check.verify(idp.token(old))
    check.verify(idp.token(old))
    assert idp.jwks_fetches == 1  # cached
    new = idp.publish(idp.new_key(kid="new"))  # the IdP rotates
    assert check.verify(idp.token(new)).name
    assert idp.jwks_fetches == 2


def test_unknown_kids_do_not_hammer_the_idp(idp: FakeIdp) -> None:
    idp.publish(idp.new_key(kid="known"))
    stranger = idp.new_key(kid="made-up")
    check = verifier(idp, min_refetch=30)
    for _ in range(5):
        with pytest.raises(OidcRefused, match="key the issuer does not publish"):
            check.verify(idp.token(stranger))
    assert idp.jwks_fetches == 1


def test_settings_come_from_the_environment() -> None:
    assert OidcSettings.from_env({}) is None
    settings = OidcSettings.from_env(
        {
            "RUNBOOK_OIDC_ISSUER": "https://idp.example.com/",
            "RUNBOOK_OIDC_AUDIENCE": "rbk",
            "RUNBOOK_OIDC_GROUPS_CLAIM": "roles",
        }
    )
    assert settings == OidcSettings("https://idp.example.com", "rbk", "email", "roles")
    with pytest.raises(RunbookError, match="both"):
        OidcSettings.from_env({"RUNBOOK_OIDC_ISSUER": "https://idp.example.com"})


def test_keys_only_over_https_except_loopback() -> None:
    assert check_url("http://127.0.0.1:8080/keys")
    assert check_url("https://idp.example.com/keys")
    with pytest.raises(KeysUnavailable, match="https"):
        check_url("http://idp.example.com/keys")


def test_a_discovery_document_for_another_issuer_is_refused(idp: FakeIdp) -> None:
    cache = JwksCache(idp.issuer + "/tenant")  # the IdP says it is idp.issuer, not this
    with pytest.raises(KeysUnavailable):
        cache.key("any")
