"""``run``, ``submit``, ``resume``, ``approve``, ``reject`` and ``cancel`` as clients of a server:
the server records and drives the run, the CLI follows it and exits as it would locally."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Mapping

from runbook_engine.spec.loader import load_text
from runbook_engine.store import Store
from tests.client.conftest import RUNBOOK, Remote

Factory = Callable[[Mapping[str, str]], Remote]

OK = """\
apiVersion: runbook/v1
name: ok
version: 1
parameters:
  who: {type: string, default: world}
  token: {type: string, secret: true, default: ""}
steps:
  - id: check
    action: assert
    with: {that: "{{ params.token in ('', 's3cr3t-value') }}", message: wrong token}
  - id: greet
    action: log
    with: {message: "hello {{ params.who }}"}
"""

FAILING = """\
apiVersion: runbook/v1
name: failing
version: 1
steps:
  - id: flag
    action: file.write
    with: {path: "{{ run.id }}.flag", content: "on"}
  - id: boom
    action: fail
    with: {message: it broke}
"""

STUCK = """\
apiVersion: runbook/v1
name: stuck
version: 1
steps:
  - id: change
    action: log
    with: {message: changed}
    rollback: {action: fail, with: {message: cannot undo}}
  - id: boom
    action: fail
"""

GATE = """\
apiVersion: runbook/v1
name: gate
version: 1
steps:
  - id: ok
    approval: {message: "go on?"}
  - id: done
    action: log
    with: {message: done}
"""

CRASHY = """\
apiVersion: runbook/v1
name: crashy
version: 1
steps:
  - id: prep
    action: log
    with: {message: prep}
  - id: work
    action: shell.command
    with: {command: "echo worked"}
  - id: after
    action: log
    with: {message: after}
