"""A stand-in identity provider on loopback: discovery document, key set, and tokens signed with
keys the test generates (joserfc), served by a small threaded http.server.

It also plays the authorization-code flow for the console's sign-in: ``/authorize`` sends the
browser straight back with a code for ``user`` (no login form: the test user is always signed
in there), or with ``deny`` as its error; ``/token`` checks the code, the client, the
redirect URI and the PKCE verifier, and answers an ID token with the sign-in's nonce
(``id_token_claims`` overrides its claims, to hand out a wrong nonce or an expired token)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import ECKey, Key, RSAKey

AUDIENCE = "runbook-engine"
CLIENT_ID = "runbook-console"
CLIENT_SECRET = "console-secret"


@dataclass
class Grant:
    """What ``/authorize`` promised for a code, checked when the code is exchanged."""

    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str
    scope: str


@dataclass
class FakeIdp:
    issuer: str = ""
    keys: list[Key] = field(default_factory=list)
    jwks_fetches: int = 0
    #: the client the authorization-code flow is for, and its secret ("" for a public client)
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    #: how the token endpoint wants the secret: client_secret_basic or client_secret_post
    auth_method: str = "client_secret_basic"
    #: the person signed in at the IdP: the claims of the ID tokens it hands out
    user: dict[str, Any] = field(
        default_factory=lambda: {
            "sub": "00u1abc",
            "email": "Alice@Example.com",
            "groups": ["sre-leads", "staff"],
        }
    )
    #: claims the next ID tokens carry instead (a wrong nonce, an expiry in the past)
    id_token_claims: dict[str, Any] = field(default_factory=dict)
    #: an error /authorize answers instead of a code (access_denied)
    deny: str | None = None
    grants: dict[str, Grant] = field(default_factory=dict)
    #: what /authorize and /token were asked, for tests to look at
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def new_key(self, kind: str = "RSA", kid: str | None = None) -> Key:
        key: Key
        if kind == "RSA":
            key = RSAKey.generate_key(2048, parameters={"kid": kid or f"rsa-{len(self.keys)}"})
        else:
            key = ECKey.generate_key("P-256", parameters={"kid": kid or f"ec-{len(self.keys)}"})
        return key

    def publish(self, key: Key) -> Key:
        self.keys.append(key)
        return key

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.as_dict(private=False) for k in self.keys]}

    def token(self, key: Key, alg: str = "RS256", **claims: Any) -> str:
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": "00u1abc",
            "email": "Alice@Example.com",
            "groups": ["sre-leads"],
            "iat": now,
            "exp": now + 300,
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode({"alg": alg, "kid": key.kid}, body, key, algorithms=[alg])

    def authorize(self, query: dict[str, str]) -> str:
        """Where ``/authorize`` sends the browser back to: the redirect URI with a code (or
        ``deny``) and the request's state."""
        self.authorize_requests.append(query)
        back = query.get("redirect_uri", "")
        answer: dict[str, str]
        if query.get("client_id") != self.client_id:
            answer = {"error": "unauthorized_client"}
        elif query.get("response_type") != "code" or "openid" not in query.get("scope", ""):
            answer = {"error": "invalid_request"}
        elif query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            answer = {"error": "invalid_request", "error_description": "PKCE S256 is required"}
        elif self.deny is not None:
            answer = {"error": self.deny, "error_description": "The user said no."}
        else:
            code = secrets.token_urlsafe(16)
            self.grants[code] = Grant(
                self.client_id,
                back,
                query["code_challenge"],
                query.get("nonce", ""),
                query.get("scope", ""),
            )
            answer = {"code": code}
        if "state" in query:
            answer["state"] = query["state"]
        return f"{back}{'&' if urlsplit(back).query else '?'}{urlencode(answer)}"

    def exchange(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        """The token endpoint's status and answer for ``form``."""
        self.token_requests.append(form)
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if authorization.startswith("Basic "):
            decoded = base64.b64decode(authorization[6:]).decode()
            # RFC 6749 2.3.1: each half is form-urlencoded before the Basic encoding
            client_id, secret = (unquote_plus(part) for part in decoded.partition(":")[::2])
            if self.auth_method != "client_secret_basic":
                return 401, {"error": "invalid_client"}
        elif self.client_secret and self.auth_method != "client_secret_post":
            return 401, {"error": "invalid_client"}
        if client_id != self.client_id or secret != self.client_secret:
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        grant = self.grants.pop(form.get("code", ""), None)  # a code works once
        if grant is None or grant.client_id != client_id:
            return 400, {"error": "invalid_grant"}
        if form.get("redirect_uri") != grant.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri"}
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
            return 400, {"error": "invalid_grant", "error_description": "code_verifier"}
        claims: dict[str, Any] = {"aud": self.client_id, "nonce": grant.nonce, **self.user}
        claims.update(self.id_token_claims)
        id_token = self.token(self.keys[0], **claims)
        return 200, {
            "access_token": secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
        }

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/keys",
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "response_types_supported": ["code"],
            "scopes_supported": ["openid", "email", "profile", "groups"],
            "token_endpoint_auth_methods_supported": [self.auth_method],
            "code_challenge_methods_supported": ["S256"],
        }


@contextmanager
def serve_idp() -> Iterator[FakeIdp]:
    idp = FakeIdp()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/authorize":
                location = idp.authorize(dict(parse_qsl(parts.query)))
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path == "/.well-known/openid-configuration":
                body = idp.discovery()
            elif self.path == "/keys":
                idp.jwks_fetches += 1
                body = idp.jwks()
            else:
                self.send_error(404)
                return
            self._json(200, body)

        def do_POST(self) -> None:
            if self.path != "/token":
                self.send_error(404)
                return
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            status, body = idp.exchange(form, self.headers.get("Authorization", ""))
            self._json(status, body)

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    idp.issuer = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield idp
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
