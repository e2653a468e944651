"""Helpers shared by the built-in actions: secret redaction, stop reasons, duration fields."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema

from runbook_engine.durations import parse_duration
from runbook_engine.errors import ActionError, ActionTimeout
from runbook_engine.plugin.contract import ActionContext
from runbook_engine.spec.models import DURATION_SCHEMA

__all__ = [
    "REDACTED",
    "DurationSeconds",
    "PositiveSeconds",
    "redact",
    "redact_value",
    "stop_error",
]

REDACTED = "***"

# The runtime computes ``ctx.deadline`` a moment before ``run`` starts and sets ``ctx.cancelled``
# a moment after the deadline passes, so an action's own clock lags the runtime's slightly. A
# cancel this close to the deadline is the step timeout, not an operator's cancel.
_DEADLINE_SLACK = 0.25


def _to_seconds(value: object) -> object:
    """Accept numbers and duration strings; hand anything else to pydantic to reject."""
    if isinstance(value, str | int | float):
        return parse_duration(value)
    return value


#: seconds, written as a number or a duration string such as ``"1m30s"``; never negative
DurationSeconds = Annotated[
    float, BeforeValidator(_to_seconds), Field(ge=0), WithJsonSchema(DURATION_SCHEMA)
]
#: like ``DurationSeconds`` but strictly positive (timeouts: zero would never let anything run)
PositiveSeconds = Annotated[
    float, BeforeValidator(_to_seconds), Field(gt=0), WithJsonSchema(DURATION_SCHEMA)
]


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret in ``text`` with ``***``."""
    # Longest first, so a secret that contains another one is masked whole rather than leaving
    # the part around the shorter one readable.
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def redact_value(value: Any, secrets: Iterable[str]) -> Any:
    """``redact`` applied to every string inside nested dicts, lists and tuples."""
    secrets = tuple(secrets)
    if not secrets:
        return value
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {redact_value(k, secrets): redact_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(item, secrets) for item in value]
    return value


def stop_error(ctx: ActionContext, started: float, what: str) -> ActionError:
    """The error to raise after ``ctx.cancelled`` was seen, ``started`` being ``time.monotonic()``
    at the start of the action.

    ``ctx.cancelled`` means either "the step ran out of time" or "the run was cancelled"; the
    deadline tells which. A timeout is worth retrying; an operator's cancel never is.
    """
    elapsed = time.monotonic() - started
    if ctx.deadline is not None and elapsed + _DEADLINE_SLACK >= ctx.deadline:
        return ActionTimeout(f"{what} timed out after {elapsed:.1f}s")
    return ActionError(f"{what} cancelled after {elapsed:.1f}s", kind="cancelled", retryable=False)
