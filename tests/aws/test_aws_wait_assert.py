"""``aws.wait`` and ``aws.assert`` against moto."""

from __future__ import annotations

import threading
import time

import boto3
import pytest

from runbook_engine.actions.aws.assertion import AwsAssertAction, AwsAssertParams
from runbook_engine.actions.aws.wait import AwsWaitAction, AwsWaitParams
from runbook_engine.errors import ActionError, ActionTimeout
from runbook_engine.plugin.contract import ActionContext, Result
from tests.aws.aws_helpers import make_asg, make_instances, unique


def wait(ctx: ActionContext, **params: object) -> Result:
    return AwsWaitAction().run(AwsWaitParams.model_validate(params), ctx)


def check(ctx: ActionContext, **params: object) -> Result:
    return AwsAssertAction().run(AwsAssertParams.model_validate(params), ctx)


def group_query(name: str) -> dict[str, object]:
    return {
        "service": "autoscaling",
        "operation": "DescribeAutoScalingGroups",
        "params": {"AutoScalingGroupNames": [name]},
    }


def test_wait_until_a_condition_holds(aws: str) -> None:
    name = unique("wait")
    make_asg(name, desired=3)
    lines: list[str] = []
    first_look = threading.Event()

    def log(line: str) -> None:
        lines.append(line)
        if line.endswith(" = 3"):  # the first look, which saw 3 InService
            first_look.set()

    ctx = ActionContext(run_id="r", step_id="s", log=log)

    def scale_after_the_first_look() -> None:
        first_look.wait(10)
        boto3.client("autoscaling").set_desired_capacity(
            AutoScalingGroupName=name, DesiredCapacity=5
        )

    helper = threading.Thread(target=scale_after_the_first_look)
    helper.start()
    query = "length(AutoScalingGroups[0].Instances[?LifecycleState=='InService'])"
    result = wait(
        ctx, **group_query(name), until={"query": query, "min": 5}, interval=0.1, timeout=10
    )
    helper.join()
    assert result["value"] == 5
    assert result["checks"] >= 2
    assert f"{query} = 3" in lines  # progress is logged when it changes
    assert f"{query} = 5" in lines


def test_named_waiter_polls_without_botocore_sleeping(aws: str, ctx: ActionContext) -> None:
    ids = make_instances(2, {"Role": unique("waiter")})
    boto3.client("ec2").stop_instances(InstanceIds=ids)
    result = wait(
        ctx, service="ec2", waiter="instance_stopped", params={"InstanceIds": ids}, interval=0.1
    )
    assert "stopped" in str(result["value"])


def test_waiter_failure_state_is_not_retryable(aws: str, ctx: ActionContext) -> None:
    ids = make_instances(1, {"Role": unique("gone")})
    boto3.client("ec2").terminate_instances(InstanceIds=ids)
    with pytest.raises(ActionError) as caught:
        wait(
            ctx, service="ec2", waiter="InstanceRunning", params={"InstanceIds": ids}, interval=0.1
        )
    assert "waiter InstanceRunning: reached a failure state" in str(caught.value)
    assert caught.value.retryable is False


def test_wait_times_out_with_the_last_value(aws: str, ctx: ActionContext) -> None:
    name = unique("never")
    make_asg(name, desired=1)
    with pytest.raises(ActionTimeout) as caught:
        wait(
            ctx,
            **group_query(name),
            until={"query": "AutoScalingGroups[0].DesiredCapacity", "equals": 9},
            interval=0.1,
            timeout=0.5,
        )
    assert "still not done after 0.5s" in str(caught.value)
    assert "AutoScalingGroups[0].DesiredCapacity = 1" in str(caught.value)


def test_wait_stops_at_once_when_cancelled(aws: str, ctx: ActionContext) -> None:
    name = unique("cancel")
    make_asg(name, desired=1)
    threading.Timer(0.3, ctx.cancelled.set).start()
    started = time.monotonic()
    with pytest.raises(ActionError) as caught:
        wait(
            ctx,
            **group_query(name),
            until={"query": "AutoScalingGroups[0].DesiredCapacity", "equals": 9},
            interval=30,
            timeout=600,
        )
    assert time.monotonic() - started < 3
    assert caught.value.kind == "cancelled"


def test_assert_passes_with_the_actual_value(aws: str, ctx: ActionContext) -> None:
    name = unique("ok")
    make_asg(name, desired=2)
    result = check(
        ctx,
        **group_query(name),
        that={"query": "AutoScalingGroups[0].DesiredCapacity", "in": [2, 3]},
    )
    assert result == {"actual": 2, "passed": True}


def test_assert_fails_without_retry_showing_the_actual_value(aws: str, ctx: ActionContext) -> None:
    name = unique("bad")
    make_asg(name, desired=2)
    with pytest.raises(ActionError) as caught:
        check(
            ctx,
            **group_query(name),
            that={"query": "AutoScalingGroups[0].DesiredCapacity", "min": 3, "max": 10},
            message="too few instances",
        )
    assert str(caught.value) == "too few instances (actual: 2)"
    assert caught.value.kind == "assert"
    assert caught.value.retryable is False


def test_dry_run_wait_and_assert_call_nothing() -> None:
    dry = ActionContext(run_id="r", step_id="s", dry_run=True)
    waited = wait(dry, service="ec2", waiter="instance_running", params={"InstanceIds": ["i-1"]})
    assert waited == {
        "dry_run": True,
        "calls": [
            "every 15s: ec2.DescribeInstances(InstanceIds=['i-1']) until the ec2 waiter "
            "InstanceRunning succeeds (timeout 600s)"
        ],
    }
    asserted = check(
        dry, **group_query("web"), that={"query": "length(AutoScalingGroups)", "equals": 1}
    )
    assert asserted["calls"] == [
        "autoscaling.DescribeAutoScalingGroups(AutoScalingGroupNames=['web']) (all pages); "
        "expect length(AutoScalingGroups) == 1"
    ]
