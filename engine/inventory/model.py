"""What an inventory is once parsed: groups of hosts, with variables at every level.

Both file formats fill an ``InventoryBuilder``; the built ``Inventory`` answers which hosts a
group holds and what a host's effective variables are. Precedence follows Ansible: group
``all``, then groups from the shallowest to the deepest (ties by name), then the host itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runbook_engine.inventory.errors import InventoryError
from runbook_engine.inventory.variables import canonical

__all__ = ["ALL", "UNGROUPED", "Host", "Inventory", "InventoryBuilder"]

ALL = "all"
UNGROUPED = "ungrouped"
DEFAULT_PORT = 22

_FALSE_WORDS = frozenset({"false", "no", "off", "0"})
_TRUE_WORDS = frozenset({"true", "yes", "on", "1"})


@dataclass(frozen=True)
class Host:
    """A host to connect to, with its effective variables (connection ones under short names).

    ``literal`` hosts were named directly in a pattern (``127.0.1.5``, ``deploy@db:2222``)
    rather than found in the inventory.
    """

    name: str
    vars: Mapping[str, Any] = field(default_factory=dict)
    groups: tuple[str, ...] = ()
    literal: bool = False

    @property
    def address(self) -> str:
        value = self.vars.get("address")
        return str(value) if value not in (None, "") else self.name

    @property
    def port(self) -> int:
        value = self.vars.get("port")
        if value in (None, ""):
            return DEFAULT_PORT
        try:
            port = int(str(value))
        except ValueError:
            raise InventoryError(f"host {self.name}: port {value!r} is not a number") from None
        if not 0 < port < 65536:
            raise InventoryError(f"host {self.name}: port {port} is out of range")
        return port

    @property
    def user(self) -> str | None:
        return self._text("user")

    @property
    def key_file(self) -> str | None:
        return self._text("key_file")

    @property
    def jump(self) -> str | None:
        return self._text("jump")

    @property
    def known_hosts(self) -> str | None:
        return self._text("known_hosts")

    @property
    def host_key_checking(self) -> bool:
        value = self.vars.get("host_key_checking")
        if value is None or isinstance(value, bool):
            return value is not False
        word = str(value).strip().lower()
        if word in _FALSE_WORDS:
            return False
        if word in _TRUE_WORDS:
            return True
        raise InventoryError(f"host {self.name}: host_key_checking {value!r} is not true/false")

    def _text(self, key: str) -> str | None:
        value = self.vars.get(key)
        return None if value in (None, "") else str(value)

    def describe(self) -> dict[str, Any]:
        """The connection settings, for ``runbook hosts`` and results."""
        return {
            "name": self.name,
            "address": self.address,
            "port": self.port,
            "user": self.user,
            "groups": list(self.groups),
            "jump": self.jump,
            "literal": self.literal,
        }


@dataclass
class _Group:
    vars: dict[str, Any] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)


class InventoryBuilder:
    """Collects groups, hosts and variables in file order; ``build`` checks and freezes them."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._groups: dict[str, _Group] = {ALL: _Group()}
        self._host_vars: dict[str, dict[str, Any]] = {}

    def group(self, name: str) -> None:
        if not name or any(c.isspace() for c in name):
            raise InventoryError(f"{self.source}: invalid group name {name!r}")
        self._groups.setdefault(name, _Group())

    def add_host(self, group: str | None, name: str, variables: Mapping[str, Any]) -> None:
        """A host (defined again: its variables are merged, later ones winning)."""
        if not name or any(c.isspace() for c in name):
            raise InventoryError(f"{self.source}: invalid host name {name!r}")
        self._host_vars.setdefault(name, {}).update(canonical(variables))
        if group is not None and group != ALL:
            self.group(group)
            members = self._groups[group].hosts
            if name not in members:
                members.append(name)

    def group_vars(self, group: str, variables: Mapping[str, Any]) -> None:
        self.group(group)
        self._groups[group].vars.update(canonical(variables))

    def add_child(self, parent: str, child: str) -> None:
        if child == ALL:
            raise InventoryError(f"{self.source}: group {ALL!r} cannot be a child of {parent!r}")
        self.group(parent)
        self.group(child)
        children = self._groups[parent].children
        if child not in children:
            children.append(child)

    def build(self) -> Inventory:
        groups = {
            name: _Group(dict(g.vars), list(g.hosts), list(g.children))
            for name, g in self._groups.items()
        }
        _check_cycles(self.source, groups)
        grouped = {h for name, g in groups.items() if name != ALL for h in g.hosts}
        loose = [h for h in self._host_vars if h not in grouped]
        groups.setdefault(UNGROUPED, _Group()).hosts.extend(loose)
        # Every group that is nobody's child hangs under "all", as in Ansible.
        adopted = {c for g in groups.values() for c in g.children}
        for name in groups:
            if name != ALL and name not in adopted and name not in groups[ALL].children:
                groups[ALL].children.append(name)
        return Inventory(self.source, groups, {h: dict(v) for h, v in self._host_vars.items()})


