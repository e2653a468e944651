"""``scaling.ecs`` against moto: a rollback to the previous task definition, desired count with
guardrails, and the automatic undo through the Engine."""

from __future__ import annotations

import pytest

from runbook_engine.actions.aws.scaling_ecs import EcsParams, ScalingEcsAction, revision_of
from runbook_engine.errors import ActionError
from runbook_engine.plugin.contract import ActionContext, Result
from runbook_engine.service import Engine
from runbook_engine.spec.loader import load_text
from tests.aws.aws_helpers import ecs_state, make_ecs_service, unique


def scale(ctx: ActionContext, **params: object) -> Result:
    return ScalingEcsAction().run(EcsParams.model_validate(params), ctx)


def test_rollback_to_the_previous_task_definition(
    aws: str, ctx: ActionContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster, service = unique("prod"), unique("api")
    arns = make_ecs_service(monkeypatch, cluster, service, revisions=3, desired=2)
    result = scale(ctx, cluster=cluster, service=service, task_definition="previous", interval=0.1)
    assert revision_of(result["previous"]["task_definition"]) == f"{service}:3"
    assert revision_of(result["task_definition"]) == f"{service}:2"
    assert result["changed"] is True
    assert result["running_count"] == 2
    assert revision_of(ecs_state(cluster, service)["taskDefinition"]) == revision_of(arns[1])
    # undone, the service runs revision 3 again
    params = EcsParams(cluster=cluster, service=service, task_definition="previous", interval=0.1)
    ScalingEcsAction().undo(params, result, ctx)
    assert revision_of(ecs_state(cluster, service)["taskDefinition"]) == f"{service}:3"


def test_previous_skips_deregistered_revisions(
    aws: str, ctx: ActionContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    cluster, service = unique("prod"), unique("skip")
    arns = make_ecs_service(monkeypatch, cluster, service, revisions=3, desired=1)
    boto3.client("ecs").deregister_task_definition(taskDefinition=arns[1])
    result = scale(ctx, cluster=cluster, service=service, task_definition="previous", interval=0.1)
    assert revision_of(result["task_definition"]) == f"{service}:1"


def test_no_previous_revision_is_a_clear_error(
    aws: str, ctx: ActionContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster, service = unique("prod"), unique("first")
    make_ecs_service(monkeypatch, cluster, service, revisions=1, desired=1)
    with pytest.raises(ActionError, match=f"no ACTIVE revision of {service} before {service}:1"):
        scale(ctx, cluster=cluster, service=service, task_definition="previous")
    assert revision_of(ecs_state(cluster, service)["taskDefinition"]) == f"{service}:1"


def test_desired_count_is_held_to_the_limits(
    aws: str, ctx: ActionContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster, service = unique("prod"), unique("capped")
    make_ecs_service(monkeypatch, cluster, service, revisions=1, desired=2)
    with pytest.raises(ActionError) as caught:
        scale(ctx, cluster=cluster, service=service, desired_count=12, limits={"max_capacity": 10})
    assert caught.value.kind == "guardrail"
    assert ecs_state(cluster, service)["desiredCount"] == 2


def test_describe_names_the_update_call() -> None:
    params = EcsParams(cluster="prod", service="api", task_definition="api:7", desired_count=4)
    assert ScalingEcsAction().describe(params) == (
        "ecs.DescribeServices(cluster='prod', services=['api']); "
        "ecs.UpdateService(cluster='prod', service='api', taskDefinition='api:7', desiredCount=4); "
        "wait for a steady state (every 10s, timeout 900s)"
    )


SCALE_THEN_FAIL = """\
apiVersion: runbook/v1
name: ecs-scale-then-fail
version: 1
parameters:
  cluster: {type: string}
  service: {type: string}
steps:
  - id: more-tasks
    action: scaling.ecs
    with:
      cluster: "{{ params.cluster }}"
      service: "{{ params.service }}"
      desired_count: 4
      interval: 0.1
  - id: check
    action: fail
    with: {message: "error rate still high"}
"""


def test_a_failure_after_scaling_a_service_rolls_it_back(
    aws: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster, service = unique("prod"), unique("web")
    make_ecs_service(monkeypatch, cluster, service, revisions=2, desired=2)
    outcome = engine.start(
        load_text(SCALE_THEN_FAIL), {"cluster": cluster, "service": service}, requester="alice"
    )
    assert outcome.status == "rolled_back"
    assert (outcome.state.steps["more-tasks"].result or {})["desired_count"] == 4
    state = ecs_state(cluster, service)
    assert state["desiredCount"] == 2
    assert revision_of(state["taskDefinition"]) == f"{service}:2"
