"""``aws.call`` against moto: pagination, queries, errors, assumed roles, retries over HTTP."""

from __future__ import annotations

from collections.abc import Callable

import boto3
import pytest

from runbook_engine.actions.aws.call import AwsCallAction, AwsCallParams
from runbook_engine.errors import ActionError
from runbook_engine.plugin.contract import ActionContext
from runbook_engine.service import Engine
from runbook_engine.spec.loader import load_text
from tests.aws.aws_helpers import (
    FaultProxy,
    make_asg,
    make_instances,
    throttling,
    unavailable,
    unique,
)


def call(ctx: ActionContext, **params: object) -> dict[str, object]:
    action = AwsCallAction()
    return action.run(AwsCallParams.model_validate(params), ctx)


def test_collects_every_page_and_applies_the_query(aws: str, ctx: ActionContext) -> None:
    role = unique("pages")
    # moto pages DescribeInstances by reservation: seven launches, seven reservations
    ids = sorted(i for _ in range(7) for i in make_instances(1, {"Role": role}))
    result = call(
        ctx,
        service="ec2",
        operation="describe_instances",  # snake_case is accepted too
        params={"Filters": [{"Name": "tag:Role", "Values": [role]}], "MaxResults": 5},
        query="Reservations[].Instances[].InstanceId",
    )
    assert result["pages"] == 2
    assert sorted(result["output"]) == ids  # type: ignore[call-overload]  # a JSON list


def test_paginate_false_makes_one_call(aws: str, ctx: ActionContext) -> None:
    role = unique("one-page")
    for _ in range(7):
        make_instances(1, {"Role": role})
    result = call(
        ctx,
        service="ec2",
        operation="DescribeInstances",
        params={"Filters": [{"Name": "tag:Role", "Values": [role]}], "MaxResults": 5},
        paginate=False,
        query="length(Reservations[].Instances[])",
    )
    assert result == {"output": 5, "pages": 1}


def test_output_is_json_safe(aws: str, ctx: ActionContext) -> None:
    role = unique("json")
    make_instances(1, {"Role": role})
    result = call(
        ctx,
        service="ec2",
        operation="DescribeInstances",
        params={"Filters": [{"Name": "tag:Role", "Values": [role]}]},
        query="Reservations[0].Instances[0].LaunchTime",
    )
    assert isinstance(result["output"], str)
    assert str(result["output"]).startswith("20")


def test_client_error_keeps_the_aws_code_and_is_not_retryable(aws: str, ctx: ActionContext) -> None:
    with pytest.raises(ActionError) as caught:
        call(
            ctx,
            service="ec2",
            operation="DescribeInstances",
            params={"InstanceIds": ["i-0123456789abcdef0"]},
        )
    assert str(caught.value).startswith("ec2.DescribeInstances: InvalidInstanceID.NotFound: ")
    assert caught.value.kind == "aws"
    assert caught.value.retryable is False


def test_assumed_role_session_carries_the_run_id(aws: str, ctx: ActionContext) -> None:
    result = call(
        ctx,
        service="sts",
        operation="GetCallerIdentity",
        role_arn="arn:aws:iam::123456789012:role/incident-ops",
        query="Arn",
    )
    assert (
        result["output"] == "arn:aws:sts::123456789012:assumed-role/incident-ops/runbook-run-aws-1"
    )


def test_region_per_step(aws: str, ctx: ActionContext) -> None:
    name = unique("eu")
    make_asg(name, desired=0, region="eu-west-1")
    here = call(
        ctx,
        service="autoscaling",
        operation="DescribeAutoScalingGroups",
        params={"AutoScalingGroupNames": [name]},
        query="length(AutoScalingGroups)",
    )
    there = call(
        ctx,
        service="autoscaling",
        operation="DescribeAutoScalingGroups",
        params={"AutoScalingGroupNames": [name]},
        query="length(AutoScalingGroups)",
        region="eu-west-1",
    )
    assert (here["output"], there["output"]) == (0, 1)


def test_throttling_is_retried_by_botocore(
    aws: str,
    ctx: ActionContext,
    fault_proxy: Callable[..., FaultProxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = fault_proxy(throttling("json"), throttling("json"))
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", proxy.url)
    cluster = unique("throttled")
    boto3.client("ecs", endpoint_url=aws).create_cluster(clusterName=cluster)
    result = call(
        ctx,
        service="ecs",
        operation="DescribeClusters",
        params={"clusters": [cluster]},
        query="clusters[0].clusterName",
    )
    assert result["output"] == cluster
    assert len(proxy.requests) == 3  # two ThrottlingException answers, then the real one


def test_transient_5xx_is_retried(
    aws: str,
    ctx: ActionContext,
    fault_proxy: Callable[..., FaultProxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = fault_proxy(unavailable())
    monkeypatch.setenv("AWS_ENDPOINT_URL_AUTO_SCALING", proxy.url)
    result = call(
        ctx,
        service="autoscaling",
        operation="DescribeAutoScalingGroups",
        query="length(AutoScalingGroups) >= `0`",
    )
    assert result["output"] is True
    assert len(proxy.requests) == 2


def test_throttling_past_max_attempts_is_a_retryable_aws_error(
    aws: str,
    ctx: ActionContext,
    fault_proxy: Callable[..., FaultProxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = fault_proxy(throttling("query"), throttling("query"))
    monkeypatch.setenv("AWS_ENDPOINT_URL_AUTO_SCALING", proxy.url)
    with pytest.raises(ActionError) as caught:
        call(ctx, service="autoscaling", operation="DescribeAutoScalingGroups", max_attempts=2)
    assert str(caught.value) == "autoscaling.DescribeAutoScalingGroups: Throttling: Rate exceeded"
    assert caught.value.kind == "aws"
    assert caught.value.retryable is True
    assert len(proxy.requests) == 2


def test_dry_run_calls_nothing(
    aws: str, fault_proxy: Callable[..., FaultProxy], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = fault_proxy()
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    dry = ActionContext(run_id="r", step_id="s", dry_run=True)
    result = call(
        dry,
        service="autoscaling",
        operation="UpdateAutoScalingGroup",
        params={"AutoScalingGroupName": "web", "DesiredCapacity": 6},
    )
    assert result == {
        "dry_run": True,
        "calls": [
            "autoscaling.UpdateAutoScalingGroup(AutoScalingGroupName='web', DesiredCapacity=6)"
        ],
    }
    assert proxy.requests == []


RETRIED = """\
apiVersion: runbook/v1
name: retried
version: 1
steps:
  - id: look
    action: aws.call
    with:
      service: ecs
      operation: ListClusters
      max_attempts: 1          # no botocore retries: the step's own retry takes over
      query: "length(clusterArns) >= `0`"
    retry: {attempts: 3, delay: 0.1}
"""


def test_throttling_left_over_is_retried_by_the_step(
    engine: Engine, fault_proxy: Callable[..., FaultProxy], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = fault_proxy(throttling("json"), throttling("json"))
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", proxy.url)
    outcome = engine.start(load_text(RETRIED), {}, requester="alice")
    assert outcome.status == "succeeded"
    look = outcome.state.steps["look"]
    assert look.attempt == 3
    assert look.result == {"output": True, "pages": 1}
