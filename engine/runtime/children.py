"""What the runner asks of whoever runs a call step's child run, and what it is told back.

The runner drives one run; a ``call:`` step's child is a run of its own, with its own log and
id, created and driven through the engine (its permission check, its parameters, its lock).
The engine hands the runner a ``Children`` that does this; the runner only records what the
parent's log must say (``child.started`` before the child exists, the step's end after) and
waits for the answer on a thread, as it waits for an action.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from runbook_engine.spec.models import Runbook


@dataclass(frozen=True)
class ChildRequest:
    """One call: the child to start (or go back to) and what it runs."""

    parent: str
    step: str
    run_id: str
    runbook: str
    version: int
    params: Mapping[str, Any]
    requester: str
    #: what the parent masks: a child parameter that would hold one in the clear is refused
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChildOutcome:
    """Where the child run stands when the driver returns: a terminal status, or a status it
    waits in (an approval, a human's choice) when the caller does not wait for people."""

    run_id: str
    status: str
    #: each child step's outputs, by step id (steps without outputs left out)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: why it failed or could not start, in the child's words
    message: str = ""
    runbook: str = ""
    version: int = 0


class Children(Protocol):
    """Runs call steps' children; every method but ``pins`` blocks, on a thread of the
    runner's pool, until the child is done or waits for people (``wait=False``)."""

    def pins(self, runbook: Runbook) -> dict[str, int]:
        """The version each call step without one runs: the newest now (the run records it
        when it starts, so a child runbook changed mid-run does not change the run)."""
        ...

    def run(self, request: ChildRequest, *, wait: bool) -> ChildOutcome:
        """Start the child (or find the one already started) and drive it to its end."""
        ...

    def roll_back(self, run_id: str, *, parent: str, wait: bool) -> ChildOutcome:
        """Undo a child run that completed: its own completed steps, in its reverse order."""
        ...

    def cancel(self, run_id: str, *, parent: str, reason: str) -> None:
        """Ask the child to stop (its parent was cancelled, or the call timed out)."""
        ...
