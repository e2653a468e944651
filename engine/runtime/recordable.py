"""Events about a step that the log cannot keep become that step's failure.

What a step records comes from outside the engine: the parameters its templates rendered, the
result its action returned, the error it raised. If the store refuses one of those (an integer
past 64 bits, text that is not valid Unicode, nesting past what the encoder allows, a result
past ``MAX_EVENT_BYTES``), the write fails; and since events are committed in batches, the
run would stop with nothing recorded and nothing rolled back. So each such event is tried
against the store's encoder before it is recorded, and one that fails is replaced by the
step's failure, which rolls back (or retries) by the step's policy like any other.
"""

from __future__ import annotations

from runbook_engine.core.events import (
    Payload,
    RollbackStepFailed,
    RollbackStepStarted,
    RollbackStepSucceeded,
    StepError,
    StepFailed,
    StepStarted,
    StepSucceeded,
)
from runbook_engine.errors import StoreError
from runbook_engine.store._engine import json_dumps  # the encoder every event goes through

#: the largest event about one step the log takes (a step's printed output is capped apart)
MAX_EVENT_BYTES = 16 * 1024 * 1024


def unrecordable(payload: Payload) -> str | None:
    """Why the log cannot keep ``payload`` (None when it can)."""
    try:
        size = len(json_dumps(payload.to_data()))
    except StoreError as exc:
        return str(exc)
    except (RecursionError, ValueError, OverflowError) as exc:
        return f"cannot store a value as JSON: {exc}"
    if size > MAX_EVENT_BYTES:
        return f"{size:,} bytes of JSON, more than the {MAX_EVENT_BYTES:,} an event may hold"
    return None


def recordable(payload: Payload) -> Payload:
    """``payload`` if the log can keep it, else the failure of its step to record instead.

    A start that cannot be recorded is a failure before the action runs (the caller must not
    run it); a result that cannot be is a failure after it ran; an error that cannot be is
    replaced by one that says so."""
    problem = unrecordable(payload)
    if problem is None:
        return payload
    if isinstance(payload, StepStarted):
        error = StepError(f"the step's parameters cannot be recorded: {problem}", kind="template")
        return StepFailed(step=payload.step, attempt=payload.attempt, error=error)
    if isinstance(payload, StepSucceeded):
        error = StepError(
            f"the action succeeded but its result cannot be recorded: {problem}", kind="result"
        )
        return StepFailed(
            step=payload.step, attempt=payload.attempt, duration=payload.duration, error=error
        )
    if isinstance(payload, StepFailed):
        return StepFailed(
            step=payload.step,
            attempt=payload.attempt,
            duration=payload.duration,
            error=_plain(payload.error, problem),
        )
    if isinstance(payload, RollbackStepStarted):
        error = StepError(
            f"the rollback's parameters cannot be recorded: {problem}", kind="template"
        )
        return RollbackStepFailed(index=payload.index, step=payload.step, error=error)
    if isinstance(payload, RollbackStepSucceeded):
        error = StepError(
            f"the rollback succeeded but its result cannot be recorded: {problem}", kind="result"
        )
        return RollbackStepFailed(
            index=payload.index, step=payload.step, duration=payload.duration, error=error
        )
    if isinstance(payload, RollbackStepFailed):
        return RollbackStepFailed(
            index=payload.index,
            step=payload.step,
            duration=payload.duration,
            error=_plain(payload.error, problem),
        )
    return payload


def _plain(error: StepError | None, problem: str) -> StepError:
    """The error with only what is sure to be recordable: its kind and retry policy."""
    kind = error.kind if error is not None else "crash"
    retryable = error.retryable if error is not None else False
    return StepError(
        f"the step failed ({kind}) with an error that cannot be recorded: {problem}",
        kind=kind,
        retryable=retryable,
    )
