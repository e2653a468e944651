"""The signing keys of an OpenID Connect issuer, from its discovery document's ``jwks_uri``,
kept for a while and fetched again when a token names a key we do not have (the IdP rotated
its keys), but not more often than ``min_refetch``: tokens with made-up key ids must not turn
into a stream of requests to the IdP."""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet

from runbook_engine.errors import RunbookError

log = logging.getLogger("runbook.auth")

#: JSON documents larger than this are not a discovery document or a key set
_MAX_BYTES = 1 << 20
_TIMEOUT_S = 5.0

FetchJson = Callable[[str], Any]


class KeysUnavailable(RunbookError):
    """The issuer's keys could not be had (unreachable, or not what OIDC promises)."""


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """Keys are trusted only over HTTPS (plain HTTP to loopback is allowed, for tests and a
    sidecar): anyone on the path of a plain request could hand us their own keys."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and _loopback(parts.hostname or "")):
        return url
    raise KeysUnavailable(f"{url}: the issuer's documents must be fetched over https")


def fetch_json(url: str) -> Any:
    request = urllib.request.Request(check_url(url), headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            body = response.read(_MAX_BYTES + 1)
    except OSError as exc:
        raise KeysUnavailable(f"cannot fetch {url}: {exc}") from None
    if len(body) > _MAX_BYTES:
        raise KeysUnavailable(f"{url}: the response is too large")
    try:
        return json.loads(body)
    except ValueError:
        raise KeysUnavailable(f"{url}: the response is not JSON") from None


class JwksCache:
    def __init__(
        self,
        issuer: str,
        *,
        ttl: float = 300.0,
        min_refetch: float = 30.0,
        fetch: FetchJson = fetch_json,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.ttl = ttl
        self.min_refetch = min_refetch
        self.fetch = fetch
        self.clock = clock
        self._keys: KeySet | None = None
        self._fetched_at = -float("inf")
        self._lock = threading.Lock()

    def _jwks_uri(self) -> str:
        doc = self.fetch(f"{self.issuer}/.well-known/openid-configuration")
        if not isinstance(doc, dict) or not isinstance(doc.get("jwks_uri"), str):
            raise KeysUnavailable(f"{self.issuer}: the discovery document has no jwks_uri")
        # OpenID Connect Discovery 4.3: the document must name the issuer it was fetched for
        if str(doc.get("issuer", "")).rstrip("/") != self.issuer:
            raise KeysUnavailable(f"{self.issuer}: the discovery document names another issuer")
        return str(doc["jwks_uri"])

    def _refresh(self) -> None:
        data = self.fetch(self._jwks_uri())
        try:
            keys = KeySet.import_key_set(data)
        except (JoseError, TypeError, ValueError, KeyError) as exc:
            raise KeysUnavailable(f"{self.issuer}: the key set cannot be read: {exc}") from None
        self._keys = KeySet([k for k in keys if k.get("use") in (None, "sig")])
        self._fetched_at = self.clock()
        log.info("fetched %d signing keys of %s", len(self._keys.keys), self.issuer)

    def _find(self, kid: str | None) -> Key | None:
        if self._keys is None:
            return None
        if kid is None:
            # a token without a key id can only mean the one key there is
            return self._keys.keys[0] if len(self._keys.keys) == 1 else None
        return next((k for k in self._keys if k.kid == kid), None)

    def key(self, kid: str | None) -> Key | None:
        """The signing key ``kid`` names, or ``None`` when the issuer has no such key."""
        with self._lock:
            age = self.clock() - self._fetched_at
            if self._keys is None or age >= self.ttl:
                self._refresh()
            found = self._find(kid)
            if found is None and self.clock() - self._fetched_at >= self.min_refetch:
                self._refresh()  # a key we have not seen: maybe the issuer rotated its keys
                found = self._find(kid)
            return found
