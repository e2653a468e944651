"""Every door continues a run: a decision recorded by the CLI while ``runbook serve`` watches the
store is driven on by serve, and runs another process drives get their Slack message, thread
replies and prompts, on SQLite and on PostgreSQL.

The CLI runs as a real process (``runbook`` in a subprocess): in-process it would share serve's
owner id, and the store could not tell the two apart. Serve sweeps only every 30 s here, so
what happens within a few seconds happened through the store's change feed."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from runbook_engine.server.serve import ServeOptions, Server
from runbook_engine.slack.settings import SlackSettings
from runbook_engine.store import RunRecord, Store
from runbook_engine.testing.fake_slack import FakeSlack
from tests.slack.slack_helpers import BOB, SECRET, SlackPlayer, prompt_of, run_message_of, texts

#: no periodic sweep during a test: only the change feed can make serve act in time
WATCHING = ServeOptions(
    host="127.0.0.1", port=0, grace=10.0, sweep_interval=30.0, update_interval=0.05
)
#: "within a second", with room for a loaded two-core machine
IN_TIME = 3.0

GATE = """\
apiVersion: runbook/v1
name: gate
version: 1
parameters:
  token: {type: string, secret: true, default: "t0ps3cr3t"}
notify: {channel: "#ops"}
permissions: {approve: ["U0BOB"]}
steps:
  - id: ok
    approval: {message: "ok?"}
  - id: done
    action: log
    with: {message: "done {{ params.token }}"}
"""

PLAIN_GATE = """\
apiVersion: runbook/v1
name: plain
version: 1
notify: {channel: "#ops"}
permissions: {approve: ["U0BOB"]}
steps:
  - id: ok
    approval: {message: "ok?"}
  - {id: done, action: log, with: {message: done}}
"""

FAILING = """\
apiVersion: runbook/v1
name: failing
version: 1
notify: {channel: "#ops"}
steps:
  - id: flag
    action: file.write
    with: {path: "{{ run.id }}.flag", content: "on"}
  - id: migrate
    action: shell.command
    with: {command: "echo oops >&2; exit 3"}
"""

CLI = [sys.executable, "-c", "from runbook_engine.cli import main; main()"]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(
    request: pytest.FixtureRequest, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(workdir / "runbook.db")
        return
    base, admin = request.getfixturevalue("pg_admin")
    assert isinstance(admin, Engine)
    schema = f"d_{uuid.uuid4().hex[:16]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    monkeypatch.setenv("RUNBOOK_DB", url)
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


@pytest.fixture
def server(
    store_url: str, workdir: Path, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Server]:
    monkeypatch.setenv("SLACK_BOT_TOKEN", fake.token)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("RUNBOOK_SLACK_API_URL", fake.api_url)
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    books = workdir / "runbooks"
    books.mkdir()
    for name, source in (("gate", GATE), ("plain", PLAIN_GATE), ("failing", FAILING)):
        (books / f"{name}.yaml").write_text(source)
    monkeypatch.setenv("RUNBOOK_PATH", str(books))
    srv = Server(SlackSettings.from_env(), WATCHING)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def within(what: str, check: Callable[[], Any], timeout: float = IN_TIME) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout:g}s: {what}")
        time.sleep(0.02)


def status_of(server: Server, run_id: str) -> str | None:
    record = server.store.get_run(run_id)
    return None if record is None else record.status


def only_run(server: Server, runbook: str) -> RunRecord:
    runs = within(f"a {runbook} run", lambda: server.store.list_runs(runbook=runbook), 10)
    assert len(runs) == 1, runs
    record: RunRecord = runs[0]
    return record


def thread_of(fake: FakeSlack, run_id: str) -> list[str]:
    main = run_message_of(fake, run_id)
    if main is None:
        return []
    return [m.text for m in fake.messages("#ops") if m.thread_ts == main.ts]


def test_a_slack_run_approved_from_the_cli_is_continued_by_serve(
    server: Server, fake: FakeSlack
) -> None:
    player = SlackPlayer(server.url, fake)
    status, body, _ = player.command("run gate", user="U0ALICE")
    assert status == 200, body
    run = only_run(server, "gate")
    within("the run waits", lambda: status_of(server, run.id) == "waiting_approval", 10)
    within("the prompt", lambda: prompt_of(fake, run.id), 10)

    # the CLI lacks the secret the run was started with; serve holds it and drives the run
    done = cli("approve", run.id, "--as", BOB)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "runbook serve continues it" in done.stdout, done.stdout
    within(
        "serve continues the run after a CLI approval",
        lambda: status_of(server, run.id) == "succeeded",
    )
    within(
        "the run message shows success",
        lambda: "gate@1* — succeeded" in texts(run_message_of(fake, run.id).blocks),
    )
    shown = texts(prompt_of(fake, run.id).blocks)
    assert "approved by <@U0BOB>" in shown


def test_a_cli_run_gets_its_thread_replies_while_serve_watches(
    server: Server, fake: FakeSlack
) -> None:
    done = cli("run", "failing", "--yes")
    assert done.returncode != 0, done.stdout + done.stderr
    run = only_run(server, "failing")
    assert status_of(server, run.id) == "rolled_back"
    within("the run message", lambda: run_message_of(fake, run.id))
    replies = within(
        "the failure, rollback and summary replies",
        lambda: (
            (r := thread_of(fake, run.id))
            and any("`migrate` failed" in t for t in r)
            and any("Rolling back" in t for t in r)
            and any("`flag` rolled back" in t for t in r)
            and r
        ),
    )
    assert sum("`migrate` failed" in t for t in replies) == 1, replies  # said once
    within(
        "the run message shows the rollback",
        lambda: "rolled back" in texts(run_message_of(fake, run.id).blocks),
    )


def test_a_quick_approval_of_a_cli_run_still_gets_its_prompt(
    server: Server, fake: FakeSlack
) -> None:
    waiting = cli("run", "plain", "--yes", "--no-wait")
    assert waiting.returncode == 5, waiting.stdout + waiting.stderr
    run = only_run(server, "plain")
    done = cli("approve", run.id, "--as", BOB)
    assert done.returncode == 0, done.stdout + done.stderr
    within("the run finishes", lambda: status_of(server, run.id) == "succeeded")
    prompt = within("the approval prompt", lambda: prompt_of(fake, run.id))
    within(
        "the prompt shows the decision",
        lambda: "approved by <@U0BOB>" in texts(fake.message(prompt.channel, prompt.ts).blocks),  # type: ignore[union-attr]  # posted above
    )
    within(
        "the run message shows success",
        lambda: "plain@1* — succeeded" in texts(run_message_of(fake, run.id).blocks),
    )


def test_without_serve_the_cli_continues_the_run_itself(
    store_url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    books = workdir / "runbooks"
    books.mkdir()
    (books / "plain.yaml").write_text(PLAIN_GATE)
    monkeypatch.setenv("RUNBOOK_PATH", str(books))
    waiting = cli("run", "plain", "--yes", "--no-wait")
    assert waiting.returncode == 5, waiting.stdout + waiting.stderr
    with Store.open(store_url) as store:
        [run] = store.list_runs()
        done = cli("approve", run.id, "--as", BOB)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "serve continues" not in done.stdout
        record = store.get_run(run.id)
        assert record is not None and record.status == "succeeded"
