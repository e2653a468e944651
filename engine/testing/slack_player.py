"""Playing Slack's part against ``runbook serve``: slash commands, button clicks and modal
submissions, form-encoded and signed exactly as Slack signs them (``slack_sdk.signature``), posted
over real HTTP. Pair it with ``FakeSlack`` for the Web API side::

    with FakeSlack() as fake:
        ...  # runbook serve with RUNBOOK_SLACK_API_URL=fake.api_url, SLACK_SIGNING_SECRET=secret
        player = SlackPlayer(url="http://127.0.0.1:3000", fake=fake, secret=secret)
        status, body, seconds = player.command("run disk-usage-check mount=/var")
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from itertools import count
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from runbook_engine.testing.fake_slack import FakeSlack

__all__ = ["DEFAULT_USER", "SlackPlayer"]

#: the Slack user id commands come from unless a call names another
DEFAULT_USER = "U0ALICE"


@dataclass
class SlackPlayer:
    """Sends what Slack would send to ``runbook serve``: signed, form-encoded, over HTTP."""

    url: str  # the server's base URL
    fake: FakeSlack
    secret: str  # the app's signing secret, which the server verifies with
    user: str = DEFAULT_USER  # who commands and clicks when a call does not say
    _ids: count[int] = field(default_factory=lambda: count(1))

    def trigger(self) -> str:
        return f"{next(self._ids)}.{time.time_ns()}.abcdef"

    def post(
        self,
        body: bytes,
        *,
        headers: dict[str, str] | None = None,
        sign: bool = True,
        timestamp: int | None = None,
    ) -> tuple[int, bytes, float]:
        """POST to /slack/events; returns (status, body, seconds to answer)."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        sent = {"Content-Type": "application/x-www-form-urlencoded"}
        if sign:
            signature = SignatureVerifier(self.secret).generate_signature(
                timestamp=ts, body=body.decode()
            )
            if signature is None:  # slack-sdk returns None only for a missing timestamp or body
                raise ValueError("cannot sign an empty request")
            sent.update({"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature})
        sent.update(headers or {})
        request = urllib.request.Request(
            self.url + "/slack/events", data=body, headers=sent, method="POST"
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, answer.read(), time.monotonic() - started
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), time.monotonic() - started

    def command_body(
        self,
        text: str,
        *,
        user: str | None = None,
        channel: str = "C0OPS",
        trigger: str | None = None,
    ) -> bytes:
        user = user or self.user
        return urlencode(
            {
                "token": "legacy-unused",
                "team_id": self.fake.team_id,
                "channel_id": channel,
                "user_id": user,
                "user_name": user.lower(),
                "command": "/runbook",
                "text": text,
                "response_url": self.fake.url + f"commands/{self.fake.team_id}/1/{user}",
                "trigger_id": trigger or self.trigger(),
                "api_app_id": "A0RUNBOOK",
            }
        ).encode()

    def command(self, text: str, **kw: Any) -> tuple[int, bytes, float]:
        return self.post(self.command_body(text, **kw))

    def interaction(self, payload: dict[str, Any]) -> tuple[int, bytes, float]:
        return self.post(urlencode({"payload": json.dumps(payload)}).encode())

    def click(
        self, message_channel: str, message_ts: str, action_id: str, value: str, *, user: str
    ) -> tuple[int, bytes, float]:
        """Click the button ``action_id`` (with its ``value``) on a posted message."""
        return self.interaction(
            {
                "type": "block_actions",
                "team": {"id": self.fake.team_id},
                "user": {"id": user, "name": user.lower()},
                "api_app_id": "A0RUNBOOK",
                "trigger_id": self.trigger(),
                "channel": {"id": message_channel},
                "container": {
                    "type": "message",
                    "message_ts": message_ts,
                    "channel_id": message_channel,
                },
                "message": {"ts": message_ts},
                "response_url": self.fake.url + f"actions/{self.fake.team_id}/1/{user}",
                "actions": [
                    {
                        "action_id": action_id,
                        "block_id": "approval",
                        "value": value,
                        "type": "button",
                        "action_ts": str(time.time()),
                    }
                ],
            }
        )

    def submit(
        self, view: dict[str, Any], values: dict[str, dict[str, Any]], *, user: str
    ) -> tuple[int, bytes, float]:
        return self.interaction(
            {
                "type": "view_submission",
                "team": {"id": self.fake.team_id},
                "user": {"id": user, "name": user.lower()},
                "api_app_id": "A0RUNBOOK",
                "trigger_id": self.trigger(),
                "view": {**view, "id": "V1", "state": {"values": values}},
            }
        )
