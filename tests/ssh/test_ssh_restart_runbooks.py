"""The shipped restart runbooks over real sshd, through the CLI: ``restart-service`` on a batch
of hosts, with a stand-in service control script that records which host (by the address sshd
answered on) was asked what."""

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
