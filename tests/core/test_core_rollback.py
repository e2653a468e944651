"""Rollback: the queue, rollback blocks vs automatic undo vs nothing to undo, failures, cancel."""

from __future__ import annotations

from runbook_engine.core.decide import Invoke, InvokeRollback, Record
from runbook_engine.core.events import EventType
from runbook_engine.core.state import STEP_WAITING
from runbook_engine.core.statuses import (
    CANCELLED,
    FAILED,
    ROLLBACK_FAILED,
    ROLLED_BACK,
    ROLLING_BACK,
    WAITING_APPROVAL,
)
from tests.core.core_sim import Sim, error

UNDO = frozenset({"file.write"})

MIXED = """
parameters: {who: {type: string, default: alice}}
steps:
  - {id: write1, action: file.write, with: {path: /a, content: "1"}}
  - id: scale
    action: http.request
    with: {url: "http://api/scale?n=5"}
    timeout: 10s
    rollback:
      action: http.request
      with:
        url: "http://api/scale?n={{ result.before }}&by={{ params.who }}&was={{ params_used.url }}"
  - {id: note, action: log, with: {message: noted}}
  - {id: write2, action: file.write, with: {path: /b, content: "2"}, timeout: 3s}
  - {id: boom, action: fail, with: {message: broken}}
"""


def fail_boom(cmd: Invoke) -> dict[str, object]:
    if cmd.step == "boom":
        return error("fail", message="broken")
    return {"before": 2} if cmd.step == "scale" else {}


def test_rollback_runs_in_reverse_order_of_completion_with_the_right_kind_of_undo() -> None:
    sim = Sim.of(MIXED, params={"who": "alice"}, undo=UNDO)
    seen: list[InvokeRollback] = []

    def rollback(cmd: InvokeRollback) -> dict[str, object]:
        seen.append(cmd)
        return {}

    sim.drive(fail_boom, rollback)
    (started,) = sim.of_type("rollback.started")
    assert started.data["queue"] == [3, 2, 1, 0]
    assert started.data["reason"] == "failed"
    assert started.data["failure"]["step"] == "boom"
    # write2: automatic undo; note: nothing to undo (skipped); scale: its block; write1: undo
    assert [(c.step, c.undo) for c in seen] == [
        ("write2", True),
        ("scale", False),
        ("write1", True),
    ]
    write2, scale, write1 = seen
    assert (write2.action, write2.params, write2.timeout) == (
        "file.write",
        {"path": "/b", "content": "2"},
        3.0,
    )
    assert scale.params == {"url": "http://api/scale?n=2&by=alice&was=http://api/scale?n=5"}
    assert scale.result == {"before": 2}
    assert scale.timeout == 10.0  # the block has none: the step's
    assert write1.timeout is None
    (skipped,) = sim.of_type("rollback.step_skipped")
    assert skipped.data["step"] == "note"
    assert "nothing to undo" in skipped.data["reason"]
    assert [c.rollback for c in sim.state.completed] == [
        "succeeded",
        "succeeded",
        "skipped",
        "succeeded",
    ]
    assert sim.state.status == ROLLED_BACK
    assert sim.state.failure is not None
    assert sim.state.failure["message"] == "broken"


def test_nothing_undone_means_failed_not_rolled_back() -> None:
    sim = Sim.of(MIXED)  # no automatic undo anywhere; scale's block is the only one
    sim.drive(lambda cmd: error("fail") if cmd.step in ("boom", "scale") else {})
    assert sim.rolled_back() == []
    assert sim.state.status == FAILED


def test_a_failed_rollback_step_stops_the_rollback_as_rollback_failed() -> None:
    sim = Sim.of(MIXED, params={"who": "alice"}, undo=UNDO)
    sim.drive(fail_boom, lambda cmd: error("exit") if cmd.step == "scale" else {})
    assert sim.rolled_back() == [("write2", True), ("scale", False)]
    assert sim.state.status == ROLLBACK_FAILED
    assert sim.of_type("run.finished")[0].data == {"status": ROLLBACK_FAILED}
    # write1 is left for a human: it was never attempted
    assert sim.state.completed[0].rollback == "pending"
    assert sim.state.rollback_queue == (1, 0)


def test_a_rollback_block_that_does_not_render_fails_the_rollback() -> None:
    sim = Sim.of(MIXED, undo=UNDO)
    sim.drive(lambda cmd: error("fail") if cmd.step == "boom" else {})  # no result.before
    (failed,) = sim.of_type("rollback.step_failed")
    assert failed.data["step"] == "scale"
    assert failed.data["error"]["kind"] == "template"
    assert sim.state.status == ROLLBACK_FAILED


