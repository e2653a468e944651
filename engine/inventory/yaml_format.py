"""Ansible's YAML inventory format.

Top-level keys are groups (usually just ``all``); each group may have ``hosts`` (a mapping of
host name to its variables, or a list of names), ``vars`` and ``children`` (more groups)::

    all:
      vars: {user: deploy, key_file: ~/.ssh/deploy}
      children:
        web:
          hosts:
            web[01:03]: {address: 10.0.0.1}
        db:
          hosts: {db1: {ansible_host: 10.0.1.1, ansible_port: 2222}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from runbook_engine.inventory.errors import InventoryError
from runbook_engine.inventory.model import Inventory, InventoryBuilder
from runbook_engine.inventory.ranges import expand

__all__ = ["looks_like_yaml", "parse_yaml"]

_GROUP_KEYS = frozenset({"hosts", "vars", "children"})


def looks_like_yaml(text: str) -> bool:
    """Whether ``text`` is a YAML inventory (a mapping of groups), for files of unknown type."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return False
    return isinstance(data, dict) and all(v is None or isinstance(v, dict) for v in data.values())


def parse_yaml(text: str, source: str) -> Inventory:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InventoryError(f"{source}: YAML syntax error: {exc}") from None
    builder = InventoryBuilder(source)
    if data is None:
        return builder.build()
    if not isinstance(data, dict):
        raise InventoryError(f"{source}: expected a mapping of groups at the top level")
    for name, body in data.items():
        _group(builder, source, str(name), body, str(name))
    return builder.build()


def _group(builder: InventoryBuilder, source: str, name: str, body: Any, where: str) -> None:
    builder.group(name)
    if body is None:
        return
    if not isinstance(body, dict):
        raise InventoryError(f"{source}: {where}: a group is a mapping of hosts, vars, children")
    unknown = sorted(str(k) for k in body if k not in _GROUP_KEYS)
    if unknown:
        raise InventoryError(
            f"{source}: {where}: unknown key {unknown[0]!r} (a group has hosts, vars, children)"
        )
    builder.group_vars(name, _mapping(source, f"{where}.vars", body.get("vars")))
    hosts = body.get("hosts")
    if isinstance(hosts, list):
        hosts = dict.fromkeys(hosts)
    for pattern, variables in _mapping(source, f"{where}.hosts", hosts).items():
        host_vars = _mapping(source, f"{where}.hosts.{pattern}", variables)
        for host in expand(str(pattern)):
            builder.add_host(name, host, host_vars)
    children = body.get("children")
    if isinstance(children, list):
        children = dict.fromkeys(children)
    for child, child_body in _mapping(source, f"{where}.children", children).items():
        builder.add_child(name, str(child))
        _group(builder, source, str(child), child_body, f"{where}.children.{child}")


def _mapping(source: str, where: str, value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InventoryError(f"{source}: {where}: expected a mapping, got {type(value).__name__}")
    return {str(k): v for k, v in value.items()}
