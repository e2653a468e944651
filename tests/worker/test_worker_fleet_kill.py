"""Three workers, fifty runs, one worker SIGKILLed mid-way: every run finishes exactly once.

The victim is a worker that owns a running run at that moment. Its runs are taken over from
their event logs by the other workers (on one machine a dead pid is seen at once; across
machines it takes the heartbeat timeout). Completed steps never run again; the step in flight
at the kill runs again after a ``step.interrupted`` (every step here is idempotent).
"""

from __future__ import annotations

import os
import signal
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook_engine.catalog import Catalog
from runbook_engine.core.statuses import RUNNING, SUCCEEDED
from runbook_engine.service import Engine
from runbook_engine.worker.queue import enqueue
from tests.worker.worker_fleet import Fleet, wait_for

RUNS = 50

RUNBOOK = """\
apiVersion: runbook/v1
name: fleet-kill
version: 1
parameters:
  out: {type: string}
steps:
  # the write (an action with effects) makes the run's start durable; the nap after it keeps
  # the run mid-way long enough for the kill to land while the run is being driven
  - id: write
    action: file.write
    with: {path: "{{ params.out }}", content: "{{ run.id }}\\n"}
  - id: nap
    action: sleep
    with: {duration: 0.5}
  - id: say
    action: log
    with: {message: "wrote {{ params.out }}"}
"""


@pytest.fixture
def fleet(pg_url: str, tmp_path: Path) -> Iterator[Fleet]:
    fleet = Fleet(pg_url, tmp_path, {"fleet-kill": RUNBOOK})
    try:
        yield fleet
    finally:
        fleet.stop()


@pytest.mark.timeout(90)
def test_sigkilled_worker_runs_finish_exactly_once(fleet: Fleet, tmp_path: Path) -> None:
    fleet.start(3, "--concurrency", "4")
    fleet.wait_ready()
    out = tmp_path / "out"
    out.mkdir()
    engine = Engine(store=fleet.store)
    loaded = Catalog([fleet.runbooks]).resolve("fleet-kill")
    run_ids = [
        engine.create(loaded, {"out": str(out / f"{n}.txt")}, requester="alice")[0]
        for n in range(RUNS)
    ]
    assert all(enqueue(run_ids, fleet.url))

    def victim() -> int | None:
        """A worker pid driving a run right now, once a good part of the runs is done."""
        runs = fleet.runs("fleet-kill")
        if sum(r.status == SUCCEEDED for r in runs) < RUNS // 4:
            return None
        pids = {p.pid for p in fleet.procs}
        for record in runs:
            host, _, pid = (record.owner or "").rpartition(":")
            if record.status == RUNNING and host == socket.gethostname() and int(pid) in pids:
                return int(pid)
        return None

    killed = wait_for("a worker driving a run mid-way", victim, 30, poll=0.01)
    os.kill(killed, signal.SIGKILL)
    records = fleet.wait_terminal(run_ids, 60)

    assert {r.status for r in records} == {SUCCEEDED}
    taken_over = 0
    for record in records:
        events = fleet.events(record.id)
        types = Counter(e.type for e in events)
        assert types["run.finished"] == 1, record.id
        started = Counter(e.step_id for e in events if e.type == "step.started")
        succeeded = Counter(e.step_id for e in events if e.type == "step.succeeded")
        interrupted = {e.step_id: e.seq for e in events if e.type == "step.interrupted"}
        assert set(succeeded.values()) == {1}, (record.id, succeeded)
        for step, count in started.items():
            # a step runs again only if it was in flight when its engine died
            assert count == 1 + (step in interrupted), (record.id, step, count)
        for step, seq in interrupted.items():
            after = [e.seq for e in events if e.type == "step.succeeded" and e.step_id == step]
            assert after and after[0] > seq, (record.id, step)
        resumed = [e for e in events if e.type == "run.resumed"]
        if resumed:
            taken_over += 1
            assert all(not str(e.data["owner"]).endswith(f":{killed}") for e in resumed)
    assert taken_over >= 1, "the killed worker's run was not taken over"
    for n, run_id in enumerate(run_ids):
        assert (out / f"{n}.txt").read_text() == f"{run_id}\n"
