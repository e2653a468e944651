"""A pure, in-memory driver for the core: decide → record → (pretend to) act, with no I/O.

``Sim`` keeps the event log and the folded state exactly as the runtime does (every state is
``apply`` of the log), but actions are played by the test: ``start``/``succeed``/``fail`` write
the events the runtime would write, and ``drive`` plays whole runs from a behaviour function.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from runbook_engine.core.apply import Layout, apply, replay
from runbook_engine.core.decide import (
    AwaitDecision,
    Command,
    Env,
    Invoke,
    InvokeRollback,
    Record,
    decide,
    find_step,
    recover,
    template_context,
)
from runbook_engine.core.loops import item_vars
from runbook_engine.core.state import RunState
from runbook_engine.core.statuses import TERMINAL
from runbook_engine.spec import load_text
from runbook_engine.spec.models import ActionStep, Runbook
from runbook_engine.templating import render

HEADER = "apiVersion: runbook/v1\nname: sim\nversion: 1\n"


def runbook(body: str) -> Runbook:
    """A runbook from the YAML after the header (``steps:`` and friends)."""
    return load_text(HEADER + textwrap.dedent(body)).runbook


@dataclass(frozen=True)
class Ev:
    """An event as ``replay`` reads it (the store's EventRecord has the same attributes)."""

    seq: int
    type: str
    data: dict[str, Any]
    ts: float


#: what a behaviour returns for an Invoke: a result dict, or an error dict (with "kind")
Outcome = dict[str, Any]


def error(
    kind: str = "error", *, retryable: bool = False, message: str = "boom", **extra: Any
) -> Outcome:
    return {"error": {"message": message, "kind": kind, "retryable": retryable, **extra}}


@dataclass
class Sim:
    rb: Runbook
    params: dict[str, Any] = field(default_factory=dict)
    idempotent: frozenset[str] = frozenset({"log"})
    undo: frozenset[str] = frozenset()
    random: float = 0.5
    #: secret values masked in what is recorded, as the runtime does
    secrets: tuple[str, ...] = ()
    now: float = 1000.0
    events: list[Ev] = field(default_factory=list)
    state: RunState = field(default_factory=RunState)

    @classmethod
    def of(cls, body: str, **kw: Any) -> Sim:
        return cls(runbook(body), **kw)

    @property
    def layout(self) -> Layout:
        return Layout.of(self.rb)

    def env(self) -> Env:
        return Env(
            now=self.now,
            params=self.params,
            run={"id": "r1", "requester": "alice", "runbook": self.rb.name, "version": 1},
            idempotent=lambda name: name in self.idempotent,
            has_undo=lambda name: name in self.undo,
            random=self.random,
        )

    # ------------------------------------------------------------------ log

    def record(self, type_: str, **data: Any) -> RunState:
        data = self._mask(data)
        seq = len(self.events) + 1
        self.events.append(Ev(seq, type_, data, self.now))
        self.state = apply(self.layout, self.state, type_, data, self.now, seq)
        # the live fold and a replay of the log must never disagree
        assert replay(self.layout, self.events) == self.state
        return self.state

    def _mask(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self.secrets:
                value = value.replace(secret, "***")
            return value
        if isinstance(value, dict):
            return {k: self._mask(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._mask(v) for v in value]
        return value

    def types(self) -> list[str]:
        return [e.type for e in self.events]

    def of_type(self, type_: str) -> list[Ev]:
        return [e for e in self.events if e.type == type_]

    # ------------------------------------------------------------------ core

    def decide(self) -> list[Command]:
        return decide(self.rb, self.layout, self.state, self.env())

    def recover(self) -> list[Record]:
        return recover(self.rb, self.layout, self.state, self.env())

    def advance(self, limit: int = 200) -> list[Command]:
        """Record the engine's own decisions until decide asks for something else (or nothing):
        returns those other commands."""
        for _ in range(limit):
            commands = self.decide()
            records = [c for c in commands if isinstance(c, Record)]
            if not records:
                return commands
            assert len(records) == len(commands), "a Record is always decided alone"
            for rec in records:
                self.record(rec.type, **rec.data)
        raise AssertionError(f"no progress after {limit} decisions: {self.types()[-10:]}")

    # ------------------------------------------------------------------ acting

    def start(self, cmd: Invoke) -> None:
        self.record(
            "step.started",
            step=cmd.step,
            attempt=cmd.attempt,
            action=cmd.action,
            **{"with": cmd.params},
        )

    def succeed(self, cmd: Invoke, result: dict[str, Any] | None = None) -> None:
        result = {} if result is None else result
        step = find_step(self.rb, cmd.step)
        outputs: dict[str, Any] = {}
        if isinstance(step, ActionStep) and step.outputs:
            extra = item_vars(step, self.state, cmd.step, self.env()) if step.looped else {}
            ctx = template_context(self.state, self.env(), result=result, **extra)
            outputs = {k: render(v, ctx) for k, v in step.output_templates().items()}
        self.record(
            "step.succeeded",
            step=cmd.step,
            attempt=cmd.attempt,
            action=cmd.action,
            result=result,
            outputs=outputs,
            **{"with": cmd.params},
        )

    def fail(self, cmd: Invoke, outcome: Outcome | None = None) -> None:
        outcome = error() if outcome is None else outcome
        self.record("step.failed", step=cmd.step, attempt=cmd.attempt, error=outcome["error"])

    def finish(self, cmd: Invoke, outcome: Outcome) -> None:
        if "error" in outcome:
            self.fail(cmd, outcome)
        else:
            self.succeed(cmd, outcome)

    def start_rollback(self, cmd: InvokeRollback) -> None:
        self.record(
            "rollback.step_started",
            index=cmd.index,
            step=cmd.step,
            action=cmd.action,
            undo=cmd.undo,
            **{"with": cmd.params},
        )

    def finish_rollback(self, cmd: InvokeRollback, outcome: Outcome) -> None:
        if "error" in outcome:
            self.record(
                "rollback.step_failed", index=cmd.index, step=cmd.step, error=outcome["error"]
            )
        else:
            self.record("rollback.step_succeeded", index=cmd.index, step=cmd.step, result=outcome)

    def drive(
        self,
        behaviour: Callable[[Invoke], Outcome] = lambda _cmd: {},
        rollback: Callable[[InvokeRollback], Outcome] = lambda _cmd: {},
        *,
        limit: int = 500,
    ) -> list[Command]:
        """Run until the run is terminal or waits for a decision. Invokes are started in the
        order decided and finished one by one, first started first; ``not_before`` moves the
        clock. Returns what the run waits on (``[AwaitDecision]``) or ``[]`` when it ended."""
        in_flight: list[Invoke | InvokeRollback] = []
        for _ in range(limit):
            if self.state.status in TERMINAL:
                return []
            commands = self.advance()
            waits: list[Command] = [c for c in commands if isinstance(c, AwaitDecision)]
            if waits:
                return waits
            for cmd in commands:
                if isinstance(cmd, Invoke):
                    if cmd.not_before is not None and cmd.not_before > self.now:
                        self.now = cmd.not_before
                    self.start(cmd)
                    in_flight.append(cmd)
                elif isinstance(cmd, InvokeRollback):
                    self.start_rollback(cmd)
                    in_flight.append(cmd)
            if not in_flight:
                return commands  # nothing to do and nothing running: let the test look
            done = in_flight.pop(0)
            self.now += 1.0
            if isinstance(done, Invoke):
                self.finish(done, behaviour(done))
            else:
                self.finish_rollback(done, rollback(done))
        raise AssertionError("the run did not end")

    # ------------------------------------------------------------------ reading

    def invoked(self) -> list[str]:
        return [str(e.data["step"]) for e in self.of_type("step.started")]

    def rolled_back(self) -> list[tuple[str, bool]]:
        return [
            (str(e.data["step"]), bool(e.data["undo"]))
            for e in self.of_type("rollback.step_started")
        ]

    def statuses(self, ids: Iterable[str]) -> dict[str, str]:
        return {i: self.state.step(i).status for i in ids}
