"""The notifier on a real engine run, posting through the real WebClient to the fake Slack."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk import WebClient

from runbook_engine.runtime.bus import Event, RunInfo
from runbook_engine.service import Engine
from runbook_engine.slack.client import make_client
from runbook_engine.slack.notifier import SlackNotifier
from runbook_engine.slack.settings import SlackSettings
from runbook_engine.spec.loader import load_text
from runbook_engine.store import Store
from runbook_engine.testing.fake_slack import FakeSlack
from tests.slack.slack_helpers import texts

MANY = """\
apiVersion: runbook/v1
name: many
version: 1
parameters:
  password: {type: string, secret: true}
notify: {channel: "#ops"}
steps:
""" + "".join(
    f"  - {{id: s{i}, action: log, with: {{message: 'step {i} {{{{ params.password }}}}'}}}}\n"
    for i in range(12)
)

FAILING = """\
apiVersion: runbook/v1
name: failing
version: 1
notify: {channel: "#ops", on: [start, step, failure]}
steps:
  - id: flag
    action: file.write
    with: {path: "{{ run.id }}.flag", content: "on"}
  - id: migrate
    action: shell.command
    with:
      command: "echo go; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo line$i >&2; done; exit 3"
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(str(tmp_path / "runbook.db")) as s:
        yield s


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return make_client(SlackSettings(fake.token, "secret", api_url=fake.api_url))


def run(store: Store, notifier: SlackNotifier, text: str, **given: str) -> str:
    engine = Engine(store=store, subscribers=[notifier])
    outcome = engine.start(load_text(text, "<test>"), given, requester="U0ALICE")
    return outcome.run_id


def test_one_message_updated_in_place_coalesced_and_no_secret(
    store: Store, client: WebClient, fake: FakeSlack
) -> None:
    notifier = SlackNotifier(client, store, min_interval=0.5)
    started = time.monotonic()
    run_id = run(store, notifier, MANY, password="hunter2-very-secret")
    took = time.monotonic() - started
    assert notifier.close(10)
    posted = [c for c in fake.calls("chat.postMessage") if not c.params.get("thread_ts")]
    assert len(posted) == 1  # one run message
    updates = fake.calls("chat.update")
    events = len(store.events(run_id))
    # ~40 events, coalesced: at most one update per interval, plus the final state
    assert 1 <= len(updates) <= took / 0.5 + 2, (len(updates), took)
    assert len(updates) < events / 3
    final = fake.messages("#ops")[0]
    shown = texts(final.blocks)
    assert "succeeded" in shown and "`s11`" in shown and "password=***" in shown
    assert shown.count(":white_check_mark:") >= 12
    assert not any("hunter2" in json.dumps(c.params) for c in fake.calls())
    summary = [c for c in fake.calls("chat.postMessage") if c.params.get("thread_ts")]
    assert len(summary) == 1 and "12 of 12 steps succeeded" in summary[0].params["text"]
    anchors = [e.data for e in store.events(run_id) if e.type == "slack.message"]
    assert anchors == [{"channel": final.channel, "ts": final.ts}]


def test_failure_and_rollback_go_to_the_thread(
    store: Store,
    client: WebClient,
    fake: FakeSlack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    notifier = SlackNotifier(client, store, min_interval=0.05)
    run(store, notifier, FAILING)
    assert notifier.close(10)
    main = fake.messages("#ops")[0]
    replies = [m.text for m in fake.messages("#ops") if m.thread_ts == main.ts]
    failure = next(r for r in replies if "`migrate` failed" in r)
    assert "exit code 3" in failure and "line12" in failure and "line3" in failure
    assert "line2\n" not in failure  # only the last 10 lines of stderr
    assert any("Rolling back" in r for r in replies)
    assert any("`flag` rolled back" in r for r in replies)
    assert "rolled back" in texts(main.blocks)
    assert not any("steps succeeded" in r for r in replies)  # `finish` is not in notify.on


def test_a_429_storm_loses_no_update(store: Store, client: WebClient, fake: FakeSlack) -> None:
    notifier = SlackNotifier(client, store, min_interval=0.05)
    fake.fail_next(6, retry_after=0, method="chat.update")
    started = time.monotonic()
    run(store, notifier, MANY, password="x" * 8)
    assert notifier.close(30)
    assert time.monotonic() - started < 30
    assert any(c.status == 429 for c in fake.calls("chat.update"))
    final = fake.messages("#ops")[0]
    assert "succeeded" in texts(final.blocks)
    last_ok = [c for c in fake.calls("chat.update") if c.status == 200][-1]
    assert "succeeded" in json.dumps(last_ok.params)


def test_on_event_never_blocks_on_slack(store: Store, client: WebClient, fake: FakeSlack) -> None:
    notifier = SlackNotifier(client, store)
    fake.fail_next(50, retry_after=5)  # Slack is "down" for a while
    info = RunInfo("r1", "many", 1, "d", "U0ALICE", "#ops")
    from runbook_engine.core.state import RunState

    started = time.monotonic()
    for seq in range(200):
        notifier.on_event(
            info, Event("r1", seq, time.time(), "step.started", "s0", {}), RunState(last_seq=seq)
        )
    assert time.monotonic() - started < 0.5
    notifier.close(0.1)
