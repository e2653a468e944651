"""call_action: parameters, errors, timeouts and results as the event log keeps them."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from runbook_engine.errors import ActionError
from runbook_engine.plugin import Action, ActionContext, ActionParams, Registry, Result
from runbook_engine.runtime.invoke import LineBuffer, Outcome, call_action, json_safe
from runbook_engine.service import Engine
from runbook_engine.store import Store
from tests.runtime.runtime_helpers import of_type, runbook


class NumberParams(ActionParams):
    n: int


class Echo(Action):
    name = "test.echo"
    Params = NumberParams

    def run(self, params: NumberParams, ctx: ActionContext) -> Result:
        if params.n < 0:
            raise ValueError("negative")  # a plugin bug, not an ActionError
        if params.n == 0:
            raise ActionError("zero", retryable=True, kind="zero", host="h1", retry_after=3)
        return {"n": params.n, "at": dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)}

    def undo(self, params: NumberParams, result: Mapping[str, Any], ctx: ActionContext) -> Result:
        return {"undid": result["n"], "deadline": ctx.deadline}


class Slow(Action):
    """Waits for the cancel that a timeout sets, like every well-behaved action."""

    name = "test.slow"
    Params = ActionParams

    def run(self, params: ActionParams, ctx: ActionContext) -> Result:
        stopped = ctx.cancelled.wait(30)
        return {"stopped": stopped}


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as executor:
        yield executor


def call(pool: ThreadPoolExecutor, action: Action, params: dict[str, Any], **kw: Any) -> Outcome:
    ctx = ActionContext(run_id="r", step_id="s")
    timeout = kw.pop("timeout", None)
    return asyncio.run(call_action(pool, action, params, ctx, timeout, **kw))


def test_a_result_is_kept_as_json(pool: ThreadPoolExecutor) -> None:
    out = call(pool, Echo(), {"n": 2})
    assert out.ok
    assert out.result == {"n": 2, "at": "2024-05-06T07:08:09+00:00"}
    assert out.duration >= 0


def test_invalid_parameters_are_an_input_error(pool: ThreadPoolExecutor) -> None:
    out = call(pool, Echo(), {"n": "x", "extra": 1})
    assert not out.ok
    assert out.error is not None
    assert out.error.kind == "input"
    assert out.error.retryable is False
    assert "extra: unknown parameter" in out.error.message
    assert "n: " in out.error.message


def test_an_action_error_keeps_its_meaning(pool: ThreadPoolExecutor) -> None:
    out = call(pool, Echo(), {"n": 0})
    assert out.error is not None
    assert out.error.to_data() == {
        "message": "h1: zero",
        "kind": "zero",
        "retryable": True,
        "host": "h1",
        "retry_after": 3,
    }


def test_an_unexpected_exception_is_a_crash_never_retried(pool: ThreadPoolExecutor) -> None:
    out = call(pool, Echo(), {"n": -1})
    assert out.error is not None
    assert out.error.to_data() == {
        "message": "ValueError: negative",
        "kind": "crash",
        "retryable": False,
    }


def test_undo_gets_the_result_it_undoes(pool: ThreadPoolExecutor) -> None:
    out = call(pool, Echo(), {"n": 4}, undo=True, undo_result={"n": 4}, timeout=9)
    assert out.result == {"undid": 4, "deadline": 9}


def test_a_timeout_stops_the_action(pool: ThreadPoolExecutor) -> None:
    out = call(pool, Slow(), {}, timeout=0.2)
    assert not out.ok
    assert out.error is not None
    assert out.error.kind == "timeout"
    assert out.error.message == "timed out after 0.2s"  # it stopped within the grace
    assert out.duration < 5


def test_json_safe() -> None:
    assert json_safe(
        {
            1: {"b", "a"},
            "t": (dt.date(2024, 1, 2), b"\xffok"),
            "f": [float("nan"), 1.5, float("inf")],
            "o": object,
        }
    ) == {
        "1": ["a", "b"],
        "t": ["2024-01-02", "\ufffdok"],
        "f": ["nan", 1.5, "inf"],
        "o": "<class 'object'>",
    }


def test_line_buffer_redacts_and_drains() -> None:
    buffer = LineBuffer()
    write = buffer.sink("s", lambda line: line.replace("pw", "**"))
    threads = [threading.Thread(target=write, args=(f"line {i} pw\n",)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = buffer.drain()["s"]
    assert sorted(lines) == [f"line {i} **" for i in range(5)]
    assert buffer.drain() == {}


def test_a_step_whose_result_is_not_json_still_succeeds(
    engine: Engine, store: Store, registry: Registry
) -> None:
    registry.register(Echo)
    loaded = runbook(
        """
        steps:
          - {id: e, action: test.echo, with: {n: 3}, outputs: {at: "{{ result.at }}"}}
        """
    )
    out = engine.start(loaded, {}, requester="alice")
    assert out.status == "succeeded"
    assert out.state.step("e").outputs == {"at": "2024-05-06T07:08:09+00:00"}
    (done,) = of_type(store, out.run_id, "step.succeeded", "e")
    assert done.data["result"]["at"] == "2024-05-06T07:08:09+00:00"
