"""``recover``: what was in flight when the engine died, and what a human chose about it."""

from __future__ import annotations

from runbook_engine.core.decide import Invoke, InvokeRollback, Record
from runbook_engine.core.events import EventType
from runbook_engine.core.state import (
    STEP_FAILED,
    STEP_INTERRUPTED,
    STEP_RETRY_WAIT,
    STEP_SKIPPED,
    STEP_SUCCEEDED,
)
from runbook_engine.core.statuses import (
    CANCELLED,
    NEEDS_ATTENTION,
    ROLLED_BACK,
    ROLLING_BACK,
    RUNNING,
    SUCCEEDED,
)
from tests.core.core_sim import Sim, error

BODY = """
steps:
  - {id: write, action: file.write, with: {path: /a, content: "1"}}
  - {id: work, action: "{action}", with: {}}
  - {id: after, action: log, with: {message: after}}
"""
UNDO = frozenset({"file.write"})
IDEMPOTENT = frozenset({"log", "file.write", "safe"})


def crashed_in(action: str) -> Sim:
    """A run whose engine died while step ``work`` (calling ``action``) was running."""
    sim = Sim.of(BODY.replace("{action}", action), undo=UNDO, idempotent=IDEMPOTENT)
    (write,) = sim.advance()
    assert isinstance(write, Invoke)
    sim.start(write)
    sim.succeed(write)
    (work,) = sim.advance()
    assert isinstance(work, Invoke)
    sim.start(work)
    return sim


def settle(sim: Sim) -> None:
    for rec in sim.recover():
        sim.record(rec.type, **rec.data)


def test_nothing_in_flight_nothing_to_recover() -> None:
    sim = Sim.of(BODY.replace("{action}", "safe"))
    assert sim.recover() == []
    sim.drive()
    assert sim.recover() == []


def test_an_idempotent_step_is_run_again() -> None:
    sim = crashed_in("safe")
    assert sim.recover() == [Record(EventType.STEP_INTERRUPTED, {"step": "work", "rerun": True})]
    settle(sim)
    assert sim.state.step("work").status == STEP_RETRY_WAIT
    (again,) = sim.decide()
    assert isinstance(again, Invoke)
    assert (again.step, again.attempt) == ("work", 2)
    sim.drive()
    assert sim.state.status == SUCCEEDED
    assert sim.invoked() == ["write", "work", "work", "after"]


def test_a_non_idempotent_step_needs_a_human() -> None:
    sim = crashed_in("shell.command")
    recs = sim.recover()
    assert [r.type for r in recs] == ["step.interrupted", "run.needs_attention"]
    assert recs[0].data == {"step": "work", "rerun": False}
    assert recs[1].data["step"] == "work"
    assert recs[1].data["choices"] == ["retry", "skip", "rollback"]
    assert "not idempotent" in recs[1].data["reason"]
    settle(sim)
    assert sim.state.status == NEEDS_ATTENTION
    assert sim.state.step("work").status == STEP_INTERRUPTED
    assert sim.decide() == []
    assert sim.state.attention is not None
    assert sim.state.attention["step"] == "work"


def test_resolved_retry_runs_the_step_again() -> None:
    sim = crashed_in("shell.command")
    settle(sim)
    sim.record("run.resolved", choice="retry", by="bob")
    assert sim.state.status == RUNNING
    assert sim.state.attention is None
    (again,) = sim.decide()
    assert isinstance(again, Invoke)
    assert (again.step, again.attempt) == ("work", 2)
    sim.drive()
    assert sim.state.status == SUCCEEDED


def test_resolved_skip_goes_on_after_the_step() -> None:
    sim = crashed_in("shell.command")
    settle(sim)
    sim.record("run.resolved", choice="skip", by="bob")
    sim.drive()
    assert sim.state.status == SUCCEEDED
    assert sim.state.step("work").status == STEP_SKIPPED
    assert sim.invoked() == ["write", "work", "after"]


