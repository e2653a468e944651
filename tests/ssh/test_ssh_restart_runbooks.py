"""The shipped restart runbooks over real sshd, through the CLI: ``restart-service`` on a batch
of hosts, and ``rolling-restart``, which calls it once per batch (``for_each`` over ``call:``),
with a stand-in service control script that records which host (by the address sshd answered
on) was asked what."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runbook_engine.cli import main
from tests.ssh.ssh_helpers import SshEnv

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"

#: CTL SERVICE restart|status: logs "ACTION SERVICE ADDRESS"; a host whose address is listed
#: in the ``unhealthy`` file fails its status
CTL = """\
#!/bin/sh
set -eu
here=$(dirname "$0")
addr=$(echo "$SSH_CONNECTION" | cut -d' ' -f3)
echo "$2 $1 $addr" >> "$here/calls.log"
if [ "$2" = status ] && grep -qx "$addr" "$here/unhealthy" 2>/dev/null; then
  echo "$1 is not running on $addr" >&2
  exit 3
fi
"""


@pytest.fixture
def ctl(ssh: SshEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("RUNBOOK_DB", str(work / "runs.db"))
    monkeypatch.setenv("RUNBOOK_PATH", str(RUNBOOKS))
    monkeypatch.setenv("RUNBOOK_USER", "alice")
    (work / "groups.yaml").write_text("sre-leads: [bob]\n")
    script = ssh.scratch / "ctl"
    script.write_text(CTL)
    script.chmod(0o755)
    return script


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["run", *args, "--yes", "-o", "json"])


def calls(ctl: Path) -> list[str]:
    log = ctl.parent / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def test_restart_service_restarts_a_batch_and_checks_it(ctl: Path) -> None:
    result = run(
        "restart-service", "-p", "hosts=h01,h02", "-p", "service=api", "-p", f"ctl={ctl}",
        "-p", "settle=0", "-p", "sudo=false",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert sorted(data["steps"]["healthy"]["outputs"]["hosts"]) == ["h01", "h02"]
    assert sorted(calls(ctl)) == [
        "restart api 127.0.1.1",
        "restart api 127.0.1.2",
        "status api 127.0.1.1",
        "status api 127.0.1.2",
    ]


def test_a_host_that_stays_unhealthy_fails_the_run_naming_it(ctl: Path) -> None:
    (ctl.parent / "unhealthy").write_text("127.0.1.2\n")
    result = run(
        "restart-service", "-p", "hosts=h01,h02", "-p", "service=api", "-p", f"ctl={ctl}",
        "-p", "settle=0", "-p", "sudo=false",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    error = data["steps"]["healthy"]["error"]
    assert "h02" in error["message"]
    assert data["steps"]["healthy"]["attempts"] == 5
    # nothing to undo after a restart, and the log says so
    assert data["status"] == "rolled_back"


def rolling(ctl: Path, hosts: str) -> tuple[str, Result]:
    """Start rolling-restart (it waits for an SRE lead), then approve it as bob."""
    started = CliRunner().invoke(
        main,
        [
            "run", "rolling-restart", "-p", f"hosts={hosts}", "-p", "service=api",
            "-p", "batch_size=2", "-p", f"ctl={ctl}", "-p", "sudo=false", "-p", "settle=0",
            "--yes", "--no-wait", "-o", "json",
        ],
    )  # fmt: skip
    assert started.exit_code == 5, started.output
    run_id = json.loads(started.output)["run_id"]
    return run_id, CliRunner().invoke(main, ["approve", run_id, "--as", "bob", "-o", "json"])


def test_rolling_restart_calls_restart_service_once_per_batch(ctl: Path) -> None:
    run_id, done = rolling(ctl, "h01,h02,h03")
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert data["status"] == "succeeded"
    assert data["steps"]["batches"]["outputs"]["healthy"] == [["h01", "h02"], ["h03"]]
    restarted = [c.split()[2] for c in calls(ctl) if c.startswith("restart")]
    # the batches one after the other: both hosts of the first before the third
    assert sorted(restarted[:2]) == ["127.0.1.1", "127.0.1.2"]
    assert restarted[2:] == ["127.0.1.3"]
    shown = CliRunner().invoke(main, ["show", run_id])
    assert shown.exit_code == 0, shown.output
    assert shown.output.count("restart-service@1  succeeded") == 2
    assert "batches[0]: c" in shown.output and "batches[1]: c" in shown.output


def test_a_batch_that_stays_unhealthy_stops_the_rollout(ctl: Path) -> None:
    (ctl.parent / "unhealthy").write_text("127.0.1.2\n")
    _, done = rolling(ctl, "h01,h02,h03,h04")
    assert done.exit_code == 1, done.output
    data = json.loads(done.output)
    # the failed batch rolled its own steps back (its child run says so); before it, the
    # rollout itself did nothing to undo
    assert data["status"] == "failed"
    message = data["steps"]["batches"]["error"]["message"]
    assert "batches[0]" in message and "ended rolled_back" in message
    restarted = {c.split()[2] for c in calls(ctl) if c.startswith("restart")}
    assert restarted == {"127.0.1.1", "127.0.1.2"}  # the second batch never started
