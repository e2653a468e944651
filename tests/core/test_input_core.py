"""Input steps in the core: the request, the values as outputs, time-outs, the fold, checks."""

from __future__ import annotations

import pytest

from runbook_engine.core.apply import replay
from runbook_engine.core.inputs import (
    AwaitInput,
    check_values,
    given_secrets,
    masked,
    waiting_input_step,
)
from runbook_engine.core.state import STEP_SUCCEEDED, STEP_WAITING, RunState
from runbook_engine.core.statuses import (
    ACTIVE,
    EXIT_CODES,
    EXIT_WAITING,
    ROLLED_BACK,
    RUNNING,
    SUCCEEDED,
    WAITING_INPUT,
)
from runbook_engine.errors import FieldError, NotWaitingForInput, RunbookInvalid
from runbook_engine.spec.models import InputStep
from tests.core.core_sim import Sim, runbook

ASK = """
parameters: {svc: {type: string}}
steps:
  - {id: write, action: file.write, with: {path: /a, content: "1"}}
  - id: ask
    input:
      message: "How many replicas of {{ params.svc }}?"
      from: ["@sre", bob]
      timeout: 10m
      fields:
        replicas: {type: integer, minimum: 1, maximum: 10, description: target count}
        env: {type: enum, choices: [staging, prod], default: staging}
        ticket: {type: string, pattern: "INC-[0-9]+"}
        token: {type: string, secret: true, required: false}
  - id: after
    action: log
    with: {message: "{{ steps.ask.outputs.replicas }} in {{ steps.ask.outputs.env }}"}
"""


def waiting(body: str = ASK) -> Sim:
    sim = Sim.of(body, params={"svc": "api"}, undo=frozenset({"file.write"}))
    (wait,) = sim.drive()
    assert wait == AwaitInput("ask", sim.state.step("ask").deadline, ("token",))
    assert sim.state.status == WAITING_INPUT
    return sim


def test_the_request_describes_the_form() -> None:
    sim = waiting()
    (requested,) = sim.of_type("input.requested")
    assert requested.data == {
        "step": "ask",
        "message": "How many replicas of api?",
        "from": ["@sre", "bob"],
        "deadline": requested.ts + 600,
        "on_timeout": "fail",
        "fields": [
            {
                "name": "replicas",
                "type": "integer",
                "description": "target count",
                "required": True,
                "secret": False,
                "minimum": 1.0,
                "maximum": 10.0,
            },
            {
                "name": "env",
                "type": "enum",
                "description": "",
                "required": False,
                "secret": False,
                "default": "staging",
                "choices": ["staging", "prod"],
            },
            {
                "name": "ticket",
                "type": "string",
                "description": "",
                "required": True,
                "secret": False,
                "pattern": "INC-[0-9]+",
            },
            {
                "name": "token",
                "type": "string",
                "description": "",
                "required": False,
                "secret": True,
            },
        ],
    }
    assert sim.state.step("ask").status == STEP_WAITING
    assert WAITING_INPUT in ACTIVE and EXIT_CODES[WAITING_INPUT] == EXIT_WAITING


def test_the_values_become_outputs_that_later_steps_read() -> None:
    sim = waiting()
    sim.record("input.given", step="ask", user="bob", values={"replicas": 3, "env": "prod"})
    assert sim.state.status == WAITING_INPUT  # until the step succeeds
    assert sim.state.step("ask").given == {"replicas": 3, "env": "prod"}
    sim.drive()
    assert sim.state.status == SUCCEEDED
    assert sim.state.step("ask").outputs == {"replicas": 3, "env": "prod"}
    assert sim.of_type("step.started")[-1].data["with"] == {"message": "3 in prod"}
    # the status went back to running when the step ended, and nothing of it is rolled back
    assert [c.step for c in sim.state.completed] == ["write", "after"]
    assert replay(sim.layout, sim.events) == sim.state


def test_a_time_out_fails_the_step_and_rolls_back() -> None:
    sim = waiting()
    sim.record("input.timed_out", step="ask")
    sim.drive()
    assert sim.state.status == ROLLED_BACK
    failed = sim.of_type("step.failed")[0].data
    assert failed["step"] == "ask"
    assert failed["error"]["kind"] == "input_timeout"
    assert sim.rolled_back() == [("write", True)]


def test_a_time_out_with_on_failure_continue_goes_on() -> None:
    body = ASK.replace("  - id: ask\n", "  - id: ask\n    on_failure: continue\n")
    body = body.replace("{{ steps.ask.outputs.replicas }} in {{ steps.ask.outputs.env }}", "on")
    sim = waiting(body)
    sim.record("input.timed_out", step="ask")
    sim.drive()
    assert sim.state.status == SUCCEEDED
    assert sim.invoked() == ["write", "after"]


