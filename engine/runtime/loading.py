"""Load a run's state: the newest checkpoint on its row, the events after it folded on, and the
results the state refers to read back from their events.

The cost is what happened since the checkpoint (at most ``CHECKPOINT_EVERY`` events, or the few
others wrote while no engine drove the run), never the length of the whole run.
"""

from __future__ import annotations

from runbook_engine.core.apply import Layout, replay
from runbook_engine.core.state import RunState
from runbook_engine.store import RunRecord, Store

__all__ = ["load_state", "published_until"]


def load_state(
    store: Store, layout: Layout, record: RunRecord, *, until: int | None = None
) -> RunState:
    """The state of ``record``'s run after its events up to ``until`` (all by default)."""
    found = store.checkpoint(record.id)
    start = RunState.from_checkpoint(found[1] if found else None)
    if until is not None and start.last_seq > until:
        start = RunState()  # the checkpoint is newer than asked for: fold from the beginning
    events = store.events(record.id, after_seq=start.last_seq)
    if until is not None:
        events = [event for event in events if event.seq <= until]
    state = replay(layout, events, start=start)
    return state.with_results(store.results(record.id, state.result_seqs()))


def published_until(record: RunRecord) -> int:
    """The newest event an engine driving the run has published to its subscribers: the last
    one it wrote or folded into a checkpoint (it publishes all it folds). Events after it were
    written by others (a decision, a cancel) while no engine was looking."""
    return record.published_seq
