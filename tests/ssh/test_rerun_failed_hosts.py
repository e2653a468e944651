"""``runbook rerun --failed-hosts`` on real sshd: the re-run's SSH step runs only on the hosts
that failed or were never started in the original, also when the re-run is driven again by
another engine (a crash-resume), and the steps before it are not run again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runbook_engine.runtime.rerun import RerunRefused
from runbook_engine.service import Engine
from runbook_engine.spec.loader import load_text
from tests.ssh.ssh_helpers import SshEnv
from tests.ssh.sshd import addresses

DEPLOY = """\
apiVersion: runbook/v1
name: ssh-rerun
version: 1
parameters:
  marks: {type: string}
steps:
  - id: prepare
    action: shell.command
    with: {command: ["sh", "-c", "echo x >> {{ params.marks }}/prepared"]}
    outputs: {token: "prepared-{{ params.marks | length }}"}
  - id: deploy
    action: ssh.command
    with:
      hosts: h01,h02,h03,h04,h05,h06
      batch: 2
      forks: 2
      command: >-
        set -- $SSH_CONNECTION; echo {{ steps.prepare.outputs.token }} >> {{ params.marks }}/ran-$3;
        [ ! -e {{ params.marks }}/fail-$3 ]
"""


def ran(marks: Path) -> dict[str, list[str]]:
    """Per host address, what the deploy step wrote there (one line per run of it)."""
    return {p.name.removeprefix("ran-"): p.read_text().split() for p in marks.glob("ran-*")}


def _failed_original(ssh: SshEnv, engine: Engine) -> tuple[str, Path]:
    marks = ssh.scratch
    h03 = addresses(3)[2]
    (marks / f"fail-{h03}").touch()
    outcome = engine.start(load_text(DEPLOY), {"marks": str(marks)}, requester="alice")
    assert outcome.status == "failed"  # nothing to undo: failed, not rolled back
    # batch 1: h01 h02 ok; batch 2: h03 failed, h04 ok; batch 3 (h05, h06) never started
    assert sorted(ran(marks)) == sorted(addresses(4))
    (marks / f"fail-{h03}").unlink()
    return outcome.run_id, marks


def test_failed_hosts_reruns_only_the_failed_and_never_started_hosts(
    ssh: SshEnv, engine: Engine
) -> None:
    original, marks = _failed_original(ssh, engine)
    error = engine.state_of(original)[2].steps["deploy"].error
    assert error is not None and error["not_started"] == ["h05", "h06"]

    outcome = engine.rerun(original, by="alice", failed_hosts=True)

    assert outcome.status == "succeeded"
    a = addresses(6)
    token = f"prepared-{len(str(marks))}"
    assert ran(marks) == {
        a[0]: [token],
        a[1]: [token],
        a[2]: [token, token],  # failed in the original, run again
        a[3]: [token],
        a[4]: [token],  # never started in the original
        a[5]: [token],
    }
    # prepare was carried over (its output read by deploy), not run again
    assert (marks / "prepared").read_text() == "x\n"
    record, _, state = engine.state_of(outcome.run_id)
    assert state.steps["prepare"].outputs == {"token": token}
    assert state.steps["deploy"].result["ok"] == ["h03", "h05", "h06"]
    link = engine.rerun_of(record)
    assert link == {
        "run": original,
        "from": "deploy",
        "failed_hosts": True,
        "step": "deploy",
        "hosts": ["h03", "h05", "h06"],
    }
    started = [e for e in engine.store.events(record.id) if e.type == "step.started"]
    assert [e.data["with"]["limit"] for e in started] == [["h03", "h05", "h06"]]


def test_a_rerun_driven_by_another_engine_keeps_the_limit(
    ssh: SshEnv, engine: Engine, tmp_path: Path
) -> None:
    original, marks = _failed_original(ssh, engine)
    made = engine.create_rerun(original, by="alice", failed_hosts=True)
    # another process picks the recorded re-run up (a worker, a serve after a crash)
    other = Engine(store=engine.store, registry=engine.registry, directory=engine.directory)
    outcome = other.execute(made.record.id)
    assert outcome.status == "succeeded"
    a = addresses(6)
    assert {host: len(lines) for host, lines in ran(marks).items()} == {
        a[0]: 1,
        a[1]: 1,
        a[2]: 2,
        a[3]: 1,
        a[4]: 1,
        a[5]: 1,
    }


def test_no_failed_host_is_refused_and_nothing_is_recorded(ssh: SshEnv, engine: Engine) -> None:
    marks = ssh.scratch
    outcome = engine.start(load_text(DEPLOY), {"marks": str(marks)}, requester="alice")
    assert outcome.status == "succeeded"
    before = len(engine.store.list_runs(limit=50))
    with pytest.raises(RerunRefused, match="did not fail at a step"):
        engine.rerun(outcome.run_id, by="alice", failed_hosts=True)
    with pytest.raises(RerunRefused, match="no host failed or was left out in step 'deploy'"):
        engine.rerun(outcome.run_id, by="alice", failed_hosts=True, from_step="deploy")
    assert len(engine.store.list_runs(limit=50)) == before


def test_the_cli_reruns_the_failed_hosts_and_says_which(ssh: SshEnv, workdir: Path) -> None:
    from click.testing import CliRunner

    from runbook_engine.cli import main

    marks = ssh.scratch
    (workdir / "runbooks").mkdir()
    (workdir / "runbooks" / "ssh-rerun.yaml").write_text(DEPLOY)
    h03 = addresses(3)[2]
    (marks / f"fail-{h03}").touch()

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    first = invoke("run", "ssh-rerun", "-p", f"marks={marks}", "--yes", "-o", "json")
    assert first.exit_code == 1, first.output
    original = json.loads(first.output)["run_id"]
    (marks / f"fail-{h03}").unlink()
    again = invoke("rerun", original, "--failed-hosts")
    assert again.exit_code == 0, again.output
    assert f"re-run of {original} (from deploy, failed hosts only: h03, h05, h06)" in again.output
    new = json.loads(invoke("runs", "-o", "json").output)[0]["id"]
    shown = invoke("show", new).output
    assert "failed hosts only: h03, h05, h06" in shown
    assert {host: len(lines) for host, lines in ran(marks).items()} == {
        a: (2 if a == h03 else 1) for a in addresses(6)
    }


def test_limit_runs_on_the_hosts_it_names_and_refuses_others(ssh: SshEnv) -> None:
    from runbook_engine.actions.ssh import SshCommandAction
    from runbook_engine.errors import ActionInputError

    result = ssh.run(SshCommandAction(), hosts="fleet", limit=["h04", "h02"], command="true")
    assert result["ok"] == ["h02", "h04"]  # in the pattern's order
    with pytest.raises(ActionInputError, match="limit names h09, which hosts does not select"):
        ssh.run(SshCommandAction(), hosts="h01,h02", limit=["h09"], command="true")
