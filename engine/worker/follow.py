"""Follow a run that some other process drives, from its event log (``runbook submit --wait``)."""

from __future__ import annotations

import time
from collections.abc import Callable

from runbook_engine.core.statuses import NEEDS_ATTENTION, TERMINAL
from runbook_engine.errors import RunNotFound
from runbook_engine.store import EventRecord, RunRecord, Store

POLL = 0.25

#: where following stops: the run is over, or only a human can move it on (`runbook resume`)
STOP_AT = TERMINAL | {NEEDS_ATTENTION}


def follow(
    store: Store,
    run_id: str,
    on_event: Callable[[RunRecord, EventRecord], None],
    *,
    poll: float = POLL,
    timeout: float | None = None,
) -> RunRecord:
    """Call ``on_event`` for every event of the run, in order, as they are recorded, until the
    run finishes or needs attention; returns its record then. A run waiting for approval is
    followed on: it continues on a worker when someone decides.

    Raises ``TimeoutError`` after ``timeout`` seconds, if given."""
    deadline = None if timeout is None else time.monotonic() + timeout
    seen = 0
    while True:
        # The status first, then the events: an event and the status it sets are committed
        # together, so once the status is final every event up to it is readable.
        record = store.get_run(run_id)
        if record is None:
            raise RunNotFound(run_id)
        for event in store.events(record.id, after_seq=seen):
            on_event(record, event)
            seen = event.seq
        if record.status in STOP_AT:
            return record
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(f"run {run_id} is still {record.status}")
        time.sleep(poll)
