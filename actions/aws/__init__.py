"""AWS actions on boto3: any API call, waits and assertions, and capacity changes that undo
themselves.

* ``aws.call``, ``aws.wait``, ``aws.assert``: generic, any service and operation botocore knows,
  parameters checked against the service model before anything runs.
* ``scaling.asg``, ``scaling.ecs``: capacity, with guardrails (``limits``) and automatic undo.
* ``ec2.instances``: start / stop / reboot by id or tags, with automatic undo.
* ``resolve_ec2_hosts``: EC2 instances as SSH hosts (``ec2:tag:Role=web``).

See docs/aws.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runbook_engine.actions.aws.assertion import AwsAssertAction
    from runbook_engine.actions.aws.call import AwsCallAction
    from runbook_engine.actions.aws.ec2 import Ec2InstancesAction
    from runbook_engine.actions.aws.ec2_inventory import resolve_ec2_hosts
    from runbook_engine.actions.aws.scaling_asg import ScalingAsgAction
    from runbook_engine.actions.aws.scaling_ecs import ScalingEcsAction
    from runbook_engine.actions.aws.wait import AwsWaitAction

__all__ = [
    "ACTIONS",
    "AwsAssertAction",
    "AwsCallAction",
    "AwsWaitAction",
    "Ec2InstancesAction",
    "ScalingAsgAction",
    "ScalingEcsAction",
    "resolve_ec2_hosts",
]

# Importing this package must stay cheap (boto3 takes a third of a second): each name is
# imported from its module when first asked for (PEP 562).
_WHERE = {
    "AwsAssertAction": "runbook_engine.actions.aws.assertion",
    "AwsCallAction": "runbook_engine.actions.aws.call",
    "AwsWaitAction": "runbook_engine.actions.aws.wait",
    "Ec2InstancesAction": "runbook_engine.actions.aws.ec2",
    "ScalingAsgAction": "runbook_engine.actions.aws.scaling_asg",
    "ScalingEcsAction": "runbook_engine.actions.aws.scaling_ecs",
    "resolve_ec2_hosts": "runbook_engine.actions.aws.ec2_inventory",
}
_ACTION_NAMES = (
    "AwsCallAction",
    "AwsWaitAction",
    "AwsAssertAction",
    "ScalingAsgAction",
    "ScalingEcsAction",
    "Ec2InstancesAction",
)


def __getattr__(name: str) -> Any:
    if name == "ACTIONS":
        #: every AWS action, in the form ``Registry.load_entry_points`` accepts
        return [__getattr__(n) for n in _ACTION_NAMES]
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'runbook_engine.actions.aws' has no attribute {name!r}")
