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
from typing import Any

from runbook_engine.errors import StoreError
from runbook_engine.store import EventRecord, Store

STARTS = frozenset({"step.started", "rollback.step_started", "group.started"})
_ENDS = {
    "step.succeeded": "step.started",
    "step.failed": "step.started",
    "rollback.step_succeeded": "rollback.step_started",
    "rollback.step_failed": "rollback.step_started",
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

    def append_event(
        self,
        run_id: str,
        type: str,
        data: dict[str, Any] | None = None,
        *,
        step_id: str | None = None,
        status: str | None = None,
        state: dict[str, Any] | None = None,
    ) -> EventRecord:
        key = self._key(type, data)
        with self._gate:
            flying = self._in_flight.setdefault(run_id, set())
            if type in STARTS and self._draining and not flying:
                raise Draining(f"run {run_id}: not starting {key[1]!r}, the server is stopping")
        record = super().append_event(
            run_id, type, data, step_id=step_id, status=status, state=state
        )
        with self._gate:
            flying = self._in_flight.setdefault(run_id, set())
            if type in STARTS and type != "group.started":
                flying.add(key)
            elif type in _ENDS:
                flying.discard((_ENDS[type], key[1]))
            if not flying:
                self._in_flight.pop(run_id, None)
        return record

    @staticmethod
    def _key(type: str, data: dict[str, Any] | None) -> tuple[str, str]:
        data = data or {}
        name = (
            str(data.get("index", ""))
            if type.startswith("rollback.")
            else str(data.get("step", ""))
        )
        return (type, name)
