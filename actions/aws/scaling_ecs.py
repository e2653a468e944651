"""``scaling.ecs``: set an ECS service's desired count and/or task definition, and wait for a
steady state. The previous task definition and count go into the result; the automatic undo
deploys them again. ``task_definition: previous`` picks the ACTIVE revision before the current
one, which is what "roll back the bad deploy" usually means.
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

__all__ = ["EcsParams", "ScalingEcsAction", "revision_of"]

_DESCRIBE = ApiOperation("ecs", "DescribeServices")
_UPDATE = ApiOperation("ecs", "UpdateService")
_LIST = ApiOperation("ecs", "ListTaskDefinitions")
#: the value of ``task_definition`` that means "the revision before the current one"
PREVIOUS = "previous"


class EcsParams(Guarded, AwsTarget):
    """Parameters of ``scaling.ecs``; give ``desired_count``, ``task_definition`` or both."""

    cluster: str = Field(default="default", min_length=1)
    service: str = Field(min_length=1)
    desired_count: int | None = Field(default=None, ge=0)
    #: ``family:revision``, a full ARN, or ``previous``
    task_definition: str | None = Field(default=None, min_length=1)
    #: wait for a steady state: one deployment, rolled out, runningCount == desiredCount
    wait: bool = True
    timeout: PositiveSeconds = 900.0
    interval: PositiveSeconds = 10.0

    @model_validator(mode="after")
    def _something_to_do(self) -> EcsParams:
        if self.desired_count is None and self.task_definition is None:
            raise ValueError("give desired_count, task_definition or both")
        return self

    def update_call(self, task_definition: str | None) -> dict[str, Any]:
        call: dict[str, Any] = {"cluster": self.cluster, "service": self.service}
        if task_definition is not None:
            call["taskDefinition"] = task_definition
        if self.desired_count is not None:
            call["desiredCount"] = self.desired_count
        return call


class ScalingEcsAction(Action):
    """Update an ECS service and wait for it to settle.

    Result: ``{"cluster", "service", "previous": {"task_definition", "desired_count"},
    "task_definition", "desired_count", "changed", "running_count"}``. A failed deployment
    (rollout state FAILED) is a non-retryable error; a failed wait deploys the previous
    task definition and count again before failing.
    """

    name = "scaling.ecs"
    Params = EcsParams
    # A re-run after a crash would read the new deployment as "previous".
    idempotent = False
    description = "Set an ECS service's desired count / task definition, wait for steady state."

    def plan(self, params: EcsParams) -> list[str]:
        steps = [call_text(_DESCRIBE, {"cluster": params.cluster, "services": [params.service]})]
        task_definition = params.task_definition
        if task_definition == PREVIOUS:
            steps.append(
                call_text(
                    _LIST,
                    {"familyPrefix": "<family of the current task definition>", "status": "ACTIVE"},
                )
            )
            task_definition = "<the ACTIVE revision before the current one>"
        if params.limits is not None:
            shown = params.limits.model_dump(exclude_none=True)
            steps.append(f"refuse unless the desired count is within limits {shown}")
        steps.append(call_text(_UPDATE, params.update_call(task_definition)))
        if params.wait:
            steps.append(
                f"wait for a steady state (every {params.interval:g}s, timeout {params.timeout:g}s)"
            )
        return steps

    def describe(self, params: EcsParams) -> str:
        return describe_plan(self.plan(params), params.target_note())

    def run(self, params: EcsParams, ctx: ActionContext) -> Result:
        if ctx.dry_run:
            return dry_run_result(self.plan(params))
        api = AwsApi(ctx, params)
        service = _describe(api, params)
        previous: dict[str, Any] = {
            "task_definition": str(service["taskDefinition"]),
            "desired_count": int(service["desiredCount"]),
        }
        task_definition = params.task_definition
        if task_definition == PREVIOUS:
            task_definition = _previous_revision(api, previous["task_definition"])
            ctx.log(
                f"the revision before {revision_of(previous['task_definition'])} "
                f"is {revision_of(task_definition)}"
            )
        if params.desired_count is not None:
            enforce(
                params.limits,
                subject=f"ECS service {params.service}",
                current=previous["desired_count"],
                new=params.desired_count,
            )
        changed = (
            task_definition is not None
            and revision_of(task_definition) != revision_of(previous["task_definition"])
        ) or (
            params.desired_count is not None and params.desired_count != previous["desired_count"]
        )
        if changed:
            updated = api.call(_UPDATE, params.update_call(task_definition))["service"]
        else:
            ctx.log(
                f"{params.service} already runs {revision_of(previous['task_definition'])} "
                f"with {previous['desired_count']} tasks; nothing to change"
            )
            updated = service
        wanted = str(updated["taskDefinition"])
        running = int(updated.get("runningCount", 0))
        if params.wait:

            def put_back() -> str:
                api.call(_UPDATE, _restore_call(params, previous), even_if_stopped=True)
                return (
                    f"deployed {revision_of(previous['task_definition'])} with "
                    f"{previous['desired_count']} tasks again"
                )

            running = seen_through(
                lambda: _wait_steady(api, params, wanted),
                put_back if changed else lambda: "nothing had been changed",
            )
        return {
            "cluster": params.cluster,
            "service": params.service,
            "previous": previous,
            "task_definition": wanted,
            "desired_count": int(updated["desiredCount"]),
            "changed": changed,
            "running_count": running,
        }

    def undo(
        self, params: EcsParams, result: Mapping[str, Any], ctx: ActionContext
    ) -> Result | None:
        """Deploy the previous task definition and count again; wait like the step did."""
        if result.get("dry_run") or not result.get("changed"):
            return None
        previous = dict(result["previous"])
        api = AwsApi(ctx, params)
        restored = api.call(_UPDATE, _restore_call(params, previous))["service"]
        running = _wait_steady(api, params, str(restored["taskDefinition"])) if params.wait else 0
        return {"service": params.service, "restored": previous, "running_count": running}


def revision_of(task_definition: str) -> str:
    """``family:revision`` of an ARN (or of a ``family:revision``) for comparing and showing."""
    return task_definition.rsplit("/", 1)[-1]


def _restore_call(params: EcsParams, previous: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "cluster": params.cluster,
        "service": params.service,
        "taskDefinition": previous["task_definition"],
        "desiredCount": previous["desired_count"],
    }


def _describe(api: AwsApi, params: EcsParams) -> dict[str, Any]:
    output = api.call(
        _DESCRIBE, {"cluster": params.cluster, "services": [params.service]}, log=False
    )
    services = [s for s in output.get("services") or [] if s.get("status") != "INACTIVE"]
    if not services:
        reasons = "; ".join(f.get("reason", "") for f in output.get("failures") or [])
        raise ActionError(
            f"{_DESCRIBE.label}: no active service {params.service!r} in cluster "
            f"{params.cluster!r}{f' ({reasons})' if reasons else ''}",
            kind="aws",
            retryable=False,
        )
    service: dict[str, Any] = services[0]
    return service


def _previous_revision(api: AwsApi, current: str) -> str:
    """The ACTIVE task definition of the same family with the highest revision below the
    current one (revisions may have been deregistered, so not simply revision - 1)."""
    family, _, revision = revision_of(current).rpartition(":")
    output, _pages = api.collect(_LIST, {"familyPrefix": family, "status": "ACTIVE"})
    candidates: list[tuple[int, str]] = []
    for arn in output.get("taskDefinitionArns") or []:
        arn_family, _, arn_revision = revision_of(arn).rpartition(":")
        if arn_family == family and arn_revision.isdigit() and int(arn_revision) < int(revision):
            candidates.append((int(arn_revision), arn))
    if not candidates:
        raise ActionError(
            f"{_LIST.label}: no ACTIVE revision of {family} before {revision_of(current)}",
            kind="aws",
            retryable=False,
        )
    return max(candidates)[1]


def _wait_steady(api: AwsApi, params: EcsParams, wanted: str) -> int:
    """Wait until the service runs ``wanted`` in one completed deployment with every task up;
    the running count."""

    def check() -> Progress:
        service = _describe(api, params)
        deployments = service.get("deployments") or []
        primary: dict[str, Any] = next((d for d in deployments if d.get("status") == "PRIMARY"), {})
        rollout = primary.get("rolloutState")
        if rollout == "FAILED":
            raise ActionError(
                f"ECS service {params.service}: the deployment failed: "
                f"{primary.get('rolloutStateReason', 'no reason given')}",
                kind="aws",
                retryable=False,
            )
        running, desired = int(service.get("runningCount", 0)), int(service["desiredCount"])
        done = (
            len(deployments) <= 1
            and running == desired
            and rollout in (None, "COMPLETED")
            and revision_of(str(service["taskDefinition"])) == revision_of(wanted)
        )
        status = (
            f"{params.service}: {revision_of(str(service['taskDefinition']))}, "
            f"{running}/{desired} running, {len(deployments)} deployment(s)"
            + (f", rollout {rollout}" if rollout else "")
        )
        return Progress(done, running, status)

    progress, _checks = poll(
        api.ctx,
        check,
        what=f"waiting for ECS service {params.service} to reach a steady state",
        timeout=params.timeout,
        interval=params.interval,
        started=api.started,
    )
    running: int = progress.value
    return running
