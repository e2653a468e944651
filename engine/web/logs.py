"""A run's output lines as the run page first shows them, filtered by step and host the way
the log stream filters them (``api.streams.shown_data``); the page's stream then carries on
after the last event read here."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from runbook_engine.api.streams import BATCH, shown_data
from runbook_engine.core.events import EventType
from runbook_engine.store import Store

#: lines a page shows at most when it is served; the earliest are left out past this
MAX_LINES = 2000


@dataclass(frozen=True)
class LogLine:
    seq: int
    step: str
    text: str


@dataclass(frozen=True)
class Logs:
    lines: tuple[LogLine, ...]
    #: the seq of the last event read: the page's stream continues after it
    last_seq: int
    #: lines left out at the start (over ``MAX_LINES``)
    omitted: int


def read_logs(
    store: Store, run_id: str, *, step: str | None = None, host: str | None = None
) -> Logs:
    # only the last lines are kept while reading: a long log costs its reading, not its size
    lines: deque[LogLine] = deque(maxlen=MAX_LINES)
    total = 0
    seq = 0
    while True:
        events = store.events(run_id, seq, BATCH)
        for event in events:
            seq = event.seq
            if event.type != EventType.STEP_OUTPUT:
                continue
            data = shown_data(event, step, host)
            if data is None:
                continue
            for text in data["lines"]:
                lines.append(LogLine(event.seq, event.step_id or "", str(text)))
                total += 1
        if len(events) < BATCH:
            break
    return Logs(tuple(lines), seq, total - len(lines))
