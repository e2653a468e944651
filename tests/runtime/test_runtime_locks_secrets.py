"""Concurrency locks between runs, and secret parameters never reaching the store."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from runbook_engine.service import Engine, RunOutcome
from runbook_engine.store import Store
from tests.runtime.runtime_actions import BOARD
from tests.runtime.runtime_helpers import of_type, runbook, started, types, wait_for

LOCKED = """
parameters: {{svc: {{type: string}}}}
concurrency: {{lock: "deploy-{{{{ params.svc }}}}", on_conflict: {how}, wait_timeout: 20s}}
steps:
  - {{id: first, action: {first}}}
  - {{id: last, action: log, with: {{message: done}}}}
"""


def test_refuse_a_second_run_while_the_first_holds_the_lock(engine: Engine, store: Store) -> None:
    loaded = runbook(
        LOCKED.format(how="refuse", first="log, with: {message: hi}").replace(
            "  - {id: last", '  - {id: ok, approval: {message: "go?"}}\n  - {id: last'
        )
    )
    first = engine.start(loaded, {"svc": "api"}, requester="alice", wait_for_approval=False)
    assert first.status == "waiting_approval"
    assert store.lock_holder("deploy-api") == first.run_id

    second = engine.start(loaded, {"svc": "api"}, requester="bob", wait_for_approval=False)
    assert second.exit_code == 6
    assert second.status == "cancelled"
    assert f"held by run {first.run_id}" in second.message
    assert types(store, second.run_id) == ["run.created", "run.finished"]

    other = engine.start(loaded, {"svc": "web"}, requester="bob", wait_for_approval=False)
    assert other.status == "waiting_approval"  # another key: no conflict

    engine.decide(first.run_id, user="carol", approve=True)
    assert engine.resume(first.run_id, by="carol").status == "succeeded"
    assert store.lock_holder("deploy-api") is None  # released when the run ended
    third = engine.start(loaded, {"svc": "api"}, requester="bob", wait_for_approval=False)
    assert third.status == "waiting_approval"


def test_wait_for_the_lock_then_run(engine: Engine, store: Store) -> None:
    loaded = runbook(LOCKED.format(how="wait", first="sleep, with: {duration: 0.3}"))
    results: dict[str, RunOutcome] = {}

    def first_run() -> None:
        results["first"] = engine.start(loaded, {"svc": "api"}, requester="alice", run_id="one")

    runner = threading.Thread(target=first_run)
    runner.start()
    wait_for(started(store, "one", "first"), what="the first run to start")
    second = engine.start(loaded, {"svc": "api"}, requester="bob", run_id="two")
    runner.join()
    assert results["first"].status == "succeeded"
    assert second.status == "succeeded"
    assert second.exit_code == 0
    (waiting,) = of_type(store, "two", "run.waiting_for_lock")
    assert waiting.data == {"lock": "deploy-api", "holder": "one"}
    (first_done,) = of_type(store, "one", "run.finished")
    (second_began,) = of_type(store, "two", "run.started")
    assert second_began.ts >= first_done.ts


TOKEN = "s3cr3t-T0KEN-value"
PIN = 918273645


@pytest.fixture
def secret_run(engine: Engine, store: Store, tmp_path: Path) -> RunOutcome:
    loaded = runbook(
        """
        parameters:
          token: {type: string, secret: true}
          pin: {type: integer, secret: true}
        steps:
          - id: remember
            action: test.undoable
            with: {name: remember, value: "{{ params.pin }}"}
          - id: keep
            action: test.keep
            with: {name: keep, value: "key={{ params.token }}"}
          - id: echo
            action: shell.command
            with:
              command: "echo the token is {{ params.token }}; echo {{ params.token }} >&2"
            outputs: {said: "{{ result.stdout }}", raw: "{{ params.token }}"}
            rollback:
              action: test.record
              with: {name: undo-echo, value: "{{ params.token }}"}
          - id: say
            action: log
            with: {message: "using {{ params.token }} and {{ params.pin }}"}
          - id: boom
            action: fail
            with: {message: "failed with {{ params.token }}"}
        """
    )
    return engine.start(loaded, {"token": TOKEN, "pin": str(PIN)}, requester="alice")


def test_a_secret_never_reaches_the_store(
    secret_run: RunOutcome, store: Store, tmp_path: Path
) -> None:
    out = secret_run
    assert out.status == "rolled_back"
    # the actions did get the real values
    assert ("do", "remember", PIN) in BOARD.journal
    assert ("record", "undo-echo", TOKEN) in BOARD.journal
    # an automatic undo gets the parameters its call got, secrets included
    assert ("unkeep", "keep", f"key={TOKEN}") in BOARD.journal

    texts = [json.dumps(e.data) for e in store.events(out.run_id)]
    row = store.get_run(out.run_id)
    assert row is not None
    texts += [json.dumps(row.params), json.dumps(row.state)]
    for text in texts:
        assert TOKEN not in text
        assert str(PIN) not in text
    assert row.params == {"token": "***", "pin": "***"}
    (echo,) = of_type(store, out.run_id, "step.succeeded", "echo")
    assert echo.data["result"]["stdout"] == "the token is ***\n"
    assert echo.data["outputs"] == {"said": "the token is ***\n", "raw": "***"}
    (remember,) = of_type(store, out.run_id, "step.started", "remember")
    assert remember.data["with"] == {"name": "remember", "value": "***"}
    # nowhere in the database files either (tables, WAL, free pages)
    for path in tmp_path.glob("r.db*"):
        raw = path.read_bytes()
        assert TOKEN.encode() not in raw
        assert str(PIN).encode() not in raw


def test_a_secret_must_be_given_again_on_resume(engine: Engine, store: Store) -> None:
    from runbook_engine.errors import ParameterError

    loaded = runbook(
        """
        parameters: {token: {type: string, secret: true}}
        steps:
          - {id: ok, approval: {message: "go?"}}
          - {id: use, action: test.record, with: {name: use, value: "{{ params.token }}"}}
        """
    )
    out = engine.start(loaded, {"token": TOKEN}, requester="alice", wait_for_approval=False)
    engine.decide(out.run_id, user="bob", approve=True)
    with pytest.raises(ParameterError, match="secret"):
        engine.resume(out.run_id, by="bob")
    done = engine.resume(out.run_id, by="bob", given={"token": TOKEN})
    assert done.status == "succeeded"
    assert BOARD.journal == [("record", "use", TOKEN)]
    assert all(TOKEN not in json.dumps(e.data) for e in store.events(out.run_id))