def test_a_skipped_step_counts_as_done_and_is_rolled_back_later() -> None:
    sim = Sim.of(
        BODY.replace("{action}", "shell.command").replace(
            "  - {id: after, action: log, with: {message: after}}",
            "  - {id: after, action: fail, with: {}}",
        ),
        undo=UNDO | {"shell.command"},
        idempotent=IDEMPOTENT,
    )
    (write,) = sim.advance()
    assert isinstance(write, Invoke)
    sim.start(write)
    sim.succeed(write)
    (work,) = sim.advance()
    assert isinstance(work, Invoke)
    sim.start(Invoke("work", "shell.command", {"command": "x"}, 1, None))
    settle(sim)
    sim.record("run.resolved", choice="skip", by="bob")
    skipped = sim.state.completed[-1]
    assert (skipped.step, skipped.action, skipped.params, skipped.result) == (
        "work",
        "shell.command",
        {"command": "x"},
        None,
    )
    sim.drive(lambda cmd: error("fail") if cmd.step == "after" else {})
    # the skipped step joins the rollback in reverse order of completion, but an automatic
    # undo cannot restore from a result that was never recorded: it is skipped, with the reason
    (started,) = sim.of_type("rollback.started")
    assert started.data["queue"] == [1, 0]
    (skipped_undo,) = sim.of_type("rollback.step_skipped")
    assert skipped_undo.data["step"] == "work"
    assert "never recorded" in skipped_undo.data["reason"]
    assert sim.rolled_back() == [("write", True)]
    assert sim.state.status == ROLLED_BACK


def test_resolved_rollback_rolls_back_what_completed() -> None:
    sim = crashed_in("shell.command")
    settle(sim)
    sim.record("run.resolved", choice="rollback", by="bob")
    sim.drive()
    (started,) = sim.of_type("rollback.started")
    assert started.data["reason"] == "requested"
    # the interrupted step is on the queue too (its effect is unknown), before what completed
    assert started.data["queue"] == [1, 0]
    assert sim.rolled_back() == [("write", True)]
    assert sim.state.status == ROLLED_BACK
    assert sim.state.step("work").status == STEP_FAILED
    assert "after" not in sim.invoked()


def test_a_cancel_while_a_human_is_asked_rolls_back() -> None:
    sim = crashed_in("shell.command")
    settle(sim)
    sim.record("run.cancel_requested", by="carol")
    assert sim.decide() == [
        Record(EventType.RUN_RESOLVED, {"choice": "rollback", "by": "carol", "step": "work"})
    ]
    sim.drive()
    assert sim.rolled_back() == [("write", True)]
    assert sim.state.status == CANCELLED


GROUP = """
steps:
  - id: group
    parallel:
      - {id: p1, action: shell.command, with: {command: "true"}}
      - {id: p2, action: shell.command, with: {command: "true"}}
      - {id: p3, action: safe, with: {}}
  - {id: after, action: log, with: {message: after}}
"""


def test_every_interrupted_parallel_child_is_put_to_a_human_in_turn() -> None:
    sim = Sim.of(GROUP, idempotent=IDEMPOTENT)
    commands = sim.advance()
    for cmd in commands:
        assert isinstance(cmd, Invoke)
        sim.start(cmd)
    settle(sim)
    assert [e.data for e in sim.of_type("step.interrupted")] == [
        {"step": "p1", "rerun": False},
        {"step": "p2", "rerun": False},
        {"step": "p3", "rerun": True},
    ]
    assert sim.state.status == NEEDS_ATTENTION
    assert sim.state.attention is not None
    assert sim.state.attention["step"] == "p1"
    sim.record("run.resolved", choice="skip", by="bob")
    # p2 was in flight too: the engine asks about it before anything else runs
    assert sim.advance() == []
    assert sim.state.status == NEEDS_ATTENTION
    assert sim.state.attention is not None
    assert sim.state.attention["step"] == "p2"
    assert sim.state.attention["choices"] == ["retry", "skip", "rollback"]
    assert sim.invoked() == ["p1", "p2", "p3"]
    sim.record("run.resolved", choice="retry", by="bob")
    sim.drive()
    assert sim.state.status == SUCCEEDED
    assert sim.statuses(["p1", "p2", "p3", "group"]) == {
        "p1": STEP_SKIPPED,
        "p2": STEP_SUCCEEDED,
        "p3": STEP_SUCCEEDED,
        "group": STEP_SUCCEEDED,
    }


