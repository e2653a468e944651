"""A run an alert started says so in its Slack message: what fired, from where, its labels and
a link to its source, as the sender wrote them but escaped (an alert's text is not ours)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runbook_engine.auth.tokens import create_token
from runbook_engine.server.serve import Server
from runbook_engine.slack.settings import SlackSettings
from runbook_engine.testing.fake_slack import FakeSlack
from tests.slack.slack_helpers import FAST, run_message_of, texts

SECRET = "whsec-page"

PAGED = """\
apiVersion: runbook/v1
name: paged
version: 1
parameters:
  service: {type: string}
notify: {channel: "#ops"}
triggers:
  - webhook:
      name: page
      params: {service: "{{ alert.labels.service }}"}
steps:
  - {id: look, action: log, with: {message: "looking at {{ params.service }}"}}
"""


@pytest.fixture
def alerted(slack_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    (slack_env / "runbooks" / "paged.yaml").write_text(PAGED)
    monkeypatch.setenv("RUNBOOK_WEBHOOK_SECRET_PAGE", SECRET)
    server = Server(SlackSettings.from_env(), FAST)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _signed(body: bytes) -> dict[str, str]:
    ts = int(time.time())
    mac = hmac.new(SECRET.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Runbook-Signature": f"t={ts},v1={mac}", "Content-Type": "application/json"}


def test_the_run_message_names_the_alert(alerted: Server, fake: FakeSlack) -> None:
    token = create_token(alerted.store, "alertmanager", roles=["trigger"]).secret
    body = json.dumps(
        {
            "fingerprint": "pg-1",
            "starts_at": "2026-12-01T10:00:00Z",
            "labels": {"alertname": "HighLatency", "service": "api", "team": "<!channel>"},
            "generator_url": "https://prometheus.example.com/graph?g0.expr=up",
        }
    ).encode()
    answer = httpx.post(
        alerted.url + "/hooks/webhook/page",
        content=body,
        headers={**_signed(body), "Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    [result] = answer.json()["results"]
    assert result["result"] == "started", result
    run_id = result["run_id"]
    deadline = time.monotonic() + 10
    while (message := run_message_of(fake, run_id)) is None:
        assert time.monotonic() < deadline, "no run message"
        time.sleep(0.05)
    shown = texts(message.blocks)
    assert "alert *HighLatency* (webhook, firing)" in shown
    assert "service=api" in shown
    assert "<https://prometheus.example.com/graph?g0.expr=up|source>" in shown
    # a label's text is the sender's: it cannot ping the channel
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown
