"""One function for every request: an ``Authorization`` header and the address it came from
become a ``Principal``, or an ``AuthError`` the HTTP layer turns into its status.

``Bearer rbk_...`` is an API token; any other bearer value is taken for an OIDC JWT when an
issuer is configured. Every failure is counted against its address (``ratelimit``) and logged;
an address over its limit is refused with 429 before its credentials are looked at. No
reason ever quotes what was sent: a token pasted in the wrong place must not land in a log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from runbook_engine.auth.jwks import KeysUnavailable
from runbook_engine.auth.oidc import OidcRefused, OidcVerifier
from runbook_engine.auth.principal import Principal
from runbook_engine.auth.ratelimit import FailureLimiter
from runbook_engine.auth.tokens import TokenRefused, looks_like_token, verify_token
from runbook_engine.errors import RunbookError
from runbook_engine.store import Store

log = logging.getLogger("runbook.auth")


class AuthError(RunbookError):
    """Authentication failed: ``status`` is 401 (who are you?), 429 (slow down, for
    ``retry_after`` seconds) or 503 (the IdP's keys cannot be had: not the caller's fault, so
    not counted against them)."""

    def __init__(self, status: int, reason: str, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


@dataclass
class Authenticator:
    store: Store
    oidc: OidcVerifier | None = None
    limiter: FailureLimiter = field(default_factory=FailureLimiter)

    def authenticate(self, authorization: str | None, source: str) -> Principal:
        wait = self.limiter.retry_after(source)
        if wait is not None:
            raise AuthError(429, "too many failed authentications", retry_after=wait)
        try:
            return self._principal(authorization, source)
        except AuthError as exc:
            if exc.status == 401:
                self.limiter.failed(source, exc.reason)
            raise

    def _principal(self, authorization: str | None, source: str) -> Principal:
        if not authorization:
            raise AuthError(401, "no Authorization header")
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise AuthError(401, "expected Authorization: Bearer <token>")
        try:
            if looks_like_token(credential):
                return verify_token(self.store, credential, source=source)
            if self.oidc is None:
                raise AuthError(401, "not an API token (and no OIDC issuer is configured)")
            return self.oidc.verify(credential, source=source)
        except (TokenRefused, OidcRefused) as exc:
            raise AuthError(401, str(exc)) from None
        except KeysUnavailable as exc:
            log.error("cannot verify an OIDC token from %s: %s", source, exc)
            raise AuthError(503, "the identity provider's keys are unavailable") from None
