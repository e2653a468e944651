"""Input steps in Slack, against the fake Slack Web API with requests signed as Slack signs
them: the run message's "Provide input" button, the modal built from the fields, refused
values as the modal's errors (nothing recorded, the step still waiting), who may give it, and
a secret value that never reaches Slack."""

from __future__ import annotations

import json
import time
from typing import Any

from runbook_engine.server.serve import Server
from runbook_engine.slack.input_form import InputForm, input_modal
from runbook_engine.slack.messages import INPUT_BUTTON
from runbook_engine.spec.loader import load_text
from runbook_engine.spec.models import InputStep
from runbook_engine.testing.fake_slack import FakeSlack
from tests.slack.slack_helpers import (
    ALICE,
    BOB,
    EVE,
    SlackPlayer,
    button_value,
    ephemerals,
    run_message_of,
    texts,
)

SCALE = """\
apiVersion: runbook/v1
name: scale
version: 1
notify: {channel: "#ops"}
permissions: {run: [U0ALICE, U0BOB, U0EVE]}
steps:
  - id: ask
    input:
      message: "Scale {{ run.requester }}'s service to how many?"
      from: ["@sre-leads"]
      fields:
        replicas: {type: integer, minimum: 1, maximum: 10, description: target count}
        env: {type: enum, choices: [staging, prod], default: staging}
        dry: {type: boolean, default: false}
        token: {type: string, secret: true, required: false}
  - id: apply
    action: shell.command
    with:
      command: 'echo "scale to $N in $ENV dry=$DRY with $TOKEN"'
      env:
        N: "{{ steps.ask.outputs.replicas | string }}"
        ENV: "{{ steps.ask.outputs.env }}"
        DRY: "{{ steps.ask.outputs.dry | string }}"
        TOKEN: "{{ steps.ask.outputs.token or 'none' }}"
"""


