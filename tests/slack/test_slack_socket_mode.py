"""Socket Mode: with SLACK_APP_TOKEN set, ``runbook serve`` also takes requests over Slack's
WebSocket (here the fake's), acknowledges them there and acts the same way."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook_engine.server.serve import Server
from runbook_engine.slack.settings import SlackSettings
from runbook_engine.testing.fake_slack import FakeSlack
from tests.slack.slack_helpers import ALICE, FAST
from tests.slack.test_slack_e2e import wait_status


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


def test_slash_command_over_socket_mode(socket_server: Server, fake: FakeSlack) -> None:
    fake.wait_for(lambda f: f.socket_clients() >= 1)
    with urllib.request.urlopen(socket_server.url + "/healthz", timeout=5) as answer:
        assert json.loads(answer.read())["socket_mode"] is True
    envelope = fake.send_envelope(
        "slash_commands",
        {
            "team_id": fake.team_id,
            "channel_id": "C0OPS",
            "user_id": ALICE,
            "command": "/runbook",
            "text": "run quick",
            "response_url": fake.url + f"commands/1/{ALICE}",
            "trigger_id": "socket.1.abc",
        },
    )
    fake.wait_for(lambda f: [a for a in f.socket_acks() if a.get("envelope_id") == envelope])
    run = fake.wait_for(lambda f: socket_server.store.list_runs())[0]
    wait_status(socket_server, run.id, "succeeded")
    assert [c.method for c in fake.calls("apps.connections.open")] == ["apps.connections.open"]
