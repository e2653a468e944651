"""The ``runbook`` CLI end to end through click's CliRunner, on a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from runbook_engine.cli import main

HELLO = """\
apiVersion: runbook/v1
name: hello
version: {version}
description: greets
parameters:
  who: {{type: string, default: world, pattern: "[a-z ]+"}}
  times: {{type: integer, default: 1, minimum: 1, maximum: 3}}
steps:
  - id: greet
    action: shell.command
    with: {{command: "echo hello {{{{ params.who | quote }}}}"}}
    outputs: {{text: "{{{{ result.stdout | trim }}}}"}}
  - id: done
    action: log
    with: {{message: "{{{{ steps.greet.outputs.text }}}} x{{{{ params.times }}}}"}}
"""


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_validate_ok_and_broken(workdir: Path) -> None:
    good = write(workdir / "runbooks" / "hello.yaml", HELLO.format(version=1))
    bad = write(
        workdir / "bad.yaml",
        "apiVersion: runbook/v1\nname: x\nversion: 1\nsteps:\n  - id: a\n    acton: log\n",
    )
    assert invoke("validate", str(good)).exit_code == 0
    result = invoke("validate", str(bad))
    assert result.exit_code == 2
    assert f"{bad}:6:5: steps[0].acton: unknown field 'acton'" in result.output
    assert "Traceback" not in result.output
    data = json.loads(invoke("validate", str(bad), "--output", "json").output)
    assert data["valid"] is False
    positions = {(p["line"], p["column"], p["path"]) for p in data["files"][0]["problems"]}
    assert (6, 5, "steps[0].acton") in positions


def test_yaml_syntax_error_has_position(workdir: Path) -> None:
    bad = write(workdir / "broken.yaml", "apiVersion: runbook/v1\nsteps: [\n  - id: a\n")
    result = invoke("validate", str(bad))
    assert result.exit_code == 2
    assert "YAML syntax error" in result.output
    assert f"{bad}:" in result.output


def test_list_includes_shipped_and_local(workdir: Path) -> None:
    write(workdir / "runbooks" / "hello.yaml", HELLO.format(version=2))
    result = invoke("list")
    assert result.exit_code == 0
    for name in ("hello", "disk-usage-check", "http-health-check", "maintenance-window"):
        assert name in result.output
    data = json.loads(invoke("list", "-o", "json").output)
    assert {"name": "hello", "version": 2}.items() <= next(
        r for r in data["runbooks"] if r["name"] == "hello"
    ).items()


def test_run_succeeds_and_is_recorded(workdir: Path) -> None:
    write(workdir / "runbooks" / "hello.yaml", HELLO.format(version=1))
    result = invoke("run", "hello", "-p", "who=on call", "--yes", "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["status"] == "succeeded"
    assert data["steps"]["greet"]["outputs"] == {"text": "hello on call"}
    runs = json.loads(invoke("runs", "-o", "json").output)
    assert runs[0]["id"] == data["run_id"] and runs[0]["status"] == "succeeded"
    shown = json.loads(invoke("show", data["run_id"], "-o", "json").output)
    types = [e["type"] for e in shown["events"]]
    assert types[:3] == ["run.created", "run.started", "step.started"]
    assert types[-1] == "run.finished"
    logs = invoke("logs", data["run_id"]).output
    assert "greet | hello on call" in logs


def test_bad_parameter_names_it(workdir: Path) -> None:
    write(workdir / "runbooks" / "hello.yaml", HELLO.format(version=1))
    result = invoke("run", "hello", "-p", "times=7", "--yes")
    assert result.exit_code == 2
    assert "parameter 'times': expected at most 3, got 7" in result.output
    result = invoke("run", "hello", "-p", "tims=2", "--yes")
    assert result.exit_code == 2
    assert "did you mean 'times'" in result.output
    result = invoke("run", "hello", "-p", "who=UPPER", "--yes")
    assert "expected text matching" in result.output


def test_versions_survive_file_changes(workdir: Path) -> None:
    path = write(workdir / "runbooks" / "hello.yaml", HELLO.format(version=1))
    assert invoke("run", "hello", "--yes").exit_code == 0
    path.write_text(HELLO.format(version=2).replace("description: greets", "description: waves"))
    shown = invoke("show", "hello@1")
    assert shown.exit_code == 0
    assert "description: greets" in shown.output
    assert "description: waves" in invoke("show", "hello@2").output
    diff = invoke("diff", "hello@1", "hello@2")
    assert "-description: greets" in diff.output and "+description: waves" in diff.output


def test_same_version_different_content_must_bump(workdir: Path) -> None:
    path = write(workdir / "runbooks" / "hello.yaml", HELLO.format(version=1))
    assert invoke("run", "hello", "--yes").exit_code == 0
    path.write_text(HELLO.format(version=1).replace("greets", "changed"))
    result = invoke("run", "hello", "--yes")
    assert result.exit_code == 2
    assert "bump `version`" in result.output


def test_two_files_claiming_one_version(workdir: Path) -> None:
    write(workdir / "runbooks" / "a.yaml", HELLO.format(version=1))
    write(workdir / "runbooks" / "b.yaml", HELLO.format(version=1).replace("greets", "other"))
    result = invoke("run", "hello", "--yes")
    assert result.exit_code == 2
    assert "bump `version`" in result.output


def test_plan_renders_and_calls_nothing(workdir: Path) -> None:
    target = workdir / "flag"
    write(
        workdir / "runbooks" / "w.yaml",
        f"""\
