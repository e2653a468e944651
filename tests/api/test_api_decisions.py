"""Approve, reject, cancel and resume through the API; the run goes on on the server to its
end, and what a decision may not do is refused with the rule."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import ALICE, BOB, CAROL, Api, crashed, wait_for


def start(client: httpx.Client, runbook: str, **params: Any) -> str:
    answer = client.post("/runs", json={"runbook": runbook, "params": params})
    assert answer.status_code == 201, answer.text
    run_id: str = answer.json()["id"]
    return run_id


def types_of(api: Api, run_id: str) -> list[str]:
    return [e.type for e in api.store.events(run_id)]


def test_approve_and_the_run_finishes(api: Api) -> None:
    run_id = start(api.as_user(ALICE), "gate1")
    api.wait_settled(run_id, "waiting_approval")
    answer = api.as_user(BOB).post(f"/runs/{run_id}/approve", json={"reason": "looks fine"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "run_id": run_id,
        "step": "approve",
        "decision": "approved",
        "user": BOB,
        "continued_by": "here",
    }
    done = api.wait_status(run_id, "succeeded")
    assert done["state"]["steps"]["apply"]["status"] == "succeeded"
    (decided,) = [e for e in api.store.events(run_id) if e.type == "approval.decided"]
    assert decided.data == {
        "step": "approve",
        "user": BOB,
        "decision": "approve",
        "reason": "looks fine",
    }


def test_two_approvals_from_two_people(api: Api) -> None:
    run_id = start(api.as_user(ALICE), "gate")
    api.wait_settled(run_id, "waiting_approval")
    # the requester is among the approvers, but may not approve her own run
    own = api.as_user(ALICE).post(f"/runs/{run_id}/approve")
    assert own.status_code == 403
    assert "started this run" in own.json()["detail"]
    assert api.as_user(BOB).post(f"/runs/{run_id}/approve").status_code == 200
    # one person is one approval, whichever token they use and however they spell their name
    twice = api.as_user(BOB.upper()).post(f"/runs/{run_id}/approve")
    assert twice.status_code == 403
    assert "already decided" in twice.json()["detail"]
    assert api.wait_settled(run_id, "waiting_approval")["waiting_on"] == "approve"
    assert api.as_user(CAROL).post(f"/runs/{run_id}/approve").status_code == 200
    api.wait_status(run_id, "succeeded")


def test_the_requester_is_the_same_person_in_any_case(api: Api) -> None:
    run_id = start(api.as_user("Alice@Example.com"), "gate1")
    api.wait_settled(run_id, "waiting_approval")
    assert api.run(run_id)["requester"] == "Alice@Example.com"
    answer = api.as_user(ALICE).post(f"/runs/{run_id}/approve")
    assert answer.status_code == 403
    assert "started this run" in answer.json()["detail"]
    assert api.as_user(CAROL).post(f"/runs/{run_id}/approve").status_code == 200
    api.wait_status(run_id, "succeeded")


def test_someone_who_is_not_an_approver_is_refused(api: Api) -> None:
    run_id = start(api.as_user(ALICE), "gate1")
    api.wait_settled(run_id, "waiting_approval")
    answer = api.as_user("dave@example.com").post(f"/runs/{run_id}/approve")
    assert answer.status_code == 403
    assert "dave@example.com" in answer.json()["detail"]
    assert api.run(run_id)["status"] == "waiting_approval"


def test_a_rejection_needs_a_reason(api: Api) -> None:
    run_id = start(api.as_user(ALICE), "gate1")
    api.wait_settled(run_id, "waiting_approval")
    bob = api.as_user(BOB)
    for body in ({}, {"reason": "   "}):
        answer = bob.post(f"/runs/{run_id}/reject", json=body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["type"].endswith("/reason-required")
        assert answer.json()["field"] == "reason"
    assert bob.post(f"/runs/{run_id}/reject").status_code == 422  # no body at all
    assert api.run(run_id)["status"] == "waiting_approval"
    answer = bob.post(f"/runs/{run_id}/reject", json={"reason": "not during the freeze"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["decision"] == "rejected"
    done = api.wait_status(run_id, "rejected")
    assert done["exit_code"] == 4
    assert "apply" not in done["state"]["steps"] or (
        done["state"]["steps"]["apply"]["status"] != "succeeded"
    )
    (decided,) = [e for e in api.store.events(run_id) if e.type == "approval.decided"]
    assert decided.data["reason"] == "not during the freeze"


def test_no_decision_on_a_run_that_waits_for_none(api: Api) -> None:
    run_id = start(api.as_user(ALICE), "hello")
    api.wait_status(run_id, "succeeded")
    answer = api.as_user(BOB).post(f"/runs/{run_id}/approve")
    assert answer.status_code == 403
    assert api.run(run_id)["status"] == "succeeded"


def test_cancel_a_waiting_run(api: Api) -> None:
    run_id = start(api.as_user(ALICE), "gate1")
    api.wait_settled(run_id, "waiting_approval")
    answer = api.as_user(ALICE).post(f"/runs/{run_id}/cancel", json={"reason": "wrong day"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"run_id": run_id, "cancel_requested": True}
    done = api.wait_status(run_id, "cancelled")
    assert done["exit_code"] == 4
    assert "run.cancel_requested" in types_of(api, run_id)
    # nothing left to decide
    assert api.as_user(BOB).post(f"/runs/{run_id}/approve").status_code == 403


def test_cancel_needs_the_run_permission(api: Api) -> None:
    run_id = start(api.as_user(ALICE), "gate1")
    api.wait_settled(run_id, "waiting_approval")
    answer = api.as_user(BOB).post(f"/runs/{run_id}/cancel")
    assert answer.status_code == 403
    assert "permissions.run" in answer.json()["detail"]
    assert api.run(run_id)["status"] == "waiting_approval"
    api.as_user(ALICE).post(f"/runs/{run_id}/cancel")
    api.wait_status(run_id, "cancelled")


def test_resume_validates_the_choice(api: Api) -> None:
    alice = api.as_user(ALICE)
    run_id = start(alice, "gate1")
    api.wait_settled(run_id, "waiting_approval")
    answer = alice.post(f"/runs/{run_id}/resume", json={"choice": "retry"})
    assert answer.status_code == 409
    assert answer.json()["type"].endswith("/not-needing-attention")
    assert "waiting_approval" in answer.json()["detail"]
    unknown = alice.post(f"/runs/{run_id}/resume", json={"choice": "ignore"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "choice"
    # resuming without a choice only continues it: it waits again
    again = alice.post(f"/runs/{run_id}/resume", json={})
    assert again.status_code == 202, again.text
    assert again.json()["run_id"] == run_id
    api.wait_settled(run_id, "waiting_approval")
    alice.post(f"/runs/{run_id}/cancel")
    api.wait_status(run_id, "cancelled")
    finished = alice.post(f"/runs/{run_id}/resume", json={})
    assert finished.status_code == 409
    assert finished.json()["type"].endswith("/finished")


def test_resume_a_run_whose_engine_died_in_a_step(api: Api) -> None:
    alice = api.as_user(ALICE)
    source = start(alice, "crashy")
    api.wait_status(source, "succeeded")
    # the step `work` was in flight when its engine died: the server's sweeper finds the run
    # and, `work` being unsafe to run again, stops for a person
    crashed(
        api.store,
        source,
        "crash-work-1",
        lambda e: e.type == "step.started" and e.step_id == "work",
    )
    stopped = api.wait_settled("crash-work-1", "needs_attention")
    assert stopped["exit_code"] == 3
    assert stopped["state"]["attention"]["step"] == "work"
    assert stopped["state"]["attention"]["choices"] == ["retry", "skip", "rollback"]
    viewer = api.as_user(BOB, roles=["view"])
    refused = viewer.post("/runs/crash-work-1/resume", json={"choice": "skip"})
    assert refused.status_code == 403
    assert api.run("crash-work-1")["status"] == "needs_attention"
    answer = alice.post("/runs/crash-work-1/resume", json={"choice": "skip"})
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"run_id": "crash-work-1", "status": "needs_attention"}
    done = api.wait_status("crash-work-1", "succeeded")
    assert done["state"]["steps"]["work"]["status"] == "skipped"
    assert done["state"]["steps"]["after"]["status"] == "succeeded"


def test_resume_refuses_a_choice_the_run_does_not_offer(api: Api) -> None:
    alice = api.as_user(ALICE)
    source = start(alice, "crashy", fail=True)
    api.wait_status(source, "rolled_back")
    # died while undoing `prep`: retry or skip that undo, but there is no rolling back a
    # rollback
    crashed(
        api.store,
        source,
        "crash-undo-1",
        lambda e: e.type == "rollback.step_started" and e.data.get("step") == "prep",
    )
    stopped = api.wait_settled("crash-undo-1", "needs_attention")
    assert stopped["state"]["attention"]["choices"] == ["retry", "skip"]
    answer = alice.post("/runs/crash-undo-1/resume", json={"choice": "rollback"})
    assert answer.status_code == 409
    assert answer.json()["type"].endswith("/bad-choice")
    assert answer.json()["detail"] == "choose one of: retry, skip"
    assert alice.post("/runs/crash-undo-1/resume", json={"choice": "retry"}).status_code == 202
    wait_for("the rollback to finish", lambda: api.run("crash-undo-1")["status"] == "rolled_back")