def wait_for(what: str, probe: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def waiting_run(server: Server, player: SlackPlayer) -> str:
    (server.engine.catalog.files()[0].parent / "scale.yaml").write_text(SCALE)
    status, _, _ = player.command("run scale", user=ALICE)
    assert status == 200

    def probe() -> str | None:
        for record in server.store.list_runs(limit=5):
            if record.status == "waiting_input" and record.id not in server.executor.driving():
                return record.id
        return None

    return str(wait_for("the run to wait for input", probe))


def input_message(fake: FakeSlack, run_id: str) -> Any:
    return wait_for(
        "the Provide input button",
        lambda: (
            (m := run_message_of(fake, run_id)) is not None
            and INPUT_BUTTON in json.dumps(m.blocks)
            and m
        ),
    )


def click_input(player: SlackPlayer, fake: FakeSlack, run_id: str, user: str) -> int:
    message = input_message(fake, run_id)
    value = button_value(message, INPUT_BUTTON)
    before = len(fake.calls("views.open"))
    status, _, _ = player.click(message.channel, message.ts, INPUT_BUTTON, value, user=user)
    assert status == 200
    return before


def opened_view(fake: FakeSlack, before: int) -> dict[str, Any]:
    call = wait_for("views.open", lambda: fake.calls("views.open")[before:])[0]
    view = call.params["view"]
    return dict(json.loads(view) if isinstance(view, str) else view)


def field_values(**given: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"param:{name}": {"value": element} for name, element in given.items()}


def text_input(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def choice(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value}}


def status_of(server: Server, run_id: str) -> str:
    record = server.store.get_run(run_id)
    return record.status if record is not None else ""


def given_events(server: Server, run_id: str) -> list[Any]:
    return [e for e in server.store.events(run_id) if e.type == "input.given"]


def test_the_modal_round_trip(server: Server, player: SlackPlayer, fake: FakeSlack) -> None:
    run_id = waiting_run(server, player)
    message = input_message(fake, run_id)
    shown = texts(message.blocks)
    assert "`ask`  waiting for input" in shown
    assert f"runbook input {run_id} --set NAME=VALUE" in shown
    # and a reply in its thread, which notifies (an edit does not)
    reply = wait_for(
        "the input reply",
        lambda: [m for m in fake.messages() if m.thread_ts and "Input needed" in m.text],
    )[0]
    assert reply.thread_ts == message.ts
    assert "step `ask`: Scale U0ALICE's service to how many?" in reply.text
    assert "From: `@sre-leads`" in reply.text
    view = opened_view(fake, click_input(player, fake, run_id, BOB))
    assert view["callback_id"] == "runbook_input"
    assert InputForm.loads(view["private_metadata"]) == InputForm(run_id, "ask", message.channel)
    assert "Scale U0ALICE's service to how many?" in texts(view["blocks"])
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert list(inputs) == ["param:replicas", "param:env", "param:dry"]  # no secret asked
    assert inputs["param:replicas"]["element"]["type"] == "plain_text_input"
    assert inputs["param:replicas"]["optional"] is False
    env = inputs["param:env"]["element"]
    assert env["type"] == "static_select"
    assert [o["value"] for o in env["options"]] == ["staging", "prod"]
    assert env["initial_option"]["value"] == "staging"
    assert [o["value"] for o in inputs["param:dry"]["element"]["options"]] == ["true", "false"]
    assert f"runbook input {run_id} --set token=-" in texts(view["blocks"])
    assert "submit" in view  # the secret is optional: the rest can be given here

    # refused values come back as the form's errors; nothing is recorded
    for given, block, why in (
        ({"replicas": text_input("zero")}, "param:replicas", "expected an integer, got 'zero'"),
        ({"replicas": text_input("11")}, "param:replicas", "expected at most 10, got 11"),
    ):
        status, body, _ = player.submit(view, field_values(**given), user=BOB)
        assert status == 200
        answer = json.loads(body)
        assert answer["response_action"] == "errors"
        assert why in answer["errors"][block]
    assert given_events(server, run_id) == []
    record = server.store.get_run(run_id)
    assert record is not None and record.status == "waiting_input"

    status, body, _ = player.submit(
        view,
        field_values(replicas=text_input("4"), env=choice("prod"), dry=choice("true")),
        user=BOB,
    )
    assert status == 200 and not body, body  # accepted: the modal closes
    wait_for("the run to succeed", lambda: status_of(server, run_id) == "succeeded")
    (given,) = given_events(server, run_id)
    assert given.data == {
        "step": "ask",
        "user": BOB,
        "values": {"replicas": 4, "env": "prod", "dry": True, "token": None},
    }
    audit = [
        e for e in server.store.audit_since() if e.action == "input" and e.via == f"slack:{BOB}"
    ]
    assert [e.outcome for e in audit] == ["ok"]
    logs = " ".join(str(e.data) for e in server.store.events(run_id) if e.type == "step.output")
    assert "scale to 4 in prod dry=True with none" in logs


def test_someone_not_in_from_is_refused_at_the_button(
    server: Server, player: SlackPlayer, fake: FakeSlack
) -> None:
    run_id = waiting_run(server, player)
    before_told = len(ephemerals(fake, EVE))
    before = click_input(player, fake, run_id, EVE)
    told = wait_for(
        "the refusal",
        lambda: [t for t in ephemerals(fake, EVE)[before_told:] if t.startswith(":no_entry:")],
    )
    assert told[0] == (
        ":no_entry: U0EVE may not give input to runs of scale (step ask input from: @sre-leads)"
    )
    assert fake.calls("views.open")[before:] == []  # no form for them
    audit = [e for e in server.store.audit_since() if e.action == "input"]
    assert [(e.principal, e.outcome) for e in audit] == [(EVE, "refused")]
    # a form submitted anyway (a stale one, a forged view) is refused the same way
    view = input_modal(InputForm(run_id, "ask", "C0OPS"), step_of(SCALE), "")
    status, body, _ = player.submit(view, field_values(replicas=text_input("2")), user=EVE)
    assert status == 200
    errors = json.loads(body)["errors"]
    assert "U0EVE may not give input" in next(iter(errors.values()))
    assert given_events(server, run_id) == []


def test_a_secret_given_elsewhere_never_reaches_slack(
    server: Server, player: SlackPlayer, fake: FakeSlack
) -> None:
    run_id = waiting_run(server, player)
    secret = "slack-must-never-see-this"
    # given to the server by another door (the API, say), as Bob of the sre-leads group
    given = server.engine.give_input(
        run_id, user=BOB, values={"replicas": "2", "token": secret}, extra_groups=["sre-leads"]
    )
    assert given.values["token"] == "***" and given.secret
    server.executor.resume(run_id, by=BOB, run=given.run)
    wait_for("the run to succeed", lambda: status_of(server, run_id) == "succeeded")
    assert server.notifier is not None and server.notifier.flush(10)
    outputs = [str(e.data) for e in server.store.events(run_id) if e.type == "step.output"]
    assert any("with ***" in line for line in outputs)
    for call in fake.calls():
        assert secret not in json.dumps(call.params, default=str)


def step_of(body: str) -> InputStep:
    step = load_text(body).runbook.steps[0]
    assert isinstance(step, InputStep)
    return step


def test_a_required_secret_field_cannot_be_answered_in_slack() -> None:
    body = SCALE.replace("secret: true, required: false", "secret: true")
    view = input_modal(InputForm("r1", "ask", "C1"), step_of(body), "go?")
    assert "submit" not in view
    assert "this step cannot be answered from Slack" in texts(view["blocks"])
