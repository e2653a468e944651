"""Every kind of event a run's log holds, in one place.

The store keeps the type as text (``EventType`` is a ``StrEnum``, so ``EventType.STEP_STARTED
== "step.started"``); everything in the engine names types through this enum, so a misspelt
type is an error mypy reports, not an event nobody folds. ``StepError`` is the payload of a
failure (``step.failed``, ``rollback.step_failed``), typed where it is made and read.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["ENGINE_EVENTS", "EventType", "StepError"]


class EventType(StrEnum):
    # the run
    RUN_CREATED = "run.created"
    RUN_STARTED = "run.started"
    RUN_WAITING_FOR_LOCK = "run.waiting_for_lock"
    RUN_RESUMED = "run.resumed"
    RUN_CANCEL_REQUESTED = "run.cancel_requested"
    RUN_NEEDS_ATTENTION = "run.needs_attention"
    RUN_RESOLVED = "run.resolved"
    RUN_FAILURE = "run.failure"
    RUN_FINISHED = "run.finished"
    # steps
    STEP_STARTED = "step.started"
    STEP_OUTPUT = "step.output"
    STEP_OUTPUT_TRUNCATED = "step.output_truncated"
    STEP_SUCCEEDED = "step.succeeded"
    STEP_FAILED = "step.failed"
    STEP_RETRY = "step.retry"
    STEP_CONTINUED = "step.continued"
    STEP_SKIPPED = "step.skipped"
    STEP_JUMPED = "step.jumped"
    STEP_INTERRUPTED = "step.interrupted"
    GROUP_STARTED = "group.started"
    # approvals
    APPROVAL_REQUESTED = "approval.requested"
    APPROVAL_DECIDED = "approval.decided"
    APPROVAL_TIMED_OUT = "approval.timed_out"
    # rollback
    ROLLBACK_STARTED = "rollback.started"
    ROLLBACK_STEP_STARTED = "rollback.step_started"
    ROLLBACK_STEP_SUCCEEDED = "rollback.step_succeeded"
    ROLLBACK_STEP_FAILED = "rollback.step_failed"
    ROLLBACK_STEP_SKIPPED = "rollback.step_skipped"
    ROLLBACK_STEP_INTERRUPTED = "rollback.step_interrupted"
    ROLLBACK_RESOLVED = "rollback.resolved"
    # where the Slack notifier posted a run's messages (its own bookkeeping, not run state)
    SLACK_MESSAGE = "slack.message"
    SLACK_APPROVAL = "slack.approval"


#: the events the engine itself writes about a run (everything but the notifier's bookkeeping)
ENGINE_EVENTS = frozenset(EventType) - {EventType.SLACK_MESSAGE, EventType.SLACK_APPROVAL}


@dataclass(frozen=True)
class StepError:
    """Why a step (or a rollback step) failed, as recorded in its event."""

    message: str
    kind: str = "error"
    retryable: bool = False
    host: str | None = None
    exit_code: int | None = None
    retry_after: float | None = None
    #: asked for by a human (resume --rollback): roll back whatever the retry policy says
    force_rollback: bool = False

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "message": self.message,
            "kind": self.kind,
            "retryable": self.retryable,
        }
        for name in ("host", "exit_code", "retry_after"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.force_rollback:
            out["force_rollback"] = True
        return out

    @classmethod
    def of(cls, data: Any) -> StepError | None:
        """The error an event carries (``None`` for none); unknown keys are kept in the event,
        not here."""
        if not isinstance(data, dict) or not data:
            return None
        exit_code = data.get("exit_code")
        retry_after = data.get("retry_after")
        return cls(
            message=str(data.get("message") or ""),
            kind=str(data.get("kind") or "error"),
            retryable=bool(data.get("retryable")),
            host=str(data["host"]) if data.get("host") is not None else None,
            exit_code=exit_code if isinstance(exit_code, int) else None,
            retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
            force_rollback=bool(data.get("force_rollback")),
        )