def _check_cycles(source: str, groups: Mapping[str, _Group]) -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            loop = " -> ".join([*path[path.index(name) :], name])
            raise InventoryError(f"{source}: groups contain each other: {loop}")
        state[name] = 1
        for child in groups[name].children:
            visit(child, [*path, name])
        state[name] = 2

    for name in groups:
        visit(name, [])


class Inventory:
    """Hosts and groups; an empty one (no file) still resolves literal hosts."""

    def __init__(
        self,
        source: str,
        groups: dict[str, _Group],
        host_vars: dict[str, dict[str, Any]],
    ) -> None:
        self.source = source
        self._groups = groups
        self._host_vars = host_vars
        self._depth = self._depths()
        self._parents: dict[str, list[str]] = {}
        for name, group in groups.items():
            for child in group.children:
                self._parents.setdefault(child, []).append(name)

    @classmethod
    def empty(cls) -> Inventory:
        return InventoryBuilder("<no inventory>").build()

    @property
    def host_names(self) -> list[str]:
        """Every host, in the order the inventory first names them."""
        return list(self._host_vars)

    @property
    def group_names(self) -> list[str]:
        return list(self._groups)

    def has_host(self, name: str) -> bool:
        return name in self._host_vars

    def has_group(self, name: str) -> bool:
        return name in self._groups

    def group_hosts(self, name: str) -> list[str]:
        """The hosts of a group and of all its descendants, in inventory order."""
        if name == ALL:
            return self.host_names
        members: set[str] = set()
        pending = [name]
        seen: set[str] = set()
        while pending:
            group = pending.pop()
            if group in seen:
                continue
            seen.add(group)
            members.update(self._groups[group].hosts)
            pending.extend(self._groups[group].children)
        return [h for h in self._host_vars if h in members]

    def group_vars(self, name: str) -> dict[str, Any]:
        return dict(self._groups[name].vars)

    def groups_of(self, host: str) -> list[str]:
        """Every group the host belongs to, directly or through a child group, ``all`` first."""
        direct = [name for name, g in self._groups.items() if host in g.hosts]
        found: list[str] = []
        pending = list(direct)
        while pending:
            name = pending.pop(0)
            if name in found:
                continue
            found.append(name)
            pending.extend(self._parents.get(name, []))
        if ALL not in found:
            found.append(ALL)
        return sorted(found, key=lambda g: (self._depth.get(g, 0), g))

    def host(self, name: str) -> Host:
        """The host with its effective variables. Raises ``InventoryError`` if unknown."""
        if name not in self._host_vars:
            raise InventoryError(f"no host {name!r} in {self.source}")
        groups = self.groups_of(name)
        merged: dict[str, Any] = {}
        for group in groups:  # shallow to deep: deeper groups override
            merged.update(self._groups[group].vars)
        merged.update(self._host_vars[name])
        return Host(name, merged, tuple(g for g in groups if g != ALL))

    def literal(self, name: str, variables: Mapping[str, Any]) -> Host:
        """A host named in a pattern but absent from the inventory: group ``all``'s variables
        (a fleet-wide user, key or known_hosts) apply, then what the name itself says."""
        merged = {**self._groups[ALL].vars, **canonical(variables)}
        return Host(name, merged, (), literal=True)

    def _depths(self) -> dict[str, int]:
        depth = {ALL: 0}
        # Longest path from "all": a group reachable along several paths is as deep as the
        # deepest, so its variables override those of every ancestor.
        order: list[str] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen:
                return
            seen.add(name)
            for child in self._groups[name].children:
                visit(child)
            order.append(name)

        for name in self._groups:
            visit(name)
        for name in reversed(order):
            for child in self._groups[name].children:
                depth[child] = max(depth.get(child, 0), depth.get(name, 0) + 1)
        return depth