def test_a_rollback_chosen_for_a_parallel_child_is_not_overridden_by_continue() -> None:
    sim = Sim.of(
        GROUP.replace('{command: "true"}}', '{command: "true"}, on_failure: continue}', 1).replace(
            "  - {id: after", "    on_failure: continue\n  - {id: after"
        ),
        idempotent=IDEMPOTENT,
    )
    for cmd in sim.advance():
        assert isinstance(cmd, Invoke)
        sim.start(cmd)
    settle(sim)
    sim.record("run.resolved", choice="rollback", by="bob")
    sim.drive()
    assert "step.continued" not in sim.types()
    assert sim.of_type("rollback.started")[0].data["reason"] == "requested"
    assert "after" not in sim.invoked()


# ---------------------------------------------------------------------------- rollbacks in flight

ROLLBACKS = """
steps:
  - id: a
    action: file.write
    with: {path: /a, content: "1"}
  - id: b
    action: log
    with: {message: b}
    rollback: {action: "{undo}", with: {}}
  - {id: boom, action: fail, with: {}}
"""


def crashed_rolling_back(undo_action: str) -> tuple[Sim, InvokeRollback]:
    sim = Sim.of(ROLLBACKS.replace("{undo}", undo_action), undo=UNDO, idempotent=IDEMPOTENT)
    while True:
        commands = sim.advance()
        if commands and isinstance(commands[0], InvokeRollback):
            break
        (cmd,) = commands
        assert isinstance(cmd, Invoke)
        sim.start(cmd)
        sim.finish(cmd, error("fail") if cmd.step == "boom" else {})
    (rollback,) = commands
    assert isinstance(rollback, InvokeRollback)
    assert rollback.step == "b"
    sim.start_rollback(rollback)
    assert sim.state.status == ROLLING_BACK
    return sim, rollback


def test_an_idempotent_rollback_in_flight_is_run_again() -> None:
    sim, first = crashed_rolling_back("safe")
    assert sim.recover() == [Record(EventType.ROLLBACK_STEP_INTERRUPTED, {"index": 1, "step": "b"})]
    settle(sim)
    assert sim.state.completed[1].rollback == "pending"
    assert sim.decide() == [first]
    sim.drive()
    assert sim.rolled_back() == [("b", False), ("b", False), ("a", True)]
    assert sim.state.status == ROLLED_BACK


def test_a_non_idempotent_rollback_in_flight_needs_a_human() -> None:
    sim, first = crashed_rolling_back("shell.command")
    (rec,) = sim.recover()
    assert rec.type == "run.needs_attention"
    assert rec.data["rollback_index"] == 1
    assert rec.data["choices"] == ["retry", "skip"]
    settle(sim)
    assert sim.state.status == NEEDS_ATTENTION
    assert sim.decide() == []
    sim.record("run.cancel_requested", by="carol")
    assert sim.decide() == []  # a cancel cannot answer for a rollback step

    retry = Sim(sim.rb, undo=UNDO, idempotent=IDEMPOTENT)
    for ev in sim.events:
        retry.record(ev.type, **ev.data)
    retry.record("rollback.resolved", choice="retry", by="bob")
    assert retry.state.status == ROLLING_BACK
    assert retry.decide() == [first]

    sim.record("rollback.resolved", choice="skip", by="bob")
    assert sim.state.status == ROLLING_BACK
    assert sim.state.completed[1].rollback == "skipped"
    sim.drive()
    assert sim.rolled_back() == [("b", False), ("a", True)]
    # the run had failed already: a cancel during its rollback does not change that
    assert sim.state.status == ROLLED_BACK
