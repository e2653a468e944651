"""ssh.script, ssh.upload (with its undo) and ssh.download on real sshd.

All test hosts share this machine's file system, so each test writes paths of its own and
uploads go to one host at a time where several would write the same file.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from runbook_engine.actions.ssh import (
    HostsFailed,
    SshDownloadAction,
    SshScriptAction,
    SshUploadAction,
)
from runbook_engine.errors import ActionInputError
from tests.ssh.ssh_helpers import SshEnv, wait_gone

SCRIPT = """#!/bin/sh
echo "args: $*"
echo "path: $0"
"""


def test_inline_script_runs_with_args_and_is_removed(ssh: SshEnv) -> None:
    result = ssh.run(SshScriptAction(), hosts="h01,h02", script=SCRIPT, args=["a b", "c"])
    assert result["ok"] == ["h01", "h02"]
    for host in result["hosts"]:
        out = host["stdout"].splitlines()
        assert out[0] == "args: a b c"
        remote = Path(out[1].removeprefix("path: "))
        assert remote.parent == Path("/tmp")
        assert not remote.exists()  # removed after the run


def test_script_from_a_file_without_shebang_runs_under_sh(ssh: SshEnv, tmp_path: Path) -> None:
    local = tmp_path / "check.sh"
    local.write_text('echo "$1 from $(basename "$0" | cut -c1-9)"\nexit 2\n')
    result = ssh.run(
        SshScriptAction(), hosts="h03", path=str(local), args=["hi"], accept_exit_codes=[2]
    )
    assert result["hosts"][0]["stdout"] == "hi from .runbook-\n"
    assert result["hosts"][0]["exit_code"] == 2


def test_script_timeout_kills_and_still_removes(ssh: SshEnv) -> None:
    with pytest.raises(HostsFailed) as caught:
        ssh.run(
            SshScriptAction(),
            hosts="h04",
            script='echo "$0" > ' + str(ssh.scratch / "where") + "\nsleep 617.53\n",
            timeout=1,
        )
    assert caught.value.kind == "timeout"
    assert wait_gone("sleep 617.53") == []
    assert not Path((ssh.scratch / "where").read_text().strip()).exists()


def test_script_needs_exactly_one_source(ssh: SshEnv) -> None:
    with pytest.raises(ValueError, match="exactly one of script"):
        SshScriptAction.Params.model_validate({"hosts": "h01", "script": "x", "path": "/y"})
    with pytest.raises(ActionInputError, match="cannot read the script"):
        ssh.run(SshScriptAction(), hosts="h01", path=str(ssh.scratch / "missing.sh"))


def test_upload_creates_then_undo_removes(ssh: SshEnv) -> None:
    dest = ssh.scratch / "created.conf"
    action = SshUploadAction()
    params = {"hosts": "h01", "content": "new\n", "dest": str(dest), "mode": "0640"}
    ctx = ssh.ctx()
    result = action.run(action.Params.model_validate(params), ctx)
    host = result["hosts"][0]
    assert host["created"] is True and host["backup"] is None and host["bytes"] == 4
    assert dest.read_text() == "new\n"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o640
    assert list(ssh.scratch.glob(".created.conf.*")) == []  # no temporary file left
    action.undo(action.Params.model_validate(params), result, ctx)
    assert not dest.exists()


def test_upload_replaces_with_backup_then_undo_restores(ssh: SshEnv, tmp_path: Path) -> None:
    dest = ssh.scratch / "app.conf"
    dest.write_text("old\n")
    dest.chmod(0o600)
    local = tmp_path / "app.conf"
    local.write_text("new\n")
    action = SshUploadAction()
    params = {"hosts": "h02", "src": str(local), "dest": str(dest)}
    ctx = ssh.ctx(run_id="run-42")
    result = action.run(action.Params.model_validate(params), ctx)
    host = result["hosts"][0]
    assert host["created"] is False
    assert host["backup"] == f"{dest}.runbook-run-42.bak"
    assert Path(host["backup"]).read_text() == "old\n"
    assert dest.read_text() == "new\n"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600  # the replaced file's mode is kept
    undone = action.undo(action.Params.model_validate(params), result, ctx)
    assert undone is not None and undone["hosts"][0]["restored"] == "backup"
    assert dest.read_text() == "old\n"
    assert not Path(host["backup"]).exists()


def test_failed_upload_restores_the_hosts_it_changed(ssh: SshEnv) -> None:
    dest = ssh.scratch / "rolled.conf"
    dest.write_text("old\n")
    with pytest.raises(HostsFailed) as caught:
        ssh.run(
            SshUploadAction(),
            hosts=f"h01,127.0.1.201:{ssh.fleet.port}",
            content="new\n",
            dest=str(dest),
        )
    assert caught.value.kind == "unreachable"
    assert "already changed were restored" in str(caught.value)
    assert dest.read_text() == "old\n"


def test_download_from_each_host(ssh: SshEnv, tmp_path: Path) -> None:
    src = ssh.scratch / "report.txt"
    src.write_text("figures\n")
    dest = tmp_path / "collected"
    result = ssh.run(SshDownloadAction(), hosts="h01,h02", src=str(src), dest=str(dest))
    for name in ("h01", "h02"):
        assert (dest / name / "report.txt").read_text() == "figures\n"
    assert result["hosts"][0]["bytes"] == 8
    with pytest.raises(HostsFailed) as caught:
        ssh.run(SshDownloadAction(), hosts="h01", src="/nonexistent/file", dest=str(dest))
    assert caught.value.kind == "remote"
    assert caught.value.retryable is False
