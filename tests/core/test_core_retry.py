"""Retries: how many, how long between them, which errors, and retry_after."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runbook_engine.core.decide import Invoke, Record, retry_delay
from runbook_engine.core.events import EventType
from runbook_engine.core.state import STEP_RETRY_WAIT, STEP_SUCCEEDED
from runbook_engine.core.statuses import FAILED, SUCCEEDED
from runbook_engine.spec.models import ActionStep
from tests.core.core_sim import Sim, error, runbook


def action_step(retry: str) -> ActionStep:
    rb = runbook(f"steps:\n  - {{id: a, action: log, with: {{message: a}}, retry: {retry}}}\n")
    step = rb.steps[0]
    assert isinstance(step, ActionStep)
    return step


def test_delay_grows_by_backoff_per_attempt() -> None:
    step = action_step("{attempts: 5, delay: 2s, backoff: 3}")
    assert [retry_delay(step, n, 0.5) for n in (1, 2, 3, 4)] == [2.0, 6.0, 18.0, 54.0]


def test_max_delay_caps_the_growth() -> None:
    step = action_step("{attempts: 5, delay: 1s, backoff: 2, max_delay: 5s}")
    assert [retry_delay(step, n, 0.5) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_jitter_spreads_the_delay_evenly_around_it() -> None:
    step = action_step("{attempts: 3, delay: 10s, jitter: 0.2}")
    assert retry_delay(step, 1, 0.0) == pytest.approx(8.0)
    assert retry_delay(step, 1, 0.5) == pytest.approx(10.0)
    assert retry_delay(step, 1, 0.75) == pytest.approx(11.0)


@settings(max_examples=200, deadline=None)
@given(
    delay=st.floats(0, 600),
    backoff=st.floats(1, 10),
    max_delay=st.none() | st.floats(0, 600),
    jitter=st.floats(0, 1),
    attempt=st.integers(1, 30),
    sample=st.floats(0, 1, exclude_max=True),
)
def test_retry_delay_stays_within_its_bounds(
    delay: float,
    backoff: float,
    max_delay: float | None,
    jitter: float,
    attempt: int,
    sample: float,
) -> None:
    step = action_step(
        f"{{attempts: 30, delay: {delay!r}, backoff: {backoff!r}, jitter: {jitter!r}"
        + (f", max_delay: {max_delay!r}}}" if max_delay is not None else "}")
    )
    base = delay * backoff ** (attempt - 1)
    if max_delay is not None:
        base = min(base, max_delay)
    got = retry_delay(step, attempt, sample)
    assert got >= 0
    assert base * (1 - jitter) - 1e-9 <= got <= base * (1 + jitter) + 1e-9
    if max_delay is not None:
        assert got <= max_delay  # a cap is a cap, jitter included


RETRYING = """
steps:
  - id: a
    action: http.request
    with: {url: "http://x"}
    retry: {attempts: 3, delay: 2s, backoff: 2}
  - {id: b, action: log, with: {message: b}}