"""

BOB = "bob@example.com"


def cli(remote: Remote, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    """The CLI with stdin that is no terminal (no prompt may wait for a person)."""
    kw.setdefault("input", "")
    return remote.cli(*args, **kw)  # type: ignore[arg-type]


def run_id_of(text: str) -> str:
    found = re.search(r"run ([0-9a-f]{12}):", text)
    assert found, text
    return found.group(1)


def no_client_store(remote: Remote) -> None:
    assert remote.local_files() == []
    assert not (remote.home / "runbooks").exists()


def test_run_ends_with_the_local_exit_codes(remote_factory: Factory) -> None:
    remote = remote_factory({"ok": OK, "failing": FAILING, "stuck": STUCK})
    secret = remote.home / "token.txt"
    secret.write_text("s3cr3t-value\n")

    done = cli(remote, "run", "ok", "-p", "who=bob", "-p", "token=@token.txt")
    assert done.returncode == 0, done.stderr
    assert "ok@1 run" in done.stdout  # the progress printer's header
    assert "greet" in done.stdout
    assert re.search(r"run [0-9a-f]{12}: succeeded", done.stdout)
    assert "s3cr3t-value" not in done.stdout + done.stderr

    # the secret reached the server: a wrong one fails the run's check step
    wrong = cli(remote, "run", "ok", "-p", "token=-", "-o", "json", input="nope\n")
    assert wrong.returncode == 1
    result = json.loads(wrong.stdout)
    assert set(result) == {
        "run_id",
        "status",
        "exit_code",
        "message",
        "waiting_on",
        "failure",
        "attention",
        "steps",
    }
    assert result["status"] == "failed"
    assert result["steps"]["check"]["status"] == "failed"

    failed = cli(remote, "run", "failing")
    assert failed.returncode == 1
    assert "rolled_back" in failed.stdout
    stuck = cli(remote, "run", "stuck", "-o", "json")
    assert stuck.returncode == 3
    assert json.loads(stuck.stdout)["status"] == "rollback_failed"

    plan = cli(remote, "run", "ok", "--dry-run", "-p", "who=eve", "-o", "json")
    assert plan.returncode == 0, plan.stderr
    shown = json.loads(plan.stdout)
    assert shown["dry_run"] is True
    assert (shown["runbook"], shown["version"]) == ("ok", 1)
    assert [s["id"] for s in shown["steps"]] == ["check", "greet"]

    # submit: the server is its own queue
    queued = cli(remote, "submit", "ok", "-o", "json")
    assert queued.returncode == 0, queued.stderr
    shown = json.loads(queued.stdout)
    assert shown == {"run_id": shown["run_id"], "runbook": "ok", "version": 1, "queued": True}
    waited = cli(remote, "submit", "ok", "--wait")
    assert waited.returncode == 0, waited.stderr
    run_id = waited.stdout.strip().splitlines()[-1].split()[1].rstrip(":")
    assert f"run {run_id} queued" in waited.stderr
    assert f"run {run_id}: succeeded" in waited.stdout
    no_client_store(remote)


def test_run_refuses_what_only_a_local_store_could_do(remote_factory: Factory) -> None:
    remote = remote_factory({"ok": OK})
    (remote.home / "hosts.yaml").write_text("hosts: {}\n")

    unknown = cli(remote, "run", "ok", "-p", "nope=1")
    assert unknown.returncode == 2
    assert "nope" in unknown.stderr
    path = cli(remote, "run", "./ok.yaml")
    assert path.returncode == 2
    assert "NAME or NAME@VERSION" in path.stderr
    inventory = cli(remote, "run", "ok", "--inventory", "hosts.yaml")
    assert inventory.returncode == 2
    assert "--inventory is refused" in inventory.stderr
    claimed = cli(remote, "run", "ok", env={"RUNBOOK_USER": "mallory"})
    assert claimed.returncode == 2
    assert "RUNBOOK_USER is refused" in claimed.stderr

    bad_token = cli(remote, "run", "ok", env={"RUNBOOK_TOKEN": "rbk_not-a-token"})
    assert bad_token.returncode == 2
    assert "refused your token" in bad_token.stderr
    assert "Traceback" not in bad_token.stderr
    down = cli(remote, "run", "ok", env={"RUNBOOK_SERVER": "http://127.0.0.1:9"})
    assert down.returncode == 1
    assert "cannot reach http://127.0.0.1:9" in down.stderr
    assert "Traceback" not in down.stderr

    # on a terminal, run asks first, showing the parameters as the server's runbook types them
    asked = _on_a_terminal(remote, "n\n", "run", "ok", "-p", "who=eve", "-p", "token=abc")
    assert asked.returncode == 1
    assert "Run ok@1 (who=eve, token=***)?" in asked.stdout
    assert "abc" not in asked.stdout
    assert remote.server.store.list_runs() == []  # declined: nothing was started
    no_client_store(remote)


def _on_a_terminal(remote: Remote, answer: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI with a terminal on stdin (``answer`` typed into it)."""
    import os
    import pty

    leader, follower = pty.openpty()
    try:
        os.write(leader, answer.encode())
        child = subprocess.run(
            [RUNBOOK, *args],
            check=False,
            cwd=remote.home,
            env=remote.environment(),
            stdin=follower,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.close(follower)
        os.close(leader)
    return child


def test_approvals_are_decided_through_the_server(remote_factory: Factory) -> None:
    remote = remote_factory({"gate": GATE})

    waiting = cli(remote, "run", "gate", "--no-wait")
    assert waiting.returncode == 5, waiting.stderr
    run_id = run_id_of(waiting.stdout)
    assert f"approve with: runbook approve {run_id}" in waiting.stdout

    own = cli(remote, "approve", run_id)
    assert own.returncode == 2
    assert "requester" in own.stderr  # why: one may not approve one's own run
    claimed = cli(remote, "approve", run_id, "--as", BOB)
    assert claimed.returncode == 2
    assert "--as is refused" in claimed.stderr

    approved = cli(remote, "approve", run_id, user=BOB)
    assert approved.returncode == 0, approved.stderr
    assert f"approved step ok of run {run_id} as {BOB}" in approved.stdout
    assert "done" in approved.stdout  # the progress of the run it continued
    assert f"run {run_id}: succeeded" in approved.stdout

    # reject: a reason is required; the run then ends rejected (exit 4)
    other = run_id_of(cli(remote, "run", "gate", "--no-wait").stdout)
    assert cli(remote, "reject", other, user=BOB).returncode == 2
    rejected = cli(remote, "reject", other, "--reason", "not now", "-o", "json", user=BOB)
    assert rejected.returncode == 4, rejected.stderr
    assert json.loads(rejected.stdout)["status"] == "rejected"

    # --no-resume only records (the server drives the run on all the same)
    third = run_id_of(cli(remote, "run", "gate", "--no-wait").stdout)
    recorded = cli(remote, "approve", third, "--no-resume", "-o", "json", user=BOB)
    assert recorded.returncode == 0, recorded.stderr
    assert json.loads(recorded.stdout) == {
        "run_id": third,
        "step": "ok",
        "decision": "approved",
        "user": BOB,
    }

    # without --no-wait, run follows the run through its approval, as locally
    store = remote.server.store
    follower = remote.spawn("run", "gate")
    fourth = _wait_for_status(store, "gate", "waiting_approval", not_in={run_id, other, third})
    assert follower.poll() is None  # still following, as a local run waits
    assert cli(remote, "approve", fourth, user=BOB).returncode == 0
    out, err = follower.communicate(timeout=30)
    assert follower.returncode == 0, err
    assert f"run {fourth}: succeeded" in out

    fifth = run_id_of(cli(remote, "run", "gate", "--no-wait").stdout)
    cancelled = cli(remote, "cancel", fifth, "--reason", "changed my mind")
    assert cancelled.returncode == 4, cancelled.stderr
    assert f"cancel requested for run {fifth}" in cancelled.stdout
    assert f"run {fifth}: cancelled" in cancelled.stdout
    again = cli(remote, "cancel", fifth)
    assert again.returncode == 1
    assert "has already finished" in again.stderr
    no_client_store(remote)


def test_resume_decides_about_a_step_that_was_in_flight(remote_factory: Factory) -> None:
    remote = remote_factory({"crashy": CRASHY})
    store = remote.server.store
    for run_id in ("aaaa00000001", "aaaa00000002"):
        _crashed(store, run_id)
    # the server's sweeper finds the runs orphaned and stops them for a person
    for run_id in ("aaaa00000001", "aaaa00000002"):
        _wait_for(store, run_id, "needs_attention")

    retried = cli(remote, "resume", "aaaa00000001", "--retry")
    assert retried.returncode == 0, retried.stderr
    assert "run aaaa00000001: succeeded" in retried.stdout
    assert "worked" in retried.stdout  # the step ran again
    skipped = cli(remote, "resume", "aaaa00000002", "--skip", "-o", "json")
    assert skipped.returncode == 0, skipped.stderr
    assert json.loads(skipped.stdout)["steps"]["after"]["status"] == "succeeded"
    finished = cli(remote, "resume", "aaaa00000002")
    assert finished.returncode == 0  # already finished: said, with the run's exit code
    assert "already finished" in finished.stdout
    no_client_store(remote)


def _crashed(store: Store, run_id: str) -> None:
    """The log an engine that died during ``work`` leaves behind (as tests/runtime do)."""
    loaded = load_text(CRASHY)
    rb = loaded.runbook
    store.save_version(rb.name, rb.version, loaded.digest, loaded.source, loaded.document)
    store.create_run(
        run_id,
        runbook=rb.name,
        version=rb.version,
        digest=loaded.digest,
        params={},
        requester="alice@example.com",
    )
    prep = {"step": "prep", "attempt": 1, "action": "log", "with": {"message": "prep"}}
    store.append_event(run_id, "run.started", {}, status="running")
    store.append_event(run_id, "step.started", prep, step_id="prep")
    store.append_event(
        run_id, "step.succeeded", {**prep, "result": {}, "outputs": {}}, step_id="prep"
    )
    work = {"step": "work", "attempt": 1, "action": "shell.command"}
    store.append_event(
        run_id, "step.started", {**work, "with": {"command": "echo worked"}}, step_id="work"
    )


def _wait_for(store: Store, run_id: str, status: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = store.get_run(run_id)
        if record is not None and record.status == status:
            return
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} is not {status}: {store.get_run(run_id)}")


def _wait_for_status(
    store: Store, runbook: str, status: str, *, not_in: set[str], timeout: float = 15.0
) -> str:
    """The id of a run of ``runbook`` in ``status``, other than those ``not_in``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in store.list_runs(runbook=runbook, status=[status]):
            if record.id not in not_in:
                return record.id
        time.sleep(0.05)
    raise AssertionError(f"no run of {runbook} is {status}")
