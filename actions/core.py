"""Built-in actions that touch nothing outside the run: ``log``, ``sleep``, ``assert``, ``fail``."""

from __future__ import annotations

import time
from typing import Literal

from runbook_engine.actions._common import DurationSeconds, redact, stop_error
from runbook_engine.errors import ActionError, ActionTimeout
from runbook_engine.plugin.contract import Action, ActionContext, ActionParams, Result

__all__ = [
    "AssertAction",
    "AssertParams",
    "FailAction",
    "FailParams",
    "LogAction",
    "LogParams",
    "SleepAction",
    "SleepParams",
]


class LogParams(ActionParams):
    """Parameters of ``log``."""

    message: str
    level: Literal["info", "warning", "error"] = "info"


class LogAction(Action):
    """Write one message into the run log (secrets masked)."""

    name = "log"
    Params = LogParams
    idempotent = True
    effects = False  # it writes into the run's own log, nowhere else
    description = "Write a message into the run log."

    def run(self, params: LogParams, ctx: ActionContext) -> Result:
        """Send ``[level] message`` through ``ctx.log``; the result repeats what was logged."""
        message = redact(params.message, ctx.secrets)
        for line in message.splitlines() or [""]:
            ctx.log(f"[{params.level}] {line}")
        return {"message": message, "level": params.level}


class SleepParams(ActionParams):
    """Parameters of ``sleep``: seconds as a number or a duration string such as ``"1m30s"``."""

    duration: DurationSeconds


class SleepAction(Action):
    """Wait a while (for a service to settle, a cache to expire), stopping at once on cancel."""

    name = "sleep"
    Params = SleepParams
    idempotent = True
    effects = False
    description = "Wait for a duration; stops immediately when the step is cancelled."

    def run(self, params: SleepParams, ctx: ActionContext) -> Result:
        """Wait ``duration`` seconds, or less if the step's deadline or a cancel comes first."""
        started = time.monotonic()
        wait = params.duration
        # Waiting past the step's deadline only to be cancelled is pointless; stop at the deadline
        # and report the timeout ourselves so the outcome does not depend on the runtime's timing.
        over_deadline = ctx.deadline is not None and params.duration > ctx.deadline
        if ctx.deadline is not None:
            wait = min(wait, max(ctx.deadline, 0.0))
        if ctx.cancelled.wait(wait):
            raise stop_error(ctx, started, f"sleep {params.duration:g}s")
        if over_deadline:
            raise ActionTimeout(
                f"sleep {params.duration:g}s timed out after {time.monotonic() - started:.1f}s"
            )
        return {"slept": round(time.monotonic() - started, 3)}


class AssertParams(ActionParams):
    """Parameters of ``assert``: ``that`` is the (already rendered) condition."""

    that: bool
    message: str = "assertion failed"


class AssertAction(Action):
    """Stop the run when a condition does not hold, e.g. a health check's result."""

    name = "assert"
    Params = AssertParams
    idempotent = True
    effects = False
    description = "Fail (without retry) when a condition is false."

    def run(self, params: AssertParams, ctx: ActionContext) -> Result:
        """Return ``{"passed": True}`` or raise a non-retryable ``ActionError(kind="assert")``."""
        if not params.that:
            # Retrying cannot change a value the engine already rendered, hence not retryable.
            raise ActionError(redact(params.message, ctx.secrets), retryable=False, kind="assert")
        return {"passed": True}


class FailParams(ActionParams):
    """Parameters of ``fail``."""

    message: str = "failed by the runbook"
    retryable: bool = False


class FailAction(Action):
    """Always fail: an explicit stop in a runbook, and a way to exercise rollbacks."""

    name = "fail"
    Params = FailParams
    # Failing again has no effect beyond the first failure.
    idempotent = True
    effects = False
    description = "Always fail with the given message."

    def run(self, params: FailParams, ctx: ActionContext) -> Result:
        """Raise ``ActionError(kind="fail")`` with the given message and retryability."""
        raise ActionError(
            redact(params.message, ctx.secrets), retryable=params.retryable, kind="fail"
        )
