"""Is this HTTP request really from Slack? Checked before any byte of the payload is trusted.

Slack signs ``v0:{timestamp}:{body}`` with the app's signing secret (HMAC-SHA256) and sends it
in ``X-Slack-Signature``; the timestamp bounds replays to five minutes. This returns *why* a
request is refused so the log says it; slack_sdk's ``SignatureVerifier`` computes the signature.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping

from slack_sdk.signature import SignatureVerifier

MAX_AGE = 5 * 60


def refusal(
    secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> str | None:
    """None when the request is Slack's; otherwise the reason it is refused.

    ``headers`` must have lower-case keys."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not timestamp or not signature:
        return "missing X-Slack-Request-Timestamp or X-Slack-Signature"
    if not timestamp.isdigit():
        return f"malformed timestamp {timestamp[:20]!r}"
    age = (time.time() if now is None else now) - int(timestamp)
    if abs(age) > MAX_AGE:
        return f"timestamp is {age:.0f}s old (more than {MAX_AGE}s: a replay?)"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    expected = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=text)
    if expected is None or not hmac.compare_digest(expected, signature):
        return "signature does not match"
    return None
