"""A schedule firing every second, three workers, ten seconds: exactly ten runs, each run once.

Every worker takes housekeeping passes (Procrastinate defers the periodic job once per second
across them; a pass may still overlap another), and ``Store.claim_tick`` plus the tick's
deterministic run id make each tick create one run whatever overlaps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runbook_engine.core.statuses import SUCCEEDED
from runbook_engine.schedule import SCHEDULE_REQUESTER
from tests.worker.worker_fleet import Fleet, wait_for

RUNBOOK = """\
apiVersion: runbook/v1
name: fleet-tick
version: 1
schedule:
  - {cron: "* * * * * *"}
steps:
  - id: say
    action: log
    with: {message: "tick {{ run.id }}"}
"""

WINDOW = timedelta(seconds=10)


@pytest.fixture
def fleet(pg_url: str, tmp_path: Path) -> Iterator[Fleet]:
    fleet = Fleet(pg_url, tmp_path, {"fleet-tick": RUNBOOK})
    try:
        yield fleet
    finally:
        fleet.stop()


@pytest.mark.timeout(90)
def test_every_second_schedule_fires_each_tick_once(fleet: Fleet) -> None:
    # the schedule's history starts now, as in a deployment that has been running a while
    now = datetime.now(UTC).replace(microsecond=0)
    fleet.store.claim_tick("fleet-tick", 0, now, run_id=None, outcome="skipped")
    fleet.start(3, "--concurrency", "2")
    fleet.wait_ready()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    end = start + WINDOW

    def window_ticks() -> list[str] | None:
        ticks = fleet.store.ticks("fleet-tick", since=start)
        if not ticks or ticks[-1].fire_at < end:
            return None  # the pass after the window has not run yet
        return [t.run_id for t in ticks if t.fire_at < end and t.run_id is not None]

    run_ids = wait_for("the ticks of the window", window_ticks, 45, poll=0.5)
    assert len(run_ids) == 10
    assert len(set(run_ids)) == 10
    records = fleet.wait_terminal(run_ids, 30)
    assert {r.status for r in records} == {SUCCEEDED}
    assert {r.requester for r in records} == {SCHEDULE_REQUESTER}
    for record in records:
        types = Counter(e.type for e in fleet.events(record.id))
        assert types["run.started"] == 1 and types["run.finished"] == 1, record.id
    # nothing else was started for those ticks: every schedule run is one of the window's
    # or of a tick outside it
    scheduled = [r for r in fleet.runs("fleet-tick") if r.requester == SCHEDULE_REQUESTER]
    by_tick = {t.run_id: t.fire_at for t in fleet.store.ticks("fleet-tick") if t.run_id}
    in_window = [r.id for r in scheduled if start <= by_tick[r.id] < end]
    assert sorted(in_window) == sorted(run_ids)
