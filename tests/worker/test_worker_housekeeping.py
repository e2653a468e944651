"""Housekeeping decisions, on an SQLite store: which runs the reaper rings for, and schedules."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runbook_engine.core.statuses import SUCCEEDED, WAITING_APPROVAL
from runbook_engine.lease import STALE_AFTER, is_driven
from runbook_engine.schedule import SCHEDULE_REQUESTER, tick_run_id
from runbook_engine.service import Engine
from runbook_engine.spec.loader import LoadedRunbook, load_text
from runbook_engine.store import RunRecord, Store
from runbook_engine.worker.housekeeping import (
    DECISION_GRACE,
    MAX_BACKOFF,
    PENDING_GRACE,
    CatalogCache,
    Housekeeper,
    backoff,
)

APPROVE = """\
apiVersion: runbook/v1
name: gated-{required}{suffix}
version: 1
steps:
  - id: gate
    approval: {{message: "go?", required: {required}{timeout}}}
  - id: after
    action: log
    with: {{message: done}}
"""

SCHEDULED = """\
apiVersion: runbook/v1
name: {name}
version: 1
permissions: {{run: [{runners}]}}
parameters:
  target: {{type: string}}
schedule:
  - {{cron: "* * * * *", params: {{target: db}}}}
steps:
  - id: check
    action: log
    with: {{message: "{{{{ params.target }}}}"}}
