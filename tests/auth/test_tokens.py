"""API tokens: shown once, stored as a hash, refused once revoked or expired; and the one
authentication function with its rate limit on failures."""

from __future__ import annotations

import hmac
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest

from runbook_engine.auth import tokens
from runbook_engine.auth.authenticate import Authenticator, AuthError
from runbook_engine.auth.ratelimit import FailureLimiter
from runbook_engine.auth.tokens import TokenRefused, create_token, revoke_token, verify_token
from runbook_engine.errors import RunbookError
from runbook_engine.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(str(tmp_path / "auth.db"))


def test_the_store_keeps_only_a_hash(store: Store, tmp_path: Path) -> None:
    made = create_token(store, "alice@example.com", roles=["run"])
    assert made.secret.startswith("rbk_") and len(made.secret) > 40
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("auth.db*"))
    assert made.secret.encode() not in raw
    assert made.secret[4:].encode() not in raw
    assert tokens.token_hash(made.secret).encode() in raw


def test_a_token_stands_for_its_user_and_roles(store: Store) -> None:
    made = create_token(store, "Alice@Example.com", roles=["view", "approve"])
    principal = verify_token(store, made.secret, source="10.1.2.3")
    assert principal.name == "Alice@Example.com"
    assert principal.roles == frozenset({"view", "approve"})
    assert principal.via == f"token:{made.record.id}"
    assert principal.source == "10.1.2.3"
    assert store.list_tokens()[0].last_used_at is not None
    unlimited = create_token(store, "bob")
    assert verify_token(store, unlimited.secret).roles is None


def test_the_comparison_is_constant_time(store: Store) -> None:
    made = create_token(store, "alice")
    with mock.patch(
        "runbook_engine.auth.tokens.hmac.compare_digest", wraps=hmac.compare_digest
    ) as spy:
        verify_token(store, made.secret)
    spy.assert_called_once_with(made.record.hash, tokens.token_hash(made.secret))


def test_revoked_expired_and_unknown_tokens_are_refused(store: Store) -> None:
    made = create_token(store, "alice", lifetime=timedelta(days=1))
    later = datetime.now(UTC) + timedelta(days=2)
    with pytest.raises(TokenRefused, match="has expired"):
        verify_token(store, made.secret, now=later)
    revoke_token(store, made.record.id)
    with pytest.raises(TokenRefused, match="was revoked"):
        verify_token(store, made.secret)
    with pytest.raises(RunbookError, match="revoked already"):
        revoke_token(store, made.record.id)
    with pytest.raises(TokenRefused, match="unknown token"):
        verify_token(store, made.secret[:-2] + "xx")


def test_unknown_roles_are_refused(store: Store) -> None:
    with pytest.raises(RunbookError, match="unknown role superuser"):
        create_token(store, "alice", roles=["superuser"])


def test_authenticate_takes_a_bearer_token(store: Store) -> None:
    made = create_token(store, "alice", roles=["run"])
    auth = Authenticator(store)
    assert auth.authenticate(f"Bearer {made.secret}", "10.0.0.1").name == "alice"
    for header in (None, "", "Basic abc", "Bearer ", "Bearer eyJ.x.y"):
        with pytest.raises(AuthError) as refused:
            auth.authenticate(header, "10.0.0.2")
        assert refused.value.status == 401


def test_a_failure_never_quotes_the_token(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    guess = "rbk_" + "s3cret" * 7
    with caplog.at_level(logging.WARNING, "runbook.auth"), pytest.raises(AuthError) as refused:
        Authenticator(store).authenticate(f"Bearer {guess}", "10.0.0.9")
    assert guess not in str(refused.value) and "s3cret" not in caplog.text
    assert "authentication failed from 10.0.0.9: unknown token" in caplog.text


def test_the_eleventh_failure_from_one_address_gets_429(store: Store) -> None:
    now = [1000.0]
    auth = Authenticator(store, limiter=FailureLimiter(10, 60, clock=lambda: now[0]))
    good = create_token(store, "alice").secret
    for _ in range(10):
        with pytest.raises(AuthError) as refused:
            auth.authenticate("Bearer rbk_wrong", "203.0.113.5")
        assert refused.value.status == 401
    with pytest.raises(AuthError) as limited:
        auth.authenticate(f"Bearer {good}", "203.0.113.5")  # even a good token waits
    assert limited.value.status == 429 and limited.value.retry_after == 6
    # another address is unaffected
    assert auth.authenticate(f"Bearer {good}", "203.0.113.6").name == "alice"
    now[0] += 6  # one failure forgiven
    assert auth.authenticate(f"Bearer {good}", "203.0.113.5").name == "alice"


def test_the_limiter_forgets_the_longest_idle_addresses() -> None:
    limiter = FailureLimiter(1, 60, clock=lambda: 0.0, max_sources=2)
    limiter.failed("a", "x")
    limiter.failed("b", "x")
    limiter.failed("c", "x")
    assert limiter.retry_after("a") is None  # forgotten: a full bucket again
    assert limiter.retry_after("c") == 60