def test_a_time_out_with_on_timeout_default_takes_the_defaults() -> None:
    body = """
steps:
  - id: ask
    input:
      message: go?
      timeout: 1m
      on_timeout: default
      fields:
        count: {type: integer, default: 2}
        note: {type: string, required: false}
  - {id: after, action: log, with: {message: "{{ steps.ask.outputs.count }}"}}
"""
    sim = Sim.of(body)
    (wait,) = sim.drive()
    assert isinstance(wait, AwaitInput) and wait.secret == ()
    sim.record("input.timed_out", step="ask")
    sim.drive()
    assert sim.state.status == SUCCEEDED
    assert sim.state.step("ask").outputs == {"count": 2, "note": None}


def test_a_cancel_while_waiting_rolls_back() -> None:
    sim = waiting()
    sim.record("run.cancel_requested", by="carol")
    sim.drive()
    assert sim.state.status == "cancelled"


def test_values_are_checked_like_parameters() -> None:
    step = runbook(ASK).steps[1]
    assert isinstance(step, InputStep)
    ok = check_values(step, {"replicas": "3", "ticket": "INC-42"}, from_text=True)
    assert ok == {"replicas": 3, "env": "staging", "ticket": "INC-42", "token": None}
    refusals: dict[str, tuple[dict[str, object], str]] = {
        "replicas": ({"replicas": "many", "ticket": "INC-1"}, "expected an integer, got 'many'"),
        "env": ({"replicas": 2, "env": "dev", "ticket": "INC-1"}, "expected one of staging, prod"),
        "ticket": ({"replicas": 2, "ticket": "JIRA-1"}, "expected text matching"),
        "replica": ({"replica": 2}, "step ask has no such field; did you mean 'replicas'?"),
    }
    for name, (given, why) in refusals.items():
        with pytest.raises(FieldError) as info:
            check_values(step, given, from_text=False)
        assert info.value.name == name
        assert why in str(info.value)
        assert str(info.value).startswith(f"field {name!r}: ")
    with pytest.raises(FieldError, match="'ticket': is required"):
        check_values(step, {"replicas": 2}, from_text=True)
    with pytest.raises(FieldError, match="at most 10"):
        check_values(step, {"replicas": 11, "ticket": "INC-1"}, from_text=False)
    with pytest.raises(NotWaitingForInput, match="timed out"):
        check_values(step, {}, from_text=True, deadline=10.0, now=11.0)


def test_secret_values_are_masked_and_known_to_be_missing() -> None:
    step = runbook(ASK).steps[1]
    assert isinstance(step, InputStep)
    assert masked(step.input, {"replicas": 2, "token": "s3cr3t"}) == {
        "replicas": 2,
        "token": "***",
    }
    assert masked(step.input, {"token": None}) == {"token": None}  # nothing to hide
    sim = waiting()
    sim.record("input.given", step="ask", user="bob", values={"replicas": 2, "token": "***"})
    assert given_secrets(sim.rb, sim.state) == {"ask": ["token"]}
    sim.drive()
    assert sim.state.step("ask").status == STEP_SUCCEEDED
    assert given_secrets(sim.rb, sim.state) == {}  # the run is over: nothing needs it


def test_waiting_step_says_why_not() -> None:
    sim = waiting()
    assert waiting_input_step(sim.rb, sim.state).id == "ask"
    sim.record("input.given", step="ask", user="bob", values={"replicas": 2})
    with pytest.raises(NotWaitingForInput, match="given already"):
        waiting_input_step(sim.rb, sim.state)
    with pytest.raises(NotWaitingForInput, match="the run is running, not waiting for input"):
        waiting_input_step(sim.rb, RunState(status=RUNNING))


def test_a_checkpoint_keeps_the_given_values() -> None:
    sim = waiting()
    sim.record("input.given", step="ask", user="bob", values={"replicas": 2})
    again = RunState.from_checkpoint(sim.state.to_checkpoint())
    assert again.step("ask").given == {"replicas": 2}
    assert again.status == WAITING_INPUT


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        ("fields: {}", "at least one field"),
        ("fields: {Bad: {type: string}}", "field name 'Bad'"),
        ("fields: {n: {type: integer}}\n      on_timeout: default", "n has none"),
        ("fields: {n: {type: integer}}\n      frm: [bob]", "did you mean 'from'"),
    ],
)
def test_a_broken_input_block_is_located(block: str, problem: str) -> None:
    body = f"steps:\n  - id: ask\n    input:\n      message: hi\n      {block}\n"
    with pytest.raises(RunbookInvalid) as info:
        runbook(body)
    (found,) = info.value.problems
    assert problem in found.message
    assert found.line is not None and found.line >= 4
    assert found.path.startswith("steps[0].input")
