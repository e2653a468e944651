"""OpenID Connect bearer tokens (JWTs) from the company's IdP, verified with joserfc.

Settings: ``RUNBOOK_OIDC_ISSUER`` (the issuer URL; its keys come from the discovery
document's ``jwks_uri``), ``RUNBOOK_OIDC_AUDIENCE`` (this engine's client id: a token for
another application is refused), ``RUNBOOK_OIDC_USER_CLAIM`` (default ``email``) and
``RUNBOOK_OIDC_GROUPS_CLAIM`` (default ``groups``: each entry is an ``@group``).

The acting user is the ``email`` claim and never falls back to ``sub``: a person known by
email in one token and by an opaque subject id in another would be two approvers. A token
without the claim (or with ``email_verified: false``) is refused; an IdP whose tokens carry
another stable name sets ``RUNBOOK_OIDC_USER_CLAIM`` (``preferred_username``, ``upn``).
The subject is kept in ``via`` (``oidc:<sub>``) for the audit trail.

Only RS256 and ES256 signatures are accepted: ``none`` and the HMAC algorithms (which would
let anyone holding the public key sign) never reach the signature check.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwt import JWTClaimsRegistry

from runbook_engine.auth.jwks import FetchJson, JwksCache, fetch_json
from runbook_engine.auth.principal import Principal
from runbook_engine.errors import RunbookError

ALGORITHMS = ("RS256", "ES256")

#: seconds of clock difference forgiven on exp, nbf and iat
LEEWAY_S = 60


class OidcRefused(RunbookError):
    """The JWT is not one this engine accepts. The message never quotes the token."""


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    audience: str
    user_claim: str = "email"
    groups_claim: str = "groups"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OidcSettings | None:
        """The settings of the environment; ``None`` when OIDC is not configured. An issuer
        without an audience is a mistake (any token of the IdP would do), so it is refused."""
        env = os.environ if env is None else env
        issuer = env.get("RUNBOOK_OIDC_ISSUER", "").strip()
        audience = env.get("RUNBOOK_OIDC_AUDIENCE", "").strip()
        if not issuer and not audience:
            return None
        if not issuer or not audience:
            raise RunbookError("set both RUNBOOK_OIDC_ISSUER and RUNBOOK_OIDC_AUDIENCE, or neither")
        return cls(
            issuer.rstrip("/"),
            audience,
            env.get("RUNBOOK_OIDC_USER_CLAIM", "").strip() or "email",
            env.get("RUNBOOK_OIDC_GROUPS_CLAIM", "").strip() or "groups",
        )


def _header(token: str) -> dict[str, Any]:
    """The JOSE header, read before any key is chosen (only to pick the key and refuse
    algorithms early; joserfc checks it all again)."""
    try:
        first = token.split(".", maxsplit=1)[0]
        header = json.loads(base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)))
    except (ValueError, IndexError):
        raise OidcRefused("malformed token") from None
    if not isinstance(header, dict):
        raise OidcRefused("malformed token")
    return header


class OidcVerifier:
    def __init__(
        self,
        settings: OidcSettings,
        *,
        fetch: FetchJson = fetch_json,
        keys: JwksCache | None = None,
    ) -> None:
        self.settings = settings
        self.keys = keys or JwksCache(settings.issuer, fetch=fetch)

    def verify(self, token: str, *, source: str = "") -> Principal:
        return self.principal(self.claims(token), source)

    def claims(self, token: str) -> dict[str, Any]:
        """The token's claims once its signature, issuer, audience, expiry and subject hold
        (the console's sign-in also checks its nonce); ``OidcRefused`` otherwise."""
        header = _header(token)
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise OidcRefused(f"algorithm {alg!r} is not accepted ({', '.join(ALGORITHMS)})")
        kid = header.get("kid")
        key = self.keys.key(kid if isinstance(kid, str) else None)
        if key is None:
            raise OidcRefused("signed with a key the issuer does not publish")
        try:
            claims = jwt.decode(token, key, algorithms=[str(alg)]).claims
        except JoseError:
            raise OidcRefused("bad signature") from None
        registry = JWTClaimsRegistry(
            leeway=LEEWAY_S,
            iss={"essential": True, "value": self.settings.issuer},
            aud={"essential": True, "value": self.settings.audience},
            exp={"essential": True},
            sub={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise OidcRefused("the token has expired") from None
        except JoseError as exc:
            raise OidcRefused(exc.description) from None
        return dict(claims)

    def principal(self, claims: Mapping[str, Any], source: str = "") -> Principal:
        """Who verified ``claims`` name: the user claim, the groups claim, ``oidc:<sub>``."""
        return self._principal(claims, source)

    def _principal(self, claims: Mapping[str, Any], source: str) -> Principal:
        claim = self.settings.user_claim
        name = claims.get(claim)
        if not isinstance(name, str) or not name.strip():
            raise OidcRefused(f"the token has no {claim} claim")
        if claim == "email" and claims.get("email_verified") is False:
            raise OidcRefused("the token's email is not verified")
        groups = claims.get(self.settings.groups_claim) or []
        if isinstance(groups, str):
            groups = [groups]
        if not isinstance(groups, list):
            raise OidcRefused(f"the {self.settings.groups_claim} claim is not a list")
        return Principal(
            name.strip(),
            frozenset(str(g) for g in groups),
            None,
            f"oidc:{claims['sub']}",
            source,
        )
