"""``ec2.instances`` and ``resolve_ec2_hosts`` against moto."""

from __future__ import annotations

import boto3
import pytest

from runbook_engine.actions.aws.ec2 import Ec2InstancesAction, Ec2InstancesParams
from runbook_engine.actions.aws.ec2_inventory import parse_pattern, resolve_ec2_hosts
from runbook_engine.errors import ActionError, ActionInputError
from runbook_engine.plugin.contract import ActionContext, Result
from runbook_engine.service import Engine
from runbook_engine.spec.loader import load_text
from tests.aws.aws_helpers import instance_states, make_instances, unique


def act(ctx: ActionContext, **params: object) -> Result:
    return Ec2InstancesAction().run(Ec2InstancesParams.model_validate(params), ctx)


def test_stop_by_tags_waits_and_skips_what_is_already_stopped(aws: str, ctx: ActionContext) -> None:
    role = unique("batch")
    ids = make_instances(3, {"Role": role})
    boto3.client("ec2").stop_instances(InstanceIds=ids[:1])
    result = act(ctx, action="stop", tags={"Role": role}, interval=0.1)
    assert result["instances"] == ids[1:]
    assert result["skipped"] == {ids[0]: "stopped"}
    assert result["previous"] == {ids[0]: "stopped", ids[1]: "running", ids[2]: "running"}
    assert set(instance_states(ids).values()) == {"stopped"}
    # the undo starts only what the step stopped
    params = Ec2InstancesParams(action="stop", tags={"Role": role}, interval=0.1)
    Ec2InstancesAction().undo(params, result, ctx)
    assert instance_states(ids) == {ids[0]: "stopped", ids[1]: "running", ids[2]: "running"}


def test_reboot_waits_for_status_checks_and_has_nothing_to_undo(
    aws: str, ctx: ActionContext
) -> None:
    ids = make_instances(2, {"Role": unique("reboot")})
    result = act(ctx, action="reboot", instance_ids=ids, interval=0.1)
    assert result["instances"] == ids
    params = Ec2InstancesParams(action="reboot", instance_ids=ids)
    assert Ec2InstancesAction().undo(params, result, ctx) is None


def test_max_instances_refuses_a_too_wide_selection(aws: str, ctx: ActionContext) -> None:
    role = unique("wide")
    ids = make_instances(3, {"Role": role})
    with pytest.raises(ActionError) as caught:
        act(ctx, action="stop", tags={"Role": role}, max_instances=2)
    assert caught.value.kind == "guardrail"
    assert "3 instances match, more than max_instances 2" in str(caught.value)
    assert set(instance_states(ids).values()) == {"running"}


def test_nothing_matching_is_an_input_error(aws: str, ctx: ActionContext) -> None:
    with pytest.raises(ActionInputError, match="no instances match"):
        act(ctx, action="start", tags={"Role": unique("nobody")})


START_THEN_FAIL = """\
apiVersion: runbook/v1
name: start-then-fail
version: 1
parameters:
  role: {type: string}
steps:
  - id: start-spares
    action: ec2.instances
    with: {action: start, tags: {Role: "{{ params.role }}"}, interval: 0.1}
  - id: verify
    action: fail
    with: {message: "spares did not join the pool"}
"""


def test_a_failure_after_starting_instances_stops_them_again(aws: str, engine: Engine) -> None:
    role = unique("spare")
    ids = make_instances(2, {"Role": role})
    boto3.client("ec2").stop_instances(InstanceIds=ids)
    outcome = engine.start(load_text(START_THEN_FAIL), {"role": role}, requester="alice")
    assert outcome.status == "rolled_back"
    assert (outcome.state.steps["start-spares"].result or {})["instances"] == ids
    assert set(instance_states(ids).values()) == {"stopped"}


def test_resolve_hosts_by_tag(aws: str) -> None:
    role = unique("web")
    ids = make_instances(2, {"Role": role, "Env": "prod"})
    make_instances(1, {"Role": role, "Env": "staging"})
    stopped = make_instances(1, {"Role": role, "Env": "prod"})
    boto3.client("ec2").stop_instances(InstanceIds=stopped)
    hosts = resolve_ec2_hosts(f"ec2:tag:Role={role},tag:Env=prod", region=None)
    assert [h["name"] for h in hosts] == ids  # running only, sorted
    first = hosts[0]
    assert first["address"] == first["vars"]["private_ip"]
    assert first["vars"]["tags"] == {"Role": role, "Env": "prod"}
    assert first["vars"]["region"] == "us-east-1"
    public = resolve_ec2_hosts(f"ec2:id:{ids[0]}", region="us-east-1", address="public")
    assert public[0]["address"] == public[0]["vars"]["public_ip"]
    assert resolve_ec2_hosts(f"ec2:tag:Role={unique('none')}", region=None) == []


def test_ec2_patterns() -> None:
    assert parse_pattern("ec2:tag:Role=web|api,instance-type=t3.micro") == [
        {"Name": "tag:Role", "Values": ["web", "api"]},
        {"Name": "instance-type", "Values": ["t3.micro"]},
        {"Name": "instance-state-name", "Values": ["running"]},
    ]
    assert parse_pattern("ec2:instance-state-name=stopped") == [
        {"Name": "instance-state-name", "Values": ["stopped"]}
    ]
    for bad in ("web-*", "ec2:", "ec2:tag:Role", "ec2:tag:=web"):
        with pytest.raises(ActionInputError):
            parse_pattern(bad)