def test_waits_for_a_running_rollback_step() -> None:
    sim = Sim.of(MIXED, undo=UNDO)
    sim.drive(fail_boom, lambda cmd: {})  # finish once, then look at an unfinished one
    sim2 = Sim.of(MIXED, undo=UNDO)
    for ev in sim.events:
        if ev.type == "rollback.step_succeeded":
            break
        sim2.record(ev.type, **ev.data)
    assert sim2.state.status == ROLLING_BACK
    assert sim2.state.completed[3].rollback == "running"
    assert sim2.decide() == []


SLOW = """
steps:
  - {id: write, action: file.write, with: {path: /a, content: "1"}}
  - {id: wait, action: sleep, with: {duration: 60}}
  - {id: after, action: log, with: {message: after}}
"""


def test_cancel_in_pending_finishes_without_starting() -> None:
    sim = Sim.of(SLOW, undo=UNDO)
    sim.record("run.cancel_requested", by="bob")
    assert sim.decide() == [Record(EventType.RUN_FINISHED, {"status": CANCELLED})]
    sim.drive()
    assert sim.types() == ["run.cancel_requested", "run.finished"]
    assert sim.state.status == CANCELLED
    assert sim.state.cancelled_by == "bob"


def test_cancel_while_running_waits_for_the_step_then_rolls_back() -> None:
    sim = Sim.of(SLOW, undo=UNDO)
    (write,) = sim.advance()
    assert isinstance(write, Invoke)
    sim.start(write)
    sim.succeed(write)
    (wait,) = sim.advance()
    assert isinstance(wait, Invoke)
    sim.start(wait)
    sim.record("run.cancel_requested", by="bob")
    assert sim.decide() == []  # the runtime stops the step; its failure comes back here
    sim.fail(wait, error("cancelled", message="sleep cancelled"))
    (rec,) = sim.decide()
    assert isinstance(rec, Record)
    assert rec.type == "rollback.started"
    assert rec.data == {
        "reason": "cancelled",
        "queue": [0],
        "failure": {"message": "cancelled by bob"},
    }
    sim.drive()
    assert sim.rolled_back() == [("write", True)]
    assert sim.state.status == CANCELLED
    assert "after" not in sim.invoked()


def test_cancel_while_waiting_for_approval_rolls_back() -> None:
    sim = Sim.of(
        """
        steps:
          - {id: write, action: file.write, with: {path: /a, content: "1"}}
          - {id: ok, approval: {message: "go?"}}
          - {id: after, action: log, with: {message: after}}
        """,
        undo=UNDO,
    )
    sim.drive()
    assert sim.state.status == WAITING_APPROVAL
    assert sim.state.step("ok").status == STEP_WAITING
    sim.record("run.cancel_requested", by="bob")
    sim.drive()
    assert sim.of_type("rollback.started")[0].data["reason"] == "cancelled"
    assert sim.rolled_back() == [("write", True)]
    assert sim.state.status == CANCELLED


def test_cancel_waits_for_every_running_parallel_child() -> None:
    sim = Sim.of(
        """
        steps:
          - id: group
            parallel:
              - {id: p1, action: sleep, with: {duration: 9}}
              - {id: p2, action: sleep, with: {duration: 9}}
        """
    )
    p1, p2 = sim.advance()
    assert isinstance(p1, Invoke)
    assert isinstance(p2, Invoke)
    sim.start(p1)
    sim.start(p2)
    sim.record("run.cancel_requested", by="bob")
    sim.fail(p1, error("cancelled"))
    assert sim.decide() == []
    sim.fail(p2, error("cancelled"))
    (rec,) = sim.decide()
    assert isinstance(rec, Record)
    assert rec.type == "rollback.started"
    sim.drive()
    assert sim.state.status == CANCELLED


def test_an_undo_gets_the_secret_its_call_got_though_the_log_masks_it() -> None:
    sim = Sim.of(
        """
        parameters: {token: {type: string, secret: true}}
        steps:
          - {id: auto, action: file.write, with: {path: /a, content: "t={{ params.token }}"}}
          - id: block
            action: log
            with: {message: "m={{ params.token }}"}
            rollback: {action: log, with: {message: "undo {{ params_used.message }}"}}
          - {id: boom, action: fail, with: {}}
        """,
        params={"token": "hunter2"},
        secrets=("hunter2",),
        undo=UNDO,
    )
    seen: list[InvokeRollback] = []

    def rollback(cmd: InvokeRollback) -> dict[str, object]:
        seen.append(cmd)
        return {}

    sim.drive(lambda cmd: error("fail") if cmd.step == "boom" else {}, rollback)
    assert sim.state.completed[0].params == {"path": "/a", "content": "t=***"}
    assert [(c.step, c.params) for c in seen] == [
        ("block", {"message": "undo m=hunter2"}),
        ("auto", {"path": "/a", "content": "t=hunter2"}),
    ]
    assert all("hunter2" not in str(e.data) for e in sim.events)
    assert sim.state.status == ROLLED_BACK