apiVersion: runbook/v1
name: w
version: 1
parameters:
  text: {{type: string}}
  token: {{type: string, secret: true}}
steps:
  - id: write
    action: file.write
    with: {{path: "{target}", content: "{{{{ params.text }}}} {{{{ params.token }}}}"}}
  - id: echo
    action: log
    with: {{message: "{{{{ steps.write.result.bytes }}}}"}}
""",
    )
    result = invoke("plan", "w", "-p", "text={{ 7*7 }}", "-p", "token=hunter2")
    assert result.exit_code == 0, result.output
    assert "{{ 7*7 }} ***" in result.output
    assert "hunter2" not in result.output
    assert "<known at run time>" in result.output
    assert not target.exists()
    # the plan masks as the run does: a secret's text anywhere (so not a one-letter one here)
    dry = invoke("run", "w", "-p", "text=x", "-p", "token=y-s3cr3t", "--dry-run", "-o", "json")
    assert json.loads(dry.output)["steps"][0]["with"]["path"] == str(target)
    assert not target.exists()


def test_approval_cli_flow(workdir: Path) -> None:
    write(
        workdir / "runbooks" / "gate.yaml",
        """\
apiVersion: runbook/v1
name: gate
version: 1
steps:
  - id: ok
    approval: {message: "go?", approvers: [bob, carol]}
  - id: after
    action: log
    with: {message: "approved by {{ steps.ok.outputs.approved_by }}"}
""",
    )
    started = invoke("run", "gate", "--yes", "--no-wait", "-o", "json")
    assert started.exit_code == 5
    run_id = json.loads(started.output)["run_id"]
    refused = invoke("approve", run_id)  # alice started it
    assert refused.exit_code == 2
    assert "cannot approve it" in refused.output
    stranger = invoke("approve", run_id, "--as", "mallory")
    assert stranger.exit_code == 2 and "not an approver" in stranger.output
    approved = invoke("approve", run_id, "--as", "bob", "-o", "json")
    assert approved.exit_code == 0, approved.output
    assert json.loads(approved.output)["status"] == "succeeded"
    timeline = invoke("show", run_id).output
    assert "approved by bob" in timeline


def test_reject_rolls_back(workdir: Path) -> None:
    flag = workdir / "flag"
    write(
        workdir / "runbooks" / "gate.yaml",
        f"""\
apiVersion: runbook/v1
name: gate
version: 1
steps:
  - id: flag
    action: file.write
    with: {{path: "{flag}", content: "on"}}
  - id: ok
    approval: {{message: "go?"}}
