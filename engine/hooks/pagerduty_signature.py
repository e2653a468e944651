"""PagerDuty's v3 webhook signature: ``X-PagerDuty-Signature: v1=HEX[,v1=HEX...]``.

Each ``HEX`` is an HMAC-SHA256 of the raw body, keyed with a subscription's signing secret;
PagerDuty lists several while a secret is being rotated, and one that matches is enough. The
secret is RUNBOOK_PAGERDUTY_SECRET. PagerDuty signs no time: a replayed delivery is the same
firing again (the same incident and start), so it starts nothing (``triggers.dedupe``)."""

from __future__ import annotations

import hashlib
import hmac
import os

from runbook_engine.hooks.refusal import Refused

HEADER = "X-PagerDuty-Signature"
SECRET_ENV = "RUNBOOK_PAGERDUTY_SECRET"


def pagerduty_secret() -> str | None:
    return os.environ.get(SECRET_ENV) or None


def signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, header: str | None, body: bytes) -> None:
    if not header:
        raise Refused(f"no {HEADER} header")
    given = [
        value.strip().lower()
        for key, _, value in (part.strip().partition("=") for part in header.split(","))
        if key == "v1"
    ]
    if not given:
        raise Refused(f"{HEADER} has no v1= signature")
    expected = signature(secret, body)
    if not any(hmac.compare_digest(expected, v) for v in given):
        raise Refused(f"{HEADER} does not match the body")
