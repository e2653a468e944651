"""``runbook input`` on a local store: a run waits for typed values, refuses the wrong ones
(saying why, recording nothing), goes on with the right ones as the step's outputs, keeps a
secret value out of the store and the log, and times out either way."""

from __future__ import annotations

import json
import os
import select
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner, Result

from runbook_engine.cli import main

RUNBOOK = Path(sys.executable).parent / "runbook"

SCALE = """\
apiVersion: runbook/v1
name: scale
version: 1
permissions: {run: [alice, bob, carol]}
steps:
  - id: ask
    input:
      message: "Scale {{ run.requester }}'s service to how many?"
      from: [bob]
      fields:
        replicas: {type: integer, minimum: 1, maximum: 10, description: target count}
        env: {type: enum, choices: [staging, prod], default: staging}
        ticket: {type: string, pattern: "INC-[0-9]+"}
        token: {type: string, secret: true, required: false}
  - id: apply
    action: shell.command
    with:
      command: >-
        printf "%s" "$TOKEN" > token.txt;
        echo "scaling to $REPLICAS in $ENV for $TICKET with $TOKEN"
      env:
        REPLICAS: "{{ steps.ask.outputs.replicas | string }}"
        ENV: "{{ steps.ask.outputs.env }}"
        TICKET: "{{ steps.ask.outputs.ticket }}"
        TOKEN: "{{ steps.ask.outputs.token or 'none' }}"
"""

TIMED = """\
apiVersion: runbook/v1
name: timed
version: 1
steps:
  - {id: first, action: file.write, with: {path: "PATH", content: "x"}}
  - id: ask
    input:
      message: go?
      timeout: 1s
      on_timeout: ON_TIMEOUT
      fields:
        count: {type: integer, default: 2}
  - {id: after, action: log, with: {message: "count {{ steps.ask.outputs.count }}"}}
"""


def timed(path: Path, on_timeout: str) -> str:
    return TIMED.replace("PATH", str(path)).replace("ON_TIMEOUT", on_timeout)


def invoke(*args: str, user: str = "alice", stdin: str | None = None) -> Result:
    return CliRunner().invoke(
        main, list(args), env={"RUNBOOK_USER": user}, input=stdin, catch_exceptions=False
    )


def waiting_run(workdir: Path, body: str = SCALE, name: str = "scale") -> str:
    (workdir / "runbooks").mkdir(exist_ok=True)
    (workdir / "runbooks" / f"{name}.yaml").write_text(body)
    started = invoke("run", name, "--yes", "--no-wait", "-o", "json")
    assert started.exit_code == 5, started.output
    data = json.loads(started.output)
    assert data["status"] == "waiting_input"
    return str(data["run_id"])


def events(workdir: Path, run_id: str) -> list[tuple[str, str]]:
    with sqlite3.connect(workdir / "runbook.db") as db:
        rows = db.execute(
            "SELECT type, data FROM events WHERE run_id = ? ORDER BY seq", (run_id,)
        ).fetchall()
    return [(str(t), str(d)) for t, d in rows]


def test_the_run_waits_and_goes_on_with_the_values(workdir: Path) -> None:
    run_id = waiting_run(workdir)
    shown = invoke("runs")
    assert "waiting_input" in shown.output
    given = invoke(
        "input",
        run_id,
        "--set",
        "replicas=3",
        "--set",
        "ticket=INC-42",
        "-o",
        "json",
        user="bob",
    )
    assert given.exit_code == 0, given.output
    data = json.loads(given.output)
    assert data["status"] == "succeeded"
    assert data["steps"]["ask"]["outputs"] == {
        "replicas": 3,
        "env": "staging",
        "ticket": "INC-42",
        "token": None,
    }
    logs = invoke("logs", run_id).output
    assert "scaling to 3 in staging for INC-42" in logs
    assert "input given by bob" in logs
    audit = invoke("audit", "-o", "json")
    entries = [e for e in json.loads(audit.output) if e["action"] == "input"]
    assert [(e["principal"], e["outcome"]) for e in entries] == [("bob", "ok")]


