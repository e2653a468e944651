"""``runbook serve`` as a real process: SIGTERM lets the running step finish and starts no
new one; the next ``serve`` resumes the run where it stopped, in the same Slack message."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook_engine.store import Store
from runbook_engine.testing.fake_slack import FakeSlack
from tests.slack.slack_helpers import SlackPlayer, texts

SLOW = """\
apiVersion: runbook/v1
name: slow
version: 1
notify: {channel: "#ops"}
parameters:
  out: {type: string}
steps:
  - id: first
    action: shell.command
    with: {command: "sleep 1; echo first >> {{ params.out | quote }}"}
  - id: second
    action: shell.command
    with: {command: "echo second >> {{ params.out | quote }}"}
"""

SERVE = [sys.executable, "-c", "from runbook_engine.cli.serve_cmd import serve; serve()"]


class Serve:
    def __init__(self, cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [*SERVE, "--port", "0", "--grace", "10"],
            cwd=cwd,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        found = re.search(r"(http://[\d.]+:\d+)/api/v1", line)
        assert found, line
        self.url = found.group(1)
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("runbook serve did not become healthy")

    def terminate(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=20)
        return self.proc.returncode, err


@pytest.fixture
def serves(slack_env: Path) -> Iterator[list[Serve]]:
    started: list[Serve] = []
    yield started
    for serve in started:
        if serve.proc.poll() is None:
            serve.proc.kill()
            serve.proc.wait()


def wait_for(predicate: object, timeout: float = 10) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()  # type: ignore[operator]
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_sigterm_stops_at_a_recorded_point_and_restart_resumes(
    slack_env: Path, fake: FakeSlack, serves: list[Serve]
) -> None:
    (slack_env / "runbooks" / "slow.yaml").write_text(SLOW)
    out = slack_env / "out.txt"
    first = Serve(slack_env)
    serves.append(first)
    player = SlackPlayer(first.url, fake)
    status, _, took = player.command(f"run slow out={out}")
    assert status == 200 and took < 3

    store = Store.open(str(slack_env / "runbook.db"))
    try:
        run = wait_for(store.list_runs)[0]  # type: ignore[index]
        wait_for(lambda: any(e.type == "step.started" for e in store.events(run.id)))
        code, err = first.terminate()
        assert code == 0, err
        assert out.read_text() == "first\n"  # the step in flight finished
        events = [(e.type, e.step_id) for e in store.events(run.id)]
        assert ("step.succeeded", "first") in events
        assert ("step.started", "second") not in events  # and nothing new began
        record = store.get_run(run.id)
        assert record is not None and record.status == "running" and record.owner is None

        second = Serve(slack_env)
        serves.append(second)
        wait_for(lambda: store.get_run(run.id).status == "succeeded")  # type: ignore[union-attr]
        assert out.read_text() == "first\nsecond\n"  # nothing ran twice
        types = [e.type for e in store.events(run.id)]
        assert "run.resumed" in types
        assert types.count("slack.message") == 1
        code, err = second.terminate()
        assert code == 0, err
    finally:
        store.close()
    main = [m for m in fake.messages("#ops") if m.thread_ts is None]
    assert len(main) == 1  # the restarted server updated the same message
    assert "succeeded" in texts(main[0].blocks)
