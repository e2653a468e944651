"""Ansible's INI inventory format.

::

    bastion ansible_host=203.0.113.7          # before any section: ungrouped
    [web]
    web[01:20] ansible_user=deploy
    [web:vars]
    ansible_port=2222
    [prod:children]
    web

Host lines are split like a shell would (quotes allowed); ``[group:vars]`` lines are
``key=value`` with the rest of the line as the value. Numbers become integers and
``true``/``false`` booleans, as Ansible reads them.
"""

from __future__ import annotations

import shlex
from typing import Any

from runbook_engine.inventory.errors import InventoryError
from runbook_engine.inventory.model import Inventory, InventoryBuilder
from runbook_engine.inventory.ranges import expand

__all__ = ["parse_ini"]


def parse_ini(text: str, source: str) -> Inventory:
    builder = InventoryBuilder(source)
    group: str | None = None
    kind = "hosts"
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        where = f"{source}:{number}"
        if line.startswith("["):
            if not line.endswith("]"):
                raise InventoryError(f"{where}: a section header ends with ']': {line!r}")
            group, _, kind = line[1:-1].strip().partition(":")
            kind = kind or "hosts"
            if kind not in ("hosts", "vars", "children"):
                raise InventoryError(
                    f"{where}: unknown section kind {kind!r} (use [{group}], [{group}:vars] "
                    f"or [{group}:children])"
                )
            builder.group(group)
            continue
        if kind == "vars":
            assert group is not None
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise InventoryError(f"{where}: expected key=value in [{group}:vars]: {line!r}")
            builder.group_vars(group, {key.strip(): _value(value.strip())})
        elif kind == "children":
            assert group is not None
            builder.add_child(group, line.split()[0])
        else:
            _host_line(builder, group, line, where)
    return builder.build()


def _host_line(builder: InventoryBuilder, group: str | None, line: str, where: str) -> None:
    try:
        words = shlex.split(line, comments=True)
    except ValueError as exc:
        raise InventoryError(f"{where}: {exc}: {line!r}") from None
    if not words:
        return
    name, assignments = words[0], words[1:]
    variables: dict[str, Any] = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key:
            raise InventoryError(
                f"{where}: expected key=value after the host name, got {assignment!r}"
            )
        variables[key] = _value(value)
    for host in expand(name):
        builder.add_host(group, host, variables)


def _value(text: str) -> Any:
    """``2222`` -> 2222, ``true`` -> True, ``"a b"`` -> ``a b``; anything else stays text."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    lowered = text.lower()
    if lowered in ("true", "yes"):
        return True
    if lowered in ("false", "no"):
        return False
    try:
        return int(text)
    except ValueError:
        return text
