"""Issue 14, point 2: an optional secret left out stays absent across pauses; a secret that is
needed after a pause is asked for, or the run says in its log (so in `runbook runs` and Slack)
that it waits for it."""

from __future__ import annotations

import json

import pytest

from runbook_engine.core.events import EventType
from runbook_engine.runtime.bus import Event, RunInfo
from runbook_engine.service import Engine
from runbook_engine.slack.outbox import Reply, posts_for
from runbook_engine.spec.params import SecretMissing
from runbook_engine.store import Store
from tests.runtime.runtime_actions import BOARD
from tests.runtime.runtime_helpers import of_type, runbook

TOKEN = "opt-s3cr3t-Value"

OPTIONAL = runbook(
    """
    parameters:
      token: {type: string, secret: true, required: false}
    steps:
      - {id: ok, approval: {message: "go?"}}
      - id: use
        action: test.record
        with: {name: use, value: "{{ params.token or 'none' }}"}
    """
)

NEEDED = runbook(
    """
    parameters: {token: {type: string, secret: true}}
    steps:
      - {id: ok, approval: {message: "go?"}}
      - {id: use, action: test.record, with: {name: use, value: "{{ params.token }}"}}
    """
)


def test_an_optional_secret_left_out_does_not_block_the_run(
    engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNBOOK_SECRET_TOKEN", raising=False)
    out = engine.start(OPTIONAL, {}, requester="alice", wait_for_approval=False)
    assert out.status == "waiting_approval"
    row = store.get_run(out.run_id)
    assert row is not None
    assert row.params == {"token": None}  # absent, not a mask standing for a value
    engine.decide(out.run_id, user="bob", approve=True)
    after = engine.continue_after_decision(out.run_id, by="bob")
    assert after.outcome is not None
    assert after.outcome.status == "succeeded"
    assert BOARD.journal == [("record", "use", "none")]


def test_a_given_optional_secret_is_still_needed_and_masked(
    engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNBOOK_SECRET_TOKEN", raising=False)
    out = engine.start(OPTIONAL, {"token": TOKEN}, requester="alice", wait_for_approval=False)
    engine.decide(out.run_id, user="bob", approve=True)
    with pytest.raises(SecretMissing):
        engine.continue_after_decision(out.run_id, by="bob")


def test_a_missing_secret_is_asked_for_when_the_run_continues_here(
    engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNBOOK_SECRET_TOKEN", raising=False)
    out = engine.start(NEEDED, {"token": TOKEN}, requester="alice", wait_for_approval=False)
    engine.decide(out.run_id, user="bob", approve=True)
    asked: list[list[str]] = []

    def ask(names: list[str]) -> dict[str, str]:
        asked.append(names)
        return {"token": TOKEN}

    after = engine.continue_after_decision(out.run_id, by="bob", ask=ask)
    assert after.outcome is not None
    assert after.outcome.status == "succeeded"
    assert asked == [["token"]]
    assert BOARD.journal == [("record", "use", TOKEN)]
    assert not of_type(store, out.run_id, EventType.RUN_BLOCKED)


def test_a_run_blocked_for_a_secret_says_so_and_goes_on_once_given(
    engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNBOOK_SECRET_TOKEN", raising=False)
    heard: list[Event] = []

    class Listener:
        def on_event(self, run: RunInfo, event: Event, state: object) -> None:
            heard.append(event)

    engine.subscribers.append(Listener())
    out = engine.start(NEEDED, {"token": TOKEN}, requester="alice", wait_for_approval=False)
    engine.decide(out.run_id, user="bob", approve=True)
    for _ in range(2):  # asked again (a worker retrying): said once
        with pytest.raises(SecretMissing) as info:
            engine.continue_after_decision(out.run_id, by="bob")
    message = str(info.value)
    assert "RUNBOOK_SECRET_TOKEN" in message
    assert f"runbook resume {out.run_id} -p token=-" in message
    assert "pass it again with -p" not in message

    (blocked,) = of_type(store, out.run_id, EventType.RUN_BLOCKED)
    assert blocked.data["needs"] == ["token"]
    row = store.get_run(out.run_id)
    assert row is not None
    assert row.status == "waiting_approval"
    assert row.state["blocked"]["needs"] == ["token"]  # what `runbook runs` reads
    # subscribers (the Slack notifier among them) hear it, and Slack posts it in the thread
    (event,) = [e for e in heard if e.type == EventType.RUN_BLOCKED]
    info_ = RunInfo(out.run_id, "rt", 1, "", "alice", None)
    (reply,) = posts_for(info_, event)
    assert isinstance(reply, Reply)
    assert "RUNBOOK_SECRET_TOKEN" in reply.text

    monkeypatch.setenv("RUNBOOK_SECRET_TOKEN", TOKEN)  # the serve/worker environment
    done = engine.resume(out.run_id, by="bob")
    assert done.status == "succeeded"
    assert BOARD.journal == [("record", "use", TOKEN)]
    row = store.get_run(out.run_id)
    assert row is not None
    assert "blocked" not in row.state
    assert all(TOKEN not in json.dumps(e.data) for e in store.events(out.run_id))


def test_the_slack_executor_path_records_the_block(
    engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From Slack the run used to stay waiting_approval with only a server log warning."""
    from runbook_engine.server.executor import RunExecutor
    from runbook_engine.server.vault import SecretVault

    monkeypatch.delenv("RUNBOOK_SECRET_TOKEN", raising=False)
    out = engine.start(NEEDED, {"token": TOKEN}, requester="alice", wait_for_approval=False)
    engine.decide(out.run_id, user="bob", approve=True)
    executor = RunExecutor(engine, SecretVault())  # a restarted server: its vault is empty
    executor.resume(out.run_id, by="bob")
    assert executor.wait_idle(10)
    (blocked,) = of_type(store, out.run_id, EventType.RUN_BLOCKED)
    assert blocked.data["needs"] == ["token"]
