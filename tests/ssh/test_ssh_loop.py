"""A ``for_each`` loop over hosts on real sshd: one host per item, two at a time, a failing
host stopping the loop, and the rollback undoing the hosts that were done, last done first."""

from __future__ import annotations

from runbook_engine.service import Engine
from runbook_engine.spec.loader import load_text
from tests.ssh.ssh_helpers import SshEnv, host_name
from tests.ssh.test_ssh_rollout import marked

LOOP = """\
apiVersion: runbook/v1
name: ssh-loop
version: 1
parameters:
  hosts: {type: list}
  marks: {type: string}
  bad: {type: string, default: none}
steps:
  - id: deploy
    action: ssh.command
    for_each: "{{ params.hosts }}"
    as: host
    max_concurrency: 2
    with:
      hosts: "{{ host }}"
      command: >-
        set -- $SSH_CONNECTION; touch {{ params.marks | quote }}/deployed-$3; echo $3;
        [ {{ host | quote }} != {{ params.bad | quote }} ] || exit 7
    outputs: {address: "{{ result.hosts[0].stdout | trim }}"}
    rollback:
      action: ssh.command
      with:
        hosts: "{{ host }}"
        command: 'set -- $SSH_CONNECTION; rm {{ params.marks | quote }}/deployed-$3'
  - id: check
    action: log
    with: {message: "{{ steps.deploy.outputs.address | join(' ') }}"}
"""


def test_a_loop_runs_one_host_per_item_and_outputs_a_list(ssh: SshEnv, engine: Engine) -> None:
    hosts = [host_name(i) for i in range(1, 7)]
    out = engine.start(
        load_text(LOOP), {"hosts": hosts, "marks": str(ssh.scratch)}, requester="alice"
    )
    assert out.status == "succeeded", out.state.failure
    wanted = [f"127.0.1.{i}" for i in range(1, 7)]
    assert marked(ssh.scratch, "deployed-") == wanted
    assert out.state.step("deploy").outputs == {"address": wanted}
    assert out.state.loops["deploy"].done == 6


def test_a_failing_host_stops_the_loop_and_the_done_hosts_are_rolled_back(
    ssh: SshEnv, engine: Engine
) -> None:
    hosts = [host_name(i) for i in range(1, 9)]
    out = engine.start(
        load_text(LOOP),
        {"hosts": hosts, "marks": str(ssh.scratch), "bad": host_name(4)},
        requester="alice",
    )
    assert out.status == "rolled_back"
    # every host that was done is undone; the failed one is not (as a failed step is not)
    assert marked(ssh.scratch, "deployed-") == ["127.0.1.4"]
    error = out.state.step("deploy").error or {}
    assert "deploy[3]" in error["message"] and "not started" in error["message"]
    started = {sid for sid in out.state.steps if sid.startswith("deploy[")}
    assert "deploy[7]" not in started  # nothing started after the failure (two at a time)
    undone = [c.step for c in out.state.completed if c.rollback == "succeeded"]
    assert undone and all(sid.startswith("deploy[") for sid in undone)
    assert "deploy[3]" not in undone  # the failed host is not undone
