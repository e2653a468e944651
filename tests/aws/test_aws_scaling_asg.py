"""``scaling.asg`` against moto: scale-out waiting for InService, guardrails, the automatic undo
through the real Engine and store, and a failed wait that puts the capacity back."""

from __future__ import annotations

import threading

import pytest

from runbook_engine.actions.aws.scaling_asg import AsgParams, ScalingAsgAction
from runbook_engine.errors import ActionError
from runbook_engine.plugin.contract import ActionContext, Result
from runbook_engine.service import Engine
from runbook_engine.spec.loader import load_text
from tests.aws.aws_helpers import asg_state, make_asg, unique


def scale(ctx: ActionContext, **params: object) -> Result:
    return ScalingAsgAction().run(AsgParams.model_validate(params), ctx)


def in_service(name: str) -> int:
    instances = asg_state(name)["Instances"]
    return sum(1 for i in instances if i["LifecycleState"] == "InService")


def test_scale_out_waits_for_in_service_and_records_the_previous_sizes(
    aws: str, ctx: ActionContext
) -> None:
    name = unique("web")
    make_asg(name, desired=2, min_size=1, max_size=4)
    result = scale(ctx, group=name, desired_capacity=6, max_size=8, interval=0.1)
    assert result["previous"] == {"desired_capacity": 2, "min_size": 1, "max_size": 4}
    assert (result["desired_capacity"], result["max_size"], result["changed"]) == (6, 8, True)
    assert result["in_service"] == 6
    assert len(result["instances"]) == 6
    assert in_service(name) == 6
    # the automatic undo puts back both sizes the step changed
    action = ScalingAsgAction()
    params = AsgParams(group=name, desired_capacity=6, max_size=8, interval=0.1)
    undone = action.undo(params, result, ctx)
    assert undone is not None
    assert undone["restored"] == {"desired_capacity": 2, "min_size": 1, "max_size": 4}
    group = asg_state(name)
    assert (group["DesiredCapacity"], group["MaxSize"]) == (2, 4)
    assert in_service(name) == 2


def test_nothing_to_change_is_not_undone(aws: str, ctx: ActionContext) -> None:
    name = unique("same")
    make_asg(name, desired=2)
    result = scale(ctx, group=name, desired_capacity=2, interval=0.1)
    assert result["changed"] is False
    assert ScalingAsgAction().undo(AsgParams(group=name, desired_capacity=2), result, ctx) is None


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"max_capacity": 5}, "capacity 8 is above max_capacity 5"),
        ({"max_change": "50%"}, "a change from 4 to 8 (+4) is more than max_change 50% allows (2)"),
        ({"max_change": 3}, "a change from 4 to 8 (+4) is more than max_change 3 allows (3)"),
        ({"max_capacity": 20, "min_capacity": 9}, "capacity 8 is below min_capacity 9"),
    ],
)
def test_guardrails_refuse_before_changing_anything(
    aws: str, ctx: ActionContext, limits: dict[str, object], message: str
) -> None:
    name = unique("guarded")
    make_asg(name, desired=4)
    with pytest.raises(ActionError) as caught:
        scale(ctx, group=name, desired_capacity=8, limits=limits, on_exceed="refuse")
    assert message in str(caught.value)
    assert str(caught.value).endswith("nothing was changed")
    assert caught.value.kind == "guardrail"
    assert caught.value.retryable is False
    assert asg_state(name)["DesiredCapacity"] == 4


def test_guardrail_holds_a_new_max_size_to_max_capacity(aws: str, ctx: ActionContext) -> None:
    name = unique("max")
    make_asg(name, desired=2)
    with pytest.raises(ActionError, match="max_size 30 is above max_capacity 20"):
        scale(ctx, group=name, max_size=30, limits={"max_capacity": 20})


def test_a_wait_that_times_out_puts_the_capacity_back(aws: str, ctx: ActionContext) -> None:
    # Protected instances are never scaled in, so the group never gets down to 1 InService.
    name = unique("stuck")
    make_asg(name, desired=3, protected=True)
    with pytest.raises(ActionError) as caught:
        scale(ctx, group=name, desired_capacity=1, timeout=0.5, interval=0.1)
    assert caught.value.kind == "timeout"
    assert caught.value.retryable is True
    assert f"put {name} back to desired 3 (min 0, max 10)" in str(caught.value)
    assert asg_state(name)["DesiredCapacity"] == 3


def test_a_cancel_while_waiting_puts_the_capacity_back(aws: str, ctx: ActionContext) -> None:
    name = unique("cancelled")
    make_asg(name, desired=3, protected=True)
    threading.Timer(0.5, ctx.cancelled.set).start()
    with pytest.raises(ActionError) as caught:
        scale(ctx, group=name, desired_capacity=1, timeout=60, interval=0.1)
    assert caught.value.kind == "cancelled"
    assert asg_state(name)["DesiredCapacity"] == 3


def test_describe_and_dry_run_show_the_exact_calls(aws: str) -> None:
    params = AsgParams(group="web", desired_capacity=6, limits={"max_capacity": 10})
    action = ScalingAsgAction()
    assert action.describe(params) == (
        "autoscaling.DescribeAutoScalingGroups(AutoScalingGroupNames=['web']); "
        "refuse unless within limits {'max_capacity': 10}; "
        "autoscaling.UpdateAutoScalingGroup(AutoScalingGroupName='web', DesiredCapacity=6); "
        "wait until 6 instances InService (every 10s, timeout 600s)"
    )
    dry = ActionContext(run_id="r", step_id="s", dry_run=True)
    result = action.run(params, dry)
    assert result["dry_run"] is True
    assert (
        "autoscaling.UpdateAutoScalingGroup(AutoScalingGroupName='web', DesiredCapacity=6)"
        in (result["calls"])
    )


SCALE_THEN_FAIL = """\
apiVersion: runbook/v1
name: scale-then-fail
version: 1
parameters:
  group: {type: string}
steps:
  - id: scale-out
    action: scaling.asg
    with: {group: "{{ params.group }}", desired_capacity: 5, interval: 0.1}
  - id: smoke-test
    action: fail
    with: {message: "the new instances do not serve traffic"}
"""


def test_a_failure_after_a_scale_out_rolls_capacity_back_by_itself(
    aws: str, engine: Engine
) -> None:
    name = unique("rollback")
    make_asg(name, desired=2)
    outcome = engine.start(load_text(SCALE_THEN_FAIL), {"group": name}, requester="alice")
    assert outcome.status == "rolled_back"
    scaled = outcome.state.steps["scale-out"].result or {}
    assert scaled["previous"]["desired_capacity"] == 2
    assert scaled["in_service"] == 5
    assert asg_state(name)["DesiredCapacity"] == 2
    assert in_service(name) == 2
    events = [e.type for e in engine.store.events(outcome.run_id)]
    assert "rollback.step_succeeded" in events
