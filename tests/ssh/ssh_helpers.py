"""What the SSH tests share besides fixtures: the test environment's shape, inventory text,
and checks on remote processes."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runbook_engine.plugin.contract import Action, ActionContext, Result
from tests.ssh.sshd import Fleet, addresses

#: hosts h01..h24 on 127.0.1.1..24: two sshd processes (at most 16 addresses each)
FLEET_SIZE = 24


def host_name(index: int) -> str:
    return f"h{index:02d}"


@dataclass
class SshEnv:
    """One test's view of the fleet: its inventory, a scratch directory on the "hosts" (they
    all share this machine's file system), and contexts that stand in for runs."""

    fleet: Fleet
    inventory: Path
    scratch: Path
    lines: list[str] = field(default_factory=list)
    contexts: list[ActionContext] = field(default_factory=list)

    def ctx(self, **changes: Any) -> ActionContext:
        """A context like the runtime's for one step; its resources are closed at teardown."""
        context = ActionContext(run_id="run-ssh", step_id="step", log=self.lines.append)
        for name, value in changes.items():
            setattr(context, name, value)
        self.contexts.append(context)
        return context

    def run(self, action: Action, ctx: ActionContext | None = None, **raw: Any) -> Result:
        context = ctx or self.ctx()
        return action.run(action.Params.model_validate(raw), context)

    def write_inventory(self, text: str) -> Path:
        self.inventory.write_text(text)
        return self.inventory


def inventory_text(fleet: Fleet, count: int = FLEET_SIZE, extra: str = "") -> str:
    hosts = "\n".join(
        f"        {host_name(i + 1)}: {{address: {address}}}"
        for i, address in enumerate(addresses(count))
    )
    return f"""all:
  vars:
    user: root
    port: {fleet.port}
    key_file: {fleet.client_key}
    known_hosts: {fleet.known_hosts}
  children:
    fleet:
      hosts:
{hosts}
{extra}"""


def without_inventory(ssh: SshEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNBOOK_INVENTORY")
    monkeypatch.chdir(ssh.scratch)  # no ./inventory.* here either


def running(pattern: str) -> list[str]:
    found = subprocess.run(["pgrep", "-af", pattern], check=False, capture_output=True, text=True)
    return [line for line in found.stdout.splitlines() if "pgrep" not in line]


def wait_gone(pattern: str, timeout: float = 3.0) -> list[str]:
    give_up = time.monotonic() + timeout
    while (left := running(pattern)) and time.monotonic() < give_up:
        time.sleep(0.05)
    return left


YAML = """\
all:
  vars: {user: ops, key_file: /keys/ops}
  hosts:
    bastion: {address: 203.0.113.7}
  children:
    web:
      vars: {user: deploy}
      hosts:
        web[01:04]: {ansible_host: 10.0.0.1}
        web05:
          ansible_host: 10.0.0.5
          ansible_port: 2222
          ansible_user: override
    db:
      hosts:
        db1:
          address: 10.0.1.1
          ansible_ssh_common_args: -o ProxyJump=jumper@bastion:2200 -o StrictHostKeyChecking=no
    prod:
      vars: {user: produser}
      children:
        web:
        db:
"""

INI = """\
# comments and blank lines are fine
bastion ansible_host=203.0.113.7

[web]
web[01:04] ansible_host=10.0.0.1
web05 ansible_host=10.0.0.5 ansible_port=2222 ansible_user=override

[db]
db1 address=10.0.1.1 ansible_ssh_common_args='-J jumper@bastion:2200 -o StrictHostKeyChecking=no'

[web:vars]
user=deploy

[prod:children]
web
db

[prod:vars]
user = produser

[all:vars]
user=ops
key_file=/keys/ops
"""
