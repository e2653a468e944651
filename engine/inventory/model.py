"""What an inventory is once parsed: groups of hosts, with variables at every level.

Every format fills an ``InventoryBuilder`` the way Ansible fills its inventory; ``build``
settles it as Ansible does (groups nobody contains go under ``all``, hosts in no group into
``ungrouped``) and the ``Inventory`` answers which hosts a group holds, in Ansible's order, and
what a host's variables are, with Ansible's precedence:

1. group ``all`` in the inventory, then every other group of the host in the inventory, sorted
   by depth (a child after its parents), ``ansible_group_priority`` and name;
2. ``group_vars/all``, then ``group_vars/GROUP`` in the same order;
3. the host in the inventory, then ``host_vars/HOST``.

Each level is a plain dictionary update: a later level replaces a whole value, dicts too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from runbook_engine.inventory.errors import InventoryError
from runbook_engine.inventory.variables import canonical, redacted
from runbook_engine.inventory.vars_files import VarsFiles

__all__ = ["ALL", "UNGROUPED", "Host", "Inventory", "InventoryBuilder"]

ALL = "all"
UNGROUPED = "ungrouped"
DEFAULT_PORT = 22
PRIORITY_VAR = "ansible_group_priority"

_BLANK = re.compile(r"\s")
_FALSE_WORDS = frozenset({"false", "no", "off", "0"})
_TRUE_WORDS = frozenset({"true", "yes", "on", "1"})


@dataclass(frozen=True)
class Host:
    """A host to connect to, with its variables.

    ``vars`` are the host's variables as Ansible resolves them (what ``ansible-inventory
    --host`` prints); ``settings`` are the connection settings under our short names
    (``address``, ``port``, ``user``, ``key_file``, ``jump``, ...), Ansible's names folded into
    them level by level. Without ``settings`` they are read from ``vars``. ``literal`` hosts
    were named directly in a pattern (``10.0.0.5``, ``deploy@db.example.com:2222``) rather
    than found in the inventory.
    """

    name: str
    vars: Mapping[str, Any] = field(default_factory=dict)
    groups: tuple[str, ...] = ()
    literal: bool = False
    settings: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @cached_property
    def _conn(self) -> Mapping[str, Any]:
        return self.settings if self.settings is not None else canonical(self.vars)

    @property
    def address(self) -> str:
        value = self._conn.get("address")
        return str(value) if value not in (None, "") else self.name

    @property
    def port(self) -> int:
        value = self._conn.get("port")
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
        return self._flag("host_key_checking", default=True)

    @property
    def become(self) -> bool:
        """Whether commands run through sudo (``ansible_become``)."""
        return self._flag("become", default=False)

    @property
    def become_user(self) -> str | None:
        """Who sudo runs commands as (``ansible_become_user``); None: root."""
        return self._text("become_user")

    @property
    def become_method(self) -> str | None:
        """How to become ``become_user`` (``ansible_become_method``); None: sudo."""
        return self._text("become_method")

    @property
    def has_become_password(self) -> bool:
        """Whether the inventory gives a sudo password (``ansible_become_password``). Only
        its presence is ever read here: the value stays in ``vars``, which are not logged."""
        return self._conn.get("become_password") not in (None, "")

    def shown_vars(self) -> dict[str, Any]:
        """``vars`` for display: passwords replaced by a placeholder."""
        return redacted(self.vars)

    def _flag(self, key: str, *, default: bool) -> bool:
        value = self._conn.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in _FALSE_WORDS:
            return False
        if word in _TRUE_WORDS:
            return True
        raise InventoryError(f"host {self.name}: {key} {value!r} is not true/false")

    def _text(self, key: str) -> str | None:
        value = self._conn.get(key)
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
            "become": self.become,
            "become_user": self.become_user,
            "literal": self.literal,
        }


@dataclass
class _Group:
    vars: dict[str, Any] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    priority: int = 1


class InventoryBuilder:
    """Collects groups, hosts and variables in file order; ``build`` settles and freezes them.

    ``vars_dirs`` are the directories whose ``group_vars/`` and ``host_vars/`` apply (the
    inventory file's directory, or the inventory directory itself).
    """

    def __init__(self, source: str, *, vars_dirs: Sequence[Any] = ()) -> None:
        self.source = source
        self.vars_dirs = list(vars_dirs)
        self._groups: dict[str, _Group] = {ALL: _Group(), UNGROUPED: _Group()}
        self._link(ALL, UNGROUPED)
        self._hosts: dict[str, dict[str, Any]] = {}

    def has_group(self, name: str) -> bool:
        return name in self._groups

    def has_host(self, name: str) -> bool:
        return name in self._hosts

    def group(self, name: str) -> None:
        if not name or any(c.isspace() for c in name):
            raise InventoryError(f"{self.source}: invalid group name {name!r}")
        self._groups.setdefault(name, _Group())

    def add_host(
        self,
        group: str | None,
        name: str,
        variables: Mapping[str, Any],
        port: int | None = None,
    ) -> None:
        """A host, in ``group`` if given. A host defined again keeps its first port and takes
        the new variables over the old ones, as in Ansible."""
        if not name or _BLANK.search(name):
            raise InventoryError(f"{self.source}: invalid host name {name!r}")
        host_vars = self._hosts.get(name)
        if host_vars is None:
            host_vars = self._hosts[name] = {}
            if port is not None:
                host_vars["ansible_port"] = port
        host_vars.update(variables)
        if group is not None:
            self.group(group)
            members = self._groups[group].hosts
            if name not in members:
                members.append(name)

    def group_vars(self, group: str, variables: Mapping[str, Any]) -> None:
        """Variables of ``group``; ``ansible_group_priority`` sets its priority instead."""
        self.group(group)
        target = self._groups[group]
        for key, value in variables.items():
            if key == PRIORITY_VAR:
                try:
                    target.priority = int(value)
                except (TypeError, ValueError):
                    raise InventoryError(
                        f"{self.source}: group {group}: {PRIORITY_VAR} {value!r} is not a number"
                    ) from None
            else:
                target.vars[key] = value

    def add_child(self, parent: str, child: str) -> None:
        if child == ALL:
            raise InventoryError(f"{self.source}: group {ALL!r} cannot be a child of {parent!r}")
        if child == parent:
            raise InventoryError(f"{self.source}: group {parent!r} cannot contain itself")
        self.group(parent)
        self.group(child)
        self._link(parent, child)

    def _link(self, parent: str, child: str) -> None:
        if child not in self._groups[parent].children:
            self._groups[parent].children.append(child)
            self._groups[child].parents.append(parent)

    def build(self) -> Inventory:
        groups = {
            name: _Group(dict(g.vars), list(g.hosts), list(g.children), list(g.parents), g.priority)
            for name, g in self._groups.items()
        }
        _check_cycles(self.source, groups)
        for name, group in groups.items():  # what nobody contains hangs under "all"
            if name != ALL and not group.parents:
                groups[ALL].children.append(name)
                group.parents.append(ALL)
        grouped: set[str] = set()
        for name, group in groups.items():
            if name not in (ALL, UNGROUPED):
                grouped.update(group.hosts)
        ungrouped = groups[UNGROUPED]
        ungrouped.hosts = [h for h in ungrouped.hosts if h not in grouped]
        listed = set(ungrouped.hosts)
        ungrouped.hosts.extend(h for h in self._hosts if h not in grouped and h not in listed)
        hosts = {name: dict(v) for name, v in self._hosts.items()}
        return Inventory(self.source, groups, hosts, VarsFiles(self.vars_dirs))


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
        hosts: dict[str, dict[str, Any]],
        vars_files: VarsFiles | None = None,
    ) -> None:
        self.source = source
        self._groups = groups
        self._hosts = hosts
        self._files = vars_files if vars_files is not None else VarsFiles([])
        self._depth = _depths(groups)
        self._members: dict[str, list[str]] = {}
        self._ancestors: dict[str, frozenset[str]] = {}
        self._direct: dict[str, list[str]] | None = None
        self._by_groups: dict[tuple[str, ...], tuple[dict[str, Any], dict[str, Any]]] = {}
        self._host_cache: dict[str, Host] = {}

    @classmethod
    def empty(cls) -> Inventory:
        return InventoryBuilder("<no inventory>").build()

    @property
    def host_names(self) -> list[str]:
        """Every host, in the order the inventory first names them."""
        return list(self._hosts)

    @property
    def group_names(self) -> list[str]:
        """Every group, ``all`` and ``ungrouped`` first, then in the order they were defined."""
        return list(self._groups)

    def has_host(self, name: str) -> bool:
        return name in self._hosts

    def has_group(self, name: str) -> bool:
        return name in self._groups

    def group_hosts(self, name: str) -> list[str]:
        """The hosts of a group and of all its descendants, in Ansible's order: the group's
        own hosts, then its children's, then theirs, one generation at a time."""
        found = self._members.get(name)
        if found is None:
            seen: set[str] = set()
            found = []
            for group in self._descendants(name):
                for host in self._groups[group].hosts:
                    if host not in seen:
                        seen.add(host)
                        found.append(host)
            self._members[name] = found
        return list(found)

    def _descendants(self, name: str) -> list[str]:
        ordered = [name, *self._groups[name].children]
        seen = set(ordered)
        generation = list(self._groups[name].children)
        while generation:
            following: list[str] = []
            for group in generation:
                for child in self._groups[group].children:
                    if child not in seen:
                        seen.add(child)
                        ordered.append(child)
                        following.append(child)
            generation = following
        return ordered

    def group_vars(self, name: str) -> dict[str, Any]:
        """The group's own variables: the inventory's, then ``group_vars/NAME``'s."""
        if name not in self._groups:
            raise InventoryError(f"no group {name!r} in {self.source}")
        return {**self._groups[name].vars, **self._files.group(name)}

    def group_priority(self, name: str) -> int:
        return self._groups[name].priority

    def group_depth(self, name: str) -> int:
        return self._depth.get(name, 0)

    def group_children(self, name: str) -> list[str]:
        return list(self._groups[name].children)

    def inventory_host_vars(self, name: str) -> dict[str, Any]:
        """The host's variables from the inventory itself, without groups or files."""
        return dict(self._hosts[name])

    def groups_of(self, host: str) -> list[str]:
        """Every group the host belongs to, directly or through a child group, in precedence
        order: ``all`` first, then by depth, priority and name."""
        direct = self._direct_groups().get(host, [])
        found: set[str] = {ALL}
        for group in direct:
            found.add(group)
            found.update(self._ancestors_of(group))
        return sorted(found, key=self._sort_key)

    def _sort_key(self, group: str) -> tuple[int, int, str]:
        return (self._depth.get(group, 0), self._groups[group].priority, group)

    def _direct_groups(self) -> dict[str, list[str]]:
        if self._direct is None:
            self._direct = {}
            for name, group in self._groups.items():
                for host in group.hosts:
                    self._direct.setdefault(host, []).append(name)
        return self._direct

    def _ancestors_of(self, group: str) -> frozenset[str]:
        found = self._ancestors.get(group)
        if found is None:
            pending = list(self._groups[group].parents)
            seen: set[str] = set()
            while pending:
                parent = pending.pop()
                if parent not in seen:
                    seen.add(parent)
                    pending.extend(self._groups[parent].parents)
            found = self._ancestors[group] = frozenset(seen)
        return found

    def host(self, name: str) -> Host:
        """The host with its effective variables. Raises ``InventoryError`` if unknown."""
        found = self._host_cache.get(name)
        if found is not None:
            return found
        if name not in self._hosts:
            raise InventoryError(f"no host {name!r} in {self.source}")
        groups = tuple(self.groups_of(name))
        merged, settings = self._group_levels(groups)
        merged = dict(merged)
        settings = dict(settings)
        for level in (self._hosts[name], self._files.host(name)):
            merged.update(level)
            settings.update(canonical(level))
        found = Host(name, merged, tuple(g for g in groups if g != ALL), settings=settings)
        self._host_cache[name] = found
        return found

    def _group_levels(self, groups: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The variables every host of exactly these groups shares (shared between them)."""
        found = self._by_groups.get(groups)
        if found is None:
            others = [g for g in groups if g != ALL]
            levels: list[Mapping[str, Any]] = [self._groups[ALL].vars]
            levels.extend(self._groups[g].vars for g in others)
            levels.append(self._files.group(ALL))
            levels.extend(self._files.group(g) for g in others)
            merged: dict[str, Any] = {}
            settings: dict[str, Any] = {}
            for level in levels:
                merged.update(level)
                settings.update(canonical(level))
            found = self._by_groups[groups] = (merged, settings)
        return found

    def literal(self, name: str, variables: Mapping[str, Any]) -> Host:
        """A host named in a pattern but absent from the inventory: group ``all``'s variables
        (a fleet-wide user, key or known_hosts) apply, then what the name itself says."""
        merged, settings = self._group_levels((ALL,))
        explicit = canonical(variables)
        return Host(
            name, {**merged, **explicit}, (), literal=True, settings={**settings, **explicit}
        )


def _depths(groups: Mapping[str, _Group]) -> dict[str, int]:
    """Each group's depth: its longest path from ``all`` (``all`` is 0), as Ansible counts."""
    depth = {ALL: 0}
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for child in groups[name].children:
            visit(child)
        order.append(name)

    for name in groups:
        visit(name)
    for name in reversed(order):
        for child in groups[name].children:
            depth[child] = max(depth.get(child, 0), depth.get(name, 0) + 1)
    return depth