def test_refused_values_say_why_and_the_step_keeps_waiting(workdir: Path) -> None:
    run_id = waiting_run(workdir)
    refusals = {
        ("replicas=many", "ticket=INC-1"): "field 'replicas': expected an integer, got 'many'",
        ("replicas=11", "ticket=INC-1"): "field 'replicas': expected at most 10, got 11",
        ("replicas=2", "env=dev", "ticket=INC-1"): "field 'env': expected one of staging, prod",
        ("replicas=2", "ticket=JIRA-1"): "field 'ticket': expected text matching 'INC-[0-9]+'",
        ("replica=2",): "field 'replica': step ask has no such field; did you mean 'replicas'?",
        ("replicas=2",): "field 'ticket': is required (string); give it with --set ticket=...",
        ("replicas=2", "replicas=3"): "field 'replicas': is given more than once",
    }
    for pairs, why in refusals.items():
        args = [a for pair in pairs for a in ("--set", pair)]
        refused = invoke("input", run_id, *args, user="bob")
        assert refused.exit_code == 2, refused.output
        assert why in refused.output
        assert "Traceback" not in refused.output
    # someone the step does not name, and the requester is not named either
    for user in ("carol", "alice"):
        refused = invoke("input", run_id, "--set", "replicas=2", "--set", "ticket=INC-1", user=user)
        assert refused.exit_code == 2
        assert f"{user} may not give input to runs of scale (step ask input from: bob)" in (
            refused.output
        )
    assert "input.given" not in [t for t, _ in events(workdir, run_id)]
    assert "waiting_input" in invoke("runs").output
    # and then the right values still work
    done = invoke("input", run_id, "--set", "replicas=2", "--set", "ticket=INC-7", user="bob")
    assert done.exit_code == 0, done.output
    assert "succeeded" in done.output
    again = invoke("input", run_id, "--set", "replicas=2", user="bob")
    assert again.exit_code == 2
    assert "the run is succeeded, not waiting for input" in again.output


def test_a_secret_value_is_used_but_never_stored_or_printed(workdir: Path) -> None:
    run_id = waiting_run(workdir)
    secret = "hunter2-very-secret"
    given = invoke(
        "input",
        run_id,
        "--set",
        "replicas=4",
        "--set",
        "ticket=INC-9",
        "--set",
        "token=-",
        user="bob",
        stdin=secret + "\n",
    )
    assert given.exit_code == 0, given.output
    assert secret not in given.output
    assert "token=***" in given.output
    logs = invoke("logs", run_id).output
    # the command got the value (its output has it, masked), the log never
    assert "scaling to 4 in staging for INC-9 with ***" in logs
    assert (workdir / "token.txt").read_text() == secret  # the command had the real value
    assert secret not in logs
    for _, data in events(workdir, run_id):
        assert secret not in data
    with sqlite3.connect(workdir / "runbook.db") as db:
        for params, state in db.execute("SELECT params, state FROM runs"):
            assert secret not in str(params) + str(state)
    show = invoke("show", run_id, "-o", "json").output
    assert secret not in show


def test_a_secret_value_from_a_file(workdir: Path) -> None:
    run_id = waiting_run(workdir)
    path = workdir / "token.txt"
    path.write_text("from-a-file-secret\n")
    given = invoke(
        "input",
        run_id,
        "--set",
        "replicas=1",
        "--set",
        "ticket=INC-1",
        "--set",
        f"token=@{path}",
        user="bob",
    )
    assert given.exit_code == 0, given.output
    assert "with ***" in invoke("logs", run_id).output
    assert "from-a-file-secret" not in json.dumps(events(workdir, run_id))


def test_no_resume_only_records(workdir: Path) -> None:
    run_id = waiting_run(workdir)
    given = invoke(
        "input", run_id, "--set", "replicas=1", "--set", "ticket=INC-1", "--no-resume", user="bob"
    )
    assert given.exit_code == 0, given.output
    assert "gave input to step ask" in given.output
    assert "waiting_input" in invoke("runs").output  # recorded; nobody drove it yet
    resumed = invoke("resume", run_id, user="bob")
    assert resumed.exit_code == 0, resumed.output
    assert "scaling to 1 in staging for INC-1" in invoke("logs", run_id).output


