"""A step that cannot be recorded fails; it never wedges the run (issue 14, point 1).

Before: a template that gave a generator, or an action whose result the store's encoder
refused, raised while the runner committed its batch of events. The run stayed ``running``
with nothing rolled back (the previous step's success was lost with the batch), and ``resume``
crashed the same way on every try."""

from __future__ import annotations

from typing import Any

import pytest

from runbook_engine.core.events import StepError, StepFailed, StepStarted, StepSucceeded
from runbook_engine.core.statuses import EXIT_CODES, EXIT_FAILED, ROLLED_BACK
from runbook_engine.errors import HistoryError
from runbook_engine.plugin import Registry, builtin_actions
from runbook_engine.plugin.contract import Action, ActionContext, ActionParams, Result
from runbook_engine.runtime import recordable
from runbook_engine.service import Engine
from runbook_engine.store import Store
from tests.runtime.runtime_actions import BOARD, TEST_ACTIONS
from tests.runtime.runtime_helpers import of_type, runbook


class ReturnParams(ActionParams):
    kind: str


class ReturnAction(Action):
    """Returns a value the event log cannot keep, of the kind asked for."""

    name = "test.return"
    Params = ReturnParams
    idempotent = True

    def run(self, params: ReturnParams, ctx: ActionContext) -> Result:
        values: dict[str, Any] = {
            "huge_int": 2**70,
            "surrogate": "bad \udcff text",
            "deep": _nested(400),
        }
        return {"value": values[params.kind]}


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.fixture
def registry() -> Registry:
    reg = Registry()
    actions: list[type[Action]] = [*builtin_actions(), *TEST_ACTIONS, ReturnAction]
    for action_cls in actions:
        reg.register(action_cls)
    return reg


UNDONE_FIRST = """
steps:
  - id: first
    action: test.record
    with: {name: first}
    rollback:
      action: test.record
      with: {name: undo-first}
  - id: bad
    action: %s
    with: %s
"""


def _undone(store: Store, run_id: str) -> list[str]:
    return [e.data["step"] for e in of_type(store, run_id, "rollback.step_succeeded")]


def test_a_generator_from_a_template_fails_the_step_and_rolls_back(
    engine: Engine, store: Store
) -> None:
    # a list where the action wants text: the step fails on its input, the run rolls back
    loaded = runbook(UNDONE_FIRST % ("log", "{message: \"{{ ['a', 'b'] | map('upper') }}\"}"))
    out = engine.start(loaded, {}, requester="alice")
    assert out.status == ROLLED_BACK
    assert out.exit_code == EXIT_CODES[ROLLED_BACK] == EXIT_FAILED
    assert _undone(store, out.run_id) == ["first"]
    (started,) = of_type(store, out.run_id, "step.started", "bad")
    assert started.data["with"] == {"message": ["A", "B"]}  # recorded as a list, not lost


def test_a_template_value_with_no_json_form_fails_the_step_by_name(
    engine: Engine, store: Store
) -> None:
    loaded = runbook(UNDONE_FIRST % ("log", '{message: "{{ cycler }}"}'))
    out = engine.start(loaded, {}, requester="alice")
    assert out.status == ROLLED_BACK
    (failed,) = of_type(store, out.run_id, "step.failed", "bad")
    assert failed.data["error"]["kind"] == "template"
    assert "bad.with.message" in failed.data["error"]["message"]
    assert _undone(store, out.run_id) == ["first"]


@pytest.mark.parametrize("kind", ["huge_int", "surrogate", "deep"])
def test_a_result_the_log_cannot_keep_fails_the_step_and_rolls_back(
    engine: Engine, store: Store, kind: str
) -> None:
    loaded = runbook(UNDONE_FIRST % ("test.return", f"{{kind: {kind}}}"))
    out = engine.start(loaded, {}, requester="alice")
    assert out.status == ROLLED_BACK, out
    (failed,) = of_type(store, out.run_id, "step.failed", "bad")
    assert failed.data["error"]["kind"] == "result"
    assert "its result cannot be recorded" in failed.data["error"]["message"]
    assert _undone(store, out.run_id) == ["first"]
    assert ("record", "undo-first", None) in BOARD.journal
    # and the recorded history loads again: nothing left for a resume to trip on
    assert engine.state_of(out.run_id)[2].status == ROLLED_BACK


def test_recordable_keeps_what_the_log_can_keep() -> None:
    ok = StepSucceeded(step="a", attempt=1, result={"n": 1})
    assert recordable.recordable(ok) is ok
    start = StepStarted(step="a", attempt=2, action="log", with_={"n": 2**64})
    failed = recordable.recordable(start)
    assert isinstance(failed, StepFailed) and failed.attempt == 2
    assert failed.error is not None and failed.error.kind == "template"
    error = StepError("boom \udcff", kind="crash", retryable=True)
    plain = recordable.recordable(StepFailed(step="a", error=error))
    assert isinstance(plain, StepFailed) and plain.error is not None
    assert plain.error.kind == "crash" and plain.error.retryable is True
    assert recordable.unrecordable(plain) is None


def test_a_result_past_the_event_size_fails_the_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recordable, "MAX_EVENT_BYTES", 100)
    big = StepSucceeded(step="a", attempt=1, result={"text": "x" * 200})
    failed = recordable.recordable(big)
    assert isinstance(failed, StepFailed) and failed.error is not None
    assert "an event may hold" in failed.error.message


def test_a_history_that_does_not_fold_is_a_clear_error_not_a_traceback(
    engine: Engine, store: Store
) -> None:
    loaded = runbook(
        """
        steps:
          - id: wait
            approval: {message: ok?}
        """
    )
    out = engine.start(loaded, {}, requester="alice", wait_for_approval=False)
    store.append_event(out.run_id, "step.failed", {"step": "wait", "error": 5})
    with pytest.raises(HistoryError, match=r"event \d+ \(step.failed\).*not well formed"):
        engine.resume(out.run_id)
    with pytest.raises(HistoryError):  # the same clear error again, and nothing written
        engine.resume(out.run_id)
    assert store.events(out.run_id)[-1].data == {"step": "wait", "error": 5}
