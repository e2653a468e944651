"""Issue 14, point 4: `runbook run` (and `submit`, `resume`) take a secret from
RUNBOOK_SECRET_<NAME>, from a file (`-p token=@path`) or from a prompt (`-p token=-`), so it is
not in `ps` for the whole run; a shell command gets a secret through `env:`, not its argv, and
validate says so. Also the CLI side of point 2: `approve` asks for a missing secret, or says how
to give it, and `runbook runs` shows a run blocked for want of one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runbook_engine.cli import main

TOKEN = "cli-S3cret-token-value"

BOOK = """\
apiVersion: runbook/v1
name: sec
version: 1
parameters:
  token: {{type: string, secret: true}}
steps:
{gate}  - id: use
    action: shell.command
    with:
      command: 'printenv T > {out}/env.txt; tr "\\0" " " < /proc/$$/cmdline > {out}/argv.txt'
      env: {{T: "{{{{ params.token }}}}"}}
"""

GATE = '  - {id: ok, approval: {message: "go?", allow_requester: true}}\n'


def invoke(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)


def _book(workdir: Path, *, gate: bool = False) -> Path:
    path = workdir / "runbooks" / "sec.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(BOOK.format(gate=GATE if gate else "", out=workdir))
    return path


def _ran_with_token(workdir: Path) -> None:
    assert (workdir / "env.txt").read_text().strip() == TOKEN
    assert TOKEN not in (workdir / "argv.txt").read_text()  # what `ps` shows of the command


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNBOOK_SECRET_TOKEN", raising=False)


def test_a_secret_from_a_file(workdir: Path, no_env: None) -> None:
    _book(workdir)
    secret = workdir / "token.txt"
    secret.write_text(TOKEN + "\n")
    result = invoke("run", "sec", "-y", "-p", f"token=@{secret}")
    assert result.exit_code == 0, result.output
    _ran_with_token(workdir)
    assert TOKEN not in result.output


def test_a_secret_from_the_environment(workdir: Path, no_env: None) -> None:
    _book(workdir)
    result = invoke("run", "sec", "-y", env={"RUNBOOK_SECRET_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    _ran_with_token(workdir)


def test_a_secret_read_for_dash(workdir: Path, no_env: None) -> None:
    _book(workdir)
    result = invoke("run", "sec", "-y", "-p", "token=-", stdin=TOKEN + "\n")
    assert result.exit_code == 0, result.output
    _ran_with_token(workdir)


def test_an_unreadable_secret_file_is_a_clean_error(workdir: Path, no_env: None) -> None:
    _book(workdir)
    result = invoke("run", "sec", "-y", "-p", f"token=@{workdir / 'missing'}")
    assert result.exit_code == 2
    assert "cannot read" in result.output
    assert "Traceback" not in result.output


def test_approve_without_the_secret_says_how_to_give_it(workdir: Path, no_env: None) -> None:
    _book(workdir, gate=True)
    started = invoke("run", "sec", "-y", "--no-wait", "-o", "json", "-p", f"token={TOKEN}")
    assert started.exit_code == 5, started.output
    run_id = json.loads(started.output)["run_id"]

    approved = invoke("approve", run_id)
    assert approved.exit_code == 5, approved.output  # the decision stands; the run waits
    assert "pass it again with -p" not in approved.output
    assert "RUNBOOK_SECRET_TOKEN" in approved.output
    assert f"runbook resume {run_id} -p token=-" in approved.output

    listed = invoke("runs", env={"COLUMNS": "300"})
    assert "blocked: needs secret token" in listed.output

    resumed = invoke("resume", run_id, "-p", "token=-", stdin=TOKEN + "\n")
    assert resumed.exit_code == 0, resumed.output
    _ran_with_token(workdir)
    assert "blocked" not in invoke("runs", env={"COLUMNS": "300"}).output


def test_validate_warns_about_a_secret_in_the_command_line(workdir: Path) -> None:
    path = workdir / "argv.yaml"
    path.write_text(
        "apiVersion: runbook/v1\nname: argv\nversion: 1\n"
        "parameters: {token: {type: string, secret: true}}\n"
        "steps:\n"
        "  - id: a\n"
        "    action: shell.command\n"
        "    with: {command: \"curl -H 'X-Token: {{ params.token | quote }}' https://x\"}\n"
    )
    result = invoke("validate", str(path))
    assert "params.token is secret and is put into the command line with.command" in result.output
    assert "env:" in result.output
    _book(workdir)
    quiet = invoke("validate", str(workdir / "runbooks" / "sec.yaml"))
    assert "is secret" not in quiet.output
