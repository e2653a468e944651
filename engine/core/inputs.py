"""Input steps: a human gives typed values mid-run. Pure: no I/O, no clock.

An input step is entered with ``input.requested`` (the form: each field's description, who may
give it, the deadline); the run is then ``waiting_input``. ``input.given`` records the values,
typed and checked by the parameter machinery, with a secret field's value as ``***``; the step
then succeeds with the values as its outputs. A time-out (``input.timed_out``) fails the step
(kind ``input_timeout``, so ``on_failure`` applies) or, with ``on_timeout: default``, succeeds
with the fields' defaults.

A secret field's value is never recorded: the process that receives it drives the run on with
the value in memory (``AwaitInput.secret`` tells a runner that it cannot wait for such a step
elsewhere), and masks it like a secret parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runbook_engine.core.events import (
    InputRequested,
    Payload,
    StepError,
    StepFailed,
    StepSucceeded,
)
from runbook_engine.core.state import STEP_SUCCEEDED, STEP_WAITING, RunState, StepState
from runbook_engine.core.statuses import TERMINAL, WAITING_INPUT
from runbook_engine.errors import FieldError, NotWaitingForInput
from runbook_engine.spec.models import InputSpec, InputStep, Parameter, Runbook
from runbook_engine.spec.params import REDACTED, resolve_values

__all__ = [
    "TIMEOUT_KIND",
    "AwaitInput",
    "check_values",
    "describe",
    "given_secrets",
    "masked",
    "requested",
    "secret_defaults",
    "secret_fields",
    "waiting",
    "waiting_input_step",
]

#: the error kind of an input step that timed out with ``on_timeout: fail``
TIMEOUT_KIND = "input_timeout"


@dataclass(frozen=True)
class AwaitInput:
    """Wait (durably: the runner polls the store) for ``input.given`` on ``step``, a cancel,
    or the deadline. ``secret``: the step's secret fields; their values reach only the process
    that receives them, so a runner elsewhere lets go of the run instead of waiting."""

    step: str
    deadline: float | None
    secret: tuple[str, ...] = ()


def secret_fields(spec: InputSpec) -> tuple[str, ...]:
    return tuple(name for name, field in spec.fields.items() if field.secret)


def _field(name: str, field: Parameter) -> dict[str, Any]:
    """What a door needs to build a form for one field (``None`` members left out)."""
    out: dict[str, Any] = {
        "name": name,
        "type": field.type,
        "description": field.description,
        "required": field.is_required,
        "secret": field.secret,
    }
    if "default" in field.model_fields_set:
        out["default"] = REDACTED if field.secret and field.default is not None else field.default
    extra = {
        "choices": field.choices,
        "pattern": field.pattern,
        "minimum": field.minimum,
        "maximum": field.maximum,
        "min_length": field.min_length,
        "max_length": field.max_length,
    }
    out.update({k: v for k, v in extra.items() if v is not None})
    if field.type == "list":
        out["items"] = field.items
    return out


def describe(spec: InputSpec) -> list[dict[str, Any]]:
    """The fields of an input step as ``input.requested`` carries them, in order."""
    return [_field(name, field) for name, field in spec.fields.items()]


def requested(step: InputStep, message: str, now: float) -> InputRequested:
    """The event that enters ``step`` (its ``message`` rendered)."""
    spec = step.input
    return InputRequested(
        step=step.id,
        message=message,
        fields=describe(spec),
        from_=list(spec.from_),
        deadline=now + spec.timeout if spec.timeout is not None else None,
        on_timeout=spec.on_timeout,
    )


def masked(spec: InputSpec, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` as they may be recorded or shown: a secret field's value is ``***``."""
    return {
        name: REDACTED if name in spec.fields and spec.fields[name].secret and v is not None else v
        for name, v in values.items()
    }


def _defaults(spec: InputSpec) -> dict[str, Any]:
    return resolve_values(spec.fields, {}, owner="the step", kind="field", error=FieldError)


def waiting(step: InputStep, st: StepState) -> list[Payload | AwaitInput]:
    """What a waiting input step does next: succeed with the values given, time out, or wait."""
    spec = step.input
    if st.given is not None:
        return [StepSucceeded(step=step.id, outputs=dict(st.given))]
    if st.timed_out:
        if spec.on_timeout == "default":
            # a secret field's default is masked too: every engine reads it from the runbook
            # (``secret_defaults``), none from the log
            return [StepSucceeded(step=step.id, outputs=masked(spec, _defaults(spec)))]
        error = StepError("no input was given before the step timed out", kind=TIMEOUT_KIND)
        return [StepFailed(step=step.id, error=error)]
    return [AwaitInput(step.id, st.deadline, secret_fields(spec))]


def waiting_input_step(runbook: Runbook, state: RunState) -> InputStep:
    """The input step the run waits on, or ``NotWaitingForInput`` saying why there is none."""
    if state.status != WAITING_INPUT:
        raise NotWaitingForInput(f"the run is {state.status}, not waiting for input")
    for step in runbook.steps:
        if isinstance(step, InputStep) and state.step(step.id).status == STEP_WAITING:
            if state.step(step.id).given is not None:
                raise NotWaitingForInput(f"the input of step {step.id!r} was given already")
            return step
    raise NotWaitingForInput("the run is not waiting on any input step")


def check_values(
    step: InputStep,
    given: Mapping[str, Any],
    *,
    from_text: bool,
    deadline: float | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The typed values for ``step`` (defaults filled in), or ``FieldError`` naming the field
    and what it expected: an unknown name, a missing required field, a value that does not
    fit. ``NotWaitingForInput`` after the deadline (``on_timeout`` applies then)."""
    if now is not None and deadline is not None and now > deadline:
        raise NotWaitingForInput(
            f"the input of step {step.id!r} timed out; on_timeout: {step.input.on_timeout} applies"
        )
    return resolve_values(
        step.input.fields,
        given,
        from_text=from_text,
        owner=f"step {step.id}",
        kind="field",
        how="give it with --set {name}=...",
        error=FieldError,
    )


def secret_defaults(runbook: Runbook, state: RunState | None = None) -> dict[str, dict[str, Any]]:
    """The defaults of secret fields, by step: with ``state``, only of the steps that went on
    with them after a time-out (``on_timeout: default``), which templates then read."""
    out: dict[str, dict[str, Any]] = {}
    for step in runbook.steps:
        if not isinstance(step, InputStep):
            continue
        if state is not None:
            st = state.step(step.id)
            if not (st.timed_out and st.status == STEP_SUCCEEDED):
                continue
        defaults = {
            name: field.default
            for name, field in step.input.fields.items()
            if field.secret and field.default is not None
        }
        if defaults:
            out[step.id] = defaults
    return out


def given_secrets(runbook: Runbook, state: RunState) -> dict[str, list[str]]:
    """The input steps whose secret values the run has recorded as ``***``, by step, with the
    secret fields: given (waiting for the run to go on) or taken as the step's outputs. A
    process that drives the run on needs their values in memory."""
    out: dict[str, list[str]] = {}
    if state.status in TERMINAL:
        return out
    for step in runbook.steps:
        if not isinstance(step, InputStep):
            continue
        st = state.step(step.id)
        if st.timed_out:
            continue  # went on with the defaults, which the runbook holds (secret_defaults)
        values = st.given if st.status == STEP_WAITING else None
        if values is None and st.status == STEP_SUCCEEDED:
            values = st.outputs
        if not values:
            continue
        hidden = [n for n in secret_fields(step.input) if values.get(n) == REDACTED]
        if hidden:
            out[step.id] = hidden
    return out
