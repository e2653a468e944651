"""``scaling.asg``: set an Auto Scaling group's desired / min / max capacity and wait until that
many instances are InService. The previous sizes go into the result; the automatic undo puts
them back, so a failed runbook returns the group to the capacity it had without a rollback block.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, model_validator

from runbook_engine.actions._common import PositiveSeconds
from runbook_engine.actions.aws._api import AwsApi
from runbook_engine.actions.aws._change import seen_through
from runbook_engine.actions.aws._guardrails import Guarded, enforce
from runbook_engine.actions.aws._model import ApiOperation
from runbook_engine.actions.aws._plan import call_text, describe_plan, dry_run_result
from runbook_engine.actions.aws._poll import Progress, poll
from runbook_engine.actions.aws._session import AwsTarget
from runbook_engine.errors import ActionError
from runbook_engine.plugin.contract import Action, ActionContext, Result

__all__ = ["AsgParams", "ScalingAsgAction"]

_DESCRIBE = ApiOperation("autoscaling", "DescribeAutoScalingGroups")
_UPDATE = ApiOperation("autoscaling", "UpdateAutoScalingGroup")
#: parameter of this action -> field of the group, in the order AWS documents them
_FIELDS = {"min_size": "MinSize", "max_size": "MaxSize", "desired_capacity": "DesiredCapacity"}
#: lifecycle states of instances on their way in or out (Pending:Wait, Terminating:Proceed...)
_MOVING = ("Pending", "Terminating", "Warmed:Pending", "Warmed:Terminating")


class AsgParams(Guarded, AwsTarget):
    """Parameters of ``scaling.asg``; give at least one of the three sizes."""

    group: str = Field(min_length=1, description="the Auto Scaling group name")
    desired_capacity: int | None = Field(default=None, ge=0)
    min_size: int | None = Field(default=None, ge=0)
    max_size: int | None = Field(default=None, ge=0)
    #: wait until the desired capacity is InService (and nothing is still launching/terminating)
    wait: bool = True
    timeout: PositiveSeconds = 600.0
    interval: PositiveSeconds = 10.0

    @model_validator(mode="after")
    def _sizes(self) -> AsgParams:
        given = self.sizes()
        if not given:
            raise ValueError("give desired_capacity, min_size or max_size")
        low, high = given.get("MinSize"), given.get("MaxSize")
        desired = given.get("DesiredCapacity")
        if low is not None and high is not None and low > high:
            raise ValueError(f"min_size {low} is above max_size {high}")
        if desired is not None and high is not None and desired > high:
            raise ValueError(f"desired_capacity {desired} is above max_size {high}")
        if desired is not None and low is not None and desired < low:
            raise ValueError(f"desired_capacity {desired} is below min_size {low}")
        return self

    def sizes(self) -> dict[str, int]:
        """The sizes to set, by API field name."""
        return {
            api: value
            for name, api in _FIELDS.items()
            if (value := getattr(self, name)) is not None
        }


class ScalingAsgAction(Action):
    """Resize an Auto Scaling group, within the step's limits, and wait for InService.

    Result: ``{"group", "previous": {"desired_capacity", "min_size", "max_size"},
    "desired_capacity", "min_size", "max_size", "changed", "in_service", "instances"}``.
    A limit crossed fails the step (``kind="guardrail"``) before anything changes; a failed wait
    puts the previous sizes back before failing.
    """

    name = "scaling.asg"
    Params = AsgParams
    # A re-run after a crash would read the new size as "previous" and undo to the wrong value.
    idempotent = False
    description = "Set an Auto Scaling group's capacity, wait for InService; undo restores it."

    def plan(self, params: AsgParams) -> list[str]:
        steps = [call_text(_DESCRIBE, {"AutoScalingGroupNames": [params.group]})]
        if params.limits is not None:
            shown = params.limits.model_dump(exclude_none=True)
            steps.append(f"refuse unless within limits {shown}")
        steps.append(call_text(_UPDATE, {"AutoScalingGroupName": params.group, **params.sizes()}))
        if params.wait:
            target = params.desired_capacity
            count = f"{target} instances" if target is not None else "the desired capacity"
            steps.append(
                f"wait until {count} InService "
                f"(every {params.interval:g}s, timeout {params.timeout:g}s)"
            )
        return steps

    def describe(self, params: AsgParams) -> str:
        return describe_plan(self.plan(params), params.target_note())

    def run(self, params: AsgParams, ctx: ActionContext) -> Result:
        if ctx.dry_run:
            return dry_run_result(self.plan(params))
        api = AwsApi(ctx, params)
        group = _describe(api, params.group)
        previous = _sizes_of(group)
        new = {**previous, **params.sizes()}
        if "DesiredCapacity" not in params.sizes():
            # AWS keeps the desired capacity inside new bounds by moving it to the nearest one.
            new["DesiredCapacity"] = min(
                max(previous["DesiredCapacity"], new["MinSize"]), new["MaxSize"]
            )
        enforce(
            params.limits,
            subject=f"Auto Scaling group {params.group}",
            current=previous["DesiredCapacity"],
            new=new["DesiredCapacity"],
            at_most={"max_size": params.max_size} if params.max_size is not None else None,
            at_least={"min_size": params.min_size} if params.min_size is not None else None,
        )
        changed = new != previous
        if changed:
            api.call(_UPDATE, {"AutoScalingGroupName": params.group, **params.sizes()})
        else:
            ctx.log(f"{params.group} already has {_show_sizes(new)}; nothing to change")
        in_service: list[str] = []
        if params.wait:

            def put_back() -> str:
                restore = _restore_call(params, previous)
                api.call(_UPDATE, restore, even_if_stopped=True)
                return f"put {params.group} back to {_show_sizes(previous)}"

            in_service = seen_through(
                lambda: _wait_in_service(api, params, new["DesiredCapacity"]),
                put_back if changed else lambda: "nothing had been changed",
            )
        return {
            "group": params.group,
            "previous": _named(previous),
            **_named(new),
            "changed": changed,
            "in_service": len(in_service),
            "instances": in_service,
        }

    def undo(
        self, params: AsgParams, result: Mapping[str, Any], ctx: ActionContext
    ) -> Result | None:
        """Set the sizes the group had before the step; wait for InService like the step did."""
        if result.get("dry_run") or not result.get("changed"):
            return None
        previous = {api: int(result["previous"][name]) for name, api in _FIELDS.items()}
        api = AwsApi(ctx, params)
        restore = _restore_call(params, previous)
        api.call(_UPDATE, restore)
        in_service = (
            _wait_in_service(api, params, previous["DesiredCapacity"]) if params.wait else []
        )
        return {"group": params.group, "restored": _named(previous), "in_service": len(in_service)}


def _describe(api: AwsApi, name: str) -> dict[str, Any]:
    output = api.call(_DESCRIBE, {"AutoScalingGroupNames": [name]}, log=False)
    groups = output.get("AutoScalingGroups") or []
    if not groups:
        raise ActionError(
            f"{_DESCRIBE.label}: no Auto Scaling group named {name!r}", kind="aws", retryable=False
        )
    group: dict[str, Any] = groups[0]
    return group


def _sizes_of(group: Mapping[str, Any]) -> dict[str, int]:
    return {api: int(group[api]) for api in _FIELDS.values()}


def _named(sizes: Mapping[str, int]) -> dict[str, int]:
    return {name: sizes[api] for name, api in _FIELDS.items()}


def _show_sizes(sizes: Mapping[str, int]) -> str:
    return f"desired {sizes['DesiredCapacity']} (min {sizes['MinSize']}, max {sizes['MaxSize']})"


def _restore_call(params: AsgParams, previous: Mapping[str, int]) -> dict[str, Any]:
    """UpdateAutoScalingGroup arguments that put back what the step changed: the sizes it set,
    and the desired capacity, which moves whenever a bound moves past it."""
    restore: dict[str, Any] = {"AutoScalingGroupName": params.group}
    for api in _FIELDS.values():
        if api in params.sizes() or api == "DesiredCapacity":
            restore[api] = previous[api]
    return restore


def _wait_in_service(api: AwsApi, params: AsgParams, target: int) -> list[str]:
    """Wait until ``target`` instances are InService and none is launching or terminating."""

    def check() -> Progress:
        group = _describe(api, params.group)
        instances = group.get("Instances") or []
        ready = sorted(i["InstanceId"] for i in instances if i.get("LifecycleState") == "InService")
        moving = [i for i in instances if str(i.get("LifecycleState", "")).startswith(_MOVING)]
        status = f"{params.group}: {len(ready)}/{target} InService"
        if moving:
            status += f", {len(moving)} launching or terminating"
        return Progress(len(ready) == target and not moving, ready, status)

    progress, _checks = poll(
        api.ctx,
        check,
        what=f"waiting for {target} InService instances in {params.group}",
        timeout=params.timeout,
        interval=params.interval,
        started=api.started,
    )
    ready: list[str] = progress.value
    return ready
