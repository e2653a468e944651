"""The question a long template render asks now and then: was the run cancelled meanwhile?

Rendering happens inside ``decide`` (pure, no I/O), on the runner's loop, so a cancel written by
another process is otherwise only folded in once the render ends — up to its whole time budget
later. ``template_limits.stop_when`` asks this probe at most every ``CANCEL_EVERY`` seconds; it
reads the events written after what the runner has committed (others' writes only: the
runner's own are not committed during ``decide``), which is a small indexed query.
"""

from __future__ import annotations

from collections.abc import Callable

from runbook_engine.core.events import EventType
from runbook_engine.core.state import RunState
from runbook_engine.core.statuses import ROLLING_BACK
from runbook_engine.store import Store

__all__ = ["cancel_probe"]


def _never() -> bool:
    return False


def cancel_probe(store: Store, run_id: str, state: RunState) -> Callable[[], bool]:
    """Whether a ``run.cancel_requested`` was written after ``state`` (the committed state).

    A run already cancelled, or rolling back, is never stopped this way: the rollback a cancel
    starts (or any rollback) must render its steps whatever else is asked of the run."""
    if state.cancel_requested or state.status == ROLLING_BACK:
        return _never
    after = state.last_seq

    def cancelled() -> bool:
        return any(
            e.type == EventType.RUN_CANCEL_REQUESTED for e in store.events(run_id, after_seq=after)
        )

    return cancelled
