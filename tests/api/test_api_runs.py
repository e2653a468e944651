"""``/runs``: starting runs (idempotently), listing them with filters and stable cursors,
showing one, paging through its events, and following its log as server-sent events."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx

from tests.api.conftest import ALICE, BOB, DAVE, Api, read_sse, wait_for


def start(client: httpx.Client, runbook: str, **params: Any) -> dict[str, Any]:
    answer = client.post("/runs", json={"runbook": runbook, "params": params})
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def listed(client: httpx.Client, **filters: Any) -> list[dict[str, Any]]:
    """Every run the list shows for ``filters``, following the cursor."""
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**filters, **({"cursor": cursor} if cursor else {})}
        answer = client.get("/runs", params=query)
        assert answer.status_code == 200, answer.text
        out.extend(answer.json()["items"])
        cursor = answer.json()["next"]
        if cursor is None:
            return out


def test_start_answers_201_with_the_run_and_its_location(api: Api) -> None:
    client = api.as_user(ALICE)
    answer = client.post("/runs", json={"runbook": "hello", "params": {"who": "bob"}})
    assert answer.status_code == 201, answer.text
    run = answer.json()
    assert answer.headers["location"] == f"/api/v1/runs/{run['id']}"
    assert run["runbook"] == "hello" and run["version"] == 2
    assert run["requester"] == ALICE
    assert run["params"]["who"] == "bob"
    assert run["status"] in ("pending", "running", "succeeded")
    # the run goes on in the background, on the server
    done = api.wait_status(run["id"], "succeeded")
    assert done["exit_code"] == 0
    shown = client.get(answer.headers["location"].removeprefix("/api/v1"))
    assert shown.status_code == 200 and shown.json()["id"] == run["id"]


def test_start_of_a_given_version(api: Api) -> None:
    run = start(api.as_user(ALICE), "hello@1")
    assert run["version"] == 1
    done = api.wait_status(run["id"], "succeeded")
    assert done["order"] == ["greet"]


def test_an_idempotency_key_makes_a_retry_find_the_first_run(api: Api) -> None:
    client = api.as_user(ALICE)
    body = {"runbook": "hello", "params": {"who": "idem"}}
    key = {"Idempotency-Key": "deploy-2026-12-01-a"}
    first = client.post("/runs", json=body, headers=key)
    assert first.status_code == 201
    again = client.post("/runs", json=body, headers=key)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    # the same key from another token of the same person is the same request
    other = api.as_user(ALICE.upper()).post("/runs", json=body, headers=key)
    assert other.status_code == 200 and other.json()["id"] == first.json()["id"]
    # the same key from someone else is theirs
    bobs = api.as_user(BOB).post("/runs", json=body, headers=key)
    assert bobs.status_code == 201 and bobs.json()["id"] != first.json()["id"]
    mine = [r for r in listed(client, runbook="hello") if r["params"].get("who") == "idem"]
    assert sorted(r["id"] for r in mine) == sorted([first.json()["id"], bobs.json()["id"]])
    assert sum(1 for r in mine if r["requester"] == ALICE) == 1


def test_list_filters_combine(api: Api) -> None:
    alice, bob = api.as_user(ALICE), api.as_user(BOB)
    hello = start(alice, "hello")
    hosts = start(bob, "hosts")
    gate = start(alice, "gate")
    api.wait_status(hello["id"], "succeeded")
    api.wait_status(hosts["id"], "succeeded")
    api.wait_status(gate["id"], "waiting_approval")
    ours = {hello["id"], hosts["id"], gate["id"]}

    def ids(**filters: Any) -> set[str]:
        return {r["id"] for r in listed(alice, **filters)} & ours

    waiting = listed(alice, status="waiting_approval")
    assert all(r["status"] == "waiting_approval" for r in waiting)
    assert ids(status="waiting_approval") == {gate["id"]}
    assert ids(status=["waiting_approval", "succeeded"]) == ours
    assert ids(runbook="hosts") == {hosts["id"]}
    assert all(r["runbook"] == "hosts" for r in listed(alice, runbook="hosts"))
    assert ids(requester=BOB) == {hosts["id"]}
    assert all(r["requester"] == BOB for r in listed(alice, requester=BOB))
    assert ids(requester=ALICE, status="succeeded") == {hello["id"]}
    since = datetime.fromisoformat(hosts["created_at"])
    after = listed(alice, since=since.isoformat())
    assert {hosts["id"], gate["id"]} <= {r["id"] for r in after}
    assert hello["id"] not in {r["id"] for r in after}
    assert all(datetime.fromisoformat(r["created_at"]) >= since for r in after)


def test_the_cursor_survives_new_runs(api: Api) -> None:
    dave = api.as_user(DAVE)  # dave starts no other runs in this module
    made = [start(dave, "hello", who="page")["id"] for _ in range(7)]
    newest_first = [r["id"] for r in listed(dave, requester=DAVE)]
    assert sorted(newest_first) == sorted(made)
    seen: list[str] = []
    answer = dave.get("/runs", params={"requester": DAVE, "limit": 3}).json()
    seen.extend(r["id"] for r in answer["items"])
    # runs started between pages are newer than the cursor: they shift nothing
    later = [start(dave, "hello", who="late")["id"] for _ in range(2)]
    while answer["next"]:
        answer = dave.get(
            "/runs", params={"requester": DAVE, "limit": 3, "cursor": answer["next"]}
        ).json()
        assert len(answer["items"]) <= 3
        seen.extend(r["id"] for r in answer["items"])
    assert seen == newest_first  # every run once, none twice, in order
    assert not set(later) & set(seen)
    assert [r["id"] for r in listed(dave, requester=DAVE, limit=4)][:2] == later[::-1]


def test_show_has_the_state_and_the_step_order(api: Api) -> None:
    client = api.as_user(ALICE)
    gate = start(client, "gate")
    waiting = api.wait_status(gate["id"], "waiting_approval")
    shown = client.get(f"/runs/{gate['id']}").json()
    assert shown["status"] == "waiting_approval" == waiting["status"]
    assert shown["order"] == ["prepare", "approve", "apply"]
    assert shown["waiting_on"] == "approve"
    assert shown["exit_code"] == 5
    assert shown["state"]["steps"]["prepare"]["status"] == "succeeded"
    assert shown["state"]["steps"]["approve"]["status"] == "waiting"
    hello = start(client, "hello")
    done = api.wait_status(hello["id"], "succeeded")
    assert done["waiting_on"] is None
    assert done["order"] == ["greet", "bye"]
    assert {s["status"] for s in done["state"]["steps"].values()} == {"succeeded"}


def test_events_page_with_after_limit_and_next(api: Api) -> None:
    client = api.as_user(ALICE)
    run = start(client, "hello")
    api.wait_status(run["id"], "succeeded")
    whole = client.get(f"/runs/{run['id']}/events", params={"limit": 500}).json()
    assert whole["next"] is None
    seqs = [e["seq"] for e in whole["items"]]
    assert seqs == list(range(1, len(seqs) + 1))
    assert whole["items"][0]["type"] == "run.created"
    assert whole["items"][-1]["type"] == "run.finished"
    assert whole["items"][-1]["data"] == {"status": "succeeded"}
    paged: list[dict[str, Any]] = []
    after = 0
    for _ in range(50):
        page = client.get(f"/runs/{run['id']}/events", params={"after": after, "limit": 2})
        body = page.json()
        assert len(body["items"]) <= 2
        paged.extend(body["items"])
        if body["next"] is None:
            break
        assert body["next"] == str(body["items"][-1]["seq"])
        after = int(body["next"])
    assert paged == whole["items"]
    tail = client.get(f"/runs/{run['id']}/events", params={"after": 3}).json()["items"]
    assert tail == whole["items"][3:]


def test_logs_follow_a_run_to_its_end(api: Api) -> None:
    client = api.as_user(ALICE)
    run = start(client, "hello", who="sse")
    messages = read_sse(client, f"/runs/{run['id']}/logs", follow="true")
    *events, end = messages
    assert end.event == "end" and end.id is None
    assert end.data == {"run_id": run["id"], "status": "succeeded", "exit_code": 0}
    assert [int(m.id or 0) for m in events] == list(range(1, len(events) + 1))
    assert all(m.data["seq"] == int(m.id or 0) and m.data["type"] == m.event for m in events)
    assert events[0].event == "run.created"
    assert events[-1].event == "run.finished"
    said = [ln for m in events if m.event == "step.output" for ln in m.data["data"]["lines"]]
    assert said == ["[info] hello sse x1 []", "[info] bye sse"]
    # the stream and the pages are the same events
    page = client.get(f"/runs/{run['id']}/events").json()["items"]
    assert [m.data for m in events] == page


def test_logs_resume_after_the_last_event_id(api: Api) -> None:
    client = api.as_user(ALICE)
    run = start(client, "hello")
    api.wait_status(run["id"], "succeeded")
    path = f"/runs/{run['id']}/logs"
    whole = read_sse(client, path)
    resumed = read_sse(client, path, headers={"Last-Event-ID": "3"}, follow="true")
    assert [m.id for m in resumed[:-1]] == [m.id for m in whole[3:-1]]
    assert resumed[-1].event == "end"
    assert [m.id for m in read_sse(client, path, after=5)[:-1]] == [m.id for m in whole[5:-1]]
    # the later of the two wins
    both = read_sse(client, path, headers={"Last-Event-ID": "2"}, after=6)
    assert both[0].id == "7"


def test_logs_until_settled_end_at_an_approval(api: Api) -> None:
    client = api.as_user(ALICE)
    run = start(client, "gate")
    messages = read_sse(client, f"/runs/{run['id']}/logs", follow="true", until="settled")
    end = messages[-1]
    assert end.event == "end"
    assert end.data == {"run_id": run["id"], "status": "waiting_approval", "exit_code": 5}
    types = [m.event for m in messages[:-1]]
    assert "approval.requested" in types
    assert "run.finished" not in types


def test_logs_without_follow_end_at_once(api: Api) -> None:
    client = api.as_user(ALICE)
    run = start(client, "gate")
    api.wait_settled(run["id"], "waiting_approval")
    messages = read_sse(client, f"/runs/{run['id']}/logs")
    assert messages[-1].data["status"] == "waiting_approval"


def test_logs_of_one_step(api: Api) -> None:
    client = api.as_user(ALICE)
    run = start(client, "hello", who="step")
    api.wait_status(run["id"], "succeeded")
    messages = read_sse(client, f"/runs/{run['id']}/logs", step="bye")
    events = messages[:-1]
    assert events and all(m.data["step"] == "bye" for m in events)
    assert [m.event for m in events] == ["step.started", "step.output", "step.succeeded"]
    assert messages[-1].event == "end"


def test_logs_of_one_host(api: Api) -> None:
    client = api.as_user(ALICE)
    run = start(client, "hosts")
    api.wait_status(run["id"], "succeeded")
    messages = read_sse(client, f"/runs/{run['id']}/logs", host="web1")
    events = messages[:-1]
    assert [m.event for m in events] == ["step.output"]
    assert events[0].data["data"]["lines"] == ["web1: up", "web1: still up"]
    web2 = read_sse(client, f"/runs/{run['id']}/logs", host="web2", step="fleet")
    assert [line for m in web2[:-1] for line in m.data["data"]["lines"]] == ["web2: down"]


def test_a_stream_sees_events_written_while_it_is_open(api: Api) -> None:
    client = api.as_user(ALICE)
    run = start(client, "gate1")
    api.wait_settled(run["id"], "waiting_approval")
    seen: list[str] = []
    with client.stream("GET", f"/runs/{run['id']}/logs", params={"follow": "true"}) as answer:
        lines = answer.iter_lines()
        wait_for("the stream to reach the approval", lambda: "approval.requested" in next(lines))
        # decided while the stream is open: what follows arrives live
        decided = api.as_user(BOB).post(f"/runs/{run['id']}/approve")
        assert decided.status_code == 200, decided.text
        seen.extend(lines)
    kinds = [line.removeprefix("event: ") for line in seen if line.startswith("event: ")]
    assert kinds[0] == "approval.decided"
    assert kinds[-2:] == ["run.finished", "end"]
    last = [line.removeprefix("data: ") for line in seen if line.startswith("data: ")][-1]
    assert json.loads(last) == {"run_id": run["id"], "status": "succeeded", "exit_code": 0}
