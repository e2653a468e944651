"""A secret input given through the CLI while ``runbook serve`` watches the same store: the CLI
alone holds the value, so it owns the run before the input is recorded and drives it on; serve,
which sees the input in the store's change feed, leaves the run alone instead of picking it up
without the value (which would block it). A non-secret input is continued by serve, as a
decision is. On SQLite and on PostgreSQL, the CLI a real process."""

from __future__ import annotations

import subprocess
from pathlib import Path

from runbook_engine.server.serve import Server
from runbook_engine.testing.fake_slack import FakeSlack
from tests.doors import test_doors_continue as continued
from tests.doors.test_doors_continue import CLI, cli, status_of, within

# the same serve watching the same store (SQLite, then PostgreSQL), and its fake Slack
store_url = continued.store_url
fake = continued.fake
server = continued.server

ASKED = """\
apiVersion: runbook/v1
name: asked
version: 1
notify: {channel: "#ops"}
steps:
  - id: ask
    input:
      message: the token?
      fields:
        token: {type: string, secret: true, required: false}
        count: {type: integer, default: 1}
  - id: use
    action: shell.command
    with:
      command: 'echo "count $COUNT with $TOKEN"'
      env:
        TOKEN: "{{ steps.ask.outputs.token or 'none' }}"
        COUNT: "{{ steps.ask.outputs.count | string }}"
"""


def waiting(workdir: Path, server: Server) -> str:
    book = workdir / "asked.yaml"
    book.write_text(ASKED)
    started = cli("run", str(book), "--yes", "--no-wait", "-o", "json")
    assert started.returncode == 5, started.stdout + started.stderr
    run_id = started.stdout.split('"run_id": "')[1].split('"')[0]
    assert status_of(server, run_id) == "waiting_input"
    return run_id


def test_a_secret_input_from_the_cli_is_driven_by_the_cli(
    server: Server, fake: FakeSlack, workdir: Path
) -> None:
    run_id = waiting(workdir, server)
    secret = "watched-store-secret"
    given = subprocess_input(run_id, "--set", "token=-", "--set", "count=2", stdin=secret)
    assert given.returncode == 0, given.stdout + given.stderr
    assert status_of(server, run_id) == "succeeded"
    events = server.store.events(run_id)
    types = [e.type for e in events]
    assert "run.blocked" not in types
    outputs = " ".join(str(e.data) for e in events if e.type == "step.output")
    assert "count 2 with ***" in outputs
    assert secret not in " ".join(str(e.data) for e in events)


def test_a_plain_input_from_the_cli_is_left_to_serve(
    server: Server, fake: FakeSlack, workdir: Path
) -> None:
    run_id = waiting(workdir, server)
    given = cli("input", run_id, "--set", "count=3")
    assert given.returncode == 0, given.stdout + given.stderr
    assert "runbook serve continues it" in given.stdout, given.stdout
    within("serve continues the run", lambda: status_of(server, run_id) == "succeeded", 10)


def subprocess_input(run_id: str, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "input", run_id, *args],
        input=stdin + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
