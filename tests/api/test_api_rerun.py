"""``POST /runs/{id}/rerun``: a new run linked to the original, from a step on with the steps
before it carried over, idempotent with a key, and refused as a start is refused."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import ALICE, DAVE, Api


def failed_crashy(api: Api, client: httpx.Client) -> str:
    answer = client.post("/runs", json={"runbook": "crashy", "params": {"fail": True}})
    assert answer.status_code == 201, answer.text
    run_id: str = answer.json()["id"]
    api.wait_settled(run_id, "rolled_back")
    return run_id


def events(client: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    answer = client.get(f"/runs/{run_id}/events", params={"limit": 500})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_rerun_from_a_step_answers_201_and_carries_the_steps_before_it(api: Api) -> None:
    client = api.as_user(ALICE)
    original = failed_crashy(api, client)
    answer = client.post(
        f"/runs/{original}/rerun", json={"from": "check", "params": {"fail": False}}
    )
    assert answer.status_code == 201, answer.text
    run = answer.json()
    assert answer.headers["location"] == f"/api/v1/runs/{run['id']}"
    assert run["rerun_of"] == {"run": original, "from": "check", "failed_hosts": False}
    assert run["requester"] == ALICE and run["params"]["fail"] is False
    done = api.wait_status(run["id"], "succeeded")
    assert done["rerun_of"]["run"] == original
    log = events(client, run["id"])
    carried = [(e["step"], e["data"]["status"]) for e in log if e["type"] == "step.carried"]
    assert carried == [("prep", "succeeded"), ("work", "succeeded")]
    assert all(e["data"]["from_run"] == original for e in log if e["type"] == "step.carried")
    started = [e["step"] for e in log if e["type"] == "step.started"]
    assert started == ["check", "after"]  # prep and work did not run again
    assert done["state"]["completed"][0]["step"] == "check"  # carried: never rolled back
    plain = api.run(original)
    assert plain["rerun_of"] is None
    assert plain["reruns"] == [run["id"]]  # the link the other way


def test_an_idempotency_key_finds_the_first_rerun(api: Api) -> None:
    client = api.as_user(ALICE)
    original = failed_crashy(api, client)
    key = {"Idempotency-Key": "rerun-crashy-1"}
    body = {"params": {"fail": False}}
    first = client.post(f"/runs/{original}/rerun", json=body, headers=key)
    assert first.status_code == 201, first.text
    again = client.post(f"/runs/{original}/rerun", json=body, headers=key)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["rerun_of"]["run"] == original
    api.wait_status(first.json()["id"], "succeeded")


def test_refusals_are_problems_and_record_nothing(api: Api) -> None:
    client = api.as_user(ALICE)
    original = failed_crashy(api, client)
    before = len(api.store.list_runs(limit=500))
    unknown = client.post(f"/runs/{original}/rerun", json={"from": "chek"})
    assert unknown.status_code == 400
    problem = unknown.json()
    assert problem["type"].endswith("/input-refused")
    assert "no such top-level step; its steps: prep, work, check, after" in problem["detail"]
    hosts = client.post(f"/runs/{original}/rerun", json={"failed_hosts": True})
    assert hosts.status_code == 400
    assert "no step runs on hosts" in hosts.json()["detail"]
    bad = client.post(f"/runs/{original}/rerun", json={"params": {"fail": "maybe"}})
    assert bad.status_code == 422 and bad.json()["parameter"] == "fail"
    typo = client.post(f"/runs/{original}/rerun", json={"form": "check"})
    assert typo.status_code == 422  # a misspelt field is refused, not ignored
    missing = client.post("/runs/nosuchrun/rerun", json={})
    assert missing.status_code == 404
    assert len(api.store.list_runs(limit=500)) == before


def test_rerun_permission_is_the_start_permission(api: Api) -> None:
    alice = api.as_user(ALICE)
    answer = alice.post("/runs", json={"runbook": "gate1"})
    assert answer.status_code == 201
    run_id = answer.json()["id"]
    api.wait_settled(run_id, "waiting_approval")
    active = alice.post(f"/runs/{run_id}/rerun", json={})
    assert active.status_code == 400
    assert "is waiting_approval: only a finished run is re-run" in active.json()["detail"]
    assert alice.post(f"/runs/{run_id}/cancel").status_code == 200
    api.wait_status(run_id, "cancelled")
    dave = api.as_user(DAVE)  # staff: sees the run, may not run gate1
    start = dave.post("/runs", json={"runbook": "gate1"})
    again = dave.post(f"/runs/{run_id}/rerun", json={})
    assert start.status_code == again.status_code == 403
    assert again.json()["detail"] == start.json()["detail"]
    entries = [(e.action, e.outcome, e.principal, e.target) for e in api.store.audit_since()]
    assert ("rerun", "refused", DAVE, run_id) in entries
