"""Amazon SNS message signatures: SignatureVersion 1 (RSA with SHA1) and 2 (RSA with SHA256).

SNS signs a canonical text of the message: for each of a fixed list of keys, in order, the
key, a newline, the value, a newline, skipping a ``Subject`` that is absent. The signature is
checked with the public key of the X.509 certificate at ``SigningCertURL``, fetched only from
SNS's own hosts (``sns_urls``), and kept for an hour (SNS signs with few certificates, and a
burst of notifications must not become a burst of fetches)."""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from runbook_engine.hooks.refusal import Refused
from runbook_engine.hooks.sns_urls import check_url

NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_KEYS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
CONFIRMATIONS = ("SubscriptionConfirmation", "UnsubscribeConfirmation")
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
#: seconds a fetched certificate is kept
CERT_TTL = 3600.0
#: bytes of a certificate at most (a PEM certificate is 1-3 KiB)
MAX_CERT = 64 * 1024
FETCH_TIMEOUT = 5.0


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    keys = CONFIRMATION_KEYS if message.get("Type") in CONFIRMATIONS else NOTIFICATION_KEYS
    out: list[str] = []
    for key in keys:
        value = message.get(key)
        if value is None and key == "Subject":
            continue
        if not isinstance(value, str):
            raise Refused(f"the message has no {key}")
        out.append(f"{key}\n{value}\n")
    return "".join(out).encode()


class Certificates:
    """Signing certificates by URL, fetched when first needed."""

    def __init__(self, fetch: Callable[[str], bytes] | None = None) -> None:
        self._fetch = fetch or _fetch
        self._kept: dict[str, tuple[float, rsa.RSAPublicKey]] = {}
        self._lock = threading.Lock()

    def key(self, url: str) -> rsa.RSAPublicKey:
        check_url(url, "SigningCertURL")
        now = time.monotonic()
        with self._lock:
            kept = self._kept.get(url)
        if kept is not None and now - kept[0] < CERT_TTL:
            return kept[1]
        try:
            cert = x509.load_pem_x509_certificate(self._fetch(url))
        except ValueError:
            raise Refused("SigningCertURL is not a PEM certificate") from None
        public = cert.public_key()
        if not isinstance(public, rsa.RSAPublicKey):
            raise Refused("the signing certificate's key is not RSA")
        with self._lock:
            self._kept[url] = (now, public)
        return public


def _fetch(url: str) -> bytes:
    try:
        with httpx.stream("GET", url, timeout=FETCH_TIMEOUT, follow_redirects=False) as reply:
            if reply.status_code != 200:
                raise Refused(f"SigningCertURL answered {reply.status_code}")
            body = b""
            for chunk in reply.iter_bytes():
                body += chunk
                if len(body) > MAX_CERT:
                    raise Refused("SigningCertURL gave more than a certificate")
            return body
    except httpx.HTTPError as exc:
        raise Refused(f"SigningCertURL cannot be fetched: {type(exc).__name__}") from None


def verify(message: Mapping[str, Any], certificates: Certificates) -> None:
    """Return quietly if SNS signed ``message``; else ``Refused``."""
    version = message.get("SignatureVersion")
    algorithm = _HASHES.get(version) if isinstance(version, str) else None
    if algorithm is None:
        raise Refused("SignatureVersion is not 1 or 2")
    url, sig = message.get("SigningCertURL"), message.get("Signature")
    if not isinstance(url, str) or not isinstance(sig, str):
        raise Refused("the message has no SigningCertURL or Signature")
    try:
        signature = base64.b64decode(sig, validate=True)
    except (binascii.Error, ValueError):
        raise Refused("Signature is not base64") from None
    signed = string_to_sign(message)
    key = certificates.key(url)
    try:
        key.verify(signature, signed, padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise Refused("the message's signature does not verify") from None
