"""Run statuses and how events move a run between them, as data.

Only run-level status lives here; step-level bookkeeping is in ``apply``. A transition not in
the table leaves the status unchanged (most events, like ``step.started``, do not move the run).
``run.finished`` carries its terminal status in its data and is accepted from any active status.
"""

from __future__ import annotations

from typing import Final

from runbook_engine.core.events import EventType

PENDING: Final = "pending"
RUNNING: Final = "running"
WAITING_APPROVAL: Final = "waiting_approval"
NEEDS_ATTENTION: Final = "needs_attention"
ROLLING_BACK: Final = "rolling_back"
SUCCEEDED: Final = "succeeded"
FAILED: Final = "failed"
ROLLED_BACK: Final = "rolled_back"
ROLLBACK_FAILED: Final = "rollback_failed"
CANCELLED: Final = "cancelled"
REJECTED: Final = "rejected"
#: an input step waits for a human's values (``input:``)
WAITING_INPUT: Final = "waiting_input"

ACTIVE: Final = frozenset(
    {PENDING, RUNNING, WAITING_APPROVAL, NEEDS_ATTENTION, ROLLING_BACK, WAITING_INPUT}
)
#: the statuses of a run that waits for a human's answer (an approval, an input)
WAITING: Final = frozenset({WAITING_APPROVAL, WAITING_INPUT})
TERMINAL: Final = frozenset({SUCCEEDED, FAILED, ROLLED_BACK, ROLLBACK_FAILED, CANCELLED, REJECTED})

TRANSITIONS: Final[dict[str, dict[str, str]]] = {
    PENDING: {EventType.RUN_STARTED: RUNNING},
    RUNNING: {
        EventType.APPROVAL_REQUESTED: WAITING_APPROVAL,
        EventType.ROLLBACK_STARTED: ROLLING_BACK,
        EventType.RUN_NEEDS_ATTENTION: NEEDS_ATTENTION,
        EventType.INPUT_REQUESTED: WAITING_INPUT,
    },
    WAITING_APPROVAL: {
        EventType.STEP_SUCCEEDED: RUNNING,
        EventType.STEP_FAILED: RUNNING,
        EventType.ROLLBACK_STARTED: ROLLING_BACK,
    },
    NEEDS_ATTENTION: {
        EventType.RUN_RESOLVED: RUNNING,
        EventType.ROLLBACK_RESOLVED: ROLLING_BACK,
        EventType.ROLLBACK_STARTED: ROLLING_BACK,
    },
    ROLLING_BACK: {EventType.RUN_NEEDS_ATTENTION: NEEDS_ATTENTION},
    WAITING_INPUT: {
        EventType.STEP_SUCCEEDED: RUNNING,
        EventType.STEP_FAILED: RUNNING,
        EventType.ROLLBACK_STARTED: ROLLING_BACK,
    },
    # a child run that succeeded is undone when the run that called it rolls back
    SUCCEEDED: {EventType.ROLLBACK_STARTED: ROLLING_BACK},
}


def next_status(status: str, event_type: str, data: dict[str, object]) -> str:
    if event_type == EventType.RUN_FINISHED and status in ACTIVE:
        final = str(data["status"])
        if final not in TERMINAL:
            raise ValueError(f"run.finished with non-terminal status {final!r}")
        return final
    return TRANSITIONS.get(status, {}).get(event_type, status)


# Exit codes of `runbook run` and friends; documented in the README and docs/runbook-format.md.
EXIT_SUCCEEDED: Final = 0
EXIT_FAILED: Final = 1
EXIT_INVALID: Final = 2
EXIT_NEEDS_HUMAN: Final = 3
EXIT_CANCELLED: Final = 4
EXIT_WAITING: Final = 5
EXIT_LOCKED: Final = 6

EXIT_CODES: Final[dict[str, int]] = {
    SUCCEEDED: EXIT_SUCCEEDED,
    FAILED: EXIT_FAILED,
    ROLLED_BACK: EXIT_FAILED,
    ROLLBACK_FAILED: EXIT_NEEDS_HUMAN,
    NEEDS_ATTENTION: EXIT_NEEDS_HUMAN,
    CANCELLED: EXIT_CANCELLED,
    REJECTED: EXIT_CANCELLED,
    WAITING_APPROVAL: EXIT_WAITING,
    WAITING_INPUT: EXIT_WAITING,
}
