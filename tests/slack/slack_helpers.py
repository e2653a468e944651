"""Playing Slack's part in tests: signed requests posted over real HTTP, as Slack sends them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runbook_engine import testing
from runbook_engine.server.serve import ServeOptions
from runbook_engine.testing.fake_slack import FakeSlack, iter_texts

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
class SlackPlayer(testing.SlackPlayer):
    """The shipped player with the tests' signing secret."""

    secret: str = SECRET


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
