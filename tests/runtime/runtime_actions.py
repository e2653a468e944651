"""Actions for runtime tests. What they did is kept on ``BOARD`` (reset for every test), since
the registry makes a new instance for every call."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runbook_engine.errors import ActionError
from runbook_engine.plugin.contract import Action, ActionContext, ActionParams, Result


@dataclass
class Board:
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: dict[str, int] = field(default_factory=dict)
    journal: list[tuple[str, str, Any]] = field(default_factory=list)
    running: int = 0
    peak: int = 0

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.journal.clear()
            self.running = self.peak = 0

    def call(self, key: str) -> int:
        with self.lock:
            self.calls[key] = self.calls.get(key, 0) + 1
            return self.calls[key]

    def note(self, what: str, name: str, value: Any = None) -> None:
        with self.lock:
            self.journal.append((what, name, value))


BOARD = Board()


class FlakyParams(ActionParams):
    key: str
    failures: int = 2
    retryable: bool = True


class FlakyAction(Action):
    """Fails ``failures`` times (retryable or not), then succeeds with the number of calls."""

    name = "test.flaky"
    Params = FlakyParams
    idempotent = True

    def run(self, params: FlakyParams, ctx: ActionContext) -> Result:
        n = BOARD.call(params.key)
        if n <= params.failures:
            raise ActionError(f"flaky failure {n}", retryable=params.retryable, kind="flaky")
        return {"calls": n}


class TrackParams(ActionParams):
    key: str
    hold: float = 0.2


class TrackAction(Action):
    """Holds for a while and records how many tracked actions ran at once at most."""

    name = "test.track"
    Params = TrackParams
    idempotent = True

    def run(self, params: TrackParams, ctx: ActionContext) -> Result:
        with BOARD.lock:
            BOARD.running += 1
            BOARD.peak = max(BOARD.peak, BOARD.running)
        try:
            ctx.cancelled.wait(params.hold)
        finally:
            with BOARD.lock:
                BOARD.running -= 1
        return {"key": params.key}


class NameParams(ActionParams):
    name: str
    value: Any = None


class UndoableAction(Action):
    """Does something that its automatic undo takes back; both are journaled."""

    name = "test.undoable"
    Params = NameParams
    idempotent = True

    def run(self, params: NameParams, ctx: ActionContext) -> Result:
        BOARD.note("do", params.name, params.value)
        return {"done": params.name}

    def undo(self, params: NameParams, result: Mapping[str, Any], ctx: ActionContext) -> Result:
        BOARD.note("undo", params.name, result.get("done"))
        return {"undone": params.name}


class KeepAction(Action):
    """Like test.undoable, but its undo journals the ``value`` parameter it is given."""

    name = "test.keep"
    Params = NameParams
    idempotent = True

    def run(self, params: NameParams, ctx: ActionContext) -> Result:
        BOARD.note("keep", params.name, params.value)
        return {}

    def undo(self, params: NameParams, result: Mapping[str, Any], ctx: ActionContext) -> Result:
        BOARD.note("unkeep", params.name, params.value)
        return {}


class RecordAction(Action):
    """Journals its parameters; not idempotent, no undo (used in rollback blocks)."""

    name = "test.record"
    Params = NameParams
    idempotent = False

    def run(self, params: NameParams, ctx: ActionContext) -> Result:
        BOARD.note("record", params.name, params.value)
        return {"recorded": params.name}


class CountParams(ActionParams):
    key: str


class CountAction(Action):
    """Returns how often it was called for ``key``: drives goto loops."""

    name = "test.count"
    Params = CountParams
    idempotent = True

    def run(self, params: CountParams, ctx: ActionContext) -> Result:
        return {"n": BOARD.call(params.key)}


TEST_ACTIONS: tuple[type[Action], ...] = (
    FlakyAction,
    TrackAction,
    UndoableAction,
    KeepAction,
    RecordAction,
    CountAction,
)
