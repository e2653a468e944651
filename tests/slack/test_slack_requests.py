"""Requests Slack signs but that are wrong inside, and Slack's retries, against ``runbook serve``
over real HTTP (``SlackPlayer`` signs each request exactly as Slack does)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import urlencode

import pytest

from runbook_engine.server.serve import Server
from runbook_engine.testing.fake_slack import FakeSlack
from tests.slack.slack_helpers import ALICE, SlackPlayer, ephemerals


def _form(**fields: str) -> bytes:
    return urlencode(fields).encode()


def _click(player: SlackPlayer, **changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": ALICE},
        "trigger_id": player.trigger(),
        "channel": {"id": "C0OPS"},
        "actions": [{"action_id": "runbook_approve", "value": '{"run":"r1","step":"approve"}'}],
    }
    payload.update(changes)
    return payload


MALFORMED: dict[str, Any] = {
    "payload is not JSON": lambda p: _form(payload="{not json"),
    "payload is a JSON list": lambda p: _form(payload="[1, 2]"),
    "click without a user": lambda p: _form(payload=json.dumps(_click(p, user=None))),
    "click whose user is a string": lambda p: _form(payload=json.dumps(_click(p, user="U1"))),
    "click without actions": lambda p: _form(payload=json.dumps(_click(p, actions=[]))),
    "button value is not JSON": lambda p: _form(
        payload=json.dumps(_click(p, actions=[{"action_id": "runbook_approve", "value": "{x"}]))
    ),
    "form without the run's metadata": lambda p: _form(
        payload=json.dumps(
            {
                "type": "view_submission",
                "user": {"id": ALICE},
                "trigger_id": p.trigger(),
                "view": {"callback_id": "runbook_run", "private_metadata": "{oops", "state": {}},
            }
        )
    ),
    "slash command without a user": lambda p: _form(
        command="/runbook", text="list", trigger_id=p.trigger()
    ),
    "events API body that is not JSON": lambda p: b"{broken",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_signed_malformed_request_is_400_with_a_logged_reason(
    case: str,
    server: Server,
    player: SlackPlayer,
    fake: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    body = MALFORMED[case](player)
    headers = {"Content-Type": "application/json"} if body.startswith(b"{") else None
    status, answer, _ = player.post(body, headers=headers)
    time.sleep(0.2)  # anything handed to a worker thread has failed by now
    assert status == 400, (case, status, answer)
    assert json.loads(answer) == {"error": "malformed request"}
    refusals = [r for r in caplog.records if "malformed Slack request" in r.getMessage()]
    assert len(refusals) == 1, [r.getMessage() for r in caplog.records]
    assert "\n" not in refusals[0].getMessage()
    assert all(r.exc_info is None for r in caplog.records), case
    assert "Traceback" not in caplog.text
    assert server.store.list_runs() == []


def test_a_retry_whose_first_delivery_never_arrived_is_processed(
    server: Server, player: SlackPlayer, fake: FakeSlack
) -> None:
    # the first delivery was lost on the way: only Slack's retry reaches the server
    body = player.command_body("run quick")
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert player.post(body, headers=retry)[0] == 200
    fake.wait_for(lambda f: server.store.list_runs())
    assert [r.runbook for r in server.store.list_runs()] == ["quick"]
    # the next retry of the same request is the same request: nothing happens again
    assert player.post(body, headers={**retry, "X-Slack-Retry-Num": "2"})[0] == 200
    time.sleep(0.3)
    assert len(server.store.list_runs()) == 1


def test_a_retried_command_is_answered_once(
    server: Server, player: SlackPlayer, fake: FakeSlack
) -> None:
    body = player.command_body("list")
    assert player.post(body)[0] == 200
    fake.wait_for(lambda f: ephemerals(f, ALICE))
    assert player.post(body, headers={"X-Slack-Retry-Num": "1"})[0] == 200
    other = player.command_body("list")  # the same words, another request: answered again
    assert player.post(other)[0] == 200
    fake.wait_for(lambda f: len(ephemerals(f, ALICE)) >= 2)
    time.sleep(0.3)
    assert len(ephemerals(fake, ALICE)) == 2
