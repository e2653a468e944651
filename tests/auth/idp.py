"""A stand-in identity provider on loopback: discovery document, key set, and tokens signed with
keys the test generates (joserfc), served by a small threaded http.server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, Key, RSAKey

AUDIENCE = "runbook-engine"


@dataclass
class FakeIdp:
    issuer: str = ""
    keys: list[Key] = field(default_factory=list)
    jwks_fetches: int = 0

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


@contextmanager
def serve_idp() -> Iterator[FakeIdp]:
    idp = FakeIdp()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/.well-known/openid-configuration":
                body = {"issuer": idp.issuer, "jwks_uri": f"{idp.issuer}/keys"}
            elif self.path == "/keys":
                idp.jwks_fetches += 1
                body = idp.jwks()
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
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
