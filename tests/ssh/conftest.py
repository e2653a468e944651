"""Fixtures for the SSH tests: real OpenSSH servers on loopback addresses, an inventory that
names them, action contexts whose connection pool is closed as at the end of a run, and an
engine whose registry has the SSH actions.

The servers are started once per session (about a second); tests that stop a server start
their own with ``fleet.start``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook_engine.actions.ssh import ACTIONS
from runbook_engine.identity import Directory
from runbook_engine.plugin import Registry, builtin_actions
from runbook_engine.service import Engine
from runbook_engine.store import Store
from tests.ssh.ssh_helpers import FLEET_SIZE, SshEnv, inventory_text
from tests.ssh.sshd import SSHD, Fleet, addresses


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    if not (os.path.exists(SSHD) and shutil.which("ssh-keygen") and os.geteuid() == 0):
        pytest.skip("needs OpenSSH's sshd and ssh-keygen, and root (the tests log in as root)")
    started = Fleet(tmp_path_factory.mktemp("sshd"))
    started.start(addresses(FLEET_SIZE))
    yield started
    started.stop()


@pytest.fixture
def ssh(fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SshEnv]:
    # A HOME of its own: the machine's ~/.ssh (keys, known_hosts) must not decide a test.
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(inventory_text(fleet))
    monkeypatch.setenv("RUNBOOK_INVENTORY", str(inventory))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = SshEnv(fleet, inventory, scratch)
    yield env
    for context in env.contexts:
        for resource in context.resources.values():
            close = getattr(resource, "close", None)
            if callable(close):
                close()


@pytest.fixture
def registry() -> Registry:
    """A registry of its own with every built-in action (the SSH ones included)."""
    registry = Registry()
    for action in (*builtin_actions(), *ACTIONS):
        if action.name not in registry:
            registry.register(action)
    return registry


@pytest.fixture
def engine(tmp_path: Path, registry: Registry) -> Iterator[Engine]:
    store = Store.open("sqlite:///" + str(tmp_path / "runs.db"))
    yield Engine(store=store, registry=registry, directory=Directory())
    store.close()
