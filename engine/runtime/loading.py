"""Load a run's state: the newest checkpoint on its row, the events after it folded on, and the
results the state refers to read back from their events.

The cost is what happened since the checkpoint (at most ``CHECKPOINT_EVERY`` events, or the few
others wrote while no engine drove the run), never the length of the whole run. One load serves
a whole operation (an approval click: check, record, drive): ``Loaded`` keeps apart what the
run's engine has already published and what others wrote since, so the engine that picks the
run up publishes exactly the latter without reading the log again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from runbook_engine.core.apply import Layout, replay
from runbook_engine.core.state import RunState
from runbook_engine.store import EventRecord, RunRecord, Store

__all__ = ["Loaded", "load", "load_state", "published_until"]


@dataclass(frozen=True)
class Loaded:
    """A run's state as loaded: ``quiet`` is the fold up to the last event its driving engine
    published, ``unpublished`` the events after it (a decision, a cancel written while no
    engine looked), and ``state`` the fold of all of them."""

    layout: Layout
    quiet: RunState
    unpublished: tuple[EventRecord, ...]
    state: RunState

    def then(self, events: Iterable[EventRecord]) -> Loaded:
        """This load with events just written by this process folded on (unpublished)."""
        more = tuple(events)
        state = replay(self.layout, more, start=self.state)
        return Loaded(self.layout, self.quiet, self.unpublished + more, state)


def load(store: Store, layout: Layout, record: RunRecord) -> Loaded:
    """Checkpoint, newer events and the results they refer to: one read of each."""
    quiet_until = published_until(record)
    found = store.checkpoint(record.id)
    start = RunState.from_checkpoint(found[1] if found else None)
    if start.last_seq > quiet_until:
        start = RunState()  # the checkpoint is newer than the published events: fold from 1
    events = store.events(record.id, after_seq=start.last_seq)
    published = [event for event in events if event.seq <= quiet_until]
    unpublished = tuple(event for event in events if event.seq > quiet_until)
    quiet = replay(layout, published, start=start)
    quiet = quiet.with_results(store.results(record.id, quiet.result_seqs()))
    # results of unpublished events sit in the events themselves: folding them brings them in
    return Loaded(layout, quiet, unpublished, replay(layout, unpublished, start=quiet))


def load_state(store: Store, layout: Layout, record: RunRecord) -> RunState:
    """The state of ``record``'s run after all its events."""
    return load(store, layout, record).state


def published_until(record: RunRecord) -> int:
    """The newest event an engine driving the run has published to its subscribers: the last
    one it wrote or folded into a checkpoint (it publishes all it folds). Events after it were
    written by others (a decision, a cancel) while no engine was looking."""
    return record.published_seq
