"""Every kind of event a run's log holds, and what each one carries, in one place.

The store keeps the type as text (``EventType`` is a ``StrEnum``, so ``EventType.STEP_STARTED
== "step.started"``); everything in the engine names types through this enum, so a misspelt
type is an error mypy reports, not an event nobody folds.

Each type's payload is a frozen dataclass below (``StepStarted``, ``StepFailed``...; ``PAYLOADS``
maps type to class). The engine builds events from them and reads events through them
(``StepFailed.of(event.data).error.message``), so a misspelt field is a mypy error too.
``StepError`` is the payload of a failure (``step.failed``, ``rollback.step_failed``).

On the wire (the store, subscribers) a payload is a plain JSON object: ``to_data`` leaves out
fields that are ``None``, so logs written before the payloads were typed read the same, and
``of`` ignores keys it does not know (they stay in the stored event).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Self

__all__ = [
    "ENGINE_EVENTS",
    "PAYLOADS",
    "ApprovalDecided",
    "ApprovalRequested",
    "ApprovalTimedOut",
    "ChildStarted",
    "EventType",
    "GroupStarted",
    "InputGiven",
    "InputRequested",
    "InputTimedOut",
    "LoopItemFailed",
    "LoopStarted",
    "Payload",
    "RollbackResolved",
    "RollbackStarted",
    "RollbackStepFailed",
    "RollbackStepInterrupted",
    "RollbackStepSkipped",
    "RollbackStepStarted",
    "RollbackStepSucceeded",
    "RunBlocked",
    "RunCancelRequested",
    "RunCreated",
    "RunFailure",
    "RunFinished",
    "RunNeedsAttention",
    "RunResolved",
    "RunResumed",
    "RunStarted",
    "RunWaitingForLock",
    "SlackApproval",
    "SlackMessage",
    "StepCarried",
    "StepContinued",
    "StepError",
    "StepFailed",
    "StepInterrupted",
    "StepJumped",
    "StepOutput",
    "StepOutputTruncated",
    "StepRetry",
    "StepSkipped",
    "StepStarted",
    "StepSucceeded",
]


class EventType(StrEnum):
    # the run
    RUN_CREATED = "run.created"
    RUN_STARTED = "run.started"
    RUN_WAITING_FOR_LOCK = "run.waiting_for_lock"
    RUN_RESUMED = "run.resumed"
    RUN_BLOCKED = "run.blocked"
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
    # a call step's child run
    CHILD_STARTED = "child.started"
    #: a re-run's step taken over from its original run, as recorded there (runtime/rerun.py)
    STEP_CARRIED = "step.carried"
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
    # loops (for_each): the items' own events are the step events with the item id as step
    LOOP_STARTED = "loop.started"
    LOOP_ITEM_FAILED = "loop.item_failed"
    # input steps
    INPUT_REQUESTED = "input.requested"
    INPUT_GIVEN = "input.given"
    INPUT_TIMED_OUT = "input.timed_out"


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
    #: what a failed command said on stderr (its head and tail)
    stderr: str | None = None
    #: a fan-out's per-host results, failed hosts included, as the action reported them
    hosts: Any = None
    #: a fan-out that stopped early: the hosts it never started (they have no result)
    not_started: list[str] | None = None

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
        if self.stderr is not None:
            out["stderr"] = self.stderr
        if self.hosts is not None:
            out["hosts"] = self.hosts
        if self.not_started is not None:
            out["not_started"] = self.not_started
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
            stderr=str(data["stderr"]) if data.get("stderr") is not None else None,
            hosts=data.get("hosts"),
            not_started=[str(h) for h in data["not_started"]]
            if isinstance(data.get("not_started"), list)
            else None,
        )


# ---------------------------------------------------------------------------- payloads

#: wire keys that are Python keywords
_WIRE_NAMES = {"with_": "with", "from_": "from"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Payload:
    """What an event of type ``TYPE`` carries. Subclasses are frozen dataclasses."""

    TYPE: ClassVar[EventType]

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in _field_names(type(self)):
            value = getattr(self, name)
            if value is None:
                continue
            out[_WIRE_NAMES.get(name, name)] = (
                value.to_data() if isinstance(value, StepError) else value
            )
        return out

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Self:
        """The typed view of a stored event's ``data``."""
        given: dict[str, Any] = {}
        for name in _field_names(cls):
            value = data.get(_WIRE_NAMES.get(name, name))
            if value is None:
                continue
            given[name] = StepError.of(value) if name == "error" else value
        try:
            return cls(**given)
        except TypeError as exc:  # a required field is missing: a log no engine wrote
            raise ValueError(f"a {cls.TYPE} event that is not well formed: {exc}") from None


