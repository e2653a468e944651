"""``max_concurrent``: at most this many runs of a runbook started by alerts at once.

A run over the limit is recorded at once (pending, so the request that brought its alert is
answered at once, and a repeat of the alert is refused by the store as for any run), held by
this process, and driven when one of the runbook's runs ends. A run counts until it is
finished: one waiting for an approval holds its slot.

Held runs are this process's: their owner is set to it and kept fresh (``lease``), so the
sweepers of other processes on the store do not take them for orphans and drive them past
the limit. When this process stops, what it held is left pending, ownerless once its
heartbeat is stale, and the next sweeper to look drives it (the limit counts within one
process)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from runbook_engine.core.statuses import TERMINAL
from runbook_engine.hooks.driver import Driver
from runbook_engine.lease import HEARTBEAT_EVERY, owner_id

log = logging.getLogger("runbook.hooks")

#: seconds between looks at whether a run holding a slot has finished
POLL = 0.25


class TriggerQueue:
    def __init__(self, executor: Driver, *, poll: float = POLL) -> None:
        self.executor = executor
        self.store = executor.engine.store
        self.poll = poll
        self._waiting: dict[str, deque[str]] = {}
        self._active: dict[str, set[str]] = {}
        self._limits: dict[str, int] = {}
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._last_beat = 0.0

    def add(self, runbook: str, limit: int, run_id: str) -> None:
        """A recorded run (held, owned by this process) to drive when fewer than ``limit``
        runs of ``runbook`` run."""
        with self._wake:
            self._limits[runbook] = limit
            self._waiting.setdefault(runbook, deque()).append(run_id)
            self._wake.notify_all()

    def waiting(self, runbook: str) -> list[str]:
        with self._wake:
            return list(self._waiting.get(runbook, ()))

    def active(self, runbook: str) -> set[str]:
        with self._wake:
            return set(self._active.get(runbook, ()))

    def expedite(self, run_id: str) -> bool:
        """Drive a held run now, whatever the limit: it was cancelled, so it only ends."""
        with self._wake:
            for queued in self._waiting.values():
                if run_id in queued:
                    queued.remove(run_id)
                    break
            else:
                return False
        self.executor.resume(run_id)
        return True

    # ------------------------------------------------------------------ the thread

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="trigger-queue", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            with self._wake:
                if self._stopping:
                    return
                busy = any(self._waiting.values())
                self._wake.wait(self.poll if busy else 1.0)
                if self._stopping:
                    return
            try:
                self.pump()
                self._heartbeat()
            except Exception:
                log.exception("the trigger queue failed a turn; trying again")

    def pump(self) -> list[str]:
        """Start what the limits allow now; returns the runs started."""
        with self._wake:
            runbooks = [rb for rb, q in self._waiting.items() if q]
        started: list[str] = []
        for runbook in runbooks:
            with self._wake:
                active = set(self._active.get(runbook, ()))
            still = {rid for rid in active if not self._finished(rid)}
            with self._wake:
                limit = self._limits[runbook]
                queued = self._waiting[runbook]
                launch: list[str] = []
                while queued and len(still) + len(launch) < limit:
                    launch.append(queued.popleft())
                self._active[runbook] = still | set(launch)
            for run_id in launch:
                if not self.executor.resume(run_id):
                    log.info("run %s stays pending: the server is stopping", run_id)
                started.append(run_id)
        return started

    def _finished(self, run_id: str) -> bool:
        record = self.store.get_run(run_id)
        return record is None or record.status in TERMINAL

    def _heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last_beat < HEARTBEAT_EVERY:
            return
        self._last_beat = now
        me = owner_id()
        with self._wake:
            held = [rid for q in self._waiting.values() for rid in q]
        for start in range(0, len(held), 500):  # bound the statement's parameters
            self.store.heartbeat_many(held[start : start + 500], me)
