"""A notification's body, by source, into alerts: the one entry point of the parsers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from runbook_engine.triggers.alert import SOURCES, Alert, PayloadError
from runbook_engine.triggers.alertmanager import parse_alertmanager
from runbook_engine.triggers.pagerduty import parse_pagerduty
from runbook_engine.triggers.sns import parse_sns
from runbook_engine.triggers.webhook import parse_webhook

#: bytes of a notification body; Alertmanager's largest groups stay far below
MAX_BODY = 1_000_000


def decode(source: str, body: bytes | str) -> Any:
    """The JSON of a body, refused past ``MAX_BODY`` bytes or when it is not JSON."""
    size = len(body.encode(errors="replace")) if isinstance(body, str) else len(body)
    if size > MAX_BODY:
        raise PayloadError(source, "", f"the body is larger than {MAX_BODY:,} bytes")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise PayloadError(source, "", f"not JSON: {exc}") from None


def parse_payload(
    source: str,
    body: bytes | str | Any,
    *,
    hook: str = "",
    received_at: datetime | None = None,
) -> list[Alert]:
    """The alerts of one notification of ``source``; ``body`` as received (bytes or text) or
    already decoded. ``hook``: the generic webhook's NAME; ``received_at``: when it arrived
    (the start of a webhook alert that does not say; default now)."""
    if source not in SOURCES:
        raise PayloadError(source, "", f"unknown source; expected one of {', '.join(SOURCES)}")
    data = decode(source, body) if isinstance(body, bytes | str) else body
    if source == "alertmanager":
        return parse_alertmanager(data)
    if source == "pagerduty":
        return parse_pagerduty(data)
    if source == "sns":
        return parse_sns(data)
    return parse_webhook(data, hook=hook, received_at=received_at or datetime.now(UTC))