_FIELDS: dict[type[Payload], tuple[str, ...]] = {}


def _field_names(cls: type[Payload]) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


# the run


@dataclass(frozen=True, slots=True, kw_only=True)
class RunCreated(Payload):
    TYPE = EventType.RUN_CREATED

    requester: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    #: a run an alert started: ``{"index": <trigger>, "alert": Alert.as_dict()}``
    trigger: dict[str, Any] | None = None
    #: a child run of a call step: ``{"run": <parent run id>, "step": <the call step>}``
    parent: dict[str, Any] | None = None
    #: a re-run: ``{"run": ID, "from": STEP or None, "failed_hosts": bool}``, with ``step``
    #: and ``hosts`` when ``failed_hosts`` restricts a fan-out step (runtime/rerun.py)
    rerun_of: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted(Payload):
    TYPE = EventType.RUN_STARTED

    #: the version each call step without one runs: the newest when the run started
    calls: dict[str, int] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunWaitingForLock(Payload):
    TYPE = EventType.RUN_WAITING_FOR_LOCK

    lock: str
    holder: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResumed(Payload):
    TYPE = EventType.RUN_RESUMED

    owner: str
    status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunBlocked(Payload):
    """The run cannot go on where it was to continue: it needs secret parameters that are
    never stored (``needs``). Its status is unchanged; the next drive clears it."""

    TYPE = EventType.RUN_BLOCKED

    reason: str
    needs: list[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunCancelRequested(Payload):
    TYPE = EventType.RUN_CANCEL_REQUESTED

    by: str | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunNeedsAttention(Payload):
    """A human must choose (``runbook resume RUN --retry|--skip|--rollback``)."""

    TYPE = EventType.RUN_NEEDS_ATTENTION

    reason: str
    choices: list[str]
    step: str | None = None
    #: set when the question is about an interrupted rollback entry
    rollback_index: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResolved(Payload):
    TYPE = EventType.RUN_RESOLVED

    choice: str
    by: str | None = None
    step: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFailure(Payload):
    """Why a run failed, recorded apart from its end (older logs)."""

    TYPE = EventType.RUN_FAILURE

    message: str = ""
    step: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFinished(Payload):
    TYPE = EventType.RUN_FINISHED

    status: str
    #: the failure that ended it: the failing step's error with ``step`` added
    failure: dict[str, Any] | None = None
    reason: str | None = None


# steps


@dataclass(frozen=True, slots=True, kw_only=True)
class StepStarted(Payload):
    TYPE = EventType.STEP_STARTED

    step: str
    attempt: int
    action: str
    with_: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class StepOutput(Payload):
    TYPE = EventType.STEP_OUTPUT

    step: str
    lines: list[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class StepOutputTruncated(Payload):
    TYPE = EventType.STEP_OUTPUT_TRUNCATED

    step: str
    dropped_bytes: int
    dropped_lines: int
    cap_bytes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StepSucceeded(Payload):
    TYPE = EventType.STEP_SUCCEEDED

    step: str
    attempt: int | None = None
    duration: float | None = None
    #: action steps: what was called, with what, and what came back (a rollback needs them)
    action: str | None = None
    with_: dict[str, Any] | None = None
    result: Any = None
    outputs: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFailed(Payload):
    TYPE = EventType.STEP_FAILED

    step: str
    error: StepError
    attempt: int | None = None
    duration: float | None = None
    #: a loop step: its outputs as lists, one value per item (None for an item that failed)
    outputs: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StepRetry(Payload):
    TYPE = EventType.STEP_RETRY

    step: str
    attempt: int
    delay: float
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class StepContinued(Payload):
    TYPE = EventType.STEP_CONTINUED

    step: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StepSkipped(Payload):
    TYPE = EventType.STEP_SKIPPED

    step: str
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepJumped(Payload):
    TYPE = EventType.STEP_JUMPED

    step: str
    target: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StepInterrupted(Payload):
    TYPE = EventType.STEP_INTERRUPTED

    step: str
    #: the action is idempotent: it runs again instead of asking a human
    rerun: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupStarted(Payload):
    TYPE = EventType.GROUP_STARTED

    step: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildStarted(Payload):
    """A call step starts (or, after a crash, goes back to) its child run. Recorded before
    the child run is created, so that a crash in between finds the child by this id."""

    TYPE = EventType.CHILD_STARTED

    step: str
    run: str
    runbook: str
    version: int
    with_: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class StepCarried(Payload):
    """A step a re-run does not run: its status, outputs and result as its original run
    (``from_run``) recorded them. Written before the re-run starts; never rolled back."""

    TYPE = EventType.STEP_CARRIED

    step: str
    status: str
    from_run: str
    outputs: dict[str, Any] | None = None
    result: Any = None
    #: the original rolled the step back: its outputs are carried, its effect is not redone
    rolled_back: bool | None = None


# approvals


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalRequested(Payload):
    TYPE = EventType.APPROVAL_REQUESTED

    step: str
    message: str
    approvers: list[str]
    required: int = 1
    allow_requester: bool = False
    deadline: float | None = None
    on_timeout: str = "reject"


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalDecided(Payload):
    TYPE = EventType.APPROVAL_DECIDED

    step: str
    user: str
    decision: str  # "approve" or "reject"
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalTimedOut(Payload):
    TYPE = EventType.APPROVAL_TIMED_OUT

    step: str


# input steps


@dataclass(frozen=True, slots=True, kw_only=True)
class InputRequested(Payload):
    """An input step waits for a human: ``fields`` describe the form (``core.inputs``)."""

    TYPE = EventType.INPUT_REQUESTED

    step: str
    message: str
    fields: list[dict[str, Any]]
    #: who may give it: users or @groups (empty: whoever may run the runbook)
    from_: list[str] = field(default_factory=list)
    deadline: float | None = None
    on_timeout: str = "fail"


@dataclass(frozen=True, slots=True, kw_only=True)
class InputGiven(Payload):
    """The values a human gave, typed; a secret field's value is ``***`` here."""

    TYPE = EventType.INPUT_GIVEN

    step: str
    user: str
    values: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class InputTimedOut(Payload):
    TYPE = EventType.INPUT_TIMED_OUT

    step: str


# rollback


@dataclass(frozen=True, slots=True, kw_only=True)
class RollbackStarted(Payload):
    TYPE = EventType.ROLLBACK_STARTED

    reason: str
    #: indexes into the completed steps, in the order they are undone
    queue: list[int]
    failure: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RollbackStepStarted(Payload):
    TYPE = EventType.ROLLBACK_STEP_STARTED

    index: int
    step: str
    action: str
    #: the action's automatic undo (not the step's rollback block)
    undo: bool
    with_: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class RollbackStepSucceeded(Payload):
    TYPE = EventType.ROLLBACK_STEP_SUCCEEDED

    index: int
    step: str
    duration: float | None = None
    result: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RollbackStepFailed(Payload):
    TYPE = EventType.ROLLBACK_STEP_FAILED

    index: int
    step: str
    error: StepError
    duration: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RollbackStepSkipped(Payload):
    TYPE = EventType.ROLLBACK_STEP_SKIPPED

    index: int
    step: str
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RollbackStepInterrupted(Payload):
    TYPE = EventType.ROLLBACK_STEP_INTERRUPTED

    index: int
    step: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RollbackResolved(Payload):
    TYPE = EventType.ROLLBACK_RESOLVED

    choice: str
    by: str | None = None


# the Slack notifier's bookkeeping


@dataclass(frozen=True, slots=True, kw_only=True)
class SlackMessage(Payload):
    TYPE = EventType.SLACK_MESSAGE

    channel: str
    ts: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SlackApproval(Payload):
    TYPE = EventType.SLACK_APPROVAL

    step: str
    request_seq: int
    channel: str
    ts: str


# loops


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopStarted(Payload):
    """A ``for_each`` step is entered with the list it renders: its items, in order (each run
    as the sub-step ``step[index]``)."""

    TYPE = EventType.LOOP_STARTED

    step: str
    items: list[Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopItemFailed(Payload):
    """An item (``step`` is its id, ``restart[3]``) failed for good: its retries are spent or
    its error is not retryable; the loop counts it failed."""

    TYPE = EventType.LOOP_ITEM_FAILED

    step: str


#: each event type's payload class
PAYLOADS: dict[EventType, type[Payload]] = {
    cls.TYPE: cls
    for cls in (
        RunCreated,
        RunStarted,
        RunWaitingForLock,
        RunResumed,
        RunBlocked,
        RunCancelRequested,
        RunNeedsAttention,
        RunResolved,
        RunFailure,
        RunFinished,
        StepStarted,
        StepOutput,
        StepOutputTruncated,
        StepSucceeded,
        StepFailed,
        StepRetry,
        StepContinued,
        StepSkipped,
        StepJumped,
        StepInterrupted,
        GroupStarted,
        ChildStarted,
        StepCarried,
        ApprovalRequested,
        ApprovalDecided,
        ApprovalTimedOut,
        RollbackStarted,
        RollbackStepStarted,
        RollbackStepSucceeded,
        RollbackStepFailed,
        RollbackStepSkipped,
        RollbackStepInterrupted,
        RollbackResolved,
        SlackMessage,
        SlackApproval,
        LoopStarted,
        LoopItemFailed,
        InputRequested,
        InputGiven,
        InputTimedOut,
    )
}
