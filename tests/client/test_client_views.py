"""``runs``, ``show`` and ``logs`` as clients of a server: the server's runs and runbooks,
printed as the local commands print a local store's."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Mapping

import httpx

from runbook_engine.store import Store
from tests.client.conftest import Remote

Factory = Callable[[Mapping[str, str]], Remote]

HELLO = """\
apiVersion: runbook/v1
name: hello
version: 1
parameters:
  who: {type: string, default: world}
steps:
  - id: greet
    action: log
    with: {message: "hello {{ params.who }}"}
"""

BROKEN = """\
apiVersion: runbook/v1
name: broken
version: 1
steps:
  - id: boom
    action: fail
    with: {message: it broke}
"""

# two hosts' lines, as an SSH step logs them, then a pause the follower must stream through
SLOW = """\
apiVersion: runbook/v1
name: slow
version: 1
steps:
  - id: first
    action: shell.command
    with: {command: "echo 'web1: one'; echo 'web2: two'"}
  - id: pause
    action: sleep
    with: {duration: 1.5}
  - id: last
    action: shell.command
    with: {command: "echo 'web1: three'"}
"""

#: the keys of a run in ``runs -o json`` and of ``show RUN -o json``, as locally
RUN_KEYS = {"id", "runbook", "version", "status", "requester", "created_at", "updated_at"}
SHOW_KEYS = {
    "id",
    "runbook",
    "version",
    "digest",
    "status",
    "params",
    "requester",
    "owner",
    "created_at",
    "state",
    "events",
    "rerun_of",
    "reruns",
    "parent",
    "children",
}


def cli(remote: Remote, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    kw.setdefault("input", "")
    return remote.cli(*args, **kw)  # type: ignore[arg-type]


def start(remote: Remote, runbook: str, **params: str) -> str:
    """A run started through the API (cheaper than a CLI process where the start is not what
    is looked at)."""
    answer = httpx.post(
        remote.url + "/api/v1/runs",
        json={"runbook": runbook, "params": params, "params_from_text": True},
        headers={"Authorization": f"Bearer {remote.token('alice@example.com')}"},
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def finished(store: Store, run_id: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = store.get_run(run_id)
        if record is not None and record.status in ("succeeded", "failed", "rolled_back"):
            return record.status
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish")


def test_runs_and_show(remote_factory: Factory) -> None:
    remote = remote_factory({"hello": HELLO, "broken": BROKEN})
    store = remote.server.store
    good = start(remote, "hello", who="bob")
    bad = start(remote, "broken")
    assert finished(store, good) == "succeeded"
    assert finished(store, bad) == "failed"

    table = cli(remote, "runs")
    assert table.returncode == 0, table.stderr
    assert good in table.stdout
    assert "hello@1" in table.stdout
    assert "failed" in table.stdout
    listed = json.loads(cli(remote, "runs", "-o", "json").stdout)
    assert [r["id"] for r in listed] == [bad, good]  # newest first
    assert all(set(r) == RUN_KEYS for r in listed)
    assert listed[0]["created_at"].endswith("+00:00")  # as a local store's times print
    only = json.loads(
        cli(remote, "runs", "--status", "succeeded", "--since", "1h", "-o", "json").stdout
    )
    assert [r["id"] for r in only] == [good]
    by_name = cli(remote, "runs", "--runbook", "broken", "--limit", "1", "-o", "json")
    assert [r["id"] for r in json.loads(by_name.stdout)] == [bad]

    text = cli(remote, "show", good)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith(f"run {good}  hello@1  succeeded\n")
    assert "requested by alice@example.com" in text.stdout
    assert "params: who=bob" in text.stdout
    assert "step.succeeded" in text.stdout
    shown = json.loads(cli(remote, "show", good[:6], "-o", "json").stdout)  # a prefix
    assert set(shown) == SHOW_KEYS
    assert shown["id"] == good
    assert shown["state"]["status"] == "succeeded"
    assert shown["state"]["steps"]["greet"]["outputs"] == {}
    assert [e["seq"] for e in shown["events"]] == list(range(1, len(shown["events"]) + 1))

    book = cli(remote, "show", "hello")
    assert book.returncode == 0, book.stderr
    assert book.stdout.startswith("# hello@1  sha256:")
    assert "name: hello" in book.stdout
    version = json.loads(cli(remote, "show", "hello@1", "-o", "json").stdout)
    assert version["source"] == HELLO
    assert (version["name"], version["version"]) == ("hello", 1)
    missing = cli(remote, "show", "nothing-here")
    assert missing.returncode == 2
    assert "no run or runbook 'nothing-here'" in missing.stderr

    assert remote.local_files() == []


def test_logs_follow_streams_while_the_run_goes(remote_factory: Factory) -> None:
    remote = remote_factory({"slow": SLOW})
    store = remote.server.store
    run_id = start(remote, "slow")

    follower = remote.spawn("logs", run_id, "--follow")
    assert follower.stdout is not None
    first = follower.stdout.readline()
    while "web1: one" not in first:
        first = follower.stdout.readline()
        assert first, "the stream ended before the first step's output"
    record = store.get_run(run_id)
    assert record is not None
    assert record.status == "running"  # printed while the run still goes
    rest, err = follower.communicate(timeout=30)
    assert follower.returncode == 0, err
    assert "last | web1: three" in rest
    assert finished(store, run_id) == "succeeded"

    web1 = cli(remote, "logs", run_id, "--host", "web1")
    assert web1.returncode == 0, web1.stderr
    lines = web1.stdout.splitlines()
    assert [ln.split(" ", 1)[1] for ln in lines] == ["first | web1: one", "last | web1: three"]
    step = cli(remote, "logs", run_id, "--step", "first", "-o", "json")
    events = [json.loads(ln) for ln in step.stdout.splitlines()]
    assert {e["step"] for e in events} == {"first"}
    assert set(events[0]) == {"seq", "ts", "type", "step", "data"}
    output = [e for e in events if e["type"] == "step.output"]
    assert output[0]["data"]["lines"] == ["web1: one", "web2: two"]

    down = cli(remote, "logs", run_id, env={"RUNBOOK_SERVER": "http://127.0.0.1:9"})
    assert down.returncode == 1
    assert "cannot reach http://127.0.0.1:9" in down.stderr
    assert "Traceback" not in down.stderr
    unknown = cli(remote, "logs", "ffffffffffff")
    assert unknown.returncode == 2
    assert remote.local_files() == []
