"""Comparing the engine's reading of an inventory with Ansible's, pattern by pattern and host
by host; the differences docs/ssh.md lists as deliberate are the only ones allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_engine.inventory import Inventory, InventoryError, load_file, select
from tests.inventory.ansible_oracle import AnsibleError, Reference, generation_order

__all__ = ["assert_same_hosts", "assert_same_vars", "load_both"]


def assert_same_hosts(source: Path, ours: Inventory, ansible: Reference, pattern: str) -> None:
    """``runbook hosts PATTERN`` lists what ``ansible PATTERN --list-hosts`` lists, in order.

    Deliberate differences: where a term matches nothing, or the whole pattern matches no host,
    Ansible warns and goes on; the engine refuses the pattern."""
    try:
        expected = ansible.hosts(pattern)
    except AnsibleError:  # a subscript past the end: an error for Ansible too
        expected = []
    if ansible.dead_terms(pattern) or not expected:
        with pytest.raises(InventoryError):
            select(ours, pattern, warn=_no_warning)
        return
    got = [h.name for h in select(ours, pattern, warn=_no_warning)]
    if got == expected:
        return
    # Ansible walks grandchild groups through a set, so its order for them depends on object
    # addresses; the engine takes definition order, which is Ansible's order whenever the set
    # iterates in insertion order. Anything else is a real difference.
    # A subscript then picks among differently ordered hosts, so only the order is compared.
    with generation_order():
        ordered = Reference(source).hosts(pattern)
    if "[" not in pattern:
        assert sorted(got) == sorted(expected), pattern
    assert got == ordered, pattern


def assert_same_vars(ours: Inventory, ansible: Reference) -> None:
    """Every host, and each one's variables as ``ansible-inventory --host`` prints them."""
    assert ours.host_names == ansible.host_names()
    for name in ours.host_names:
        assert dict(ours.host(name).vars) == ansible.host_vars(name), name


def load_both(source: Path) -> tuple[Inventory, Reference]:
    return load_file(source), Reference(source)


def _no_warning(message: str) -> None:
    """Warnings (``[x-y]`` subscripts) are not what is compared."""