"""


def gated(required: int = 1, timeout: str = "") -> LoadedRunbook:
    extra = f", timeout: {timeout}" if timeout else ""
    text = APPROVE.format(required=required, timeout=extra, suffix="-t" if timeout else "")
    return load_text(text, "gated.yaml")


def dead_owner() -> str:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return f"{socket.gethostname()}:{proc.pid}"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.delenv("RUNBOOK_GROUPS", raising=False)
    opened = Store.open(str(tmp_path / "runs.db"))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def keeper(store: Store) -> Housekeeper:
    return Housekeeper(store, Engine(store=store), runbooks=list)


def record(owner: str | None, heartbeat: datetime | None) -> RunRecord:
    now = datetime.now(UTC)
    return RunRecord(
        id="r1",
        runbook="x",
        version=1,
        digest="d",
        status="running",
        params={},
        requester="alice",
        state={},
        owner=owner,
        heartbeat_at=heartbeat,
        created_at=now,
        updated_at=now,
    )


def test_is_driven() -> None:
    now = datetime.now(UTC)
    stale = now - timedelta(seconds=STALE_AFTER + 1)
    assert not is_driven(record(None, now), now)
    assert is_driven(record("elsewhere:12", now), now)
    assert is_driven(record("elsewhere:12", None), now)  # claimed, first beat still to come
    assert not is_driven(record("elsewhere:12", stale), now)
    assert not is_driven(record(dead_owner(), now), now)  # this host: dead now, not later
    assert is_driven(record(f"{socket.gethostname()}:{os.getpid()}", now), now)


def test_backoff() -> None:
    assert [backoff(n) for n in (0, 1, 2, 3)] == [0.0, 2.0, 4.0, 8.0]
    assert backoff(30) == MAX_BACKOFF


def test_orphaned_active_runs_are_woken(store: Store, keeper: Housekeeper) -> None:
    def run(run_id: str, status: str, owner: str | None = None) -> None:
        store.create_run(
            run_id, runbook="x", version=1, digest="d", params={}, requester="alice", status=status
        )
        if owner is not None:
            store.set_owner(run_id, owner)

    run("fresh", "pending")
    run("crashed", "running", dead_owner())
    run("remote", "rolling_back", "elsewhere:1")
    run("attention", "needs_attention")
    run("done", "succeeded")
    now = datetime.now(UTC)
    assert keeper.runs_to_wake(now) == ["crashed"]
    # an unowned pending run is its creator's to start for a moment, then it is orphaned
    later = now + timedelta(seconds=PENDING_GRACE + 1)
    assert sorted(keeper.runs_to_wake(later)) == ["crashed", "fresh"]
    # a remote engine is gone once its heartbeat is older than STALE_AFTER
    stale = now + timedelta(seconds=STALE_AFTER + 1)
    assert sorted(keeper.runs_to_wake(stale)) == ["crashed", "fresh", "remote"]


def test_waiting_run_wakes_on_a_decision(store: Store, keeper: Housekeeper) -> None:
    engine = keeper.engine
    outcome = engine.start(gated(), {}, requester="alice", wait_for_approval=False)
    assert outcome.status == WAITING_APPROVAL
    now = datetime.now(UTC)
    assert keeper.runs_to_wake(now) == []
    engine.decide(outcome.run_id, user="bob", approve=True)
    # a process that continues runs inline gets the first moments after a decision
    assert keeper.runs_to_wake(datetime.now(UTC)) == []
    soon = datetime.now(UTC) + timedelta(seconds=DECISION_GRACE + 1)
    assert keeper.runs_to_wake(soon) == [outcome.run_id]
    assert engine.execute(outcome.run_id, wait_for_approval=False).status == SUCCEEDED
    assert keeper.runs_to_wake(soon) == []


def test_a_decision_that_is_not_enough_wakes_the_run_once(
    store: Store, keeper: Housekeeper
) -> None:
    engine = keeper.engine
    run_id = engine.start(gated(required=2), {}, requester="alice", wait_for_approval=False).run_id
    engine.decide(run_id, user="bob", approve=True)
    soon = datetime.now(UTC) + timedelta(seconds=DECISION_GRACE + 1)
    assert keeper.runs_to_wake(soon) == [run_id]
    # the engine that looked records it did (run.resumed): no ringing every second after
    assert engine.execute(run_id, wait_for_approval=False).status == WAITING_APPROVAL
    assert keeper.runs_to_wake(soon) == []


def test_waiting_run_wakes_on_cancel_and_deadline(store: Store, keeper: Housekeeper) -> None:
    engine = keeper.engine
    cancelled = engine.start(gated(), {}, requester="alice", wait_for_approval=False).run_id
    expiring = engine.start(
        gated(timeout="1s"), {}, requester="alice", wait_for_approval=False
    ).run_id
    engine.cancel(cancelled, by="bob")
    now = datetime.now(UTC)
    assert keeper.runs_to_wake(now) == []
    later = now + timedelta(seconds=DECISION_GRACE + 1)
    assert keeper.runs_to_wake(later) == [cancelled, expiring]


def test_schedules_fire_once_and_a_broken_one_does_not_stop_the_others(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    good = load_text(SCHEDULED.format(name="good", runners="schedule"), "good.yaml")
    # a runbook the schedule may not run: its runs cannot be created
    broken = load_text(SCHEDULED.format(name="broken", runners="alice"), "broken.yaml")
    plain = gated()
    keeper = Housekeeper(store, Engine(store=store), runbooks=lambda: [broken, plain, good])
    tick = datetime(2026, 1, 1, tzinfo=UTC)
    now = tick + timedelta(seconds=1)
    with caplog.at_level(logging.ERROR, logger="runbook.worker"):
        created = keeper.fire_schedules(now)
    expected = tick_run_id("good", 0, tick)
    assert created == [expected]
    assert "schedule of broken failed" in caplog.text
    run = store.get_run(expected)
    assert run is not None and run.requester == SCHEDULE_REQUESTER
    assert run.params == {"target": "db"}
    # the same tick again (another worker's pass): recorded, nothing new
    assert keeper.fire_schedules(now) == []
    assert Housekeeper(store, keeper.engine, runbooks=lambda: [good]).fire_schedules(now) == []


def test_the_catalog_is_read_again_only_when_a_file_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNBOOK_PATH", raising=False)
    (tmp_path / "runbooks").mkdir()
    path = tmp_path / "runbooks" / "good.yaml"
    path.write_text(SCHEDULED.format(name="good", runners="schedule"))
    cache = CatalogCache()
    first = cache()
    assert [lb.runbook.version for lb in first] == [1]
    assert cache() is first  # nothing changed: the same parsed runbooks
    path.write_text(
        SCHEDULED.format(name="good", runners="schedule").replace("version: 1", "version: 2")
    )
    os.utime(path, ns=(1, 1))  # a different mtime even on a coarse clock
    assert [lb.runbook.version for lb in cache()] == [2]
