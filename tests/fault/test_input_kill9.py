"""An input step's wait survives ``kill -9``, and a secret value never comes back as ``***``.

Real ``runbook`` processes (the installed console script) on an SQLite store in ``tmp_path``:

* ``runbook run`` waits in the foreground for input and is killed with SIGKILL; ``runbook
  input`` then records the values and continues the run in its own process, to the end, the
  side effect written once;
* ``runbook input`` gives a secret value and drives the run on; it is killed while a later
  step (idempotent) runs. The value went with it: ``runbook resume`` refuses to go on (the run
  is blocked and says what to give), ``runbook runs`` says so, and ``runbook input --set`` gives
  it again, after which the run ends with the real value used and never recorded.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

RUNBOOK_BIN = Path(sys.executable).parent / "runbook"

WAIT = """\
apiVersion: runbook/v1
name: kill9-input
version: 1
parameters:
  out: {type: string}
steps:
  - id: before
    action: shell.command
    with: {command: "echo before >> {{ params.out | quote }}"}
  - id: ask
    input:
      message: how many?
      fields:
        count: {type: integer, minimum: 1}
  - id: after
    action: shell.command
    with: {command: "echo after {{ steps.ask.outputs.count }} >> {{ params.out | quote }}"}
"""

SECRET = """\
apiVersion: runbook/v1
name: kill9-secret
version: 1
parameters:
  out: {type: string}
steps:
  - id: ask
    input:
      message: the token?
      fields:
        token: {type: string, secret: true}
  - id: pause
    action: sleep
    with: {duration: 3}
  - id: use
    action: shell.command
    with:
      command: 'echo "used $TOKEN" >> {{ params.out | quote }}'
      env: {TOKEN: "{{ steps.ask.outputs.token }}"}
"""


def env_for(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNBOOK_")}
    env.update(RUNBOOK_DB=str(tmp_path / "runbook.db"), RUNBOOK_USER="alice", COLUMNS="250")
    return env


def runbook(
    tmp_path: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RUNBOOK_BIN), *args],
        cwd=tmp_path,
        env=env_for(tmp_path),
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def spawn(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [str(RUNBOOK_BIN), *args],
        cwd=tmp_path,
        env=env_for(tmp_path),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    proc.stdin.write(stdin)
    proc.stdin.close()
    return proc


def wait_until(what: str, probe: Callable[[], object], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def row(tmp_path: Path) -> tuple[str, str] | None:
    db = tmp_path / "runbook.db"
    if not db.exists():
        return None
    try:
        with sqlite3.connect(db) as conn:
            found = conn.execute("SELECT id, status FROM runs").fetchone()
    except sqlite3.OperationalError:  # not created yet
        return None
    return (str(found[0]), str(found[1])) if found else None


def all_event_data(tmp_path: Path) -> str:
    with sqlite3.connect(tmp_path / "runbook.db") as conn:
        rows = conn.execute("SELECT data FROM events").fetchall()
        runs = conn.execute("SELECT params, state FROM runs").fetchall()
    return json.dumps([r[0] for r in rows]) + json.dumps([list(r) for r in runs])


def kill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
    assert proc.returncode == -signal.SIGKILL


def test_the_wait_survives_kill_9_and_runbook_input_continues(tmp_path: Path) -> None:
    book, out = tmp_path / "wait.yaml", tmp_path / "out.txt"
    book.write_text(WAIT)
    proc = spawn(tmp_path, "run", str(book), "-p", f"out={out}", "--yes", "-o", "json")
    wait_until(
        "the run to wait for input", lambda: (r := row(tmp_path)) and r[1] == "waiting_input"
    )
    kill(proc)
    found = row(tmp_path)
    assert found is not None
    run_id = found[0]
    listed = runbook(tmp_path, "runs").stdout
    assert "waiting_input" in listed
    refused = runbook(tmp_path, "input", run_id, "--set", "count=0")
    assert refused.returncode == 2
    assert "field 'count': expected at least 1, got 0" in refused.stderr
    given = runbook(tmp_path, "input", run_id, "--set", "count=7", "-o", "json")
    assert given.returncode == 0, given.stderr
    assert json.loads(given.stdout)["status"] == "succeeded"
    assert out.read_text().splitlines() == ["before", "after 7"]


def started(tmp_path: Path, step: str) -> bool:
    with sqlite3.connect(tmp_path / "runbook.db") as conn:
        found = conn.execute(
            "SELECT count(*) FROM events WHERE type = 'step.started' AND step_id = ?", (step,)
        ).fetchone()
    return bool(found[0])


def test_a_secret_value_lost_with_its_process_is_asked_for_again(tmp_path: Path) -> None:
    book, out = tmp_path / "secret.yaml", tmp_path / "out.txt"
    book.write_text(SECRET)
    begun = runbook(tmp_path, "run", str(book), "-p", f"out={out}", "--yes", "--no-wait")
    assert begun.returncode == 5, begun.stderr
    found = row(tmp_path)
    assert found is not None and found[1] == "waiting_input"
    run_id = found[0]
    secret = "kill9-secret-value"
    giver = spawn(tmp_path, "input", run_id, "--set", "token=-", stdin=secret + "\n")
    wait_until("the step after the input", lambda: started(tmp_path, "pause"))
    kill(giver)

    # another process cannot go on with *** in place of the value: it stops and says why
    resumed = runbook(tmp_path, "resume", run_id)
    assert resumed.returncode == 2, resumed.stdout + resumed.stderr
    assert "needs the secret input ask.token again" in resumed.stderr
    assert f"runbook input {run_id} --set token=-" in resumed.stderr
    assert not out.exists()
    listed = runbook(tmp_path, "runs").stdout
    assert f"blocked: needs secret ask.token; runbook input {run_id}" in listed
    shown = runbook(tmp_path, "show", run_id).stdout
    assert "needs the secret input ask.token again" in shown or "blocked" in shown

    # given again: only the secret field is asked for, and the run goes on here to its end
    wrong = runbook(tmp_path, "input", run_id, "--set", "other=1")
    assert wrong.returncode == 2
    assert "waits only for the secret values of step ask again: token" in wrong.stderr
    again = runbook(tmp_path, "input", run_id, "--set", "token=-", stdin=secret + "\n")
    assert again.returncode == 0, again.stdout + again.stderr
    assert out.read_text() == f"used {secret}\n"  # the real value, not ***
    assert secret not in again.stdout + again.stderr
    assert secret not in all_event_data(tmp_path)