""",
    )
    run_id = json.loads(invoke("run", "gate", "--yes", "--no-wait", "-o", "json").output)["run_id"]
    assert flag.read_text() == "on"
    assert invoke("reject", run_id, "--as", "bob").exit_code == 2  # --reason is required
    result = invoke("reject", run_id, "--as", "bob", "--reason", "not now", "-o", "json")
    assert result.exit_code == 4
    assert json.loads(result.output)["status"] == "rejected"
    assert not flag.exists()  # file.write's automatic undo removed what it created


def test_cancel_waiting_run(workdir: Path) -> None:
    write(
        workdir / "runbooks" / "gate.yaml",
        """\
apiVersion: runbook/v1
name: gate
version: 1
steps:
  - id: ok
    approval: {message: "go?"}
""",
    )
    run_id = json.loads(invoke("run", "gate", "--yes", "--no-wait", "-o", "json").output)["run_id"]
    result = invoke("cancel", run_id, "-o", "json")
    assert result.exit_code == 4
    assert json.loads(result.output)["status"] == "cancelled"
    again = invoke("cancel", run_id)
    assert again.exit_code == 1 and "already finished" in again.output


def test_lock_refuses_second_run(workdir: Path) -> None:
    write(
        workdir / "runbooks" / "locked.yaml",
        """\
apiVersion: runbook/v1
name: locked
version: 1
parameters:
  target: {type: string}
concurrency: {lock: "locked-{{ params.target }}"}
steps:
  - id: ok
    approval: {message: "go?"}
""",
    )
    first = invoke("run", "locked", "-p", "target=a", "--yes", "--no-wait", "-o", "json")
    assert first.exit_code == 5
    second = invoke("run", "locked", "-p", "target=a", "--yes", "--no-wait", "-o", "json")
    assert second.exit_code == 6
    assert "lock 'locked-a' is held" in json.loads(second.output)["message"]
    other = invoke("run", "locked", "-p", "target=b", "--yes", "--no-wait")
    assert other.exit_code == 5


def test_json_logs(workdir: Path) -> None:
    write(workdir / "runbooks" / "hello.yaml", HELLO.format(version=1))
    result = CliRunner().invoke(
        main, ["run", "hello", "--yes", "--log-format", "json", "-o", "json"]
    )
    lines = [json.loads(x) for x in result.stderr.splitlines() if x.startswith("{")]
    assert lines, result.stderr
    assert all(x["run_id"] for x in lines)
    assert {"step.started", "step.succeeded", "run.finished"} <= {x["event"] for x in lines}
    assert any(x["step_id"] == "greet" for x in lines)


def test_unknown_runbook_and_action(workdir: Path) -> None:
    result = invoke("run", "disk-usage-chek", "--yes")
    assert result.exit_code == 2 and "did you mean 'disk-usage-check'" in result.output
    write(
        workdir / "runbooks" / "x.yaml",
        "apiVersion: runbook/v1\nname: x\nversion: 1\nsteps:\n  - {id: a, action: shel.command}\n",
    )
    result = invoke("run", "x", "--yes")
    assert result.exit_code == 2 and "did you mean 'shell.command'" in result.output


def test_logs_follow_streams_until_the_run_ends(workdir: Path) -> None:
    import os
    import subprocess
    import sys
    import time

    from runbook_engine.store import Store

    write(
        workdir / "runbooks" / "slow.yaml",
        """\
apiVersion: runbook/v1
name: slow
version: 1
steps:
  - id: talk
    action: shell.command
    with: {command: "echo first; sleep 1; echo second"}
""",
    )
    # a real second process runs the runbook while this one follows its log
    cli = Path(sys.executable).parent / "runbook"
    proc = subprocess.Popen(
        [str(cli), "run", "slow", "--yes"],
        cwd=workdir,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        run_id = None
        while run_id is None and time.monotonic() < deadline:
            with Store.open() as store:
                runs = store.list_runs(runbook="slow")
            run_id = runs[0].id if runs else None
            time.sleep(0.05)
        assert run_id is not None
        followed = invoke("logs", run_id, "--follow")
    finally:
        assert proc.wait(timeout=60) == 0
    assert followed.exit_code == 0
    assert "talk | first" in followed.output
    assert "talk | second" in followed.output