def test_a_time_out_fails_the_step_and_rolls_back(workdir: Path) -> None:
    flag = workdir / "flag"
    body = timed(flag, "fail")
    (workdir / "runbooks").mkdir(exist_ok=True)
    (workdir / "runbooks" / "timed.yaml").write_text(body)
    ran = invoke("run", "timed", "--yes", "-o", "json")  # waits, then times out
    data = json.loads(ran.output)
    assert data["status"] == "rolled_back", ran.output
    assert data["steps"]["ask"]["error"]["kind"] == "input_timeout"
    assert not flag.exists()  # file.write's automatic undo removed it


def test_a_time_out_takes_the_defaults(workdir: Path) -> None:
    body = timed(workdir / "flag", "default")
    run_id = waiting_run(workdir, body, "timed")
    time.sleep(1.2)
    late = invoke("input", run_id, "--set", "count=5")
    assert late.exit_code == 2
    assert "timed out; on_timeout: default applies" in late.output
    resumed = invoke("resume", run_id, "-o", "json")
    data = json.loads(resumed.output)
    assert data["status"] == "succeeded", resumed.output
    assert data["steps"]["ask"]["outputs"] == {"count": 2}


def test_asked_for_each_field_on_a_terminal_the_secret_without_echo(workdir: Path) -> None:
    """Without --set on a terminal (a real pseudo-terminal), each field is asked for; what is
    typed for the secret one is not echoed."""
    run_id = waiting_run(workdir)
    main_fd, term_fd = os.openpty()
    env = {**os.environ, "RUNBOOK_USER": "bob", "NO_COLOR": "1", "TERM": "dumb"}
    proc = subprocess.Popen(
        [str(RUNBOOK), "input", run_id],
        stdin=term_fd,
        stdout=term_fd,
        stderr=term_fd,
        env=env,
        cwd=workdir,
        close_fds=True,
    )
    os.close(term_fd)
    seen = b""

    def until(text: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 30
        while text not in seen:
            assert time.monotonic() < deadline, seen
            ready, _, _ = select.select([main_fd], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(main_fd, 4096)
                except OSError:
                    break

    for prompt, answer in (
        (b"replicas (integer; target count):", b"5"),
        (b"env (staging | prod)", b""),
        (b"ticket (string):", b"INC-3"),
        (b"token (secret):", b"typed-secret-value"),
    ):
        until(prompt)
        os.write(main_fd, answer + b"\r")
    until(b"succeeded")
    assert proc.wait(timeout=60) == 0, seen
    os.close(main_fd)
    text = seen.decode(errors="replace")
    assert "replicas=5, env=staging, ticket=INC-3, token=***" in text
    assert "typed-secret-value" not in text
    assert "succeeded" in text


FOREGROUND = """\
apiVersion: runbook/v1
name: fg
version: 1
steps:
  - id: ask
    input:
      message: how many?
      fields:
        count: {type: integer}
        note: {type: string, default: plain}
  - {id: after, action: log, with: {message: "count {{ steps.ask.outputs.count }}"}}
"""


def test_a_waiting_run_in_the_foreground_picks_the_input_up(workdir: Path) -> None:
    """``runbook run`` waits at the step (polling the store, as for approvals); input given
    from another process is seen there and the run ends in the first one."""
    (workdir / "runbooks").mkdir()
    (workdir / "runbooks" / "fg.yaml").write_text(FOREGROUND)
    env = {**os.environ, "RUNBOOK_USER": "alice"}
    proc = subprocess.Popen(
        [str(RUNBOOK), "run", "fg", "--yes", "-o", "json"],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    run_id = ""
    while not run_id:
        assert time.monotonic() < deadline and proc.poll() is None
        listed = invoke("runs", "-o", "json")
        rows = json.loads(listed.output) if listed.exit_code == 0 else []  # no store yet
        waiting = [r for r in rows if r["status"] == "waiting_input"]
        run_id = waiting[0]["id"] if waiting else ""
        time.sleep(0.05)
    given = invoke("input", run_id, "--set", "count=9")
    assert given.exit_code == 0, given.output
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    data = json.loads(out)
    assert data["status"] == "succeeded"
    assert data["steps"]["ask"]["outputs"] == {"count": 9, "note": "plain"}


DERIVED = """\
apiVersion: runbook/v1
name: derived
version: 1
steps:
  - id: ask
    input:
      message: the key?
      fields:
        key: {type: string, secret: true}
  - id: use
    action: shell.command
    with:
      command: 'echo "$UP $REV"'
      env:
        UP: "{{ steps.ask.outputs.key | upper }}"
        REV: "{{ steps.ask.outputs.key[::-1] }}"
  - {id: say, action: log, with: {message: "key is {{ steps.ask.outputs.key | upper }}"}}
"""


def test_what_templates_derive_from_a_secret_value_is_masked(workdir: Path) -> None:
    run_id = waiting_run(workdir, DERIVED, "derived")
    given = invoke("input", run_id, "--set", "key=-", stdin="abcdefsecret\n")
    assert given.exit_code == 0, given.output
    recorded = json.dumps(events(workdir, run_id))
    for form in ("abcdefsecret", "ABCDEFSECRET", "tercesfedcba"):
        assert form not in recorded, form
    logs = invoke("logs", run_id).output
    assert "*** ***" in logs
    assert "key is ***" in logs


def test_plan_shows_an_input_step_and_calls_nothing(workdir: Path) -> None:
    (workdir / "runbooks").mkdir()
    (workdir / "runbooks" / "scale.yaml").write_text(SCALE)
    shown = invoke("plan", "scale")
    assert shown.exit_code == 0, shown.output
    assert "1. ask [input]" in shown.output
    assert "fields: ['replicas', 'env', 'ticket', 'token']" in shown.output
    assert "from: ['bob']" in shown.output
    data = json.loads(invoke("plan", "scale", "-o", "json").output)
    assert data["steps"][0] == {
        "id": "ask",
        "kind": "input",
        "message": "Scale <you>'s service to how many?",
        "fields": ["replicas", "env", "ticket", "token"],
        "from": ["bob"],
    }


def test_validate_locates_a_broken_input_block_and_reads_its_outputs(workdir: Path) -> None:
    broken = workdir / "broken.yaml"
    broken.write_text(
        "apiVersion: runbook/v1\nname: b\nversion: 1\nsteps:\n"
        "  - id: ask\n"
        "    input:\n"
        "      message: how many {{ params.nope }}?\n"
        "      fields: {count: {type: integer, minimum: 5, maximum: 1}}\n"
        "  - {id: after, action: log, with: {message: 'n {{ steps.ask.outputs.cont }}'}}\n"
    )
    result = invoke("validate", str(broken))
    assert result.exit_code == 2
    assert f"{broken}:8:" in result.output and "steps[0].input.fields.count" in result.output
    assert "minimum is larger than maximum" in result.output
    broken.write_text(broken.read_text().replace("minimum: 5, maximum: 1", "minimum: 1"))
    result = invoke("validate", str(broken))
    assert result.exit_code == 2
    assert (
        f"{broken}:7:" in result.output
        and "steps[0].input.message: reads params.nope, which is not a declared parameter"
        in result.output
    )
    assert "steps[1].with.message: step 'ask' has no output 'cont' (it declares: count)" in (
        result.output
    )


SECRET_DEFAULT = """\
apiVersion: runbook/v1
name: sd
version: 1
steps:
  - id: ask
    input:
      message: the key?
      timeout: 1s
      on_timeout: default
      fields:
        key: {type: string, secret: true, default: default-secret-key}
  - id: use
    action: shell.command
    with:
      command: 'printf "%s" "$KEY" > key.txt; echo "with $KEY"'
      env: {KEY: "{{ steps.ask.outputs.key }}"}
"""


def test_a_time_out_goes_on_with_a_secret_default_never_recorded(workdir: Path) -> None:
    # a step with a secret field is not waited on in the foreground: the value would reach
    # only the process it is given to
    run_id = waiting_run(workdir, SECRET_DEFAULT, "sd")
    time.sleep(1.2)
    resumed = invoke("resume", run_id, "-o", "json")
    data = json.loads(resumed.output)
    assert data["status"] == "succeeded", resumed.output
    assert data["steps"]["ask"]["outputs"] == {"key": "***"}
    assert "with ***" in invoke("logs", run_id).output
    assert (workdir / "key.txt").read_text() == "default-secret-key"  # the real one, not ***
    assert "default-secret-key" not in json.dumps(events(workdir, run_id))
