"""The generic webhook's signature, Stripe's scheme: ``X-Runbook-Signature: t=TS,v1=HEX``.

``TS`` is the Unix time the sender signed at, in seconds; ``HEX`` the HMAC-SHA256, keyed with
the webhook's secret, of ``TS``, a full stop and the raw body: ``f"{TS}.".encode() + body``.
Signing the time with the body is what makes a captured request useless after ``TOLERANCE``:
its time cannot be changed without the secret. Several ``v1=`` entries may be given (a sender
rotating its secret signs with both); one that matches is enough."""

from __future__ import annotations

import hashlib
import hmac
import os
import re

from runbook_engine.hooks.refusal import Refused

HEADER = "X-Runbook-Signature"
#: seconds a signature stays good, either way (clocks drift; a replay gets no longer)
TOLERANCE = 300
#: a webhook's secret: RUNBOOK_WEBHOOK_SECRET_<NAME>, the name upper-cased, "-" as "_"
SECRET_ENV = "RUNBOOK_WEBHOOK_SECRET_"


def secret_env(name: str) -> str:
    return SECRET_ENV + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def webhook_secret(name: str) -> str | None:
    return os.environ.get(secret_env(name)) or None


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``v1`` value: what a sender computes."""
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The whole header value for ``body`` signed at ``timestamp``."""
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header: str | None, body: bytes, now: float) -> None:
    """Return quietly, or raise ``Refused`` saying what is wrong (never with the values)."""
    if not header:
        raise Refused(f"no {HEADER} header")
    stamps: list[str] = []
    given: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            stamps.append(value)
        elif key == "v1":
            given.append(value.lower())
    if len(stamps) != 1 or not stamps[0].isdigit() or not given:
        raise Refused(f"{HEADER} is not t=TIMESTAMP,v1=HEX")
    timestamp = int(stamps[0])
    if abs(now - timestamp) > TOLERANCE:
        raise Refused(f"{HEADER} was made {now - timestamp:.0f}s ago (at most {TOLERANCE}s)")
    expected = signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, v) for v in given):
        raise Refused(f"{HEADER} does not match the body")
