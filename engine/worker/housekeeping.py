"""Housekeeping, once a second, on whichever worker takes the periodic job.

Procrastinate defers the periodic job once per tick across all workers, so one pass runs per
second however many workers there are. A pass:

1. fires due schedule ticks (``Scheduler``; each tick creates its run exactly once, by id);
2. finds runs nobody drives and rings for them: active runs whose engine is gone (no owner, a
   dead pid on this host, or a heartbeat older than ``STALE_AFTER``), and runs waiting for
   approval that a decision, a cancel or the approval's deadline has woken;
3. aborts Procrastinate jobs left ``doing`` by a worker that stopped heartbeating, so the queue
   shows the truth (the run itself is rung for by step 2, from the store).

Everything here is safe to run twice at once: ticks are claimed in the store, a run is queued
at most once (queueing lock), and ``Engine.execute`` refuses a run a live engine drives.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from runbook_engine.catalog import Catalog
from runbook_engine.core.events import EventType
from runbook_engine.core.statuses import PENDING, ROLLING_BACK, RUNNING, WAITING
from runbook_engine.lease import STALE_AFTER, is_driven
from runbook_engine.runtime.loading import published_until
from runbook_engine.schedule import Scheduler, Tick
from runbook_engine.server.scheduling import create_scheduled_run
from runbook_engine.service import Engine
from runbook_engine.spec.loader import LoadedRunbook
from runbook_engine.store import RunRecord, Store
from runbook_engine.worker.queue import EXECUTE_RUN, defer_run_async

if TYPE_CHECKING:
    from procrastinate import App

log = logging.getLogger("runbook.worker")

STALLED_AFTER = STALE_AFTER
"""A Procrastinate worker silent this long is dead; its ``doing`` jobs are aborted. The same
timeout as a run's owner, so the queue and the store agree about who is gone."""

PENDING_GRACE = 5.0
"""A new pending run belongs to whoever created it (``runbook run`` starts it in-process,
``submit`` and the scheduler queue it) for this long before the reaper treats it as orphaned."""

DECISION_GRACE = 2.0
"""A decision recorded by ``approve --no-resume`` or from a process that continues the run
inline gets this long to be picked up there before a worker is rung."""

SCAN_LIMIT = 10_000
"""Most active runs looked at per pass; far more than a team has going at once."""

MAX_BACKOFF = 60.0
"""A run whose jobs keep failing (a missing secret, a missing plugin) is retried at most this
often, instead of every second."""

_WAKING_EVENTS = frozenset(
    {EventType.APPROVAL_DECIDED, EventType.RUN_CANCEL_REQUESTED, EventType.INPUT_GIVEN}
)

_FAILURES_SQL = """
SELECT queueing_lock AS run_id, count(*) AS failures
  FROM procrastinate_jobs
 WHERE task_name = %(task)s AND status = 'failed' AND queueing_lock = ANY(%(ids)s)
 GROUP BY queueing_lock
"""


def backoff(failures: int) -> float:
    return 0.0 if failures <= 0 else min(2.0**failures, MAX_BACKOFF)


class CatalogCache:
    """The catalog's latest runbooks, parsed again only when a runbook file changed: passes
    come every second, and an edited runbook is scheduled as it now reads."""

    def __init__(self) -> None:
        self._key: tuple[tuple[str, int, int], ...] | None = None
        self._runbooks: list[LoadedRunbook] = []

    def __call__(self) -> list[LoadedRunbook]:
        catalog = Catalog()
        try:
            key = tuple(
                (str(path), (st := path.stat()).st_mtime_ns, st.st_size) for path in catalog.files()
            )
        except OSError:
            key = None  # a file went away while we looked: read everything again
        if key is None or key != self._key:
            self._runbooks = catalog.latest()
            self._key = key
        return self._runbooks


def _only(loaded: LoadedRunbook) -> Callable[[], list[LoadedRunbook]]:
    return lambda: [loaded]


