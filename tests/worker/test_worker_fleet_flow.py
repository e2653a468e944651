"""Workers end to end: submit and follow, approvals continuing on a free worker, cancel, the
concurrency lock across workers, /metrics, JSON logs, and a graceful stop.

One fleet for the module. The first worker logs JSON and serves /metrics; the tests that
need it alone run first, the others add a second worker (``two_workers``).
"""

from __future__ import annotations

import itertools
import json
import signal
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook_engine.catalog import Catalog
from runbook_engine.core.statuses import CANCELLED, RUNNING, SUCCEEDED, WAITING_APPROVAL
from runbook_engine.service import Engine
from runbook_engine.worker.housekeeping import DECISION_GRACE
from runbook_engine.worker.queue import EXECUTOR_ENV, enqueue, enqueue_if_queued
from tests.worker.worker_fleet import Fleet, wait_for

OK = """\
apiVersion: runbook/v1
name: fleet-ok
version: 1
steps:
  - id: hello
    action: log
    with: {message: "hello from {{ run.id }}"}
"""

FAIL = """\
apiVersion: runbook/v1
name: fleet-fail
version: 1
steps:
  - id: boom
    action: fail
    with: {message: "boom"}
"""

APPROVE = """\
apiVersion: runbook/v1
name: fleet-approve
version: 1
steps:
  - id: prep
    action: log
    with: {message: prepared}
  - id: gate
    approval: {message: "go on?"}
  - id: after
    action: log
    with: {message: "went on"}
"""

SLOW = """\
apiVersion: runbook/v1
name: fleet-slow
version: 1
steps:
  - id: nap
    action: sleep
    with: {duration: 2}
"""

