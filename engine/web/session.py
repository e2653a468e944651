"""Signing in to the console: an API token pasted into a form becomes a session cookie.

The token is verified by the server's ``Authenticator`` (so failures count against the
address, as the API's do) and never kept: the cookie holds the token's id, its user, the
session's expiry and the session's CSRF token, signed with itsdangerous. The cookie is
``HttpOnly`` (no script reads it), ``SameSite=Lax`` (no other site's form posts with it) and
``Secure`` when the request came over https. ``X-Forwarded-Proto`` is believed from any
address only with ``RUNBOOK_TRUST_PROXY=1`` (anyone can send the header to a server reached
directly); uvicorn itself believes it from a proxy on the loopback address, whose requests
it marks https before they get here (a client there can only make its own cookie stricter).

Every request re-reads the token's row, so revoking the token (``runbook token revoke``) or
its expiry ends the session at the next click, not when the cookie runs out.

A session opened through the IdP (``web.oidc_signin``) has no token row to re-read: its cookie
keeps the ID token's subject, issuer and groups, and ends when the ID token does (12 h at
most). It is honoured only while the server trusts that same issuer, and it is encoded
differently from a token session, so neither kind can pass for the other.

The signing key: ``RUNBOOK_SESSION_KEY``; else a key generated once and kept beside a SQLite
store (``session.key``, mode 0600), so sessions survive a restart; else (PostgreSQL, where
there is no store folder) a random key per process, with a warning: sessions end at a restart
and do not carry over between servers behind one address.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.engine import make_url
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from runbook_engine.api.context import context_of
from runbook_engine.api.security import source_of
from runbook_engine.auth.authenticate import AuthError
from runbook_engine.auth.principal import Principal
from runbook_engine.auth.tokens import looks_like_token
from runbook_engine.store import Store, TokenRecord

log = logging.getLogger("runbook.web")

SESSION_COOKIE = "runbook_session"
KEY_ENV = "RUNBOOK_SESSION_KEY"
TRUST_PROXY_ENV = "RUNBOOK_TRUST_PROXY"
KEY_FILE = "session.key"
#: a session ends after this long even when its token does not (a shared screen left open)
LIFETIME = timedelta(hours=12)
SIGNIN_PATH = "/signin"


#: the first entry of an OIDC session's payload (a token session's is the token id)
_OIDC_KIND = "oidc"


@dataclass(frozen=True)
class Session:
    """What the cookie holds: never the token itself. ``token_id`` is empty for a session
    opened through the IdP, which keeps ``oidc_sub``, ``issuer`` and ``groups`` instead."""

    token_id: str
    user: str
    expires: float  # seconds since the epoch
    csrf: str
    oidc_sub: str | None = None
    issuer: str = ""
    groups: tuple[str, ...] = ()

    @property
    def via(self) -> str:
        return f"oidc:{self.oidc_sub}" if self.oidc_sub is not None else f"token:{self.token_id}"


class SignInRequired(Exception):
    """Raised by ``signed_in``; the app answers it with a redirect to the sign-in page."""

    def __init__(self, next_path: str, *, clear: bool = False) -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.clear = clear  # the cookie named a session that has ended: remove it

    @property
    def location(self) -> str:
        if not self.next_path or self.next_path == "/":
            return SIGNIN_PATH
        return f"{SIGNIN_PATH}?next={quote(self.next_path, safe='/')}"


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of this site only (``//evil.example`` is another
    site to a browser, and so is ``/\\evil.example`` to some)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ch in value for ch in "\r\n\\"):
        return "/"
    return value


def load_key(store: Store) -> bytes:
    """The sessions' signing key (see the module's docstring for where it comes from)."""
    given = os.environ.get(KEY_ENV, "")
    if given:
        if len(given) < 32:
            log.warning("%s is shorter than 32 characters: sessions are easier to forge", KEY_ENV)
        return given.encode()
    folder = _store_folder(store)
    if folder is None:
        log.warning(
            "no %s and no store folder to keep a key in: sessions use a random key and end "
            "when this server stops",
            KEY_ENV,
        )
        return secrets.token_bytes(32)
    path = folder / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes().strip()
        if len(key) >= 32:
            return key
        log.warning("%s is too short; using a random key until it is fixed", path)
        return secrets.token_bytes(32)
    except OSError as exc:
        log.warning("cannot keep a session key in %s (%s): using a random key", path, exc)
        return secrets.token_bytes(32)
    key = secrets.token_urlsafe(48).encode()
    with os.fdopen(fd, "wb") as out:
        out.write(key + b"\n")
    return key


def _store_folder(store: Store) -> Path | None:
    url = make_url(store.url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database or "").parent


def is_https(request: Request) -> bool:
    if request.url.scheme == "https":
        return True
    if os.environ.get(TRUST_PROXY_ENV) != "1":
        return False
    forwarded = request.headers.get("x-forwarded-proto", "")
    return forwarded.split(",")[0].strip().lower() == "https"


class Sessions:
    """Signs sessions in and out, and finds the principal behind a cookie."""

    def __init__(self, store: Store, key: bytes, lifetime: timedelta = LIFETIME) -> None:
        self.store = store
        self.lifetime = lifetime
        #: the issuer whose sign-ins are honoured (``web.oidc_signin``); ``None``: no OIDC
        #: session is, so a server reconfigured without (or with another) IdP ends them
        self.oidc_issuer: str | None = None
        self._serializer = URLSafeTimedSerializer(key, salt="runbook-web-session")
        #: signs values that are not sessions (the signed-out CSRF cookie, flash messages)
        self.signer = URLSafeTimedSerializer(key, salt="runbook-web-other")
        #: signs the state of a sign-in at the IdP (state, nonce, PKCE verifier) while it lasts
        self.flow_signer = URLSafeTimedSerializer(key, salt="runbook-web-oidc-flow")

    def begin(self, request: Request, token: str) -> tuple[Principal, Session]:
        """Verify a pasted API token; ``AuthError`` if it is refused."""
        token = token.strip()
        ctx = context_of(request)
        source = source_of(request)
        wait = ctx.authenticator.limiter.retry_after(source)
        if wait is not None:
            raise AuthError(429, "too many failed sign-ins: wait a while", retry_after=wait)
        if not looks_like_token(token):
            # the authenticator would take anything else for an OIDC JWT, and a JWT's session
            # could not be re-checked against the store on each request
            ctx.authenticator.limiter.failed(source, "not an API token")
            raise AuthError(401, "that is not an API token (they start with rbk_)")
        principal = ctx.authenticator.authenticate(f"Bearer {token}", source)
        token_id = principal.via.removeprefix("token:")
        record = self._record(token_id, principal.name)
        if record is None:  # revoked between the two reads
            raise AuthError(401, "the token was revoked")
        expires = time.time() + self.lifetime.total_seconds()
        if record.expires_at is not None:
            expires = min(expires, record.expires_at.timestamp())
        session = Session(token_id, principal.name, expires, secrets.token_urlsafe(32))
        log.info("%s signed in to the console with token %s", principal.name, token_id)
        return principal, session

    def begin_oidc(self, principal: Principal, issuer: str, sub: str, expires: float) -> Session:
        """A session for a principal whose ID token was verified (``web.oidc_signin``); it
        ends with the ID token, and after ``lifetime`` at the latest."""
        expires = min(expires, time.time() + self.lifetime.total_seconds())
        groups = tuple(sorted(principal.groups))
        session = Session(
            "", principal.name, expires, secrets.token_urlsafe(32), sub, issuer, groups
        )
        log.info("%s signed in to the console through %s (%s)", principal.name, issuer, sub)
        return session

    def encode(self, session: Session) -> str:
        payload: list[Any]
        if session.oidc_sub is not None:
            payload = [
                _OIDC_KIND,
                session.oidc_sub,
                session.issuer,
                session.user,
                list(session.groups),
                session.expires,
                session.csrf,
            ]
        else:
            payload = [session.token_id, session.user, session.expires, session.csrf]
        return self._serializer.dumps(payload)

    def decode(self, cookie: str) -> Session | None:
        try:
            payload: Any = self._serializer.loads(
                cookie, max_age=int(self.lifetime.total_seconds())
            )
        except BadSignature:  # forged, from another key, or older than the lifetime
            return None
        if isinstance(payload, list) and len(payload) == 7 and payload[0] == _OIDC_KIND:
            return self._decode_oidc(payload)
        if not isinstance(payload, list) or len(payload) != 4:
            return None
        token_id, user, expires, csrf = payload
        if not (
            isinstance(token_id, str)
            and isinstance(user, str)
            and isinstance(expires, int | float)
            and isinstance(csrf, str)
        ):
            return None
        if expires <= time.time():
            return None
        return Session(token_id, user, float(expires), csrf)

    def _decode_oidc(self, payload: list[Any]) -> Session | None:
        _, sub, issuer, user, groups, expires, csrf = payload
        if not (
            isinstance(sub, str)
            and isinstance(issuer, str)
            and isinstance(user, str)
            and isinstance(groups, list)
            and all(isinstance(g, str) for g in groups)
            and isinstance(expires, int | float)
            and isinstance(csrf, str)
        ):
            return None
        if expires <= time.time():
            return None
        return Session("", user, float(expires), csrf, sub, issuer, tuple(groups))

    def _record(self, token_id: str, user: str) -> TokenRecord | None:
        """The token's row if it still stands for ``user``: not revoked, not expired."""
        now = datetime.now(UTC)
        for record in self.store.list_tokens(user):
            if record.id != token_id:
                continue
            if record.revoked_at is not None:
                return None
            if record.expires_at is not None and record.expires_at <= now:
                return None
            return record
        return None

    def principal(self, session: Session, source: str) -> Principal | None:
        """Who the session is, as the API would see the same token; ``None`` once the token
        has been revoked or has expired (or, for an IdP's session, once this server no longer
        trusts that IdP)."""
        if session.oidc_sub is not None:
            if self.oidc_issuer is None or session.issuer != self.oidc_issuer:
                return None
            return Principal(session.user, frozenset(session.groups), None, session.via, source)
        if not session.token_id:
            return None  # never a token session without a token
        record = self._record(session.token_id, session.user)
        if record is None:
            return None
        roles = None if record.roles is None else frozenset(record.roles)
        return Principal(record.user, frozenset(), roles, f"token:{record.id}", source)

    def set_cookie(self, response: Response, request: Request, session: Session) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            self.encode(session),
            max_age=max(0, int(session.expires - time.time())),
            path="/",
            secure=is_https(request),
            httponly=True,
            samesite="lax",
        )

    def clear_cookie(self, response: Response, request: Request) -> None:
        response.delete_cookie(
            SESSION_COOKIE, path="/", secure=is_https(request), httponly=True, samesite="lax"
        )


