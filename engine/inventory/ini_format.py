"""Ansible's INI inventory format, read line by line as Ansible's ``ini`` plugin reads it.

::

    bastion ansible_host=203.0.113.7          # before any section: group "ungrouped"
    [web]
    web[01:20].example.com ansible_user=deploy
    bar.example.com:2200                      # host:port sets ansible_port
    [web:vars]
    ansible_port=2222
    [prod:children]
    web

Host lines are split like a shell would (quotes allowed, ``#`` starts a comment) into the host
(with its optional ``:port`` and ranges) and ``key=value`` variables; ``[group:vars]`` lines
are ``key=value`` with the rest of the line as the value. Values are typed as Ansible types
them (``ini_values``). A ``:children`` section may name a group defined further down; a group
named only in ``:children`` or ``:vars`` and never defined is an error, as in Ansible.
Every error names the file and the line.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from runbook_engine.inventory.addresses import parse_address
from runbook_engine.inventory.errors import InventoryError
from runbook_engine.inventory.ini_values import ini_value
from runbook_engine.inventory.model import UNGROUPED, Inventory, InventoryBuilder
from runbook_engine.inventory.ranges import expand

__all__ = ["expand_host_pattern", "parse_ini", "read_ini"]

_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$")
_PLAIN_LINE = re.compile(r"[^'\"\\#]*$")
_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:#.*)?$")


@dataclass
class _Pending:
    """A group named before it is defined: in ``[x:vars]`` or as a child in ``[p:children]``."""

    line: int
    kind: str
    parents: list[str] = field(default_factory=list)


def parse_ini(text: str, source: str) -> Inventory:
    """The inventory in ``text`` (an INI file called ``source`` in messages)."""
    builder = InventoryBuilder(source)
    read_ini(builder, text, source)
    return builder.build()


def read_ini(builder: InventoryBuilder, text: str, source: str) -> None:
    """Add the INI inventory ``text`` to ``builder`` (which may hold other files already)."""
    group = UNGROUPED
    kind = "hosts"
    pending: dict[str, _Pending] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        where = f"{source}:{number}"
        section = _SECTION.match(line)
        if section:
            group, kind = section.group(1), section.group(2) or "hosts"
            if kind not in ("hosts", "vars", "children"):
                raise InventoryError(
                    f"{where}: unknown section kind {kind!r} in [{group}:{kind}] (use [{group}],"
                    f" [{group}:vars] or [{group}:children])"
                )
            if not builder.has_group(group):
                if kind == "vars" and group not in pending:
                    pending[group] = _Pending(number, kind)
                builder.group(group)
            declared = pending.get(group)
            if declared is not None and kind != "vars":
                if declared.kind == "children":
                    _adopt(builder, group, pending)
                else:
                    del pending[group]
            continue
        if line.startswith("[") and line.endswith("]"):
            raise InventoryError(
                f"{where}: invalid section header {line!r} (no spaces or other characters"
                " inside the brackets: [group], [group:vars], [group:children])"
            )
        if kind == "hosts":
            _host_line(builder, group, line, where)
        elif kind == "vars":
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise InventoryError(f"{where}: expected key=value in [{group}:vars]: {line!r}")
            builder.group_vars(group, {key.strip(): ini_value(value.strip())})
        else:
            named = _GROUP_NAME.match(line)
            if not named:
                raise InventoryError(f"{where}: expected a group name in [{group}:children]")
            child = named.group(1)
            if builder.has_group(child):
                builder.add_child(group, child)
            elif child in pending:
                pending[child].parents.append(group)
            else:
                pending[child] = _Pending(number, "children", [group])
    for name, declared in pending.items():
        where = f"{source}:{declared.line}"
        if declared.kind == "vars":
            raise InventoryError(f"{where}: [{name}:vars] is for a group that is never defined")
        raise InventoryError(
            f"{where}: [{declared.parents[-1]}:children] names group {name!r}, which is never"
            f" defined (add a [{name}] section)"
        )


def _adopt(builder: InventoryBuilder, group: str, pending: dict[str, _Pending]) -> None:
    """``group`` is defined at last: it joins the parents that named it earlier."""
    for parent in pending[group].parents:
        builder.add_child(parent, group)
        if parent in pending and pending[parent].kind == "children":
            _adopt(builder, parent, pending)
    pending.pop(group, None)


def _host_line(builder: InventoryBuilder, group: str, line: str, where: str) -> None:
    try:
        # Without quotes, escapes or comments a shell-like split is a plain one, 30x faster.
        words = line.split() if _PLAIN_LINE.match(line) else shlex.split(line, comments=True)
    except ValueError as exc:
        raise InventoryError(f"{where}: cannot split the host line ({exc}): {line!r}") from None
    if not words:
        return
    try:
        names, port = expand_host_pattern(words[0])
    except InventoryError as exc:
        raise InventoryError(f"{where}: {exc}") from None
    if words[0].endswith(":") and port is None:
        raise InventoryError(
            f"{where}: host {words[0]!r} ends in ':' (':' is for a port: host:2222)"
        )
    if any(name.strip() == "---" for name in names):
        raise InventoryError(f"{where}: '---' is not a host (is this a YAML file?)")
    variables: dict[str, Any] = {}
    for assignment in words[1:]:
        key, sep, value = assignment.partition("=")
        if not sep:
            raise InventoryError(
                f"{where}: expected key=value after the host name, got {assignment!r}"
            )
        if not key:
            raise InventoryError(f"{where}: a variable without a name: {assignment!r}")
        variables[key] = ini_value(value)
    for name in names:
        if not name:
            raise InventoryError(f"{where}: an empty host name")
        builder.add_host(group, name, variables, port)


def expand_host_pattern(text: str) -> tuple[list[str], int | None]:
    """The hosts an inventory entry defines and the port they share: ``web[01:03]:2222``."""
    parsed = parse_address(text, allow_ranges=True)
    name, port = parsed if parsed is not None else (text, None)
    return expand(name), port
