"""Fixtures: a fake Slack Web API, and ``runbook serve``'s server in-process on 127.0.0.1:0."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook_engine.server.serve import Server
from runbook_engine.slack.settings import SlackSettings
from runbook_engine.testing.fake_slack import FakeSlack
from tests.slack.slack_helpers import BOB, CAROL, DEPLOY, FAST, QUICK, SECRET, SlackPlayer


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        server.add_usergroup("S0LEADS", "sre-leads", [BOB, CAROL])
        server.add_usergroup("S0DEPLOY", "deployers", [])
        yield server


@pytest.fixture
def slack_env(workdir: Path, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SLACK_BOT_TOKEN", fake.token)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("RUNBOOK_SLACK_API_URL", fake.api_url)
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    books = workdir / "runbooks"
    books.mkdir()
    (books / "deploy.yaml").write_text(DEPLOY)
    (books / "quick.yaml").write_text(QUICK)
    return workdir


@pytest.fixture
def server(slack_env: Path) -> Iterator[Server]:
    srv = Server(SlackSettings.from_env(), FAST)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def player(server: Server, fake: FakeSlack) -> SlackPlayer:
    return SlackPlayer(server.url, fake)
