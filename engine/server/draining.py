"""A store that refuses to let runs begin new steps once the server is stopping.

The runner writes ``step.started`` before it calls an action (the log always runs ahead of
what is done). Refusing that one write is therefore a clean stop: nothing has begun that is not
recorded, the runner unwinds (clearing its ownership), and the next ``runbook serve`` resumes
the run exactly there. Steps already in flight finish and record their result. A parallel
group whose siblings are still running may start its remaining children, because stopping in
the middle would leave the running ones interrupted.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from runbook_engine.core.events import EventType
from runbook_engine.errors import StoreError
from runbook_engine.store import EventRecord, NewEvent, Store

STARTS = frozenset(
    {EventType.STEP_STARTED, EventType.ROLLBACK_STEP_STARTED, EventType.GROUP_STARTED}
)
_ENDS: dict[str, str] = {
    EventType.STEP_SUCCEEDED: EventType.STEP_STARTED,
    EventType.STEP_FAILED: EventType.STEP_STARTED,
    EventType.ROLLBACK_STEP_SUCCEEDED: EventType.ROLLBACK_STEP_STARTED,
    EventType.ROLLBACK_STEP_FAILED: EventType.ROLLBACK_STEP_STARTED,
}


class Draining(StoreError):
    """Raised instead of starting a step while the server stops; the run resumes later."""


class DrainableStore(Store):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gate = threading.Lock()
        self._draining = False
        self._in_flight: dict[str, set[tuple[str, str]]] = {}

    @classmethod
    def open_drainable(cls, url: str | None = None) -> DrainableStore:
        store = cls.open(url)
        assert isinstance(store, DrainableStore)  # Store.open builds cls
        return store

    def drain(self) -> None:
        with self._gate:
            self._draining = True

    @property
    def draining(self) -> bool:
        return self._draining

    def append_events(
        self,
        run_id: str,
        batch: Sequence[NewEvent],
        *,
        status: str | None = None,
        state: dict[str, Any] | None = None,
        published: bool = False,
        expect_seq: int | None = None,
        ts: datetime | None = None,
        checkpoint: dict[str, Any] | None = None,
    ) -> list[EventRecord]:
        # Events before a refused start are still written (they record what already
        # happened); the refused one and what follows it are not. The check follows the batch
        # in order, as if its events came one by one: an end frees the run to stop before the
        # start after it.
        with self._gate:
            flying = set(self._in_flight.get(run_id, set()))
            refused: int | None = None
            for i, item in enumerate(batch):
                if item.type in STARTS and self._draining and not flying:
                    refused = i
                    break
                self._track(flying, item)
        allowed = batch if refused is None else batch[:refused]
        written = (
            super().append_events(
                run_id,
                allowed,
                status=status if refused is None else None,
                state=state if refused is None else None,
                published=published,
                expect_seq=expect_seq,
                ts=ts,
                # folded over the whole batch: wrong for a part of it
                checkpoint=checkpoint if refused is None else None,
            )
            if allowed
            else []
        )
        with self._gate:
            flying = self._in_flight.setdefault(run_id, set())
            for item in allowed:
                self._track(flying, item)
            if not flying:
                self._in_flight.pop(run_id, None)
        if refused is not None:
            key = self._key(batch[refused].type, batch[refused].data)
            raise Draining(f"run {run_id}: not starting {key[1]!r}, the server is stopping")
        return written

    @classmethod
    def _track(cls, flying: set[tuple[str, str]], item: NewEvent) -> None:
        key = cls._key(item.type, item.data)
        if item.type in STARTS and item.type != EventType.GROUP_STARTED:
            flying.add(key)
        elif item.type in _ENDS:
            flying.discard((_ENDS[item.type], key[1]))

    @staticmethod
    def _key(type: str, data: dict[str, Any] | None) -> tuple[str, str]:
        data = data or {}
        name = (
            str(data.get("index", ""))
            if type.startswith("rollback.")
            else str(data.get("step", ""))
        )
        return (type, name)