#: what ``request.state`` holds before a request's session or user has been looked at
_UNREAD = object()


def sessions_of(request: Request) -> Sessions:
    sessions = request.app.state.sessions
    assert isinstance(sessions, Sessions)
    return sessions


def current_session(request: Request) -> Session | None:
    """The request's session as its cookie says (not yet checked against the store)."""
    found = getattr(request.state, "web_session", _UNREAD)
    if found is _UNREAD:
        cookie = request.cookies.get(SESSION_COOKIE)
        found = sessions_of(request).decode(cookie) if cookie else None
        request.state.web_session = found
    assert found is None or isinstance(found, Session)
    return found


def current_user(request: Request) -> Principal | None:
    """The signed-in principal, checked against the store once per request (it reads the
    store: call it from a ``def`` route, or take ``SignedIn``, which caches it)."""
    found = getattr(request.state, "web_user", _UNREAD)
    if found is _UNREAD:
        session = current_session(request)
        sessions = sessions_of(request)
        found = None if session is None else sessions.principal(session, source_of(request))
        request.state.web_user = found
    assert found is None or isinstance(found, Principal)
    return found


def _next_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


async def signed_in(request: Request) -> Principal:
    """The dependency of every page: the principal, or a redirect to ``/signin``."""
    user = await run_in_threadpool(current_user, request)
    if user is None:
        ended = current_session(request) is not None or SESSION_COOKIE in request.cookies
        raise SignInRequired(_next_path(request) if request.method == "GET" else "", clear=ended)
    return user


#: the signed-in principal of a page's request
SignedIn = Annotated[Principal, Depends(signed_in)]
