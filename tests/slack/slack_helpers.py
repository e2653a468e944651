"""Playing Slack's part in tests: signed requests posted over real HTTP, as Slack sends them."""

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

from engine.server.serve import ServeOptions
from engine.slack.fake_server import FakeSlack, iter_texts

SECRET = "test-signing-secret"

#: the server for tests: any free port, quick sweeps and updates, a short grace on stop
FAST = ServeOptions(host="127.0.0.1", port=0, grace=10.0, sweep_interval=0.2, update_interval=0.05)

ALICE = "U0ALICE"  # runs things
BOB = "U0BOB"  # an SRE lead (Slack user group sre-leads)
CAROL = "U0CAROL"  # another SRE lead
EVE = "U0EVE"  # nobody in particular

DEPLOY = """\
apiVersion: runbook/v1
name: deploy
version: 1
description: deploy a service after a lead approves
parameters:
  service: {type: string, pattern: "[a-z-]+"}
  token: {type: string, secret: true, default: "s3cr3t-t0ken"}
notify: {channel: "#ops"}
permissions:
  run: ["@deployers", "U0ALICE"]
  approve: ["@sre-leads"]
steps:
  - id: prepare
    action: log
    with: {message: "preparing {{ params.service }} with {{ params.token }}"}
  - id: approve
    approval: {message: "Deploy {{ params.service }}?", timeout: 1h}
  - id: apply
    action: shell.command
    with: {command: "echo applied {{ params.service | quote }}"}
"""

QUICK = """\
apiVersion: runbook/v1
name: quick
version: 1
description: a few quick steps
notify: {channel: "#ops"}
steps:
  - {id: one, action: log, with: {message: one}}
  - {id: two, action: log, with: {message: two}}
  - {id: three, action: log, with: {message: three}}
"""


@dataclass
class SlackPlayer:
    """Sends what Slack would send to ``runbook serve``: signed, form-encoded, over HTTP."""

    url: str  # the server's base URL
    fake: FakeSlack
    secret: str = SECRET
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
            assert signature is not None
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
        self, text: str, *, user: str = ALICE, channel: str = "C0OPS", trigger: str | None = None
    ) -> bytes:
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


def texts(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(iter_texts(blocks))


def prompt_of(fake: FakeSlack, run_id: str) -> Any:
    """The approval prompt message of a run, once posted."""
    for msg in fake.messages():
        if "Approval needed" in texts(msg.blocks) and f"`{run_id}`" in texts(msg.blocks):
            return msg
    return None


def run_message_of(fake: FakeSlack, run_id: str) -> Any:
    for msg in fake.messages():
        if (
            msg.thread_ts is None
            and f"run `{run_id}`" in texts(msg.blocks)
            and ("Approval needed" not in texts(msg.blocks))
        ):
            return msg
    return None


def button_value(msg: Any, action_id: str) -> str:
    for block in msg.blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return str(element["value"])
    raise AssertionError(f"no {action_id} button in {msg.blocks}")


def ephemerals(fake: FakeSlack, user: str) -> list[str]:
    """What ``user`` was told privately (chat.postEphemeral and response_url posts)."""
    told = [c for c in fake.calls("chat.postEphemeral") if c.params.get("user") == user]
    told += [c for c in fake.calls("response_url") if c.path.endswith("/" + user)]
    return [str(c.params.get("text", "")) for c in sorted(told, key=lambda c: c.at)]