@dataclass
class Housekeeper:
    store: Store
    engine: Engine
    runbooks: Callable[[], list[LoadedRunbook]] = field(default_factory=CatalogCache)

    # ------------------------------------------------------------------ schedules

    def fire_schedules(self, now: datetime) -> list[str]:
        """Create the runs of due ticks; returns the ids of runs this pass created."""
        created: list[str] = []
        try:
            runbooks = self.runbooks()
        except Exception:
            log.exception("cannot read the runbook catalog; no schedule fires this pass")
            return created
        for loaded in runbooks:
            if not loaded.runbook.schedule:
                continue
            # one scheduler per runbook: a runbook whose runs cannot be created (a bad
            # parameter, a permission) must not stop the schedules of the others
            scheduler = Scheduler(
                self.store, _only(loaded), self._create, lambda tick: created.append(tick.run_id)
            )
            try:
                scheduler.tick(now)
            except Exception:
                log.exception(
                    "schedule of %s failed; the tick is tried again while it is due",
                    loaded.runbook.name,
                    extra={"runbook": loaded.runbook.name},
                )
        return created

    def _create(self, tick: Tick) -> bool:
        return create_scheduled_run(self.engine, tick)

    # ------------------------------------------------------------------ reaper

    def runs_to_wake(self, now: datetime) -> list[str]:
        """Runs that need an engine and have none, oldest first."""
        wake: list[str] = []
        active = self.store.list_runs(status=[PENDING, RUNNING, ROLLING_BACK], limit=SCAN_LIMIT)
        for record in reversed(active):
            if is_driven(record, now):
                continue
            young = (now - record.created_at).total_seconds() < PENDING_GRACE
            if record.status == PENDING and record.owner is None and young:
                continue
            wake.append(record.id)
        waiting = self.store.list_runs(status=sorted(WAITING), limit=SCAN_LIMIT)
        for record in reversed(waiting):
            if not is_driven(record, now) and self._approval_woken(record, now):
                wake.append(record.id)
        return wake

    def _approval_woken(self, record: RunRecord, now: datetime) -> bool:
        waiting = (record.state or {}).get("waiting") or {}
        for deadline in waiting.values() if isinstance(waiting, dict) else ():
            if deadline and deadline <= now.timestamp():
                return True
        # Events after the newest one an engine published came from elsewhere (a decision,
        # a cancel) since an engine last looked.
        seen = published_until(record)
        return any(
            event.type in _WAKING_EVENTS and (now - event.ts).total_seconds() >= DECISION_GRACE
            for event in self.store.events(record.id, after_seq=seen)
        )


# ---------------------------------------------------------------------- queue side


async def failures_of(app: App, run_ids: Iterable[str]) -> dict[str, int]:
    """How many ``execute_run`` jobs failed for each run (failed jobs are kept for this)."""
    ids = list(run_ids)
    if not ids:
        return {}
    rows = await app.connector.execute_query_all_async(
        query=_FAILURES_SQL, task=EXECUTE_RUN, ids=ids
    )
    return {str(row["run_id"]): int(row["failures"]) for row in rows}


async def abort_stalled_jobs(app: App) -> list[int]:
    """Abort jobs left ``doing`` by workers that stopped heartbeating; returns their ids.

    Aborting rather than retrying: the store, not the job, says whether the run still needs
    an engine, and the reaper rings for it from there (it may have finished on another worker
    already, or be waiting for a human)."""
    from procrastinate.exceptions import ConnectorException
    from procrastinate.jobs import Status

    aborted: list[int] = []
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER):
        if job.id is None:
            continue
        try:
            await app.job_manager.finish_job_by_id_async(
                job_id=job.id, status=Status.ABORTED, delete_job=False
            )
        except ConnectorException:
            continue  # finished by its worker after all, or aborted by another pass
        aborted.append(job.id)
        log.warning("aborted job %s left running by a dead worker", job.id)
    return aborted


@dataclass(frozen=True)
class PassReport:
    scheduled: list[str]
    woken: list[str]
    aborted_jobs: list[int]


async def housekeeping_pass(keeper: Housekeeper, app: App, now: datetime) -> PassReport:
    """One pass; store work runs in threads so the worker's event loop keeps heartbeating."""
    scheduled = await asyncio.to_thread(keeper.fire_schedules, now)
    orphans = await asyncio.to_thread(keeper.runs_to_wake, now)
    aborted = await abort_stalled_jobs(app)
    for run_id in scheduled:
        await defer_run_async(app, run_id)
    orphans = [run_id for run_id in orphans if run_id not in set(scheduled)]
    failures = await failures_of(app, orphans)
    woken: list[str] = []
    for run_id in orphans:
        delay = backoff(failures.get(run_id, 0))
        if await defer_run_async(app, run_id, delay=delay):
            woken.append(run_id)
            log.info("queued run %s: no engine drives it", run_id, extra={"run_id": run_id})
    return PassReport(scheduled, woken, aborted)