"""


def test_retries_a_retryable_error_until_attempts_are_used_up() -> None:
    sim = Sim.of(RETRYING)
    (first,) = sim.advance()
    assert isinstance(first, Invoke)
    assert (first.attempt, first.not_before) == (1, None)
    sim.start(first)
    sim.fail(first, error("unreachable", retryable=True))
    assert sim.decide() == [
        Record(EventType.STEP_RETRY, {"step": "a", "attempt": 2, "delay": 2.0, "at": sim.now + 2.0})
    ]
    sim.advance()
    assert sim.state.step("a").status == STEP_RETRY_WAIT
    (second,) = sim.decide()
    assert isinstance(second, Invoke)
    assert (second.attempt, second.not_before) == (2, sim.now + 2.0)

    sim.now += 2.0
    sim.start(second)
    sim.fail(second, error("unreachable", retryable=True))
    (retry,) = sim.decide()
    assert isinstance(retry, Record)
    assert retry.data["delay"] == 4.0  # delay * backoff
    sim.advance()
    (third,) = sim.decide()
    assert isinstance(third, Invoke)
    assert third.attempt == 3
    sim.start(third)
    sim.fail(third, error("unreachable", retryable=True))
    sim.drive()
    assert len(sim.of_type("step.retry")) == 2
    assert "rollback.started" in sim.types()  # third failure: attempts used up
    assert sim.state.step("a").attempt == 3
    assert sim.state.status == FAILED


def test_a_retry_that_succeeds_carries_on() -> None:
    sim = Sim.of(RETRYING)
    outcomes = iter([error(retryable=True), error(retryable=True), {"status": 200}, {}])
    sim.drive(lambda _cmd: next(outcomes))
    assert sim.state.status == SUCCEEDED
    assert sim.invoked() == ["a", "a", "a", "b"]
    assert [e.data["attempt"] for e in sim.of_type("step.started")] == [1, 2, 3, 1]
    assert sim.state.step("a").status == STEP_SUCCEEDED
    assert sim.state.step("a").attempt == 3


def test_a_non_retryable_error_is_not_retried() -> None:
    sim = Sim.of(RETRYING)
    sim.drive(lambda _cmd: error("input", retryable=False))
    assert sim.invoked() == ["a"]
    assert "step.retry" not in sim.types()
    assert sim.state.status == FAILED


def test_on_any_retries_non_retryable_errors_too() -> None:
    sim = Sim.of(RETRYING.replace("backoff: 2}", "backoff: 2, on: any}"))
    sim.drive(lambda _cmd: error("input", retryable=False))
    assert sim.invoked() == ["a", "a", "a"]


def test_retry_after_from_the_error_is_honoured() -> None:
    sim = Sim.of(RETRYING)
    (cmd,) = sim.advance()
    assert isinstance(cmd, Invoke)
    sim.start(cmd)
    sim.fail(cmd, error("http", retryable=True, retry_after=30))
    (retry,) = sim.decide()
    assert isinstance(retry, Record)
    assert retry.data["delay"] == 30.0
    assert retry.data["at"] == sim.now + 30


def test_a_short_retry_after_does_not_shorten_the_policy_delay() -> None:
    sim = Sim.of(RETRYING)
    (cmd,) = sim.advance()
    assert isinstance(cmd, Invoke)
    sim.start(cmd)
    sim.fail(cmd, error("http", retryable=True, retry_after=0.5))
    (retry,) = sim.decide()
    assert isinstance(retry, Record)
    assert retry.data["delay"] == 2.0


def test_jitter_uses_the_env_sample() -> None:
    sim = Sim.of(RETRYING.replace("backoff: 2}", "backoff: 2, jitter: 0.5}"), random=0.0)
    (cmd,) = sim.advance()
    assert isinstance(cmd, Invoke)
    sim.start(cmd)
    sim.fail(cmd, error(retryable=True))
    (retry,) = sim.decide()
    assert isinstance(retry, Record)
    assert retry.data["delay"] == 1.0


def test_no_retry_once_the_run_is_cancelled() -> None:
    sim = Sim.of(RETRYING)
    (cmd,) = sim.advance()
    assert isinstance(cmd, Invoke)
    sim.start(cmd)
    sim.record("run.cancel_requested", by="bob")
    sim.fail(cmd, error("cancelled", retryable=True))
    (rec,) = sim.decide()
    assert isinstance(rec, Record)
    assert rec.type == "rollback.started"
    assert rec.data["reason"] == "cancelled"


def test_a_retry_wait_is_not_reentered_on_cancel() -> None:
    sim = Sim.of(RETRYING)
    (cmd,) = sim.advance()
    assert isinstance(cmd, Invoke)
    sim.start(cmd)
    sim.fail(cmd, error(retryable=True))
    sim.advance()
    assert sim.state.step("a").status == STEP_RETRY_WAIT
    sim.record("run.cancel_requested", by="bob")
    sim.drive()
    assert sim.invoked() == ["a"]
    assert sim.state.status == "cancelled"