LOCKED = """\
apiVersion: runbook/v1
name: fleet-locked
version: 1
concurrency: {lock: shared, on_conflict: wait, wait_timeout: 60s}
steps:
  - id: hold
    action: sleep
    with: {duration: 0.3}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def fleet(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    fleet = Fleet(
        pg_url,
        tmp_path_factory.mktemp("flow"),
        {
            "fleet-ok": OK,
            "fleet-fail": FAIL,
            "fleet-approve": APPROVE,
            "fleet-locked": LOCKED,
            "fleet-slow": SLOW,
        },
    )
    fleet.metrics_port = free_port()
    try:
        fleet.start(1, "--log-format", "json", "--metrics-port", str(fleet.metrics_port))
        fleet.wait_ready()
        yield fleet
    finally:
        fleet.stop()


@pytest.fixture
def two_workers(fleet: Fleet) -> Fleet:
    if sum(p.poll() is None for p in fleet.procs) < 2:
        fleet.start(1, "--concurrency", "2")
        fleet.wait_ready()
    return fleet


def create(fleet: Fleet, name: str) -> str:
    engine = Engine(store=fleet.store)
    run_id, _ = engine.create(Catalog([fleet.runbooks]).resolve(name), {}, requester="alice")
    return run_id


@pytest.mark.timeout(60)
def test_submit_metrics_and_json_logs(fleet: Fleet) -> None:
    result = fleet.cli("submit", "fleet-ok")
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip()
    fleet.wait_terminal([run_id], 30)

    body = (
        urllib.request.urlopen(f"http://127.0.0.1:{fleet.metrics_port}/metrics", timeout=10)
        .read()
        .decode()
    )
    assert 'runbook_runs_finished_total{runbook="fleet-ok",status="succeeded"} 1.0' in body
    assert 'runbook_step_duration_seconds_count{action="log",runbook="fleet-ok"} 1.0' in body
    assert 'runbook_queue_depth{queue="runbook-runs"}' in body

    lines = [line for line in fleet.log_of(fleet.procs[0]).splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    events = [r for r in records if r.get("run_id") == run_id and "event" in r]
    assert [r["event"] for r in events][-1] == "run.finished"
    assert any(r.get("step_id") == "hello" for r in events)


@pytest.mark.timeout(60)
def test_submit_wait_follows_and_exits_like_run(two_workers: Fleet) -> None:
    ok = two_workers.cli("submit", "fleet-ok", "--wait")
    assert ok.returncode == 0, ok.stderr
    assert "hello" in ok.stdout and "succeeded" in ok.stdout

    failed = two_workers.cli("submit", "fleet-fail", "--wait", "-o", "json")
    assert failed.returncode == 1, failed.stderr
    data = json.loads(failed.stdout)
    assert data["status"] == "failed"
    assert data["steps"]["boom"]["status"] == "failed"


@pytest.mark.timeout(60)
def test_decision_resumes_on_a_free_worker(
    two_workers: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = two_workers
    engine = Engine(store=fleet.store)
    queued, left = create(fleet, "fleet-approve"), create(fleet, "fleet-approve")
    enqueue([queued, left], fleet.url)
    for run_id in (queued, left):
        fleet.wait_status(run_id, WAITING_APPROVAL, 30)

        def released(run_id: str = run_id) -> bool:
            return not engine.is_driven(engine.run_record(run_id))

        wait_for("the worker to let go of the run at the approval step", released, 10)

    # RUNBOOK_EXECUTOR=queue: the decision hands the run to a worker at once
    engine.decide(queued, user="bob", approve=True)
    monkeypatch.setenv(EXECUTOR_ENV, "queue")
    assert enqueue_if_queued(fleet.store, queued)
    # only the decision recorded (approve --no-resume): the reaper rings for it
    engine.decide(left, user="bob", approve=True)
    records = fleet.wait_terminal([queued, left], 30 + DECISION_GRACE)
    assert {r.status for r in records} == {SUCCEEDED}
    for record in records:
        events = fleet.events(record.id)
        succeeded = [e.step_id for e in events if e.type == "step.succeeded"]
        assert succeeded == ["prep", "gate", "after"]
        assert any(e.type == "run.resumed" for e in events)


@pytest.mark.timeout(60)
def test_cli_approve_under_queue_executor_hands_the_run_to_a_worker(two_workers: Fleet) -> None:
    run_id = create(two_workers, "fleet-approve")
    enqueue([run_id], two_workers.url)
    two_workers.wait_status(run_id, WAITING_APPROVAL, 30)
    result = two_workers.cli(
        "approve", run_id, "--as", "bob", "-o", "json", env={EXECUTOR_ENV: "queue"}
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["queued"] is True
    (record,) = two_workers.wait_terminal([run_id], 30)
    assert record.status == SUCCEEDED


@pytest.mark.timeout(60)
def test_cancel_of_a_waiting_run_rolls_back_on_a_worker(two_workers: Fleet) -> None:
    run_id = create(two_workers, "fleet-approve")
    enqueue([run_id], two_workers.url)
    two_workers.wait_status(run_id, WAITING_APPROVAL, 30)
    Engine(store=two_workers.store).cancel(run_id, by="bob", reason="not today")
    (record,) = two_workers.wait_terminal([run_id], 30)
    assert record.status == CANCELLED


@pytest.mark.timeout(60)
def test_concurrency_lock_holds_across_workers(two_workers: Fleet) -> None:
    run_ids = [create(two_workers, "fleet-locked") for _ in range(4)]
    enqueue(run_ids, two_workers.url)
    records = two_workers.wait_terminal(run_ids, 45)
    assert {r.status for r in records} == {SUCCEEDED}
    # the lock is taken before run.started and released after run.finished
    spans = []
    for run_id in run_ids:
        ts = {e.type: e.ts for e in two_workers.events(run_id)}
        spans.append((ts["run.started"], ts["run.finished"]))
    spans.sort()
    for (_, end), (begin, _) in itertools.pairwise(spans):
        assert end <= begin, "two runs held the lock at once"


def test_submit_needs_postgresql(tmp_path: Path, fleet: Fleet) -> None:
    result = fleet.cli("submit", "fleet-ok", env={"RUNBOOK_DB": str(tmp_path / "local.db")})
    assert result.returncode == 1
    assert "PostgreSQL" in result.stderr


def owner_proc(fleet: Fleet, run_id: str) -> subprocess.Popen[bytes] | None:
    record = fleet.store.get_run(run_id)
    if record is None or record.status != RUNNING or not record.owner:
        return None
    pid = int(record.owner.rpartition(":")[2])
    return next((p for p in fleet.procs if p.pid == pid), None)


@pytest.mark.timeout(60)
def test_sigterm_lets_the_runs_in_hand_finish(two_workers: Fleet) -> None:
    run_id = create(two_workers, "fleet-slow")
    enqueue([run_id], two_workers.url)
    proc = wait_for("a worker to drive the run", lambda: owner_proc(two_workers, run_id), 30)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert "worker stopped" in two_workers.log_of(proc)
    record = two_workers.store.get_run(run_id)
    assert record is not None and record.status == SUCCEEDED
    assert "run.resumed" not in [e.type for e in two_workers.events(run_id)]


@pytest.mark.timeout(90)
def test_after_the_grace_period_other_workers_take_over(fleet: Fleet) -> None:
    for proc in fleet.procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
    (impatient,) = fleet.start(1, "--shutdown-timeout", "0.2")
    run_id = create(fleet, "fleet-slow")
    enqueue([run_id], fleet.url)
    wait_for("the worker to drive the run", lambda: owner_proc(fleet, run_id), 30)
    impatient.send_signal(signal.SIGTERM)
    assert impatient.wait(20) == 0
    assert "still in hand" in fleet.log_of(impatient)
    record = fleet.store.get_run(run_id)
    assert record is not None and record.status == RUNNING  # its engine is gone
    fleet.start(1)
    (record,) = fleet.wait_terminal([run_id], 45)
    assert record.status == SUCCEEDED
    assert "run.resumed" in [e.type for e in fleet.events(run_id)]
