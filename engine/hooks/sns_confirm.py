"""SNS's messages that are not notifications: a new subscription is confirmed by GETting its
``SubscribeURL`` (on SNS's own hosts only, ``sns_urls``), once its signature verified; an
unsubscribe confirmation is acknowledged and nothing else."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx

from runbook_engine.hooks.refusal import Refused
from runbook_engine.hooks.sns_signature import CONFIRMATIONS, Certificates, verify
from runbook_engine.hooks.sns_urls import check_url
from runbook_engine.triggers.alert import PayloadError

log = logging.getLogger("runbook.hooks")

CONFIRM_TIMEOUT = 5.0


class SnsEndpoint:
    def __init__(self, certificates: Certificates | None = None) -> None:
        self.certificates = certificates or Certificates()

    def verify(self, message: Any) -> None:
        if not isinstance(message, dict):
            raise Refused("not an SNS message")
        verify(message, self.certificates)

    def confirmation(self, message: Mapping[str, Any]) -> dict[str, Any] | None:
        """The answer to a (verified) confirmation message; None for a notification."""
        kind = message.get("Type")
        topic = str(message.get("TopicArn", ""))
        if kind not in CONFIRMATIONS:
            return None
        if kind == "UnsubscribeConfirmation":
            log.info("SNS unsubscribed this endpoint from %s", topic)
            return {"type": kind, "topic": topic}
        url = message.get("SubscribeURL")
        if not isinstance(url, str):
            raise PayloadError("sns", "SubscribeURL", "missing")
        try:
            check_url(url, "SubscribeURL")
        except Refused as exc:
            raise PayloadError("sns", "SubscribeURL", exc.reason) from None
        try:
            reply = httpx.get(url, timeout=CONFIRM_TIMEOUT, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise PayloadError("sns", "SubscribeURL", f"cannot be fetched: {exc}") from None
        if reply.status_code != 200:
            raise PayloadError("sns", "SubscribeURL", f"answered {reply.status_code}")
        log.info("confirmed the SNS subscription to %s", topic)
        return {"type": kind, "topic": topic, "confirmed": True}
