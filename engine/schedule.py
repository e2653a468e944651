"""Cron schedules of runbooks: when they fire, and firing each tick exactly once.

Every process that schedules (``runbook serve``, each ``runbook worker``) runs the same loop;
``Store.claim_tick`` is the arbiter, so however many run it, each tick starts one run.

Ticks missed while nothing was running follow the schedule's ``missed`` policy:

* ``skip`` (default): missed ticks are recorded as skipped; only a tick that is due now fires.
* ``run_once``: if ticks were missed, the newest of them fires once when scheduling resumes.

A tick counts as "due now" for ``GRACE`` seconds after its fire time, so a slow loop or a
scheduler that restarts quickly never loses a tick.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter

from runbook_engine.spec.loader import LoadedRunbook
from runbook_engine.spec.models import Schedule
from runbook_engine.store import Store

GRACE = timedelta(seconds=60)
#: a schedule that never fired looks back only this far: a new runbook does not fire the
#: ticks of the minute before it was added
FIRST_LOOK_BACK = timedelta(seconds=2)
#: requester recorded on runs started by a schedule
SCHEDULE_REQUESTER = "schedule"
#: never look back further than this for missed ticks (a schedule every second, down a week)
MAX_CATCH_UP = 1000


def fire_times(schedule: Schedule, after: datetime, until: datetime) -> Iterator[datetime]:
    """Fire times in ``(after, until]``, as aware UTC datetimes, oldest first."""
    tz = ZoneInfo(schedule.timezone)
    it = croniter(schedule.cron, after.astimezone(tz), ret_type=datetime)
    for _ in range(MAX_CATCH_UP):
        nxt: datetime = it.get_next(datetime)
        if nxt > until:
            return
        yield nxt.astimezone(UTC)


def next_fire(schedule: Schedule, after: datetime) -> datetime:
    tz = ZoneInfo(schedule.timezone)
    nxt: datetime = croniter(schedule.cron, after.astimezone(tz), ret_type=datetime).get_next(
        datetime
    )
    return nxt.astimezone(UTC)


def tick_run_id(runbook: str, index: int, fire_at: datetime) -> str:
    """The same tick gives the same run id in every process: a second start is refused."""
    key = f"{runbook}|{index}|{fire_at.astimezone(UTC).isoformat()}"
    return "s" + hashlib.sha256(key.encode()).hexdigest()[:11]


@dataclass(frozen=True)
class Tick:
    loaded: LoadedRunbook
    index: int
    schedule: Schedule
    fire_at: datetime
    late: bool  # fired under the run_once policy after ticks were missed

    @property
    def run_id(self) -> str:
        return tick_run_id(self.loaded.runbook.name, self.index, self.fire_at)


def plan_ticks(
    loaded: LoadedRunbook, index: int, schedule: Schedule, last: datetime | None, now: datetime
) -> tuple[list[Tick], list[datetime]]:
    """(ticks to fire, ticks to record as skipped) for one schedule."""
    since = last if last is not None else now - FIRST_LOOK_BACK
    times = list(fire_times(schedule, since, now))
    due = [t for t in times if now - t <= GRACE]
    missed = [t for t in times if now - t > GRACE]
    fire = [Tick(loaded, index, schedule, t, late=False) for t in due]
    skipped = missed
    if missed and not due and schedule.missed == "run_once":
        fire = [Tick(loaded, index, schedule, missed[-1], late=True)]
        skipped = missed[:-1]
    return fire, skipped


class Scheduler:
    """Fires due ticks of the catalog's schedules.

    ``create`` records the tick's run under its deterministic id and returns False when that
    run already exists (another scheduler got there first); ``start`` then drives or enqueues
    it. The run is created before the tick is recorded, so a crash in between loses nothing:
    the next pass finds the tick again, sees its run exists, and only records the tick."""

    def __init__(
        self,
        store: Store,
        runbooks: Callable[[], list[LoadedRunbook]],
        create: Callable[[Tick], bool],
        start: Callable[[Tick], Any],
    ) -> None:
        self.store = store
        self.runbooks = runbooks
        self.create = create
        self.start = start

    def tick(self, now: datetime | None = None) -> list[Tick]:
        now = now or datetime.now(UTC)
        fired: list[Tick] = []
        for loaded in self.runbooks():
            name = loaded.runbook.name
            for index, schedule in enumerate(loaded.runbook.schedule):
                last = self.store.last_tick(name, index)
                fire, skipped = plan_ticks(loaded, index, schedule, last, now)
                for when in skipped:
                    self.store.claim_tick(name, index, when, run_id=None, outcome="skipped")
                for tick in fire:
                    created = self.create(tick)
                    self.store.claim_tick(name, index, tick.fire_at, run_id=tick.run_id)
                    if created:
                        self.start(tick)
                        fired.append(tick)
        return fired


def upcoming(loaded: LoadedRunbook, now: datetime, count: int = 1) -> list[tuple[int, datetime]]:
    """The next ``count`` fire times of each schedule of a runbook."""
    out: list[tuple[int, datetime]] = []
    for index, schedule in enumerate(loaded.runbook.schedule):
        when = now
        for _ in range(count):
            when = next_fire(schedule, when)
            out.append((index, when))
    return out
