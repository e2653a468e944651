"""The schedule loop of a long-running process: every second, fire the ticks that are due.

Runs are created under each tick's deterministic id, so however many processes run this loop
(``serve`` on SQLite, any number of workers on PostgreSQL) each tick starts one run."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from runbook_engine.catalog import Catalog
from runbook_engine.errors import RunbookError, StoreError
from runbook_engine.schedule import SCHEDULE_REQUESTER, Scheduler, Tick
from runbook_engine.service import Engine
from runbook_engine.spec.loader import LoadedRunbook

log = logging.getLogger("runbook.schedule")

#: how often the catalog is read again, so new and changed runbooks' schedules apply
RESCAN_EVERY = 30.0


def create_scheduled_run(engine: Engine, tick: Tick) -> bool:
    """Record the tick's run; False when another scheduler recorded it first."""
    try:
        engine.create(
            tick.loaded,
            tick.schedule.params,
            requester=SCHEDULE_REQUESTER,
            from_text=False,
            run_id=tick.run_id,
        )
    except StoreError:
        if engine.store.get_run(tick.run_id) is not None:
            return False
        raise
    return True


class CachedCatalog:
    """The catalog's latest runbooks, read again every ``RESCAN_EVERY`` seconds."""

    def __init__(self, make: Callable[[], Catalog] = Catalog) -> None:
        self.make = make
        self._at = 0.0
        self._latest: list[LoadedRunbook] = []

    def __call__(self) -> list[LoadedRunbook]:
        if time.monotonic() - self._at > RESCAN_EVERY:
            catalog = self.make()
            self._latest = catalog.latest()
            for problem in catalog.problems:
                log.warning("skipping invalid runbook: %s", problem)
            self._at = time.monotonic()
        return self._latest


class ScheduleLoop:
    """A thread calling ``Scheduler.tick`` every ``interval`` seconds."""

    def __init__(
        self,
        engine: Engine,
        start: Callable[[Tick], object],
        *,
        interval: float = 1.0,
        runbooks: Callable[[], list[LoadedRunbook]] | None = None,
    ) -> None:
        self.scheduler = Scheduler(
            engine.store,
            runbooks or CachedCatalog(),
            lambda tick: create_scheduled_run(engine, tick),
            start,
        )
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                for tick in self.scheduler.tick():
                    log.info(
                        "scheduled run %s of %s (%s)",
                        tick.run_id,
                        tick.loaded.runbook.name,
                        tick.fire_at.isoformat(),
                    )
            except RunbookError as exc:
                log.warning("schedule pass failed: %s", exc)
            except Exception:
                log.exception("schedule pass failed")
            self._stop.wait(self.interval)
