"""Approval steps in the core: requests, distinct approvers, rejection, timeouts, who may decide."""

from __future__ import annotations

import pytest

from runbook_engine.core.approvals import check_decision, waiting_step
from runbook_engine.core.decide import AwaitDecision, Record
from runbook_engine.core.events import EventType
from runbook_engine.core.state import STEP_SUCCEEDED, STEP_WAITING
from runbook_engine.core.statuses import REJECTED, RUNNING, SUCCEEDED, WAITING_APPROVAL
from runbook_engine.errors import ApprovalError
from runbook_engine.identity import Directory
from tests.core.core_sim import Sim

UNDO = frozenset({"file.write"})

TWO = """
parameters: {svc: {type: string}}
permissions: {approve: ["@leads"]}
steps:
  - {id: write, action: file.write, with: {path: /a, content: "1"}}
  - id: ok
    approval:
      message: "restart {{ params.svc }}?"
      required: 2
      timeout: 10m
  - {id: after, action: log, with: {message: "by {{ steps.ok.outputs.approved_by | join(',') }}"}}
"""


def waiting(body: str = TWO, **kw: object) -> Sim:
    sim = Sim.of(body, params={"svc": "api"}, undo=UNDO, **kw)
    (wait,) = sim.drive()
    assert wait == AwaitDecision("ok", sim.state.step("ok").deadline)
    assert sim.state.status == WAITING_APPROVAL
    return sim


def test_the_request_says_who_how_many_and_until_when() -> None:
    sim = waiting()
    (requested,) = sim.of_type("approval.requested")
    assert requested.data == {
        "step": "ok",
        "message": "restart api?",
        "approvers": ["@leads"],  # none on the step: the runbook's permissions.approve
        "required": 2,
        "allow_requester": False,
        "deadline": requested.ts + 600,
        "on_timeout": "reject",
    }
    assert sim.state.step("ok").status == STEP_WAITING
    assert sim.state.step("ok").deadline == requested.ts + 600
    assert sim.decide() == [AwaitDecision("ok", requested.ts + 600)]


def test_needs_the_required_number_of_distinct_approvers() -> None:
    sim = waiting()
    sim.record("approval.decided", step="ok", user="bob", decision="approve")
    assert sim.decide() == [AwaitDecision("ok", sim.state.step("ok").deadline)]
    sim.record("approval.decided", step="ok", user="bob", decision="approve")  # same user again
    assert isinstance(sim.decide()[0], AwaitDecision)
    sim.record("approval.decided", step="ok", user="carol", decision="approve")
    assert sim.decide() == [
        Record(
            EventType.STEP_SUCCEEDED, {"step": "ok", "outputs": {"approved_by": ["bob", "carol"]}}
        )
    ]
    sim.drive()
    assert sim.state.status == SUCCEEDED
    assert sim.of_type("step.started")[-1].data["with"] == {"message": "by bob,carol"}
    # an approval is not something to roll back
    assert [c.step for c in sim.state.completed] == ["write", "after"]


def test_a_rejection_rolls_back_and_ends_rejected() -> None:
    sim = waiting()
    sim.record("approval.decided", step="ok", user="bob", decision="approve")
    sim.record("approval.decided", step="ok", user="carol", decision="reject", reason="not now")
    sim.drive()
    (failed,) = sim.of_type("step.failed")
    assert failed.data["error"]["kind"] == "rejected"
    assert failed.data["error"]["message"] == "rejected by carol: not now"
    assert sim.of_type("rollback.started")[0].data["reason"] == "rejected"
    assert sim.rolled_back() == [("write", True)]
    assert sim.state.status == REJECTED
    assert [d.user for d in sim.state.approvals["ok"]] == ["bob", "carol"]
    assert sim.state.approvals["ok"][1].reason == "not now"


@pytest.mark.parametrize(("on_timeout", "final"), [("approve", SUCCEEDED), ("reject", REJECTED)])
def test_timeout(on_timeout: str, final: str) -> None:
    sim = waiting(TWO.replace("timeout: 10m", f"timeout: 10m\n      on_timeout: {on_timeout}"))
    sim.record("approval.decided", step="ok", user="bob", decision="approve")
    sim.now += 600
    sim.record("approval.timed_out", step="ok")
    assert sim.state.step("ok").timed_out
    sim.drive()
    assert sim.state.status == final
    if on_timeout == "approve":
        assert sim.state.step("ok").status == STEP_SUCCEEDED
        assert sim.state.step("ok").outputs == {"approved_by": ["bob"], "timed_out": True}
        assert "after" in sim.invoked()
    else:
        assert sim.of_type("step.failed")[0].data["error"]["kind"] == "approval_timeout"
        assert sim.rolled_back() == [("write", True)]
        assert "after" not in sim.invoked()


