"""Guardrails on capacity changes: limits a scaling step refuses to cross.

They are checked after reading the current capacity and before any mutating call, so a refused
step has changed nothing. Asking a human past a soft threshold is the runbook's job (an approval
step with ``if:``, see docs/aws.md); a guardrail is the hard stop that holds even when approved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from pydantic import Field, field_validator, model_validator

from runbook_engine.errors import ActionError
from runbook_engine.plugin.contract import ActionParams

__all__ = ["Guarded", "Limits", "enforce"]

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


class Limits(ActionParams):
    """Bounds on the capacity a step may set."""

    #: the new capacity (and any new maximum size) may not be above this
    max_capacity: int | None = Field(default=None, ge=0)
    #: the new capacity (and any new minimum size) may not be below this
    min_capacity: int | None = Field(default=None, ge=0)
    #: how far the capacity may move from the current one: a count, or a percentage ("50%")
    max_change: int | str | None = None

    @field_validator("max_change")
    @classmethod
    def _change_shape(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, int) and value < 0:
            raise ValueError("max_change must not be negative")
        if isinstance(value, str) and not _PERCENT.match(value):
            raise ValueError(
                f"max_change must be a count or a percentage like '50%', not {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Limits:
        low, high = self.min_capacity, self.max_capacity
        if low is not None and high is not None and low > high:
            raise ValueError(f"min_capacity {low} is above max_capacity {high}")
        return self

    def allowed_change(self, current: int) -> float | None:
        """The largest move allowed from ``current``; None when unlimited."""
        if self.max_change is None:
            return None
        if isinstance(self.max_change, int):
            return float(self.max_change)
        match = _PERCENT.match(self.max_change)
        assert match is not None  # checked by the validator
        return current * float(match.group(1)) / 100


class Guarded(ActionParams):
    """Parameters shared by the steps that change capacity."""

    limits: Limits | None = None
    #: what to do past a limit: refuse (fail, not retried, before changing anything)
    on_exceed: Literal["refuse"] = "refuse"


def enforce(
    limits: Limits | None,
    *,
    subject: str,
    current: int,
    new: int,
    at_most: Mapping[str, int] | None = None,
    at_least: Mapping[str, int] | None = None,
) -> None:
    """Raise ``ActionError(kind="guardrail")`` naming every limit the change would cross.

    ``current`` and ``new`` are the capacity before and after; ``at_most`` / ``at_least`` are
    other values (a new max or min size) held to max_capacity / min_capacity as well.
    """
    if limits is None:
        return
    problems: list[str] = []
    uppers = {"capacity": new, **(at_most or {})}
    lowers = {"capacity": new, **(at_least or {})}
    if limits.max_capacity is not None:
        problems += [
            f"{name} {value} is above max_capacity {limits.max_capacity}"
            for name, value in uppers.items()
            if value > limits.max_capacity
        ]
    if limits.min_capacity is not None:
        problems += [
            f"{name} {value} is below min_capacity {limits.min_capacity}"
            for name, value in lowers.items()
            if value < limits.min_capacity
        ]
    allowed = limits.allowed_change(current)
    if allowed is not None and abs(new - current) > allowed:
        problems.append(
            f"a change from {current} to {new} ({new - current:+d}) is more than max_change "
            f"{limits.max_change} allows ({allowed:g})"
        )
    if problems:
        # Not retryable: the same request would cross the same limit again.
        raise ActionError(
            f"{subject}: refused by the step's limits: {'; '.join(problems)}; nothing was changed",
            kind="guardrail",
            retryable=False,
        )
