"""The shipped fleet-disk-cleanup runbook, end to end over real sshd, through the CLI."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from runbook_engine.cli import main
from tests.ssh.ssh_helpers import SshEnv

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"


@pytest.fixture
def cli_env(ssh: SshEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("RUNBOOK_DB", str(work / "runs.db"))
    monkeypatch.setenv("RUNBOOK_PATH", str(RUNBOOKS))
    monkeypatch.setenv("RUNBOOK_USER", "alice")
    (work / "groups.yaml").write_text("sre-leads: [bob]\n")
    return work


def test_cleanup_after_approval_deletes_only_old_logs(cli_env: Path, ssh: SshEnv) -> None:
    logs = ssh.scratch / "logs"
    logs.mkdir()
    old = time.time() - 10 * 86400
    for name in ("a.gz", "b.gz"):
        (logs / name).write_text("x")
        os.utime(logs / name, (old, old))
    (logs / "fresh.gz").write_text("x")
    (logs / "current.log").write_text("x")
    args = [
        "run",
        "fleet-disk-cleanup",
        "-p",
        "hosts=h[01:04]",
        "-p",
        f"path={logs}",
        "-p",
        "threshold=1",
        "--yes",
        "--no-wait",
        "-o",
        "json",
    ]
    started = CliRunner().invoke(main, args)
    assert started.exit_code == 5, started.output  # waiting for an SRE lead
    run_id = json.loads(started.output)["run_id"]
    done = CliRunner().invoke(main, ["approve", run_id, "--as", "bob", "-o", "json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    # four hosts share this machine's disk; 25% of 4 is one host per batch, so the first
    # deletes the files and the others, one after another, find none
    assert data["steps"]["cleanup"]["outputs"]["deleted"] == 2
    assert sorted(p.name for p in logs.iterdir()) == ["current.log", "fresh.gz"]


def test_enough_room_ends_early(cli_env: Path, ssh: SshEnv) -> None:
    args = [
        "run",
        "fleet-disk-cleanup",
        "-p",
        "hosts=h[01:04]",
        "-p",
        f"path={ssh.scratch}",
        "-p",
        "threshold=100",
        "--yes",
        "-o",
        "json",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["status"] == "succeeded"
    assert "approve" not in data["steps"]
    assert data["steps"]["check"]["outputs"]["usage"] <= 100
