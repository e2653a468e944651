"""EC2 instances as SSH hosts: ``ec2:tag:Role=web`` becomes the running instances with that tag.

The SSH actions call ``resolve_ec2_hosts`` when a target starts with ``ec2:``; this module only
knows EC2, the SSH side only knows hosts. Contract::

    resolve_ec2_hosts(pattern, *, region=None, address="private", profile=None,
                      role_arn=None, run_id=None) -> list[dict]

Pattern: ``ec2:`` then comma-separated terms, all of which must match:

* ``tag:KEY=VALUE``  a tag (``VALUE`` may use ``*`` wildcards, ``a|b`` for either)
* ``id:i-0123...``   instance ids (``id:i-1|i-2``)
* ``NAME=VALUE``     any DescribeInstances filter (``instance-type=t3.micro``, ``vpc-id=...``)

Only running instances are returned unless the pattern filters on ``instance-state-name``.
Each host is ``{"name": <instance id>, "address": <private or public IP>, "vars": {...}}``
with ``vars`` = instance_id, private_ip, public_ip, private_dns, public_dns, availability_zone,
instance_type, image_id, vpc_id, region, launch_time and ``tags`` (a dict), sorted by name.
An empty list means nothing matched; the caller decides whether that is an error. A bad pattern
raises ``ActionInputError``; AWS errors raise ``ActionError(kind="aws")``; an instance without
an address of the requested kind raises ``ActionInputError`` naming it, rather than being
silently left out of a command meant for every host.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from runbook_engine.actions.aws._api import jsonable
from runbook_engine.actions.aws._errors import aws_error
from runbook_engine.actions.aws._session import AwsClients, AwsTarget
from runbook_engine.errors import ActionInputError
from runbook_engine.inventory import Host, Inventory
from runbook_engine.inventory.model import ALL

__all__ = ["PREFIX", "ec2_source", "parse_pattern", "resolve_ec2_hosts"]

PREFIX = "ec2:"
_LABEL = "ec2.DescribeInstances"


def parse_pattern(pattern: str) -> list[dict[str, Any]]:
    """DescribeInstances filters for ``pattern`` (see the module docstring)."""
    if not pattern.startswith(PREFIX):
        raise ActionInputError(f"{pattern!r} is not an EC2 pattern (it must start with {PREFIX})")
    body = pattern[len(PREFIX) :].strip()
    if not body:
        raise ActionInputError(f"{pattern!r}: give at least one term, e.g. ec2:tag:Role=web")
    filters: list[dict[str, Any]] = []
    for term in (t.strip() for t in body.split(",")):
        if term.startswith("id:"):
            name, value = "instance-id", term[3:]
        else:
            name, sep, value = term.partition("=")
            if not sep:
                raise ActionInputError(
                    f"{pattern!r}: term {term!r} is not tag:KEY=VALUE, id:ID or NAME=VALUE"
                )
        values = [v.strip() for v in value.split("|") if v.strip()]
        if not name.strip() or name.strip() == "tag:" or not values:
            raise ActionInputError(f"{pattern!r}: term {term!r} needs a name and a value")
        filters.append({"Name": name.strip(), "Values": values})
    if not any(f["Name"] == "instance-state-name" for f in filters):
        filters.append({"Name": "instance-state-name", "Values": ["running"]})
    return filters


def resolve_ec2_hosts(
    pattern: str,
    *,
    region: str | None,
    address: Literal["private", "public"] = "private",
    profile: str | None = None,
    role_arn: str | None = None,
    run_id: str | None = None,
) -> list[dict[str, Any]]:
    """The instances ``pattern`` matches, as SSH host entries (see the module docstring).

    ``role_arn`` is assumed with the session name ``runbook-<run_id>`` when given.
    """
    if address not in ("private", "public"):
        raise ActionInputError(f"address must be 'private' or 'public', not {address!r}")
    filters = parse_pattern(pattern)
    target = AwsTarget(region=region, profile=profile, role_arn=role_arn)
    clients = AwsClients(run_id or "inventory")
    try:
        client = clients.client("ec2", target)
        pages = client.get_paginator("describe_instances").paginate(Filters=filters)
        instances = [
            instance
            for page in pages
            for reservation in page.get("Reservations", [])
            for instance in reservation.get("Instances", [])
        ]
        used_region = client.meta.region_name
    except (BotoCoreError, ClientError) as exc:
        raise aws_error(exc, _LABEL) from exc
    finally:
        clients.close()
    hosts = [_host(instance, used_region) for instance in instances]
    key = "private_ip" if address == "private" else "public_ip"
    missing = [h["name"] for h in hosts if not h["vars"][key]]
    if missing:
        raise ActionInputError(
            f"{pattern}: no {address} IP address on {', '.join(sorted(missing))}"
            + ("; use address: private" if address == "public" else "")
        )
    for host in hosts:
        host["address"] = host["vars"][key]
    return sorted(hosts, key=lambda h: str(h["name"]))


def _host(instance: dict[str, Any], region: str) -> dict[str, Any]:
    tags = {t["Key"]: t["Value"] for t in instance.get("Tags") or []}
    placement = instance.get("Placement") or {}
    launch = instance.get("LaunchTime")
    return {
        "name": instance["InstanceId"],
        "address": None,
        "vars": {
            "instance_id": instance["InstanceId"],
            "private_ip": instance.get("PrivateIpAddress"),
            "public_ip": instance.get("PublicIpAddress"),
            "private_dns": instance.get("PrivateDnsName") or None,
            "public_dns": instance.get("PublicDnsName") or None,
            "availability_zone": placement.get("AvailabilityZone"),
            "instance_type": instance.get("InstanceType"),
            "image_id": instance.get("ImageId"),
            "vpc_id": instance.get("VpcId"),
            "region": region,
            "launch_time": jsonable(launch),
            "tags": tags,
        },
    }


def ec2_source(
    pattern: str,
    inventory: Inventory,
    *,
    options: Mapping[str, Any],
    run_id: str | None = None,
) -> list[Host]:
    """The ``ec2`` inventory source: running EC2 instances matching ``ec2:tag:Role=web`` (and
    the other filters above) as hosts named by instance id, reached by their private address
    (``options["address"] == "public"``: the public one). The inventory's group ``all``
    variables (a fleet-wide user, key, port or known_hosts) apply to them, as to any host named
    outside the inventory."""
    kind: Literal["private", "public"] = (
        "public" if options.get("address") == "public" else "private"
    )
    region = options.get("region")
    found = resolve_ec2_hosts(
        pattern, region=str(region) if region else None, address=kind, run_id=run_id
    )
    if not found:
        raise ActionInputError(f"host pattern {pattern!r} matches no running EC2 instance")
    fleet_wide = inventory.group_vars(ALL)
    return [Host(name=str(e["name"]), vars={**fleet_wide, "address": e["address"]}) for e in found]
