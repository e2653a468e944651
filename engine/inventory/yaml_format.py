"""Ansible's YAML inventory format, read as Ansible's ``yaml`` plugin reads it.

Top-level keys are groups (usually just ``all``); each group may have ``hosts`` (host entries,
with ``:port`` and ranges as in INI, mapped to their variables), ``vars`` and ``children``
(more groups, to any depth), in any order::

    all:
      vars: {ansible_user: deploy}
      children:
        web:
          hosts:
            web[01:03].example.com:
            bar.example.com:2200: {ansible_host: 10.0.0.9}
        prod:
          children: {web: {}}

Where Ansible warns and skips (a key other than hosts, vars and children, a group that is not
a mapping) this is an error: a misspelt ``hots:`` would otherwise drop every host under it.
A list of host names under ``hosts`` is accepted too (Ansible wants a mapping).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runbook_engine.inventory.errors import InventoryError
from runbook_engine.inventory.ini_format import expand_host_pattern
from runbook_engine.inventory.model import Inventory, InventoryBuilder
from runbook_engine.inventory.yaml_load import load_yaml

__all__ = ["looks_like_yaml", "parse_yaml", "read_yaml_inventory"]

_SECTIONS = ("hosts", "vars", "children")


def looks_like_yaml(data: Any) -> bool:
    """Whether parsed YAML ``data`` is a YAML inventory (a mapping of groups)."""
    return isinstance(data, dict) and all(v is None or isinstance(v, dict) for v in data.values())


def parse_yaml(text: str, source: str) -> Inventory:
    data = load_yaml(text, source)
    builder = InventoryBuilder(source)
    read_yaml_inventory(builder, data, source)
    return builder.build()


def read_yaml_inventory(builder: InventoryBuilder, data: Any, source: str) -> None:
    """Add the parsed YAML inventory ``data`` to ``builder``."""
    if data is None:
        return
    if not isinstance(data, dict):
        raise InventoryError(f"{source}: expected a mapping of groups at the top level")
    if data.get("plugin"):
        raise InventoryError(
            f"{source}: this is the configuration of Ansible inventory plugin"
            f" {data['plugin']!r}, not an inventory; export its hosts with"
            " 'ansible-inventory -i FILE --list > inventory.json' and use that"
        )
    for name, body in data.items():
        _group(builder, source, name, body, str(name))


def _group(builder: InventoryBuilder, source: str, name: Any, body: Any, where: str) -> str:
    if not isinstance(name, str):
        raise InventoryError(f"{source}: {where}: a group name is text, not {name!r}")
    if body is not None and not isinstance(body, dict):
        raise InventoryError(
            f"{source}: {where}: a group is a mapping of hosts, vars and children, not"
            f" {type(body).__name__}"
        )
    builder.group(name)
    if body is None:
        return name
    body = dict(body)
    for section in _SECTIONS:
        value = body.get(section)
        if isinstance(value, str):
            body[section] = {value: None}
        elif section == "hosts" and isinstance(value, list):
            body[section] = dict.fromkeys(value)
        elif value is not None and not isinstance(value, dict):
            raise InventoryError(
                f"{source}: {where}.{section}: expected a mapping, got {type(value).__name__}"
            )
    for key, value in body.items():
        if key not in _SECTIONS:
            raise InventoryError(
                f"{source}: {where}: unknown key {key!r} (a group has hosts, vars, children)"
            )
        if value is None:
            continue
        if key == "vars":
            builder.group_vars(name, {str(k): v for k, v in value.items()})
        elif key == "children":
            for child, child_body in value.items():
                child_name = _group(builder, source, child, child_body, f"{where}.{child}")
                builder.add_child(name, child_name)
        else:
            for entry, variables in value.items():
                _hosts(builder, source, name, entry, variables, f"{where}.hosts")
    return name


def _hosts(
    builder: InventoryBuilder, source: str, group: str, entry: Any, variables: Any, where: str
) -> None:
    if not isinstance(entry, str):
        raise InventoryError(
            f"{source}: {where}: host {entry!r} must be text (quote numbers: '{entry}')"
        )
    if variables is not None and not isinstance(variables, Mapping):
        raise InventoryError(
            f"{source}: {where}.{entry}: a host's variables are a mapping, not"
            f" {type(variables).__name__}"
        )
    try:
        names, port = expand_host_pattern(entry)
    except InventoryError as exc:
        raise InventoryError(f"{source}: {where}: {exc}") from None
    for host in names:
        if not host or any(c.isspace() for c in host):
            raise InventoryError(f"{source}: {where}: invalid host name {host!r}")
        builder.add_host(group, host, {str(k): v for k, v in (variables or {}).items()}, port)
