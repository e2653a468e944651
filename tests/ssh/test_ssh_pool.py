"""Connections: one handshake per host per run across steps (counted by sshd itself), and
jump hosts (direct-tcpip through another sshd)."""

from __future__ import annotations

from runbook_engine.actions.ssh import SshCommandAction
from runbook_engine.service import Engine
from runbook_engine.spec.loader import load_text
from tests.ssh.ssh_helpers import SshEnv
from tests.ssh.sshd import addresses

THREE_STEPS = """\
apiVersion: runbook/v1
name: ssh-three-steps
version: 1
steps:
  - id: one
    action: ssh.command
    with: {hosts: "h[01:06]", command: uptime}
  - id: two
    action: ssh.command
    with: {hosts: "h[01:06]", command: "echo two"}
    outputs: {said: "{{ result.hosts | map(attribute='stdout') | map('trim') | list }}"}
  - id: three
    action: ssh.command
    with: {hosts: "h[01:03]", command: "echo {{ steps.two.outputs.said[0] | quote }}"}
"""


def test_one_handshake_per_host_per_run(ssh: SshEnv, engine: Engine) -> None:
    before = ssh.fleet.connections()
    outcome = engine.start(load_text(THREE_STEPS), {}, requester="alice")
    assert outcome.status == "succeeded", outcome.state.failure
    assert outcome.state.steps["two"].outputs == {"said": ["two"] * 6}
    assert outcome.state.steps["three"].result["hosts"][0]["stdout"] == "two\n"
    # sshd logs one "Connection from" per TCP connection: 6 hosts, 3 steps, 6 connections
    assert ssh.fleet.connections() - before == 6


def test_jump_host(ssh: SshEnv) -> None:
    # A jump server of its own, logging at DEBUG1 to show the forwarding it did.
    (jump,) = ssh.fleet.start(addresses(1, first=50), log_level="DEBUG1")
    try:
        ssh.write_inventory(
            ssh.inventory.read_text()
            + "    inner:\n      hosts:\n        inner1:\n"
            + "          address: 127.0.1.9\n"
            + "          ansible_ssh_common_args: "
            + f"'-o ProxyJump=root@127.0.1.50:{ssh.fleet.port}'\n"
        )
        result = ssh.run(SshCommandAction(), hosts="inner1", command="echo through")
        assert result["hosts"][0]["stdout"] == "through\n"
        log = jump.log.read_text()
        assert f"target 127.0.1.9 port {ssh.fleet.port}" in log
    finally:
        jump.stop()
