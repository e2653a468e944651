"""The JSON that ``ansible-inventory --list`` prints (and dynamic inventory scripts print):
how hosts from a cloud or a CMDB get here, exported once with
``ansible-inventory -i aws_ec2.yml --list > inventory.json``.

::

    {"_meta": {"hostvars": {"web1": {"ansible_host": "10.0.0.1"}}},
     "all": {"children": ["ungrouped", "web"]},
     "web": {"hosts": ["web1"], "vars": {"http_port": 80}, "children": []}}

Read as Ansible's ``script`` plugin reads a script's output: each group's ``hosts`` (a list),
``vars`` and ``children``, then each host's variables from ``_meta.hostvars``.
"""

from __future__ import annotations

from typing import Any

from runbook_engine.inventory.errors import InventoryError
from runbook_engine.inventory.model import InventoryBuilder

__all__ = ["is_list_output", "read_list_output"]

_META = "_meta"


def is_list_output(data: Any) -> bool:
    """Whether parsed ``data`` is ``--list`` output rather than a YAML inventory: it has
    ``_meta``, or its groups list their children by name."""
    if not isinstance(data, dict):
        return False
    if isinstance(data.get(_META), dict):
        return True
    bodies = [body for body in data.values() if isinstance(body, dict)]
    # A YAML inventory nests its children as mappings; the export lists them by name.
    return any(isinstance(b.get("children"), list) for b in bodies) and not any(
        isinstance(b.get("children"), dict) for b in bodies
    )


def read_list_output(builder: InventoryBuilder, data: dict[str, Any], source: str) -> None:
    hostvars: dict[str, Any] = {}
    seen: dict[str, None] = {}
    for group, body in data.items():
        if group == _META:
            found = body.get("hostvars", {}) if isinstance(body, dict) else None
            if not isinstance(found, dict):
                raise InventoryError(f"{source}: _meta.hostvars is not a mapping")
            hostvars = found
            continue
        _group(builder, source, str(group), body, seen)
    for host in seen:
        variables = hostvars.get(host) or {}
        if not isinstance(variables, dict):
            raise InventoryError(f"{source}: _meta.hostvars.{host} is not a mapping")
        builder.add_host(None, host, {str(k): v for k, v in variables.items()})


def _group(
    builder: InventoryBuilder, source: str, group: str, body: Any, seen: dict[str, None]
) -> None:
    builder.group(group)
    if not isinstance(body, dict):
        body = {"hosts": body}  # an old script's bare list of hosts
    elif not any(k in body for k in ("hosts", "vars", "children")):
        body = {"hosts": [group], "vars": body}  # ... or a group that is its only host
    hosts = body.get("hosts")
    if hosts is not None:
        if not isinstance(hosts, list):
            raise InventoryError(f"{source}: {group}.hosts is not a list")
        for host in hosts:
            name = str(host)
            seen.setdefault(name)
            builder.add_host(group, name, {})
    variables = body.get("vars")
    if variables is not None:
        if not isinstance(variables, dict):
            raise InventoryError(f"{source}: {group}.vars is not a mapping")
        builder.group_vars(group, {str(k): v for k, v in variables.items()})
    for child in body.get("children") or []:
        builder.add_child(group, str(child))