def test_a_decision_moves_the_run_back_to_running() -> None:
    sim = waiting(TWO.replace("required: 2", "required: 1"))
    sim.record("approval.decided", step="ok", user="bob", decision="approve")
    sim.advance()
    assert sim.state.status == RUNNING


# ---------------------------------------------------------------------------- who may decide

STEP_APPROVERS = """
steps:
  - id: ok
    approval:
      message: go
      approvers: ["@sre", dave]
"""


def check(sim: Sim, user: str, directory: Directory | None = None) -> str:
    step = check_decision(
        sim.rb,
        sim.state,
        requester="alice",
        user=user,
        directory=directory or Directory({"sre": frozenset({"bob"})}),
    )
    return step.id


def test_approvers_by_name_and_by_group() -> None:
    sim = waiting(STEP_APPROVERS)
    assert check(sim, "bob") == "ok"
    assert check(sim, "dave") == "ok"
    with pytest.raises(ApprovalError, match="carol is not an approver"):
        check(sim, "carol")
    # a group the directory does not know about is passed in (Slack user groups)
    step = check_decision(
        sim.rb,
        sim.state,
        requester="alice",
        user="carol",
        directory=Directory(),
        extra_groups=["@sre"],
    )
    assert step.id == "ok"


def test_the_requester_may_not_approve_unless_allowed() -> None:
    sim = waiting(STEP_APPROVERS.replace("dave]", "dave, alice]"))
    with pytest.raises(ApprovalError, match="alice started this run"):
        check(sim, "alice")
    allowed = waiting(STEP_APPROVERS.replace("dave]", "dave, alice]\n      allow_requester: true"))
    assert check(allowed, "alice") == "ok"


def test_nobody_decides_twice() -> None:
    sim = waiting(STEP_APPROVERS.replace("message: go", "message: go\n      required: 2"))
    sim.record("approval.decided", step="ok", user="bob", decision="approve")
    with pytest.raises(ApprovalError, match="already decided"):
        check(sim, "bob")


def test_no_decision_on_a_run_that_is_not_waiting() -> None:
    sim = Sim.of(STEP_APPROVERS)
    with pytest.raises(ApprovalError, match="not waiting for approval"):
        waiting_step(sim.rb, sim.state)
    ready = waiting(STEP_APPROVERS)
    assert waiting_step(ready.rb, ready.state).id == "ok"


@pytest.mark.parametrize(
    ("on_timeout", "late", "final"),
    [("reject", "approve", REJECTED), ("approve", "reject", SUCCEEDED)],
)
def test_a_decision_after_the_deadline_does_not_count(
    on_timeout: str, late: str, final: str
) -> None:
    sim = waiting(
        TWO.replace("required: 2", "required: 1").replace(
            "timeout: 10m", f"timeout: 10m\n      on_timeout: {on_timeout}"
        )
    )
    deadline = sim.state.step("ok").deadline
    assert deadline is not None
    sim.now = deadline + 5  # nobody was waiting when the deadline passed
    sim.record("approval.decided", step="ok", user="bob", decision=late, reason="late")
    assert sim.decide() == [AwaitDecision("ok", deadline)]  # the runtime records the timeout
    sim.record("approval.timed_out", step="ok")
    sim.drive()
    assert sim.state.status == final
    if final == SUCCEEDED:
        assert sim.state.step("ok").outputs == {"approved_by": [], "timed_out": True}


def test_a_decision_on_time_counts_even_when_recorded_with_the_deadline() -> None:
    sim = waiting(TWO.replace("required: 2", "required: 1"))
    deadline = sim.state.step("ok").deadline
    assert deadline is not None
    sim.now = deadline
    sim.record("approval.decided", step="ok", user="bob", decision="approve")
    sim.drive()
    assert sim.state.status == SUCCEEDED
    assert sim.state.step("ok").outputs == {"approved_by": ["bob"]}


def test_check_decision_refuses_a_late_decision_when_told_the_time() -> None:
    sim = waiting(STEP_APPROVERS.replace("message: go", "message: go\n      timeout: 1m"))
    deadline = sim.state.step("ok").deadline
    assert deadline is not None

    def at(now: float) -> str:
        return check_decision(
            sim.rb,
            sim.state,
            requester="alice",
            user="bob",
            directory=Directory({"sre": frozenset({"bob"})}),
            now=now,
        ).id

    assert at(deadline - 1) == "ok"
    with pytest.raises(ApprovalError, match="timed out; on_timeout: reject"):
        at(deadline + 1)
