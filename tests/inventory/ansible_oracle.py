"""Ansible itself, in-process, as the reference the inventory is compared with.

Ansible reads its configuration when first imported, so the environment is set here, before:
a private ANSIBLE_HOME and temp dir, an empty configuration file (whatever ``ansible.cfg``
the machine or the working directory has is not used), no colour, no pattern warnings.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any

_HOME = Path(tempfile.mkdtemp(prefix="ansible-home-"))
(_HOME / "ansible.cfg").write_text("")
ANSIBLE_ENV = {
    "ANSIBLE_HOME": str(_HOME),
    "ANSIBLE_LOCAL_TEMP": str(_HOME / "tmp"),
    "ANSIBLE_CONFIG": str(_HOME / "ansible.cfg"),
    "ANSIBLE_NOCOLOR": "1",
    "ANSIBLE_HOST_PATTERN_MISMATCH": "ignore",
    "ANSIBLE_DEPRECATION_WARNINGS": "0",
    "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
    "ANSIBLE_LOCALHOST_WARNING": "0",
}
os.environ.update(ANSIBLE_ENV)

from ansible.cli.inventory import InventoryCLI  # type: ignore[import-untyped]  # noqa: E402
from ansible.errors import AnsibleError  # type: ignore[import-untyped]  # noqa: E402
from ansible.inventory.group import Group  # type: ignore[import-untyped]  # noqa: E402
from ansible.inventory.manager import InventoryManager, split_host_pattern  # type: ignore[import-untyped]  # noqa: E402
from ansible.parsing.dataloader import DataLoader  # type: ignore[import-untyped]  # noqa: E402
from ansible.vars.manager import VariableManager  # type: ignore[import-untyped]  # noqa: E402

__all__ = [
    "AnsibleError",
    "Reference",
    "ansible_cli_hosts",
    "ansible_cli_vars",
    "ansible_list_json",
    "generation_order",
]

BIN = Path(sys.executable).parent


class Reference:
    """An inventory as Ansible reads it."""

    def __init__(self, source: Path) -> None:
        loader = DataLoader()
        self.manager = InventoryManager(loader=loader, sources=[str(source)])
        self._variables = VariableManager(loader=loader, inventory=self.manager)

    def hosts(self, pattern: str) -> list[str]:
        """``ansible PATTERN --list-hosts``."""
        self.manager.clear_pattern_cache()
        self.manager._hosts_patterns_cache = {}
        return [h.name for h in self.manager.get_hosts(pattern)]

    def host_names(self) -> list[str]:
        return list(self.manager.hosts)

    def dead_terms(self, pattern: str) -> list[str]:
        """The terms of ``pattern`` that match nothing (Ansible warns and goes on)."""
        dead = []
        for term in split_host_pattern(pattern):
            if term in self.manager.hosts:
                continue
            try:
                found = self.manager._match_one_pattern(term)
            except AnsibleError:
                found = []
            if not found:
                dead.append(term)
        return dead

    def host_vars(self, host: str) -> dict[str, Any]:
        """``ansible-inventory --host HOST``."""
        found = self.manager.get_host(host)
        assert found is not None, host
        got = self._variables.get_vars(host=found, include_hostvars=False, stage="all")
        return dict(InventoryCLI._remove_internal(got))


def _ordered_walk(
    self: Group, rel: str, include_self: bool = False, preserve_ordering: bool = False
) -> Any:
    """Ansible's ``Group._walk_relationship`` with its sets replaced by insertion-ordered
    dicts: the order Ansible gives whenever its set happens to iterate in insertion order."""
    seen: dict[Group, None] = {}
    unprocessed = dict.fromkeys(getattr(self, rel))
    if include_self:
        unprocessed[self] = None
    ordered = [self] if include_self else []
    ordered.extend(getattr(self, rel))
    while unprocessed:
        seen.update(unprocessed)
        following: dict[Group, None] = {}
        for item in chain.from_iterable(getattr(g, rel) for g in unprocessed):
            following[item] = None
            if item not in seen:
                ordered.append(item)
        unprocessed = {g: None for g in following if g not in seen}
    return ordered if preserve_ordering else set(seen)


@contextlib.contextmanager
def generation_order() -> Iterator[None]:
    """Within: Ansible lists grandchild groups in definition order (see ``_ordered_walk``)."""
    original = Group._walk_relationship
    Group._walk_relationship = _ordered_walk
    try:
        yield
    finally:
        Group._walk_relationship = original


def _run(*args: str) -> str:
    done = subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        env={**os.environ, **ANSIBLE_ENV},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def ansible_cli_hosts(source: Path, pattern: str) -> list[str]:
    """What ``ansible PATTERN -i SOURCE --list-hosts`` prints, one host a line."""
    out = _run("ansible", pattern, "-i", str(source), "--list-hosts")
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("hosts ("))
    return [line.strip() for line in lines[start + 1 :] if line.strip()]


def ansible_cli_vars(source: Path, host: str) -> dict[str, Any]:
    import json

    return dict(json.loads(_run("ansible-inventory", "-i", str(source), "--host", host)))


def ansible_list_json(source: Path) -> str:
    """``ansible-inventory -i SOURCE --list``."""
    return _run("ansible-inventory", "-i", str(source), "--list")
