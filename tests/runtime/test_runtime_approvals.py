"""Approval steps through Engine.start/decide/resume on a real store."""

from __future__ import annotations

import threading
import time

import pytest

from runbook_engine.errors import ApprovalError
from runbook_engine.service import Engine
from runbook_engine.store import Store
from tests.runtime.runtime_actions import BOARD
from tests.runtime.runtime_helpers import of_type, runbook, wait_for

TWO = """
steps:
  - {id: prep, action: test.undoable, with: {name: prep}}
  - id: ok
    approval:
      message: "restart the api?"
      approvers: [bob, carol, dave]
      required: 2
  - id: after
    action: log
    with: {message: "approved by {{ steps.ok.outputs.approved_by | join(' and ') }}"}
"""


def test_two_distinct_approvers_are_needed(engine: Engine, store: Store) -> None:
    out = engine.start(runbook(TWO), {}, requester="alice", wait_for_approval=False)
    assert out.status == "waiting_approval"
    assert out.exit_code == 5
    run_id = out.run_id
    row = store.get_run(run_id)
    assert row is not None
    assert row.status == "waiting_approval"

    with pytest.raises(ApprovalError, match="alice started this run"):
        engine.decide(run_id, user="alice", approve=True)
    with pytest.raises(ApprovalError, match="eve is not an approver"):
        engine.decide(run_id, user="eve", approve=True)
    assert not of_type(store, run_id, "approval.decided")

    engine.decide(run_id, user="bob", approve=True)
    still = engine.resume(run_id, by="bob", wait_for_approval=False)
    assert still.status == "waiting_approval"
    assert still.exit_code == 5
    with pytest.raises(ApprovalError, match="bob has already decided"):
        engine.decide(run_id, user="bob", approve=True)

    engine.decide(run_id, user="carol", approve=True)
    done = engine.resume(run_id, by="carol", wait_for_approval=False)
    assert done.status == "succeeded"
    assert done.exit_code == 0
    assert done.state.step("ok").outputs == {"approved_by": ["bob", "carol"]}
    assert done.state.step("after").result["message"] == "approved by bob and carol"
    assert len(of_type(store, run_id, "approval.requested")) == 1  # not asked again on resume


def test_a_rejection_with_a_reason_rolls_back(engine: Engine, store: Store) -> None:
    out = engine.start(runbook(TWO), {}, requester="alice", wait_for_approval=False)
    with pytest.raises(ApprovalError, match="needs a reason"):
        engine.decide(out.run_id, user="dave", approve=False)
    engine.decide(out.run_id, user="dave", approve=False, reason="during peak traffic")
    done = engine.resume(out.run_id, by="dave")
    assert done.status == "rejected"
    assert done.exit_code == 4
    assert BOARD.journal == [("do", "prep", None), ("undo", "prep", "prep")]
    (failed,) = of_type(store, out.run_id, "step.failed", "ok")
    assert failed.data["error"]["message"] == "rejected by dave: during peak traffic"
    assert done.state.failure is not None
    assert done.state.failure["kind"] == "rejected"
    assert not of_type(store, out.run_id, "step.started", "after")


def test_an_approval_timeout_with_on_timeout_approve_proceeds(engine: Engine, store: Store) -> None:
    loaded = runbook(
        """
        steps:
          - id: ok
            approval: {message: "go?", timeout: 1s, on_timeout: approve}
          - {id: after, action: log, with: {message: after}}
        """
    )
    began = time.monotonic()
    out = engine.start(loaded, {}, requester="alice")
    assert 1.0 <= time.monotonic() - began < 5
    assert out.status == "succeeded"
    assert of_type(store, out.run_id, "approval.timed_out", "ok")
    assert out.state.step("ok").outputs == {"approved_by": [], "timed_out": True}
    assert out.state.step("after").status == "succeeded"


def test_approvers_by_group(engine: Engine, store: Store) -> None:
    loaded = runbook(
        """
        steps:
          - id: ok
            approval: {message: "go?", approvers: ["@sre"]}
          - {id: after, action: log, with: {message: after}}
        """
    )
    out = engine.start(loaded, {}, requester="alice", wait_for_approval=False)
    with pytest.raises(ApprovalError, match="carol is not an approver"):
        engine.decide(out.run_id, user="carol", approve=True)
    decided = engine.decide(out.run_id, user="bob", approve=True)
    assert (decided.record.id, decided.step) == (out.run_id, "ok")
    assert decided.run.state.approvals["ok"][-1].user == "bob"  # the decision is folded in
    done = engine.resume(out.run_id, by="bob")
    assert done.status == "succeeded"
    assert done.state.step("ok").outputs == {"approved_by": ["bob"]}


def test_a_decision_from_another_process_reaches_a_waiting_engine(
    engine: Engine, store: Store
) -> None:
    loaded = runbook(
        """
        steps:
          - id: ok
            approval: {message: "go?", approvers: ["@leads"]}
          - {id: after, action: log, with: {message: after}}
        """
    )

    def approve_when_asked() -> None:
        wait_for(lambda: of_type(store, "r-wait", "approval.requested"), what="the request")
        engine.decide("r-wait", user="carol", approve=True)

    approver = threading.Thread(target=approve_when_asked)
    approver.start()
    out = engine.start(loaded, {}, requester="alice", run_id="r-wait")
    approver.join()
    assert out.status == "succeeded"
    assert out.state.approvals["ok"][0].user == "carol"


def test_an_approval_after_the_deadline_of_a_run_not_waited_on_is_too_late(
    engine: Engine, store: Store
) -> None:
    loaded = runbook(
        """
        steps:
          - {id: prep, action: test.undoable, with: {name: prep}}
          - id: ok
            approval: {message: "go?", timeout: 0.3s, on_timeout: reject}
          - {id: after, action: log, with: {message: after}}
        """
    )
    out = engine.start(loaded, {}, requester="alice", wait_for_approval=False)
    assert out.status == "waiting_approval"
    deadline = out.state.step("ok").deadline
    assert deadline is not None
    wait_for(lambda: time.time() > deadline + 0.05, what="the deadline to pass")
    with pytest.raises(ApprovalError, match="timed out"):
        engine.decide(out.run_id, user="bob", approve=True)
    done = engine.resume(out.run_id, by="bob", wait_for_approval=False)
    assert done.status == "rejected"
    assert of_type(store, out.run_id, "approval.timed_out", "ok")
    assert (done.state.step("ok").error or {})["kind"] == "approval_timeout"
    assert BOARD.journal == [("do", "prep", None), ("undo", "prep", "prep")]
