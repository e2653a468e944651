"""Periodic housekeeping of ``runbook serve``; its first pass, at start-up, is crash recovery.

* **Orphans**: an active run whose engine is gone (its process died, or it stopped
  heartbeating) is resumed here. After a restart, that is every run this server was driving.
* **Approval timeouts**: runs from Slack wait for approval with no thread parked on them, so
  nobody would notice a deadline pass. The sweeper records ``approval.timed_out`` (exactly what
  a waiting runner records) and drives the run on, which applies ``on_timeout``.
* **Runs changed elsewhere** (``catch_up``, also called by the ``StoreWatcher`` as soon as the
  store says something changed): a decision, cancel or choice another process recorded on a run
  nobody drives is driven on here; a run another live process drives (the CLI, a worker) has
  its Slack message redrawn and the replies and prompts its new events call for posted.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from runbook_engine.core.approvals import waiting_step
from runbook_engine.core.events import EventType
from runbook_engine.core.inputs import waiting_input_step
from runbook_engine.core.statuses import (
    ACTIVE,
    PENDING,
    ROLLING_BACK,
    RUNNING,
    TERMINAL,
    WAITING,
    WAITING_INPUT,
)
from runbook_engine.errors import ApprovalError, ParameterError, RunbookError
from runbook_engine.lease import is_driven, owner_id
from runbook_engine.server.executor import Done, RunExecutor
from runbook_engine.service import Engine, RunOutcome
from runbook_engine.slack.notifier import SlackNotifier
from runbook_engine.store import RunRecord

log = logging.getLogger("runbook.server.sweeper")

#: a run without an owner this fresh is likely about to be driven by the process that created
#: it; taking it would be safe (claiming a run is atomic) but would only contend
ORPHAN_MIN_AGE = 0.5
LIMIT = 500
APPROVAL, INPUT = EventType.APPROVAL_TIMED_OUT, EventType.INPUT_TIMED_OUT

#: what a door records for the engine driving a run to act on; a run nobody drives with one of
#: these not yet folded by an engine (after its ``published_seq``) waits for someone to drive it
DOOR_EVENTS = frozenset(
    {
        EventType.APPROVAL_DECIDED,
        EventType.RUN_CANCEL_REQUESTED,
        EventType.RUN_RESOLVED,
        EventType.ROLLBACK_RESOLVED,
        EventType.APPROVAL_TIMED_OUT,
        EventType.INPUT_GIVEN,
        EventType.INPUT_TIMED_OUT,
    }
)


class Sweeper:
    def __init__(
        self,
        engine: Engine,
        executor: RunExecutor,
        notifier: SlackNotifier | None = None,
        *,
        interval: float = 5.0,
    ) -> None:
        self.engine = engine
        self.executor = executor
        self.notifier = notifier
        self.interval = interval
        self.started = datetime.now(UTC)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sweeper", daemon=True)
        self._given_up: set[str] = set()
        self._seen: dict[str, int] = {}  # the last seq of each run looked at by catch_up
        self._catching_up = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sweep()
            except Exception:
                log.exception("sweep failed")
            self._stop.wait(self.interval)

    def sweep(self) -> None:
        self.adopt_orphans()
        self.apply_timeouts()
        self.catch_up()

    # ------------------------------------------------------------------ orphans

    def adopt_orphans(self) -> list[str]:
        store = self.engine.store
        driving = self.executor.driving()
        me = owner_id()
        now = datetime.now(UTC)
        adopted = []
        for record in store.list_runs(status=[PENDING, RUNNING, ROLLING_BACK], limit=LIMIT):
            if record.id in driving or record.id in self._given_up:
                continue
            if not self._orphaned(record, me, now):
                continue
            log.info("resuming run %s (its engine %s is gone)", record.id, record.owner or "-")
            self.executor.resume(record.id, done=self._report(record.id))
            adopted.append(record.id)
        return adopted

    @staticmethod
    def _orphaned(record: RunRecord, me: str, now: datetime) -> bool:
        if record.owner is None:
            return now - record.updated_at > timedelta(seconds=ORPHAN_MIN_AGE)
        if record.owner == me:
            return True  # this process does not drive it: a former life with the same pid
        return not is_driven(record, now)

    def _report(self, run_id: str) -> Done:
        def done(outcome: RunOutcome | None, error: Exception | None) -> None:
            if isinstance(error, ParameterError):
                # secrets are not stored: a person has to give them again
                log.warning("run %s cannot resume here: %s (use runbook resume)", run_id, error)
                self._given_up.add(run_id)

        return done

    # ------------------------------------------------------------------ approval timeouts

    def apply_timeouts(self) -> list[str]:
        store = self.engine.store
        driving = self.executor.driving()
        now = time.time()
        expired = []
        for record in store.list_runs(status=sorted(WAITING), limit=LIMIT):
            if record.id in driving or record.id in self._given_up:
                continue
            if not _deadline_passed(record, now) or self.engine.is_driven(record):
                continue  # an engine waiting on the run applies the timeout itself
            try:
                _, loaded, state = self.engine.state_of(record.id)
                if state.status == WAITING_INPUT:
                    step_id, timed_out = waiting_input_step(loaded.runbook, state).id, INPUT
                else:
                    step_id, timed_out = waiting_step(loaded.runbook, state).id, APPROVAL
            except (ApprovalError, RunbookError):
                continue
            st = state.step(step_id)
            if st.deadline is None or st.deadline > now:
                continue
            if not st.timed_out:
                store.append_event(record.id, timed_out, {"step": step_id}, step_id=step_id)
            log.info("%s of run %s timed out", step_id, record.id)
            self.executor.resume(record.id, done=self._report(record.id))
            expired.append(record.id)
        return expired

    # ------------------------------------------------------------------ runs changed elsewhere

    def catch_up(self) -> list[str]:
        """Act on what other processes recorded since the last look; returns the runs driven
        on here. Cheap when nothing changed: one query of the active and recent runs."""
        with self._catching_up:  # the watcher and the periodic sweep may both call it
            return self._catch_up()

    def _catch_up(self) -> list[str]:
        store = self.engine.store
        driving = self.executor.driving()
        records = {r.id: r for r in store.list_runs(status=list(ACTIVE), limit=LIMIT)}
        for r in store.list_runs(since=self.started, limit=LIMIT):
            records.setdefault(r.id, r)
        driven = []
        for run_id, record in records.items():
            if self._seen.get(run_id) == record.last_seq:
                continue
            self._seen[run_id] = record.last_seq
            if run_id in driving:
                continue  # our own bus keeps its messages current
            if run_id not in self._given_up and self._waits_for_a_driver(record):
                log.info("run %s: driving on what another process recorded", run_id)
                self.executor.resume(run_id, done=self._report(run_id))
                driven.append(run_id)
            elif self.notifier is not None:
                self.notifier.follow(run_id, from_start=record.created_at >= self.started)
        for gone in set(self._seen) - set(records):
            del self._seen[gone]
        return driven

    def _waits_for_a_driver(self, record: RunRecord) -> bool:
        """Has a door recorded something on this run that no live engine will act on?"""
        if record.status in TERMINAL or record.last_seq <= record.published_seq:
            return False
        if is_driven(record):
            return False  # its engine sees the new events on its next sync
        unfolded = self.engine.store.events(record.id, after_seq=record.published_seq)
        return any(e.type in DOOR_EVENTS for e in unfolded)


def _deadline_passed(record: RunRecord, now: float) -> bool:
    """A cheap look at the summary the runner keeps on the run row, before loading the run."""
    waiting = (record.state or {}).get("waiting") or {}
    deadlines = list(waiting.values()) if isinstance(waiting, dict) else []
    if not deadlines:
        return True  # no stored state to go by: look properly
    return any(d is not None and d <= now for d in deadlines)
