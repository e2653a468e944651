"""What a caller may do: a token's roles are a ceiling, a runbook's ``permissions`` and the
policy file say who holds them, and a run of a runbook one may not view does not exist."""

from __future__ import annotations

import httpx

from tests.api.conftest import ADMIN, ALICE, BOB, DAVE, OUTSIDER, Api, read_sse


def start(client: httpx.Client, runbook: str) -> str:
    answer = client.post("/runs", json={"runbook": runbook})
    assert answer.status_code == 201, answer.text
    run_id: str = answer.json()["id"]
    return run_id


def waiting(api: Api, runbook: str = "gate1") -> str:
    run_id = start(api.as_user(ALICE), runbook)
    api.wait_settled(run_id, "waiting_approval")
    return run_id


def test_a_view_token_only_reads(api: Api) -> None:
    run_id = waiting(api)
    viewer = api.as_user(ALICE, roles=["view"])
    assert viewer.get(f"/runs/{run_id}").status_code == 200
    assert viewer.get("/runbooks/gate1").status_code == 200
    started = viewer.post("/runs", json={"runbook": "hello"})
    assert started.status_code == 403
    assert "allows only: view" in started.json()["detail"]
    assert viewer.post(f"/runs/{run_id}/cancel").status_code == 403
    bob_viewer = api.as_user(BOB, roles=["view"])
    approve = bob_viewer.post(f"/runs/{run_id}/approve")
    assert approve.status_code == 403
    assert "allows only: view" in approve.json()["detail"]
    assert api.run(run_id)["status"] == "waiting_approval"
    # the same people, with tokens that are not limited
    assert api.as_user(BOB).post(f"/runs/{run_id}/approve").status_code == 200
    api.wait_status(run_id, "succeeded")


def test_an_approve_token_approves_but_does_not_start(api: Api) -> None:
    approver = api.as_user(BOB, roles=["approve"])
    started = approver.post("/runs", json={"runbook": "hello"})
    assert started.status_code == 403
    assert "allows only: approve" in started.json()["detail"]
    run_id = waiting(api)
    assert approver.post(f"/runs/{run_id}/cancel").status_code == 403
    answer = approver.post(f"/runs/{run_id}/approve")
    assert answer.status_code == 200, answer.text
    api.wait_status(run_id, "succeeded")


def test_a_cancel_token_cancels(api: Api) -> None:
    run_id = waiting(api)
    canceller = api.as_user(ALICE, roles=["cancel"])
    assert canceller.post("/runs", json={"runbook": "gate1"}).status_code == 403
    assert canceller.post(f"/runs/{run_id}/cancel").status_code == 200
    api.wait_status(run_id, "cancelled")


def test_someone_not_in_permissions_run_is_told_the_rule(api: Api) -> None:
    answer = api.as_user(DAVE).post("/runs", json={"runbook": "gate"})
    assert answer.status_code == 403
    assert answer.json()["detail"] == (
        f"{DAVE} may not run gate (permissions.run: {ALICE}, @deployers)"
    )
    # a runbook without permissions.run is anyone's (the policy sets no default run)
    api.wait_status(start(api.as_user(DAVE), "hello"), "succeeded")


def test_a_run_one_may_not_view_does_not_exist(api: Api) -> None:
    run_id = waiting(api)
    outsider = api.as_user(OUTSIDER)
    for answer in (
        outsider.get(f"/runs/{run_id}"),
        outsider.get(f"/runs/{run_id}/events"),
        outsider.get(f"/runs/{run_id}/logs"),
        outsider.post(f"/runs/{run_id}/approve"),
        outsider.post(f"/runs/{run_id}/cancel"),
    ):
        assert answer.status_code == 404, answer.text
        assert answer.json()["type"].endswith("/run-not-found")
    assert run_id not in {r["id"] for r in outsider.get("/runs").json()["items"]}
    # the outsider's own runbook is theirs to run and see
    own = start(outsider, "outside-job")
    api.wait_status(own, "succeeded")
    assert [r["id"] for r in outsider.get("/runs").json()["items"]] == [own]
    assert read_sse(outsider, f"/runs/{own}/logs")[-1].data["status"] == "succeeded"


def test_an_admin_runs_anything_but_is_no_approver(api: Api) -> None:
    admin = api.as_user(ADMIN)
    run_id = start(admin, "gate1")  # not in its permissions.run
    api.wait_settled(run_id, "waiting_approval")
    answer = admin.post(f"/runs/{run_id}/approve")
    assert answer.status_code == 403
    assert admin.post(f"/runs/{run_id}/cancel").status_code == 200
    api.wait_status(run_id, "cancelled")
