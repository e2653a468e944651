"""log, sleep, assert, fail."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import pytest
from pydantic import ValidationError

from runbook_engine.actions.core import (
    AssertAction,
    AssertParams,
    FailAction,
    FailParams,
    LogAction,
    LogParams,
    SleepAction,
    SleepParams,
)
from runbook_engine.errors import ActionError, ActionTimeout
from runbook_engine.plugin.contract import ActionContext

CancelAfter = Callable[[ActionContext, float], None]


def test_log_writes_through_ctx_log(ctx: ActionContext, log_lines: list[str]) -> None:
    result = LogAction().run(LogParams(message="restarting api", level="warning"), ctx)
    assert log_lines == ["[warning] restarting api"]
    assert result == {"message": "restarting api", "level": "warning"}


def test_log_defaults_to_info_and_splits_lines(ctx: ActionContext, log_lines: list[str]) -> None:
    LogAction().run(LogParams(message="one\ntwo"), ctx)
    assert log_lines == ["[info] one", "[info] two"]


def test_log_masks_secrets(ctx: ActionContext, log_lines: list[str]) -> None:
    ctx = replace(ctx, secrets=("hunter2",))
    result = LogAction().run(LogParams(message="password is hunter2"), ctx)
    assert log_lines == ["[info] password is ***"]
    assert "hunter2" not in str(result)


def test_log_params_are_checked() -> None:
    with pytest.raises(ValidationError, match="level"):
        LogParams.model_validate({"message": "x", "level": "debug"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        LogParams.model_validate({"message": "x", "colour": "red"})


def test_sleep_waits(ctx: ActionContext) -> None:
    started = time.monotonic()
    result = SleepAction().run(SleepParams.model_validate({"duration": "50ms"}), ctx)
    assert time.monotonic() - started >= 0.05
    assert result["slept"] >= 0.05


def test_sleep_stops_promptly_on_cancel(ctx: ActionContext, cancel_after: CancelAfter) -> None:
    cancel_after(ctx, 0.1)
    started = time.monotonic()
    with pytest.raises(ActionError) as excinfo:
        SleepAction().run(SleepParams.model_validate({"duration": "30s"}), ctx)
    assert time.monotonic() - started < 1.0
    assert excinfo.value.kind == "cancelled"
    assert excinfo.value.retryable is False
    assert not isinstance(excinfo.value, ActionTimeout)


def test_sleep_already_cancelled_returns_at_once(ctx: ActionContext) -> None:
    ctx.cancelled.set()
    started = time.monotonic()
    with pytest.raises(ActionError, match="cancelled"):
        SleepAction().run(SleepParams(duration=10), ctx)
    assert time.monotonic() - started < 0.5


def test_sleep_past_the_deadline_times_out(ctx: ActionContext) -> None:
    ctx = replace(ctx, deadline=0.1)
    started = time.monotonic()
    with pytest.raises(ActionTimeout) as excinfo:
        SleepAction().run(SleepParams(duration=30), ctx)
    assert time.monotonic() - started < 1.0
    assert excinfo.value.retryable is True


def test_cancel_at_the_deadline_is_a_timeout(ctx: ActionContext, cancel_after: CancelAfter) -> None:
    # The runtime sets ``cancelled`` when the step's time is up; that must read as a timeout.
    # The runtime's clock runs slightly ahead of the action's, so it may cancel a little before
    # the action itself would see the deadline pass.
    ctx = replace(ctx, deadline=0.3)
    cancel_after(ctx, 0.25)
    with pytest.raises(ActionTimeout):
        SleepAction().run(SleepParams(duration=10), ctx)


def test_cancel_well_before_the_deadline_is_a_cancel(
    ctx: ActionContext, cancel_after: CancelAfter
) -> None:
    ctx = replace(ctx, deadline=10)
    cancel_after(ctx, 0.1)
    with pytest.raises(ActionError) as excinfo:
        SleepAction().run(SleepParams(duration=10), ctx)
    assert excinfo.value.kind == "cancelled"


def test_assert_passes(ctx: ActionContext) -> None:
    assert AssertAction().run(AssertParams(that=True), ctx) == {"passed": True}


def test_assert_fails_without_retry(ctx: ActionContext) -> None:
    params = AssertParams.model_validate({"that": "false", "message": "api is not healthy"})
    with pytest.raises(ActionError, match="api is not healthy") as excinfo:
        AssertAction().run(params, ctx)
    assert excinfo.value.kind == "assert"
    assert excinfo.value.retryable is False


def test_assert_refuses_values_that_are_not_booleans() -> None:
    # A template that rendered to something odd must not pass by truthiness.
    with pytest.raises(ValidationError):
        AssertParams.model_validate({"that": "maybe"})


def test_fail_is_not_retryable_by_default(ctx: ActionContext) -> None:
    with pytest.raises(ActionError, match="stop here") as excinfo:
        FailAction().run(FailParams(message="stop here"), ctx)
    assert excinfo.value.kind == "fail"
    assert excinfo.value.retryable is False


def test_fail_can_be_retryable(ctx: ActionContext) -> None:
    with pytest.raises(ActionError) as excinfo:
        FailAction().run(FailParams(retryable=True), ctx)
    assert excinfo.value.retryable is True
