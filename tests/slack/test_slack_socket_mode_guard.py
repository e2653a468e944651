"""Socket Mode envelopes pass the HTTP path's payload check and de-duplication before bolt.

The server's Socket Mode handler is driven directly with ``SocketModeRequest`` objects (as the
SDK's client hands them to it); acknowledgements go to a recording client instead of a
WebSocket.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from runbook_engine.server.serve import Server
from runbook_engine.server.socket_mode import GuardedSocketModeHandler
from runbook_engine.slack.prompts import APPROVE
from runbook_engine.slack.settings import SlackSettings
from runbook_engine.testing.fake_slack import FakeSlack
from tests.slack.slack_helpers import ALICE, FAST
from tests.slack.test_slack_e2e import wait_status

LOGGER = "runbook.server.socket_mode"


class Acks:
    """Stands in for the SDK's client: records what the handler sends back."""

    def __init__(self) -> None:
        self.sent: list[SocketModeResponse] = []
        self.logger = logging.getLogger("tests.socket_mode")

    def send_socket_mode_response(self, response: SocketModeResponse) -> None:
        self.sent.append(response)

    def envelopes(self) -> list[str]:
        return [r.envelope_id for r in self.sent]


@pytest.fixture
def socket_server(
    slack_env: Path, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Server]:
    monkeypatch.setenv("SLACK_APP_TOKEN", fake.app_token)
    srv = Server(SlackSettings.from_env(), FAST)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def handler_of(server: Server) -> GuardedSocketModeHandler:
    assert isinstance(server.socket_mode, GuardedSocketModeHandler)
    return server.socket_mode


def deliver(server: Server, acks: Acks, kind: str, envelope: str, payload: Any) -> None:
    request = SocketModeRequest(type=kind, envelope_id=envelope, payload={})
    request.payload = payload  # as a hostile or broken envelope may carry it
    handler_of(server).handle(cast(BaseSocketModeClient, acks), request)


def command(fake: FakeSlack, text: str, trigger: str) -> dict[str, str]:
    return {
        "team_id": fake.team_id,
        "channel_id": "C0OPS",
        "user_id": ALICE,
        "command": "/runbook",
        "text": text,
        "response_url": fake.url + f"commands/1/{ALICE}",
        "trigger_id": trigger,
    }


def test_a_slash_command_delivered_twice_runs_once(
    socket_server: Server, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    acks = Acks()
    payload = command(fake, "run quick", "socket.dup.1")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        deliver(socket_server, acks, "slash_commands", "env-1", payload)
        # Slack's redelivery: another envelope, the same trigger
        deliver(socket_server, acks, "slash_commands", "env-2", dict(payload))
    assert acks.envelopes() == ["env-1", "env-2"]  # both acknowledged
    runs = socket_server.store.list_runs()
    give_up = time.monotonic() + 10
    while not runs and time.monotonic() < give_up:
        time.sleep(0.02)
        runs = socket_server.store.list_runs()
    assert len(runs) == 1
    wait_status(socket_server, runs[0].id, "succeeded")
    assert len(socket_server.store.list_runs()) == 1
    again = [r.getMessage() for r in caplog.records if "delivered again" in r.getMessage()]
    assert again == [
        "Slack command trigger:socket.dup.1 delivered again over Socket Mode (retry -, -): "
        "acknowledged without acting again"
    ]


def test_an_event_is_deduplicated_by_its_event_id(
    socket_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = socket_server.app
    assert app is not None
    dispatched: list[object] = []
    real = app.dispatch

    def counting(request: Any) -> Any:
        dispatched.append(request)
        return real(request)

    monkeypatch.setattr(app, "dispatch", counting)
    acks = Acks()
    event = {"type": "event_callback", "event_id": "Ev01", "event": {"type": "app_mention"}}
    deliver(socket_server, acks, "events_api", "env-a", event)
    deliver(socket_server, acks, "events_api", "env-b", dict(event))
    assert len(dispatched) == 1
    assert "env-b" in acks.envelopes()


MALFORMED = [
    ("slash_commands", {"command": "/runbook", "text": "run quick"}, "slash command without"),
    (
        "interactive",
        {
            "type": "block_actions",
            "user": {"id": ALICE},
            "actions": [{"action_id": APPROVE, "value": "not a button value"}],
        },
        "button value",
    ),
    ("interactive", {"type": "view_submission", "user": {"id": ALICE}}, "without a view"),
    ("events_api", {"type": "event_callback"}, "without an event_id"),
    ("events_api", ["not", "an", "object"], "not an object"),
    ("hello_there", {"x": 1}, "unknown type"),
]


@pytest.mark.parametrize(("kind", "payload", "reason"), MALFORMED)
def test_a_malformed_envelope_is_dropped_with_a_log_line(
    socket_server: Server,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    payload: Any,
    reason: str,
) -> None:
    acks = Acks()
    with caplog.at_level(logging.INFO):
        deliver(socket_server, acks, kind, "env-bad", payload)
    assert acks.envelopes() == ["env-bad"]  # acknowledged: a redelivery would be as unusable
    dropped = [r for r in caplog.records if r.name == LOGGER]
    assert len(dropped) == 1
    assert dropped[0].levelno == logging.WARNING
    assert "dropped a malformed Slack Socket Mode envelope env-bad" in dropped[0].getMessage()
    assert reason in dropped[0].getMessage()
    assert all(r.exc_info is None for r in caplog.records)  # no traceback anywhere
    assert socket_server.store.list_runs() == []
