"""Every recorded event goes out through one bus: console progress, JSON logs, Slack, metrics
and audit all subscribe here instead of being flags spread through the engine."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from runbook_engine.core.events import PAYLOADS, EventType, Payload
from runbook_engine.core.state import RunState

log = logging.getLogger("runbook.bus")


@dataclass(frozen=True)
class RunInfo:
    id: str
    runbook: str
    version: int
    digest: str
    requester: str
    notify_channel: str | None = None


@dataclass(frozen=True)
class Event:
    run_id: str
    seq: int
    ts: float
    type: str
    step_id: str | None
    data: dict[str, Any]

    @property
    def payload(self) -> Payload | None:
        """The typed view of ``data`` (``None`` for a type this engine does not know)."""
        try:
            return PAYLOADS[EventType(self.type)].of(self.data)
        except ValueError:
            return None


class Subscriber(Protocol):
    def on_event(self, run: RunInfo, event: Event, state: RunState) -> None:
        """Called after the event is durably recorded. Must not block for long."""


class Bus:
    def __init__(self, subscribers: list[Subscriber] | None = None) -> None:
        self.subscribers: list[Subscriber] = list(subscribers or [])

    def subscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.append(subscriber)

    def publish(self, run: RunInfo, event: Event, state: RunState) -> None:
        for sub in self.subscribers:
            try:
                sub.on_event(run, event, state)
            except Exception:
                # a broken notifier must never stop a run that is changing production
                log.exception("subscriber %r failed on %s", sub, event.type)
