"""Parameters of AWS operations are checked against botocore's service model before anything is
called: in the parameter model (so ``Engine.preflight`` refuses literal mistakes), and at run time
for templated values, before the call."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from runbook_engine.actions.aws.assertion import AwsAssertParams
from runbook_engine.actions.aws.call import AwsCallParams
from runbook_engine.actions.aws.scaling_asg import AsgParams
from runbook_engine.actions.aws.wait import AwsWaitParams
from runbook_engine.cli import main
from runbook_engine.errors import RunbookInvalid
from runbook_engine.service import Engine
from runbook_engine.spec.loader import load_text
from tests.aws.aws_helpers import FaultProxy


def error_of(model: type, **params: object) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(params)  # type: ignore[attr-defined]
    return str(caught.value)


def test_pascal_and_snake_case_operations_are_the_same_call() -> None:
    snake = AwsCallParams(service="ec2", operation="describe_instances")
    pascal = AwsCallParams(service="ec2", operation="DescribeInstances")
    assert snake.operation == pascal.operation == "DescribeInstances"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"service": "ec3", "operation": "DescribeInstances"}, "unknown AWS service 'ec3'"),
        (
            {"service": "ec2", "operation": "DescribeInstance"},
            "ec2 has no operation 'DescribeInstance'; did you mean 'DescribeInstances'?",
        ),
        (
            {
                "service": "autoscaling",
                "operation": "UpdateAutoScalingGroup",
                "params": {"AutoScalingGroupName": "web", "DesiredCapacty": 6},
            },
            "params.DesiredCapacty\n  autoscaling.UpdateAutoScalingGroup has no parameter "
            "'DesiredCapacty'; did you mean 'DesiredCapacity'?",
        ),
        (
            {
                "service": "autoscaling",
                "operation": "UpdateAutoScalingGroup",
                "params": {"DesiredCapacity": 6},
            },
            'Missing required parameter in input: "AutoScalingGroupName"',
        ),
        (
            {
                "service": "autoscaling",
                "operation": "UpdateAutoScalingGroup",
                "params": {"AutoScalingGroupName": "web", "DesiredCapacity": "six"},
            },
            "Invalid type for parameter DesiredCapacity, value: six",
        ),
        (
            {
                "service": "ec2",
                "operation": "DescribeInstances",
                "params": {"Filters": [{"Name": "tag:Role", "Value": ["web"]}]},
            },
            'Unknown parameter in Filters[0]: "Value"',
        ),
        ({"service": "ec2", "operation": "DescribeInstances", "query": "[?"}, "not valid JMESPath"),
        ({"service": "sts", "operation": "GetCallerIdentity", "paginate": True}, "cannot paginate"),
        (
            {"service": "sts", "operation": "GetCallerIdentity", "role_arn": "ops"},
            "not an IAM role",
        ),
    ],
)
def test_call_parameters_are_checked_against_the_service_model(
    params: dict[str, object], expected: str
) -> None:
    assert expected in error_of(AwsCallParams, **params)


def test_wait_and_assert_check_their_calls_too() -> None:
    assert "ec2 has no waiter 'instance_runing'; did you mean 'InstanceRunning'?" in error_of(
        AwsWaitParams, service="ec2", waiter="instance_runing", params={"InstanceIds": ["i-1"]}
    )
    assert "ec2.DescribeInstances has no parameter 'InstanceId'" in error_of(
        AwsWaitParams, service="ec2", waiter="instance_running", params={"InstanceId": ["i-1"]}
    )
    assert "give either `operation` with `until`, or `waiter`" in error_of(
        AwsWaitParams, service="ec2"
    )
    assert "not a read-only operation" in error_of(
        AwsAssertParams,
        service="ec2",
        operation="TerminateInstances",
        params={"InstanceIds": ["i-1"]},
        that={"equals": []},
    )
    assert "give at least one of: equals" in error_of(
        AwsAssertParams, service="ec2", operation="DescribeInstances", that={"query": "x"}
    )


def test_scaling_parameters_are_consistent() -> None:
    assert "give desired_capacity, min_size or max_size" in error_of(AsgParams, group="web")
    assert "desired_capacity 8 is above max_size 4" in error_of(
        AsgParams, group="web", desired_capacity=8, max_size=4
    )
    assert "max_change must be a count or a percentage" in error_of(
        AsgParams, group="web", desired_capacity=2, limits={"max_change": "half"}
    )


MISSPELT = """\
apiVersion: runbook/v1
name: misspelt
version: 1
steps:
  - id: look
    action: aws.call
    with:
      service: autoscaling
      operation: DescribeAutoScalingGroups
  - id: scale
    action: aws.call
    with:
      service: autoscaling
      operation: UpdateAutoScalingGroup
      params: {AutoScalingGroupName: web, DesiredCapacty: 6}
"""


def test_preflight_refuses_a_misspelt_literal_parameter(engine: Engine) -> None:
    with pytest.raises(RunbookInvalid) as caught:
        engine.preflight(load_text(MISSPELT, "misspelt.yaml"))
    [problem] = caught.value.problems
    assert problem.path == "steps[1].with.params.DesiredCapacty"
    assert (problem.line, problem.column) == (15, 59)
    assert problem.message == (
        "autoscaling.UpdateAutoScalingGroup has no "
        "parameter 'DesiredCapacty'; did you mean 'DesiredCapacity'?"
    )


@pytest.mark.usefixtures("cli_with_aws", "workdir")
def test_runbook_run_exits_2_naming_the_parameter_and_calls_nothing(
    fault_proxy: Callable[..., FaultProxy], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    proxy = fault_proxy()  # every AWS request would pass through it
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    path = tmp_path / "misspelt.yaml"
    path.write_text(MISSPELT)
    result = CliRunner().invoke(main, ["run", str(path), "--yes"], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert "misspelt.yaml:15:59: steps[1].with.params.DesiredCapacty:" in result.output
    assert "did you mean 'DesiredCapacity'?" in result.output
    assert proxy.requests == []


TEMPLATED = """\
apiVersion: runbook/v1
name: templated
version: 1
parameters:
  count: {type: string, default: "six"}
steps:
  - id: scale
    action: aws.call
    with:
      service: autoscaling
      operation: UpdateAutoScalingGroup
      params: {AutoScalingGroupName: web, DesiredCapacity: "{{ params.count }}"}
"""


def test_templated_values_are_checked_when_rendered_before_the_call(
    engine: Engine, fault_proxy: Callable[..., FaultProxy], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = fault_proxy()
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    outcome = engine.start(load_text(TEMPLATED), {}, requester="alice")
    assert outcome.status == "failed"
    error = outcome.state.steps["scale"].error or {}
    assert error["kind"] == "input"
    assert "Invalid type for parameter DesiredCapacity, value: six" in error["message"]
    assert proxy.requests == []
