"""Rollbacks, on_failure and cancel, through the Engine on a real store."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from runbook_engine.plugin import Action, ActionContext, ActionParams, Registry, Result
from runbook_engine.runtime import runner as runner_module
from runbook_engine.service import Engine
from runbook_engine.store import Store
from tests.runtime.runtime_actions import BOARD
from tests.runtime.runtime_helpers import of_type, runbook, started, types, wait_for

ROLLBACK = """
steps:
  - {id: one, action: test.undoable, with: {name: one, value: 1}}
  - id: two
    action: log
    with: {message: two}
    rollback:
      action: test.record
      with: {name: "undo-two", value: "{{ result.message }}/{{ params_used.message }}"}
  - {id: three, action: log, with: {message: three}}
  - {id: four, action: test.undoable, with: {name: four}}
  - {id: boom, action: fail, with: {message: "it broke"}}
"""


def test_rollback_runs_in_reverse_order_with_undo_and_blocks(engine: Engine, store: Store) -> None:
    out = engine.start(runbook(ROLLBACK), {}, requester="alice")
    assert out.status == "rolled_back"
    assert out.exit_code == 1
    assert BOARD.journal == [
        ("do", "one", 1),
        ("do", "four", None),
        ("undo", "four", "four"),  # automatic undo gets the result of the run it undoes
        ("record", "undo-two", "two/two"),  # the step's own block, with result and params_used
        ("undo", "one", "one"),
    ]
    started_rb = of_type(store, out.run_id, "rollback.step_started")
    assert [(e.data["step"], e.data["undo"]) for e in started_rb] == [
        ("four", True),
        ("two", False),
        ("one", True),
    ]
    (skipped,) = of_type(store, out.run_id, "rollback.step_skipped")
    assert skipped.data["step"] == "three"
    assert [c.rollback for c in out.state.completed] == [
        "succeeded",
        "succeeded",
        "skipped",
        "succeeded",
    ]
    assert out.state.failure is not None
    assert out.state.failure["message"] == "it broke"


def test_a_failing_rollback_ends_rollback_failed(engine: Engine, store: Store) -> None:
    loaded = runbook(
        """
        steps:
          - {id: one, action: test.undoable, with: {name: one}}
          - id: two
            action: log
            with: {message: two}
            rollback: {action: fail, with: {message: "cannot undo"}}
          - {id: boom, action: fail, with: {}}
        """
    )
    out = engine.start(loaded, {}, requester="alice")
    assert out.status == "rollback_failed"
    assert out.exit_code == 3
    (failed,) = of_type(store, out.run_id, "rollback.step_failed")
    assert failed.data["step"] == "two"
    assert failed.data["error"]["message"] == "cannot undo"
    assert ("undo", "one", "one") not in BOARD.journal  # stopped at the failure
    row = store.get_run(out.run_id)
    assert row is not None
    assert row.status == "rollback_failed"


def test_on_failure_continue_goes_on(engine: Engine, store: Store) -> None:
    loaded = runbook(
        """
        steps:
          - {id: one, action: test.undoable, with: {name: one}}
          - {id: optional, action: fail, with: {message: meh}, on_failure: continue}
          - {id: three, action: test.undoable, with: {name: three}}
        """
    )
    out = engine.start(loaded, {}, requester="alice")
    assert out.status == "succeeded"
    assert out.exit_code == 0
    assert of_type(store, out.run_id, "step.continued", "optional")
    assert out.state.step("optional").status == "failed"
    assert out.state.step("optional").continued
    assert [w for w, *_ in BOARD.journal] == ["do", "do"]


def test_on_failure_abort_stops_without_rollback(engine: Engine, store: Store) -> None:
    loaded = runbook(
        """
        steps:
          - {id: one, action: test.undoable, with: {name: one}}
          - {id: stop, action: fail, with: {message: halt}, on_failure: abort}
          - {id: three, action: test.undoable, with: {name: three}}
        """
    )
    out = engine.start(loaded, {}, requester="alice")
    assert out.status == "failed"
    assert out.exit_code == 1
    assert not any(t.startswith("rollback.") for t in types(store, out.run_id))
    assert BOARD.journal == [("do", "one", None)]
    assert out.state.failure is not None
    assert out.state.failure["step"] == "stop"


def test_cancel_from_another_thread_stops_the_step_and_rolls_back(
    engine: Engine, store: Store, tmp_path: Path
) -> None:
    undone = tmp_path / "undone"
    loaded = runbook(
        f"""
        steps:
          - {{id: one, action: test.undoable, with: {{name: one}}}}
          - id: two
            action: log
            with: {{message: two}}
            rollback:
              action: shell.command
              with: {{command: "sleep 0.3; echo done > {undone}"}}
          - {{id: wait, action: sleep, with: {{duration: 30}}}}
          - {{id: never, action: test.undoable, with: {{name: never}}}}
        """
    )

    def cancel_when_waiting() -> None:
        wait_for(started(store, "r-cancel", "wait"), what="the sleep to start")
        engine.cancel("r-cancel", by="bob", reason="wrong host")

    canceller = threading.Thread(target=cancel_when_waiting)
    canceller.start()
    began = time.monotonic()
    out = engine.start(loaded, {}, requester="alice", run_id="r-cancel")
    canceller.join()
    assert time.monotonic() - began < 10
    assert out.status == "cancelled"
    assert out.exit_code == 4
    assert out.state.cancelled_by == "bob"
    (failed,) = of_type(store, out.run_id, "step.failed", "wait")
    assert failed.data["error"]["kind"] == "cancelled"
    (rb,) = of_type(store, out.run_id, "rollback.started")
    assert rb.data["reason"] == "cancelled"
    # the rollback the cancel started is not itself cancelled
    assert undone.read_text() == "done\n"
    assert [s.data["step"] for s in of_type(store, out.run_id, "rollback.step_succeeded")] == [
        "two",
        "one",
    ]
    assert BOARD.journal == [("do", "one", None), ("undo", "one", "one")]
    assert not of_type(store, out.run_id, "step.started", "never")


def test_cancel_of_a_run_waiting_for_approval(engine: Engine, store: Store) -> None:
    loaded = runbook(
        """
        steps:
          - {id: one, action: test.undoable, with: {name: one}}
          - {id: ok, approval: {message: "go?"}}
        """
    )
    out = engine.start(loaded, {}, requester="alice", wait_for_approval=False)
    assert out.status == "waiting_approval"
    engine.cancel(out.run_id, by="bob")
    done = engine.resume(out.run_id, by="bob")
    assert done.status == "cancelled"
    assert BOARD.journal == [("do", "one", None), ("undo", "one", "one")]


class Stubborn(Action):
    """Ignores ctx.cancelled (a badly written plugin) until the test releases it."""

    name = "test.stubborn"
    Params = ActionParams
    release = threading.Event()

    def run(self, params: ActionParams, ctx: ActionContext) -> Result:
        Stubborn.release.wait(30)
        return {}


def test_a_cancel_gives_up_on_an_action_that_does_not_stop(
    engine: Engine, store: Store, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner_module, "STOP_GRACE", 0.3)
    registry.register(Stubborn)
    loaded = runbook(
        """
        steps:
          - {id: one, action: test.undoable, with: {name: one}}
          - {id: stuck, action: test.stubborn}
        """
    )

    def cancel_when_stuck() -> None:
        wait_for(started(store, "r-stuck", "stuck"), what="the stubborn step")
        engine.cancel("r-stuck", by="bob")

    canceller = threading.Thread(target=cancel_when_stuck)
    canceller.start()
    Stubborn.release.clear()
    try:
        began = time.monotonic()
        out = engine.start(loaded, {}, requester="alice", run_id="r-stuck")
        assert time.monotonic() - began < 10
    finally:
        Stubborn.release.set()
        canceller.join()
    assert out.status == "cancelled"
    (failed,) = of_type(store, out.run_id, "step.failed", "stuck")
    assert failed.data["error"]["kind"] == "cancelled"
    assert "did not stop within 0.3s" in failed.data["error"]["message"]
    assert BOARD.journal == [("do", "one", None), ("undo", "one", "one")]


def test_cancel_of_a_pending_run_starts_nothing(engine: Engine, store: Store) -> None:
    loaded = runbook("steps:\n  - {id: one, action: test.undoable, with: {name: one}}\n")
    run_id, params = engine.create(loaded, {}, requester="alice")
    engine.cancel(run_id, by="bob")
    out = engine.execute(run_id, params=params)
    assert out.status == "cancelled"
    assert out.exit_code == 4
    logged = types(store, run_id)
    assert logged[:2] == ["run.created", "run.cancel_requested"]
    assert logged[-1] == "run.finished"
    assert "run.started" not in logged
    assert "step.started" not in logged
    assert BOARD.journal == []
