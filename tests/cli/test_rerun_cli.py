"""``runbook rerun`` on the local store through click's CliRunner: the version the original
ran, its parameters, secrets given again, ``--from`` carrying outputs over, and the refusals."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from runbook_engine.cli import main
from runbook_engine.store import Store

DEPLOY = """\
apiVersion: runbook/v1
name: deploy
version: {version}
parameters:
  release: {{type: string}}
  count: {{type: integer, default: 1}}
  token: {{type: string, secret: true, required: false}}
steps:
  - id: build
    action: shell.command
    with:
      command:
        - sh
        - -c
        - "echo built >> {marks}/build; echo artefact-{{{{ params.release }}}}"
    outputs: {{artefact: "{{{{ result.stdout | trim }}}}"}}
  - id: ship
    action: shell.command
    with:
      command:
        - sh
        - -c
        - >-
          echo {{{{ steps.build.outputs.artefact }}}} x{{{{ params.count }}}} >> {marks}/ship;
          test -e {marks}/go
      env: {{TOKEN: "{{{{ params.token or '' }}}}"}}
  - id: verify
    action: shell.command
    with: {{command: ["sh", "-c", "echo v{version} >> {marks}/verify"]}}
"""


def invoke(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)


def book(workdir: Path, version: int = 1, text: str = DEPLOY) -> Path:
    path = workdir / "runbooks" / "deploy.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.format(version=version, marks=workdir))
    return path


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def failed_run(workdir: Path, *params: str) -> str:
    book(workdir)
    result = invoke("run", "deploy", "-p", "release=r1", *params, "--yes", "-o", "json")
    assert result.exit_code == 1, result.output
    return str(json.loads(result.output)["run_id"])


def run_count(workdir: Path) -> int:
    with Store.open(str(workdir / "runbook.db")) as store:
        return len(store.list_runs(limit=100))


def test_rerun_runs_the_same_version_with_the_same_parameters(workdir: Path) -> None:
    original = failed_run(workdir, "-p", "count=3")
    book(workdir, version=2)  # the file moved on; the re-run is of what ran
    (workdir / "go").touch()
    result = invoke("rerun", original, "-o", "json")
    assert result.exit_code == 0, result.output
    new = json.loads(result.output)["run_id"]
    assert new != original
    assert lines(workdir / "verify") == ["v1"]  # version 1's step, not version 2's
    assert lines(workdir / "ship") == ["artefact-r1 x3", "artefact-r1 x3"]
    shown = json.loads(invoke("show", new, "-o", "json").output)
    assert (shown["version"], shown["params"]["release"], shown["params"]["count"]) == (1, "r1", 3)
    assert shown["rerun_of"] == {"run": original, "from": None, "failed_hosts": False}
    text = invoke("show", new).output
    assert f"re-run of {original}" in text
    # and the other way
    assert f"re-run as {new}" in invoke("show", original).output
    assert json.loads(invoke("show", original, "-o", "json").output)["reruns"] == [new]
    with Store.open(str(workdir / "runbook.db")) as store:
        [entry] = [e for e in store.audit_since() if e.action == "rerun"]
    assert (entry.target, entry.outcome, entry.principal) == (new, "ok", "alice")
    assert entry.detail["rerun_of"] == original


def test_params_override_and_unknown_ones_are_refused(workdir: Path) -> None:
    original = failed_run(workdir)
    (workdir / "go").touch()
    result = invoke("rerun", original, "-p", "release=r2", "-o", "json")
    assert result.exit_code == 0, result.output
    assert lines(workdir / "ship")[-1] == "artefact-r2 x1"
    bad = invoke("rerun", original, "-p", "relase=r3")
    assert bad.exit_code == 2
    assert "parameter 'relase'" in bad.output and "did you mean 'release'" in bad.output
    assert "Traceback" not in bad.output


def test_from_carries_outputs_over_and_does_not_run_earlier_steps(workdir: Path) -> None:
    original = failed_run(workdir)
    assert lines(workdir / "build") == ["built"]
    (workdir / "go").touch()
    result = invoke("rerun", original, "--from", "ship")
    assert result.exit_code == 0, result.output
    assert lines(workdir / "build") == ["built"]  # carried over, not built again
    # ship read the carried output as the original had it
    assert lines(workdir / "ship") == ["artefact-r1 x1", "artefact-r1 x1"]
    new = json.loads(invoke("runs", "-o", "json").output)[0]["id"]
    shown = invoke("show", new).output
    assert f"re-run of {original} (from ship)" in shown
    assert f"build: carried over from run {original} (succeeded)" in shown
    data = json.loads(invoke("show", new, "-o", "json").output)
    assert data["state"]["steps"]["build"]["outputs"] == {"artefact": "artefact-r1"}
    assert data["state"]["completed"][0]["step"] == "ship"  # build is not to be rolled back
    assert [c["step"] for c in data["state"]["completed"]] == ["ship", "verify"]


def test_secrets_are_asked_again_and_never_stored(workdir: Path) -> None:
    secret = "s3cr3t-value-42"
    original = failed_run(workdir, "-p", f"token={secret}")
    (workdir / "go").touch()
    missing = invoke("rerun", original)
    assert missing.exit_code == 2
    assert "parameter 'token'" in missing.output and "never stored" in missing.output
    assert "RUNBOOK_SECRET_TOKEN" in missing.output
    assert run_count(workdir) == 1  # nothing was recorded
    (workdir / "token.txt").write_text(secret)
    given = invoke("rerun", original, "-p", "token=@token.txt", "-o", "json")
    assert given.exit_code == 0, given.output
    from_env = invoke("rerun", original, "-o", "json", env={"RUNBOOK_SECRET_TOKEN": secret})
    assert from_env.exit_code == 0, from_env.output
    assert run_count(workdir) == 3
    new = json.loads(from_env.output)["run_id"]
    assert json.loads(invoke("show", new, "-o", "json").output)["params"]["token"] == "***"
    stored = b"".join(p.read_bytes() for p in workdir.glob("runbook.db*"))
    assert secret.encode() not in stored


def test_bad_from_and_unfinished_runs_are_refused_without_a_traceback(workdir: Path) -> None:
    original = failed_run(workdir)
    unknown = invoke("rerun", original, "--from", "shipp")
    assert unknown.exit_code == 2
    expected = "--from 'shipp': deploy@1 has no such top-level step; its steps: build, ship, verify"
    assert f"error: {expected}" in unknown.output
    hosts = invoke("rerun", original, "--failed-hosts")
    assert hosts.exit_code == 2
    assert "no step runs on hosts (ssh.*) from 'ship' on" in hosts.output
    missing = invoke("rerun", "nosuchrun")
    assert missing.exit_code == 2 and "nosuchrun" in missing.output
    follow = invoke("rerun", original, "--no-follow")
    assert follow.exit_code == 2 and "--no-follow needs RUNBOOK_SERVER" in follow.output
    for result in (unknown, hosts, missing, follow):
        assert "Traceback" not in result.output
    assert run_count(workdir) == 1
    gate = workdir / "runbooks" / "gate.yaml"
    gate.write_text(
        "apiVersion: runbook/v1\nname: gate\nversion: 1\nsteps:\n"
        "  - id: ok\n    approval: {message: go?}\n"
        "  - id: after\n    action: log\n    with: {message: after}\n"
        "  - id: fan\n    parallel:\n      - id: one\n        action: log\n"
        "        with: {message: one}\n"
    )
    waiting = json.loads(invoke("run", "gate", "--yes", "--no-wait", "-o", "json").output)
    active = invoke("rerun", waiting["run_id"])
    assert active.exit_code == 2
    assert f"run {waiting['run_id']} is waiting_approval: only a finished run" in active.output
    assert invoke("approve", waiting["run_id"], "--as", "bob").exit_code == 0
    passed = invoke("rerun", waiting["run_id"], "--from", "after")
    assert passed.exit_code == 2
    assert "step 'ok' is an approval the original run passed" in passed.output
    child = invoke("rerun", waiting["run_id"], "--from", "one")
    assert child.exit_code == 2
    assert "step 'one' runs inside parallel group 'fan'" in child.output


def test_permission_refusal_reads_as_for_a_start(workdir: Path) -> None:
    guarded = DEPLOY.replace("steps:\n", "permissions: {{run: [alice]}}\nsteps:\n", 1)
    book(workdir, text=guarded)
    started = invoke("run", "deploy", "-p", "release=r1", "--yes", "-o", "json")
    assert started.exit_code == 1
    original = json.loads(started.output)["run_id"]
    as_mallory = {"RUNBOOK_USER": "mallory"}
    start = invoke("run", "deploy", "-p", "release=r1", "--yes", env=as_mallory)
    again = invoke("rerun", original, env=as_mallory)
    assert start.exit_code == again.exit_code == 2
    assert "mallory may not run" in again.output
    assert again.output == start.output
    with Store.open(str(workdir / "runbook.db")) as store:
        entries = [(e.action, e.outcome, e.principal) for e in store.audit_since()]
    assert ("rerun", "refused", "mallory") in entries
    assert run_count(workdir) == 1
