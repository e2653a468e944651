"""``ec2.instances``: start, stop or reboot instances chosen by id or by tags, and wait until
they are there. Each instance's previous state goes into the result; the automatic undo stops
what was started and starts what was stopped (a reboot has nothing to undo).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from runbook_engine.actions._common import PositiveSeconds
from runbook_engine.actions.aws._api import AwsApi
from runbook_engine.actions.aws._change import seen_through
from runbook_engine.actions.aws._model import ApiOperation
from runbook_engine.actions.aws._plan import call_text, describe_plan, dry_run_result
from runbook_engine.actions.aws._poll import Progress, poll
from runbook_engine.actions.aws._session import AwsTarget
from runbook_engine.errors import ActionError, ActionInputError
from runbook_engine.plugin.contract import Action, ActionContext, Result

__all__ = ["Ec2InstancesAction", "Ec2InstancesParams", "tag_filters"]

Verb = Literal["start", "stop", "reboot"]

_DESCRIBE = ApiOperation("ec2", "DescribeInstances")
_STATUS = ApiOperation("ec2", "DescribeInstanceStatus")
_CALLS: dict[str, ApiOperation] = {
    "start": ApiOperation("ec2", "StartInstances"),
    "stop": ApiOperation("ec2", "StopInstances"),
    "reboot": ApiOperation("ec2", "RebootInstances"),
}
#: the state an instance must be in for the verb to apply to it
_FROM = {"start": "stopped", "stop": "running", "reboot": "running"}
#: the state the verb leads to
_TO = {"start": "running", "stop": "stopped", "reboot": "running"}
#: what undoes each verb (a reboot cannot be undone)
_INVERSE: dict[str, Verb] = {"start": "stop", "stop": "start"}
_GONE = ("shutting-down", "terminated")


def tag_filters(tags: Mapping[str, str | list[str]]) -> list[dict[str, Any]]:
    """DescribeInstances filters for ``{"Role": "web"}`` (a list value matches any of them)."""
    return [
        {"Name": f"tag:{key}", "Values": [value] if isinstance(value, str) else list(value)}
        for key, value in tags.items()
    ]


class Ec2InstancesParams(AwsTarget):
    """Parameters of ``ec2.instances``: ``instance_ids`` or ``tags``, not both."""

    action: Verb
    instance_ids: list[str] | None = Field(default=None, min_length=1)
    #: tag filters, all must match; a value may be a list (any of) and use * wildcards
    tags: dict[str, str | list[str]] | None = Field(default=None, min_length=1)
    #: refuse (kind="guardrail", before changing anything) when more instances than this match
    max_instances: int | None = Field(default=None, ge=1)
    #: wait for the target state (reboot: both status checks ok)
    wait: bool = True
    timeout: PositiveSeconds = 600.0
    interval: PositiveSeconds = 5.0

    @model_validator(mode="after")
    def _one_selector(self) -> Ec2InstancesParams:
        if (self.instance_ids is None) == (self.tags is None):
            raise ValueError("give either instance_ids or tags")
        return self

    def select_call(self) -> dict[str, Any]:
        if self.instance_ids is not None:
            return {"InstanceIds": list(self.instance_ids)}
        assert self.tags is not None
        return {"Filters": tag_filters(self.tags)}


class Ec2InstancesAction(Action):
    """Start, stop or reboot EC2 instances and wait for them.

    Result: ``{"action", "instances": [ids acted on], "previous": {id: state},
    "skipped": {id: state}}``. Instances already in the target state (or in one the action does
    not apply to) are skipped, and left alone by the undo.
    """

    name = "ec2.instances"
    Params = Ec2InstancesParams
    # Starting what runs or stopping what is stopped is a no-op, but a re-run would record the
    # new states as "previous", and the undo would then leave the instances as they are.
    idempotent = False
    description = "Start, stop or reboot EC2 instances by id or tags; undo restores their state."

    def plan(self, params: Ec2InstancesParams) -> list[str]:
        steps = [call_text(_DESCRIBE, params.select_call())]
        if params.max_instances is not None:
            steps.append(f"refuse if more than {params.max_instances} instances match")
        ids = params.instance_ids or [f"<the {_FROM[params.action]} instances that match>"]
        steps.append(call_text(_CALLS[params.action], {"InstanceIds": ids}))
        if params.wait:
            goal = (
                "both status checks are ok"
                if params.action == "reboot"
                else (f"they are {_TO[params.action]}")
            )
            steps.append(
                f"wait until {goal} (every {params.interval:g}s, timeout {params.timeout:g}s)"
            )
        return steps

    def describe(self, params: Ec2InstancesParams) -> str:
        return describe_plan(self.plan(params), params.target_note())

    def run(self, params: Ec2InstancesParams, ctx: ActionContext) -> Result:
        if ctx.dry_run:
            return dry_run_result(self.plan(params))
        api = AwsApi(ctx, params)
        states = _states(api, params.select_call())
        if not states:
            raise ActionInputError(f"{_DESCRIBE.label}: no instances match {params.select_call()}")
        if params.max_instances is not None and len(states) > params.max_instances:
            raise ActionError(
                f"{len(states)} instances match, more than max_instances {params.max_instances}: "
                f"{', '.join(sorted(states))}; nothing was changed",
                kind="guardrail",
                retryable=False,
            )
        acted = sorted(i for i, state in states.items() if state == _FROM[params.action])
        skipped = {i: state for i, state in states.items() if i not in acted}
        for instance, state in sorted(skipped.items()):
            ctx.log(f"{instance} is {state}: not touched by {params.action}")
        if acted:
            api.call(_CALLS[params.action], {"InstanceIds": acted})
            if params.wait:
                inverse = _INVERSE.get(params.action)

                def put_back() -> str:
                    if inverse is None:
                        return "a reboot cannot be undone"
                    api.call(_CALLS[inverse], {"InstanceIds": acted}, even_if_stopped=True)
                    return f"asked to {inverse} {', '.join(acted)} again"

                seen_through(lambda: _wait(api, params, params.action, acted), put_back)
        return {
            "action": params.action,
            "instances": acted,
            "previous": dict(sorted(states.items())),
            "skipped": dict(sorted(skipped.items())),
        }

    def undo(
        self, params: Ec2InstancesParams, result: Mapping[str, Any], ctx: ActionContext
    ) -> Result | None:
        """Stop what the step started, start what it stopped; wait like the step did."""
        inverse = _INVERSE.get(str(result.get("action")))
        acted = list(result.get("instances") or [])
        if result.get("dry_run") or inverse is None or not acted:
            return None
        api = AwsApi(ctx, params)
        api.call(_CALLS[inverse], {"InstanceIds": acted})
        if params.wait:
            _wait(api, params, inverse, acted)
        return {"action": inverse, "instances": acted}


def _states(api: AwsApi, select: Mapping[str, Any]) -> dict[str, str]:
    """Instance id -> state name, terminated instances left out."""
    output, _pages = api.collect(_DESCRIBE, select, log=False)
    states: dict[str, str] = {}
    for reservation in output.get("Reservations") or []:
        for instance in reservation.get("Instances") or []:
            state = str(instance.get("State", {}).get("Name", "unknown"))
            if state != "terminated":
                states[str(instance["InstanceId"])] = state
    return states


def _wait(api: AwsApi, params: Ec2InstancesParams, verb: str, ids: list[str]) -> None:
    want = _TO[verb]

    def check() -> Progress:
        states = _states(api, {"InstanceIds": ids})
        gone = sorted(i for i in ids if i not in states or states[i] in _GONE)
        if gone:
            raise ActionError(
                f"instances terminated while waiting for {want}: {', '.join(gone)}",
                kind="aws",
                retryable=False,
            )
        there = [i for i in ids if states[i] == want]
        if verb == "reboot" and len(there) == len(ids):
            return _status_checks(api, ids)
        return Progress(len(there) == len(ids), states, f"{len(there)}/{len(ids)} {want}")

    poll(
        api.ctx,
        check,
        what=f"waiting for {', '.join(ids)} to be {want}",
        timeout=params.timeout,
        interval=params.interval,
        started=api.started,
    )


def _status_checks(api: AwsApi, ids: list[str]) -> Progress:
    """After a reboot, the instance's and the system's status checks must both pass again."""
    output, _pages = api.collect(_STATUS, {"InstanceIds": ids}, log=False)
    ok = [
        s["InstanceId"]
        for s in output.get("InstanceStatuses") or []
        if s.get("InstanceStatus", {}).get("Status") == "ok"
        and s.get("SystemStatus", {}).get("Status") == "ok"
    ]
    return Progress(len(ok) == len(ids), ok, f"{len(ok)}/{len(ids)} status checks ok")
