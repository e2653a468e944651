"""The shipped AWS runbooks, end to end through the CLI against moto."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from runbook_engine.actions.aws.scaling_ecs import revision_of
from runbook_engine.cli import main
from tests.aws.aws_helpers import (
    asg_state,
    ecs_state,
    instance_states,
    make_asg,
    make_ecs_service,
    make_instances,
    unique,
)

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
AWS_RUNBOOKS = (
    "asg-scale-out",
    "ecs-rollback",
    "reboot-unhealthy-instances",
    "security-group-audit",
)

pytestmark = pytest.mark.usefixtures("aws", "workdir", "cli_with_aws")


def invoke(*args: str, user: str = "alice") -> Result:
    return CliRunner().invoke(main, list(args), env={"RUNBOOK_USER": user}, catch_exceptions=False)


def run(name: str, *params: str, expect: int = 0) -> dict[str, Any]:
    args = ["run", name, "--yes", "-o", "json", "--no-wait"]
    for param in params:
        args += ["-p", param]
    result = invoke(*args)
    assert result.exit_code == expect, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def test_the_aws_runbooks_validate() -> None:
    result = invoke("validate", *(str(RUNBOOKS / f"{name}.yaml") for name in AWS_RUNBOOKS))
    assert result.exit_code == 0, result.output


def test_asg_scale_out_a_little_needs_no_approval() -> None:
    group = unique("web")
    make_asg(group, desired=2, max_size=4)
    data = run("asg-scale-out", f"group={group}", "desired=5")
    assert data["status"] == "succeeded"
    assert data["steps"]["approve"]["status"] == "skipped"
    assert data["steps"]["current"]["outputs"] == {
        "desired": 2,
        "max_size": 4,
        "needs_approval": False,
    }
    state = asg_state(group)
    assert (state["DesiredCapacity"], state["MaxSize"]) == (5, 5)


def test_asg_scale_out_a_lot_waits_for_an_sre_lead(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "groups.yaml").write_text("sre-leads: [carol]\n")
    monkeypatch.setenv("RUNBOOK_GROUPS", str(workdir / "groups.yaml"))
    group = unique("web")
    make_asg(group, desired=2)
    waiting = run("asg-scale-out", f"group={group}", "desired=9", expect=5)
    assert waiting["status"] == "waiting_approval"
    assert asg_state(group)["DesiredCapacity"] == 2  # nothing changed before the approval
    approved = invoke("approve", waiting["run_id"], "-o", "json", user="carol")
    assert approved.exit_code == 0, approved.output
    assert json.loads(approved.output)["status"] == "succeeded"
    assert asg_state(group)["DesiredCapacity"] == 9


def test_asg_scale_out_refuses_past_the_hard_limit() -> None:
    group = unique("web")
    make_asg(group, desired=2)
    data = run("asg-scale-out", f"group={group}", "desired=60", expect=1)
    assert data["failure"]["step"] == "within-limits"
    assert "up to max_capacity 40" in data["failure"]["message"]
    assert asg_state(group)["DesiredCapacity"] == 2


def test_asg_scale_out_dry_run_shows_the_api_calls() -> None:
    result = invoke(
        "run", "asg-scale-out", "-p", "group=web", "-p", "desired=6", "--dry-run", "-o", "json"
    )
    assert result.exit_code == 0, result.output
    steps = {s["id"]: s for s in json.loads(result.output)["steps"]}
    assert steps["current"]["call"].startswith(
        "autoscaling.DescribeAutoScalingGroups(AutoScalingGroupNames=['web'])"
    )


def test_ecs_rollback_deploys_the_previous_revision(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster, service = unique("prod"), unique("api")
    make_ecs_service(monkeypatch, cluster, service, revisions=3, desired=2)
    data = run("ecs-rollback", f"cluster={cluster}", f"service={service}")
    assert data["status"] == "succeeded", data
    assert revision_of(data["steps"]["before"]["outputs"]["task_definition"]) == f"{service}:3"
    state = ecs_state(cluster, service)
    assert revision_of(state["taskDefinition"]) == f"{service}:2"
    assert state["runningCount"] == 2


def _alarm(instance: str, state: str) -> None:
    cloudwatch = boto3.client("cloudwatch")
    name = f"status-check-{instance}"
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/EC2",
        MetricName="StatusCheckFailed",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=2,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Dimensions=[{"Name": "InstanceId", "Value": instance}],
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")


def test_reboot_unhealthy_instances_reboots_only_the_alarmed_ones_of_the_role() -> None:
    role = unique("web")
    ours = make_instances(3, {"Role": role})
    theirs = make_instances(1, {"Role": unique("db")})
    _alarm(ours[0], "ALARM")
    _alarm(ours[1], "OK")
    _alarm(theirs[0], "ALARM")
    data = run("reboot-unhealthy-instances", f"role={role}")
    assert data["status"] == "succeeded", data
    assert data["steps"]["unhealthy"]["outputs"]["ids"] == [ours[0]]
    assert data["steps"]["reboot"]["status"] == "succeeded"
    assert "all-healthy" not in data["steps"]
    assert set(instance_states(ours).values()) == {"running"}


def test_reboot_unhealthy_instances_with_nothing_to_do() -> None:
    role = unique("quiet")
    make_instances(1, {"Role": role})
    data = run("reboot-unhealthy-instances", f"role={role}")
    assert data["status"] == "succeeded"
    assert "reboot" not in data["steps"]
    assert data["steps"]["all-healthy"]["status"] == "succeeded"


def test_security_group_audit_fails_on_ssh_open_to_the_world() -> None:
    # a region of its own: the audit looks at every group in it
    region = "eu-north-1"
    ec2 = boto3.client("ec2", region_name=region)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    web = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            },
        ],
    )
    clean = run("security-group-audit", f"region={region}")
    assert clean["status"] == "succeeded"

    bastion = ec2.create_security_group(GroupName="bastion", Description="bastion", VpcId=vpc)[
        "GroupId"
    ]
    ec2.authorize_security_group_ingress(
        GroupId=bastion,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 20,
                "ToPort": 25,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            },
        ],
    )
    failed = run("security-group-audit", f"region={region}", expect=1)
    assert failed["failure"]["step"] == "audit"
    assert failed["failure"]["kind"] == "assert"
    assert "security groups open port 22 to the internet" in failed["failure"]["message"]
    assert bastion in failed["failure"]["message"]
    assert web not in failed["failure"]["message"]
    # any port can be audited; 443 open to the world is found the same way
    https = run("security-group-audit", f"region={region}", "port=443", expect=1)
    assert web in https["failure"]["message"]
