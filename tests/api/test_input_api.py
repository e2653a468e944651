"""``POST /api/v1/runs/{id}/input`` and the run JSON's ``input``: values checked like
parameters (a refused one is a 400 naming the field, the step still waiting), who may give
them (403), a run that waits for none (409), a secret value kept out of every answer and of
the store."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import ALICE, BOB, CAROL, Api

ASK = f"""\
apiVersion: runbook/v1
name: ask
version: 1
permissions:
  run: [{ALICE}, {BOB}, {CAROL}]
steps:
  - id: ask
    input:
      message: "Scale to how many? asked by {{{{ run.requester }}}}"
      from: [{BOB}]
      fields:
        replicas: {{type: integer, minimum: 1, maximum: 10, description: target count}}
        env: {{type: enum, choices: [staging, prod], default: staging}}
        token: {{type: string, secret: true, required: false}}
  - id: apply
    action: shell.command
    with:
      command: 'echo "scale to $N in $ENV with $TOKEN"'
      env:
        N: "{{{{ steps.ask.outputs.replicas | string }}}}"
        ENV: "{{{{ steps.ask.outputs.env }}}}"
        TOKEN: "{{{{ steps.ask.outputs.token or 'none' }}}}"
"""


TIMED = f"""\
apiVersion: runbook/v1
name: timed-ask
version: 1
permissions:
  run: [{ALICE}]
steps:
  - id: ask
    input:
      message: how many?
      timeout: 1s
      on_timeout: ON_TIMEOUT
      fields:
        count: {{type: integer, default: 2}}
  - {{id: after, action: log, with: {{message: "count {{{{ steps.ask.outputs.count }}}}"}}}}
"""


@pytest.fixture(scope="module")
def asks(api: Api) -> Api:
    """The server, with these tests' runbooks among its files."""
    books = api.root / "runbooks"
    (books / "ask.yaml").write_text(ASK, encoding="utf-8")
    for on_timeout in ("default", "fail"):
        name = f"timed-ask-{on_timeout}"
        body = TIMED.replace("ON_TIMEOUT", on_timeout).replace("name: timed-ask", f"name: {name}")
        (books / f"{name}.yaml").write_text(body, encoding="utf-8")
    return api


def waiting(api: Api) -> str:
    answer = api.as_user(ALICE).post("/runs", json={"runbook": "ask"})
    assert answer.status_code == 201, answer.text
    run_id = str(answer.json()["id"])
    api.wait_settled(run_id, "waiting_input")
    return run_id


def given_events(api: Api, run_id: str) -> list[dict[str, Any]]:
    return [e.data for e in api.store.events(run_id) if e.type == "input.given" and e.data]


def test_the_run_says_what_it_waits_for_and_goes_on_with_the_values(asks: Api) -> None:
    run_id = waiting(asks)
    body = asks.run(run_id)
    assert body["status"] == "waiting_input" and body["exit_code"] == 5
    asked = body["input"]
    assert asked["step"] == "ask"
    assert asked["message"] == f"Scale to how many? asked by {ALICE}"
    assert asked["from"] == [BOB]
    assert [f["name"] for f in asked["fields"]] == ["replicas", "env", "token"]
    assert asked["fields"][0] == {
        "name": "replicas",
        "type": "integer",
        "description": "target count",
        "required": True,
        "secret": False,
        "minimum": 1.0,
        "maximum": 10.0,
    }
    assert asked["fields"][1]["choices"] == ["staging", "prod"]
    assert asked["fields"][2]["secret"] is True
    answer = asks.as_user(BOB).post(f"/runs/{run_id}/input", json={"values": {"replicas": 3}})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "run_id": run_id,
        "step": "ask",
        "values": {"replicas": 3, "env": "staging", "token": None},
        "user": BOB,
        "continued_by": "here",
    }
    done = asks.wait_status(run_id, "succeeded")
    assert done["input"] is None
    assert done["state"]["steps"]["ask"]["outputs"]["replicas"] == 3
    result = done["state"]["steps"]["apply"]["result"]
    assert "scale to 3 in staging with none" in result["stdout"]


