"""Rolling rollouts on real sshd: batches, the failure threshold, rollback of the run, a server
lost mid-rollout, and the bound on hosts in flight."""

from __future__ import annotations

from pathlib import Path

from runbook_engine.actions.ssh import SshCommandAction
from runbook_engine.service import Engine
from runbook_engine.spec.loader import load_text
from tests.ssh.ssh_helpers import SshEnv
from tests.ssh.sshd import addresses

ROLLOUT = """\
apiVersion: runbook/v1
name: ssh-rollout
version: 1
parameters:
  marks: {type: string}
steps:
  - id: prepare
    action: ssh.command
    with:
      hosts: fleet
      forks: 24
      command: 'set -- $SSH_CONNECTION; touch {{ params.marks | quote }}/prepared-$3'
    rollback:
      action: ssh.command
      with:
        hosts: fleet
        forks: 24
        command: 'set -- $SSH_CONNECTION; rm -f {{ params.marks | quote }}/prepared-$3'
  - id: deploy
    action: ssh.command
    with:
      hosts: fleet
      batch: 4
      forks: 4
      max_failures: 1
      command: >-
        set -- $SSH_CONNECTION; touch {{ params.marks | quote }}/deployed-$3;
        case $3 in *.6|*.10) echo "health check failed" >&2; exit 7;; esac
"""


def marked(directory: Path, prefix: str) -> list[str]:
    found = [p.name.removeprefix(prefix) for p in directory.glob(f"{prefix}*")]
    return sorted(found, key=lambda a: [int(x) for x in a.split(".")])


def test_rollout_stops_at_max_failures_and_the_run_rolls_back(ssh: SshEnv, engine: Engine) -> None:
    marks = ssh.scratch
    outcome = engine.start(load_text(ROLLOUT), {"marks": str(marks)}, requester="alice")
    assert outcome.status == "rolled_back"
    # batches of 4: h06 failed in batch 2 (tolerated), h10 in batch 3 (one too many)
    assert marked(marks, "deployed-") == addresses(12)
    assert marked(marks, "prepared-") == []  # the rollback undid step 1 on every host
    error = outcome.state.steps["deploy"].error
    assert error is not None
    assert error["kind"] == "exit"
    assert error["host"] == "h06"
    assert error["exit_code"] == 7
    assert error["stderr"] == "health check failed"
    assert error["retryable"] is True
    assert "12 not started" in error["message"]
    assert [h["host"] for h in error["hosts"] if not h["ok"]] == ["h06", "h10"]
    assert len(error["hosts"]) == 12
    assert outcome.state.steps["prepare"].status == "succeeded"


def test_a_server_lost_mid_rollout_makes_only_its_hosts_unreachable(ssh: SshEnv) -> None:
    doomed = addresses(4, first=41)
    (server,) = ssh.fleet.start(doomed)
    hosts = "\n".join(f"        d{i + 1}: {{address: {a}}}" for i, a in enumerate(doomed))
    ssh.write_inventory(ssh.inventory.read_text() + f"    doomed:\n      hosts:\n{hosts}\n")
    try:
        # Order: h01 h02 | d1 d2 | d3 d4 | h03 h04. h01 kills the doomed server in batch 1.
        result = ssh.run(
            SshCommandAction(),
            hosts="h01,h02,doomed,h03,h04",
            batch=2,
            max_failures="100%",
            command=f"set -- $SSH_CONNECTION; [ $3 != 127.0.1.1 ] || "
            f"{{ kill -KILL {server.proc.pid}; sleep 0.2; }}",
        )
    finally:
        server.stop()
    assert result["ok"] == ["h01", "h02", "h03", "h04"]
    assert result["failed"] == ["d1", "d2", "d3", "d4"]
    for host in result["hosts"][2:6]:
        assert host["kind"] == "unreachable"
        assert "connection refused" in host["error"]
    assert any(line.startswith("batch 4/4: 2 hosts (h03 .. h04)") for line in ssh.lines)


def test_no_more_than_forks_hosts_at_once(ssh: SshEnv) -> None:
    spans = ssh.scratch
    result = ssh.run(
        SshCommandAction(),
        hosts="h[01:12]",
        forks=3,
        batch="50%",
        command=f"set -- $SSH_CONNECTION; s=$(date +%s.%N); sleep 0.3; "
        f'echo "$s $(date +%s.%N)" > {spans}/span-$3',
    )
    assert len(result["ok"]) == 12
    events: list[tuple[float, int]] = []
    for path in spans.glob("span-*"):
        start, end = map(float, path.read_text().split())
        events += [(start, 1), (end, -1)]
    running = peak = 0
    for _, change in sorted(events):
        running += change
        peak = max(peak, running)
    assert 2 <= peak <= 3
    assert [line for line in ssh.lines if line.startswith("batch ")] == [
        "batch 1/2: 6 hosts (h01 .. h06)",
        "batch 2/2: 6 hosts (h07 .. h12)",
    ]
