"""API tokens: created once, shown once, kept only as a hash.

A token is ``rbk_`` and 43 characters of URL-safe base64 (32 random bytes): the prefix lets
secret scanners and people recognise one in a log or a commit. The store keeps its SHA-256.

Why a plain SHA-256 and not a slow password hash (argon2, bcrypt): a slow hash exists to make
guessing *low-entropy* secrets expensive. A token holds 256 random bits: nobody can guess it or
invert its hash, slow or fast, so a slow hash would only add tens of milliseconds to every
request and make the store's lookup by hash impossible (a salted hash cannot be looked up).
A copy of the store therefore gives nobody a usable token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from runbook_engine.auth.policy import ROLES
from runbook_engine.auth.principal import Principal
from runbook_engine.errors import RunbookError
from runbook_engine.store import Store, TokenRecord

PREFIX = "rbk_"
_SECRET_BYTES = 32

#: how often a token's ``last_used_at`` is written: once a minute is precise enough to say
#: whether a token is in use, and spares the store a write per request
TOUCH_EVERY = timedelta(minutes=1)


class TokenRefused(RunbookError):
    """The token is unknown, revoked or expired. The message never quotes the token."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(value: str) -> bool:
    return value.startswith(PREFIX)


@dataclass(frozen=True)
class NewToken:
    """A token just created: ``secret`` is shown once and is not kept anywhere."""

    secret: str
    record: TokenRecord


def create_token(
    store: Store,
    user: str,
    *,
    roles: Iterable[str] | None = None,
    lifetime: timedelta | None = None,
) -> NewToken:
    """A new token for ``user``; ``roles`` limits it (``None``: what the user may do);
    ``lifetime`` ends it (``None``: until revoked)."""
    chosen = None if roles is None else sorted({r.casefold() for r in roles})
    unknown = [r for r in chosen or () if r not in ROLES]
    if unknown:
        raise RunbookError(f"unknown role {', '.join(unknown)} (roles: {', '.join(ROLES)})")
    if not user.strip():
        raise RunbookError("a token needs a user")
    secret = PREFIX + secrets.token_urlsafe(_SECRET_BYTES)
    expires = None if lifetime is None else datetime.now(UTC) + lifetime
    record = store.create_token(
        secrets.token_hex(6),
        user=user,
        token_hash=token_hash(secret),
        roles=chosen,
        expires_at=expires,
    )
    return NewToken(secret, record)


def verify_token(
    store: Store, token: str, *, source: str = "", now: datetime | None = None
) -> Principal:
    """The principal a token stands for, or ``TokenRefused``."""
    now = now or datetime.now(UTC)
    digest = token_hash(token)
    record = store.token_by_hash(digest)
    # the lookup found the row by its hash; comparing again in constant time costs nothing and
    # keeps the check right even with a store that matched loosely (a prefix, a collation)
    if record is None or not hmac.compare_digest(record.hash, digest):
        raise TokenRefused("unknown token")
    if record.revoked_at is not None:
        raise TokenRefused(f"token {record.id} was revoked")
    if record.expires_at is not None and record.expires_at <= now:
        raise TokenRefused(f"token {record.id} has expired")
    if record.last_used_at is None or now - record.last_used_at >= TOUCH_EVERY:
        store.touch_token(record.id, now)
    roles = None if record.roles is None else frozenset(record.roles)
    return Principal(record.user, frozenset(), roles, f"token:{record.id}", source)


def revoke_token(store: Store, token_id: str) -> None:
    if not store.revoke_token(token_id):
        known = {t.id for t in store.list_tokens()}
        state = "was revoked already" if token_id in known else "does not exist"
        raise RunbookError(f"token {token_id} {state}")


TokenState = Literal["active", "expired", "revoked"]


def token_state(token: TokenRecord, now: datetime | None = None) -> TokenState:
    """Whether a token still works, as ``token list`` and the API show it."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= (now or datetime.now(UTC)):
        return "expired"
    return "active"


def parse_lifetime(text: str | None) -> timedelta | None:
    """A token's ``--expires`` (``30d``, ``12h``), or ``never`` / nothing (``None``: until
    revoked). ``ValueError`` says what is wrong; each door words it as its own."""
    if not text or text.strip().lower() == "never":
        return None
    from runbook_engine.durations import parse_duration

    seconds = parse_duration(text)
    if seconds <= 0:
        raise ValueError("must be longer than nothing")
    return timedelta(seconds=seconds)