@pytest.mark.parametrize(
    ("values", "field", "why"),
    [
        ({"replicas": "many"}, "replicas", "expected an integer, got 'many'"),
        ({"replicas": 11}, "replicas", "expected at most 10, got 11"),
        ({"replicas": 2, "env": "dev"}, "env", "expected one of staging, prod; got 'dev'"),
        ({"replicas": 2, "region": "eu"}, "region", "step ask has no such field"),
        ({}, "replicas", "is required (target count)"),
        ({"replicas": True}, "replicas", "expected an integer, got a boolean"),
    ],
)
def test_a_refused_value_names_the_field_and_the_step_keeps_waiting(
    asks: Api, values: dict[str, Any], field: str, why: str
) -> None:
    run_id = waiting(asks)
    answer = asks.as_user(BOB).post(f"/runs/{run_id}/input", json={"values": values})
    assert answer.status_code == 400, answer.text
    problem = answer.json()
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert problem["field"] == field
    assert why in problem["detail"]
    assert problem["detail"].startswith(f"field {field!r}: ")
    assert given_events(asks, run_id) == []
    assert asks.run(run_id)["status"] == "waiting_input"


def test_only_the_step_s_from_may_give_it(asks: Api) -> None:
    run_id = waiting(asks)
    for user in (ALICE, CAROL):  # the requester, and someone who may run it: not named
        answer = asks.as_user(user).post(f"/runs/{run_id}/input", json={"values": {"replicas": 2}})
        assert answer.status_code == 403, answer.text
        assert answer.json()["detail"] == (
            f"{user} may not give input to runs of ask (step ask input from: {BOB})"
        )
    # a token whose ceiling holds no input (view) is refused before the rule is asked
    viewer = asks.as_user(BOB, roles=["view"])
    answer = viewer.post(f"/runs/{run_id}/input", json={"values": {"replicas": 2}})
    assert answer.status_code == 403
    assert "allows only: view" in answer.json()["detail"]
    refused = [e for e in asks.store.audit_since() if e.action == "input" and e.target == run_id]
    assert {(e.principal, e.outcome) for e in refused} == {
        (ALICE, "refused"),
        (CAROL, "refused"),
        (BOB, "refused"),
    }
    assert given_events(asks, run_id) == []
    # the approve role holds it too (a person answering the run)
    approver = asks.as_user(BOB, roles=["approve"])
    answer = approver.post(f"/runs/{run_id}/input", json={"values": {"replicas": 2}})
    assert answer.status_code == 200, answer.text
    asks.wait_status(run_id, "succeeded")


def test_no_input_to_a_run_that_waits_for_none(asks: Api) -> None:
    run_id = waiting(asks)
    bob = asks.as_user(BOB)
    assert bob.post(f"/runs/{run_id}/input", json={"values": {"replicas": 1}}).status_code == 200
    asks.wait_status(run_id, "succeeded")
    again = bob.post(f"/runs/{run_id}/input", json={"values": {"replicas": 1}})
    assert again.status_code == 409, again.text
    assert again.json()["detail"] == "the run is succeeded, not waiting for input"
    assert len(given_events(asks, run_id)) == 1


def test_a_secret_value_is_used_and_never_stored_or_answered(asks: Api) -> None:
    run_id = waiting(asks)
    secret = "api-given-secret-42"
    bob = asks.as_user(BOB)
    answer = bob.post(f"/runs/{run_id}/input", json={"values": {"replicas": 2, "token": secret}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["values"]["token"] == "***"
    done = asks.wait_status(run_id, "succeeded")
    # the command was given the value (its output shows it masked)
    assert "scale to 2 in staging with ***" in done["state"]["steps"]["apply"]["result"]["stdout"]
    for event in asks.store.events(run_id):
        assert secret not in str(event.data)
    record = asks.store.get_run(run_id)
    assert record is not None and secret not in str(record.state) + str(record.params)
    events = bob.get(f"/runs/{run_id}/events").text
    assert secret not in events and secret not in bob.get(f"/runs/{run_id}").text
    audit = [e for e in asks.store.audit_since() if e.action == "input" and e.target == run_id]
    assert audit and all(secret not in str(e.detail) for e in audit)


@pytest.mark.parametrize(("on_timeout", "status"), [("default", "succeeded"), ("fail", "failed")])
def test_the_server_applies_the_time_out_of_a_run_nobody_drives(
    asks: Api, on_timeout: str, status: str
) -> None:
    name = f"timed-ask-{on_timeout}"
    answer = asks.as_user(ALICE).post("/runs", json={"runbook": name})
    assert answer.status_code == 201, answer.text
    run_id = str(answer.json()["id"])
    done = asks.wait_status(run_id, status, timeout=20)
    types = [e.type for e in asks.store.events(run_id)]
    assert "input.timed_out" in types
    if on_timeout == "default":
        assert done["state"]["steps"]["ask"]["outputs"] == {"count": 2}
    else:
        assert done["state"]["steps"]["ask"]["error"]["kind"] == "input_timeout"
    late = asks.as_user(ALICE).post(f"/runs/{run_id}/input", json={"values": {"count": 1}})
    assert late.status_code == 409
