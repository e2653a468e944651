"""How AWS calls are shown: in plans (``describe``), dry runs, and the run log.

``autoscaling.UpdateAutoScalingGroup(AutoScalingGroupName='web', DesiredCapacity=6)`` reads like
the boto3 call it is, so the plan a reviewer approves is literally what will be sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from runbook_engine.plugin.contract import Result

__all__ = ["Plan", "call_text", "describe_plan", "dry_run_result"]


class _Named(Protocol):
    @property
    def label(self) -> str: ...


def call_text(op: _Named | str, params: Mapping[str, Any]) -> str:
    """``service.Operation(Key=value, ...)`` with Python literals, in the given key order."""
    label = op if isinstance(op, str) else op.label
    args = ", ".join(f"{key}={value!r}" for key, value in params.items())
    return f"{label}({args})"


#: the steps of a plan: API calls and the waits between them, in order
Plan = Sequence[str]


def describe_plan(plan: Plan, target_note: str = "") -> str:
    """One line: the plan's steps joined by ``; ``, then where the calls go."""
    return "; ".join(plan) + target_note


def dry_run_result(plan: Plan) -> Result:
    """What ``run`` returns under ``ctx.dry_run``: the plan, nothing called."""
    return {"dry_run": True, "calls": list(plan)}
