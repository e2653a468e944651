"""How listings of a run's events (``runbook show RUN``, ``runbook run``'s progress, the Slack
thread) keep a loop of 10,000 items readable: every event of a loop's first items, the failures
of its first failing items, and for the rest a count, said when the loop step ends (or the
run)."""

from __future__ import annotations

from runbook_engine.core.events import EventType
from runbook_engine.core.items import split_item

__all__ = ["ITEM_LINES", "ItemLines"]

#: items of a loop whose events are all printed, and failing items whose failures are
ITEM_LINES = 20

_FAILURES = frozenset(
    {
        EventType.STEP_FAILED,
        EventType.STEP_RETRY,
        EventType.STEP_INTERRUPTED,
        EventType.LOOP_ITEM_FAILED,
        EventType.ROLLBACK_STEP_FAILED,
    }
)


class ItemLines:
    def __init__(self, limit: int = ITEM_LINES) -> None:
        self.limit = limit
        self.hidden: dict[str, int] = {}
        self._failing: dict[str, set[int]] = {}

    def shows(self, step_id: str | None, type_: str) -> bool:
        """Print this event? Counts it when not."""
        if not step_id:
            return True
        loop, index = split_item(step_id)
        if index is None or index < self.limit:
            return True
        if type_ in _FAILURES:
            failing = self._failing.setdefault(loop, set())
            if index in failing or len(failing) < self.limit:
                failing.add(index)
                return True
        self.hidden[loop] = self.hidden.get(loop, 0) + 1
        return False

    def shows_output(self, step_id: str) -> bool:
        """Print this step's output lines? Only for the items whose events are printed."""
        index = split_item(step_id)[1]
        return (
            index is None
            or index < self.limit
            or index in self._failing.get(split_item(step_id)[0], ())
        )

    def note(self, step_id: str | None, type_: str, *, run_id: str) -> str | None:
        """After an event, the line that counts what was left out of a loop, once: after an
        event of the loop step itself, its count; at the run's end, every count left."""
        if type_ == EventType.RUN_FINISHED:
            loops = list(self.hidden)
        elif step_id is not None and step_id in self.hidden:
            loops = [step_id]
        else:
            return None
        return "; ".join(
            f"{loop}: {self.hidden.pop(loop):,} events of its other items not shown "
            f"(runbook logs {run_id} --step {loop})"
            for loop in loops
        )
