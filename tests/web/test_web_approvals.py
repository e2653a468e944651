"""``/approvals``: the runs waiting for the signed-in user's decision, and only those (tests/api's
runbooks: ``gate1`` needs one approval of alice, bob or carol, ``gate`` two)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.api.conftest import ALICE, BOB, CAROL, DAVE, OUTSIDER, wait_for
from tests.web.conftest import Console
from tests.web.test_web_runbooks import run_in


def start(console: Console, runbook: str) -> str:
    """A run of ``runbook`` started by alice, once it waits for approval."""
    answer = console.api(ALICE).post("/runs", json={"runbook": runbook})
    assert answer.status_code == 201, answer.text
    run_id: str = answer.json()["id"]
    run_in(console, run_id, "waiting_approval")
    wait_for(f"run {run_id} to be let go", lambda: run_id not in console.server.executor.driving())
    return run_id


def listed(client: httpx.Client) -> list[str]:
    """The run ids the inbox lists, in its order."""
    answer = client.get("/approvals")
    assert answer.status_code == 200, answer.text
    return re.findall(r'<a href="/runs/([0-9a-f]+)">', answer.text)


def row_of(client: httpx.Client, run_id: str) -> str:
    html = client.get("/approvals").text
    found = re.search(rf'<tr>\s*<td data-label="Run"><a href="/runs/{run_id}">.*?</tr>', html, re.S)
    assert found is not None, html
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(0)).split())


def decide(console: Console, user: str, run_id: str, **body: Any) -> None:
    answer = console.api(user).post(f"/runs/{run_id}/approve", json=body or None)
    assert answer.status_code == 200, answer.text


def test_the_inbox_lists_runs_waiting_for_the_user(console: Console) -> None:
    run_id = start(console, "gate1")
    bob, carol = console.as_user(BOB), console.as_user(CAROL)
    assert run_id in listed(bob)
    assert run_id in listed(carol)
    row = row_of(bob, run_id)
    assert f"gate1 v1 {ALICE} approve 0 of 1" in row
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", row)


def test_not_the_requesters_nor_a_non_approvers(console: Console) -> None:
    run_id = start(console, "gate1")
    assert run_id not in listed(console.as_user(ALICE))  # she started it
    assert run_id not in listed(console.as_user(DAVE))  # staff, but no approver
    outsider = listed(console.as_user(OUTSIDER))
    assert run_id not in outsider


def test_a_decided_run_leaves_the_inbox(console: Console) -> None:
    run_id = start(console, "gate1")
    bob, carol = console.as_user(BOB), console.as_user(CAROL)
    decide(console, BOB, run_id)
    run_in(console, run_id, "succeeded")
    assert run_id not in listed(bob)
    assert run_id not in listed(carol)


def test_who_has_approved_is_not_asked_again(console: Console) -> None:
    run_id = start(console, "gate")  # two approvals needed
    bob, carol = console.as_user(BOB), console.as_user(CAROL)
    decide(console, BOB, run_id)
    wait_for(
        "the decision to be recorded",
        lambda: any(e.type == "approval.decided" for e in console.store.events(run_id)),
    )
    assert run_id not in listed(bob)
    assert run_id in listed(carol)
    assert "approve 1 of 2" in row_of(carol, run_id)


def test_newest_first(console: Console) -> None:
    first = start(console, "gate1")
    second = start(console, "gate1")
    ids = listed(console.as_user(CAROL))
    assert ids.index(second) < ids.index(first)


def test_an_empty_inbox_says_so(console: Console) -> None:
    answer = console.as_user(OUTSIDER).get("/approvals")
    assert answer.status_code == 200
    assert "Nothing is waiting for you." in answer.text


def test_a_view_only_token_has_nothing_to_decide(console: Console) -> None:
    run_id = start(console, "gate1")
    assert run_id in listed(console.as_user(BOB))
    assert run_id not in listed(console.as_user(BOB, roles=["view"]))


def test_signed_out_visitors_are_sent_to_sign_in(console: Console) -> None:
    answer = console.client().get("/approvals")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?next=/approvals"
