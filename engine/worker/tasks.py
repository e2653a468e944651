"""The worker's two Procrastinate tasks: ``execute_run`` and the periodic housekeeping pass.

Both are async so the worker's event loop stays in charge: a run is driven in its own daemon
thread (``Engine.execute`` runs its own event loop there), and when a stopping worker's grace
period ends, the job is cancelled on the loop and the process can exit while the thread is
still busy. The run is then taken over from its event log like after a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from runbook_engine.core.statuses import TERMINAL
from runbook_engine.errors import StoreError
from runbook_engine.lease import owner_id
from runbook_engine.service import Engine
from runbook_engine.store import Store
from runbook_engine.worker.housekeeping import Housekeeper, housekeeping_pass
from runbook_engine.worker.queue import EXECUTE_RUN, HOUSEKEEPING, HOUSEKEEPING_QUEUE, RUNS_QUEUE

if TYPE_CHECKING:
    from procrastinate import App

log = logging.getLogger("runbook.worker")

T = TypeVar("T")

HOUSEKEEPING_CRON = "* * * * * *"
"""Every second (Procrastinate's optional sixth field is seconds)."""


@dataclass
class Runtime:
    """What a worker process's tasks share: the store, the engine, and which runs it drives."""

    store: Store
    engine: Engine
    keeper: Housekeeper
    _driving: set[str] = field(default_factory=set, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    @property
    def busy(self) -> int:
        """Runs this process is driving right now."""
        with self._lock:
            return len(self._driving)

    def drive(self, run_id: str) -> str:
        """Drive a run until it finishes, waits for a human, or needs attention."""
        # Engine ownership is per process (host:pid): two jobs for the same run landing on
        # this worker would both pass claim_run, so the second one is refused here.
        with self._lock:
            if run_id in self._driving:
                return "already driven by this worker"
            self._driving.add(run_id)
        try:
            return self._drive(run_id)
        finally:
            with self._lock:
                self._driving.discard(run_id)

    def _drive(self, run_id: str) -> str:
        record = self.store.get_run(run_id)
        if record is None:
            log.warning("run %s does not exist; job dropped", run_id, extra={"run_id": run_id})
            return "no such run"
        if record.status in TERMINAL:
            return record.status
        # Our own id on the run means an engine of this process died inside it (the guard
        # above says no thread drives it now), or a restarted worker reused the pid: not
        # driven, whatever its last heartbeat says.
        # (an unowned run needs no second look: a claim that loses the race says so below)
        owned = record.owner is not None and record.owner != owner_id()
        if owned and self.engine.is_driven(record):
            return f"driven by {record.owner}"
        try:
            # the row just read: the engine loads the rest without reading it again
            outcome = self.engine.execute(record, wait_for_approval=False)
        except StoreError:
            # Another worker claimed the run between our look and our claim: nothing to do.
            # Any other store error (the database is down) fails the job; the reaper retries.
            fresh = self.store.get_run(record.id)
            if fresh is not None and self.engine.is_driven(fresh):
                return f"driven by {fresh.owner}"
            raise
        log.info(
            "run %s stopped: %s%s",
            run_id,
            outcome.status,
            f" ({outcome.message})" if outcome.message else "",
            extra={"run_id": run_id, "runbook": record.runbook},
        )
        return outcome.status


async def in_thread(func: Callable[[str], T], arg: str, *, name: str) -> T:
    """``func(arg)`` in a new daemon thread, awaited on the loop.

    Unlike ``asyncio.to_thread``, a daemon thread neither holds up the process's exit nor the
    loop's shutdown when the job awaiting it is cancelled (see the module docstring)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return  # cancelled meanwhile: the job was aborted
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]  # None only with an error

    def deliver(result: T | None, error: BaseException | None) -> None:
        # a closed loop: the worker is exiting and no one waits for this any more
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, result, error)

    def target() -> None:
        try:
            result = func(arg)
        except BaseException as exc:
            deliver(None, exc)
        else:
            deliver(result, None)

    threading.Thread(target=target, name=name, daemon=True).start()
    return await future


def register_tasks(app: App, runtime: Runtime) -> None:
    """Add the worker's tasks to ``app`` (the same app defers them by name elsewhere)."""

    async def execute_run(run_id: str) -> str:
        return await in_thread(runtime.drive, run_id, name=f"run-{run_id}")

    async def housekeeping(timestamp: int) -> None:
        await housekeeping_pass(runtime.keeper, app, datetime.now(UTC))

    app.task(name=EXECUTE_RUN, queue=RUNS_QUEUE)(execute_run)
    # the queueing lock keeps at most one pass waiting: passes do not pile up one per second
    # while the database is slow or every worker is starting
    task = app.task(name=HOUSEKEEPING, queue=HOUSEKEEPING_QUEUE, queueing_lock=HOUSEKEEPING)(
        housekeeping
    )
    app.periodic(cron=HOUSEKEEPING_CRON, periodic_id="housekeeping")(task)
