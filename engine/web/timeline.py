"""A run as its page shows it: the folded state (``Engine.load_run``) read into one row per
step of the runbook, in document order, with what each did, who decided what, and what the
rollback undid. Pure: the page's template only lays these out."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runbook_engine.core.approvals import waiting_step
from runbook_engine.core.state import Completed, RunState, StepState
from runbook_engine.core.statuses import NEEDS_ATTENTION, TERMINAL
from runbook_engine.errors import ApprovalError
from runbook_engine.service import LoadedRun
from runbook_engine.spec.models import (
    ActionStep,
    AnyStep,
    ApprovalStep,
    BranchStep,
    GotoStep,
    InputStep,
    ParallelStep,
    Runbook,
    iter_steps,
)

#: hosts of a step listed in the timeline itself, failed first; all are on the step's hosts page
HOSTS_PREVIEW = 20


@dataclass(frozen=True)
class HostResult:
    """One host's part of a fan-out step (``ssh.*``), as the action reported it."""

    host: str
    ok: bool
    exit_code: int | None = None
    duration: float | None = None
    error: str = ""


@dataclass(frozen=True)
class DecisionRow:
    user: str
    decision: str  # approve | reject
    at: float
    reason: str = ""


@dataclass(frozen=True)
class ApprovalInfo:
    message: str
    approvers: tuple[str, ...]
    required: int
    approvals: int
    decisions: tuple[DecisionRow, ...]
    deadline: float | None = None
    timed_out: bool = False


@dataclass(frozen=True)
class StepRow:
    id: str
    title: str  # the step's name, else its id
    kind: str  # action | approval | goto | branch | parallel
    status: str
    action: str = ""
    group: str | None = None  # the parallel group it runs in
    attempt: int = 0
    started_at: float | None = None
    duration: float | None = None
    outputs: Mapping[str, Any] = field(default_factory=dict)
    error: str = ""
    error_kind: str = ""
    continued: bool = False
    target: str | None = None  # where a goto or branch went
    next_attempt_at: float | None = None
    hosts: tuple[HostResult, ...] = ()
    approval: ApprovalInfo | None = None
    #: how the rollback treated the step: pending, running, succeeded, failed, skipped
    rollback: str | None = None

    @property
    def hosts_failed(self) -> int:
        return sum(1 for h in self.hosts if not h.ok)

    @property
    def hosts_ok(self) -> int:
        return len(self.hosts) - self.hosts_failed

    @property
    def hosts_by_outcome(self) -> tuple[HostResult, ...]:
        """The hosts, failed ones first (each group in the action's order): what a reader
        of a fan-out step looks for first."""
        return tuple(h for h in self.hosts if not h.ok) + tuple(h for h in self.hosts if h.ok)

    @property
    def hosts_preview(self) -> tuple[HostResult, ...]:
        """The hosts the timeline lists inline; the rest are on the step's hosts page, so a
        run on a thousand hosts keeps its page (redrawn on every event) small."""
        return self.hosts_by_outcome[:HOSTS_PREVIEW]


@dataclass(frozen=True)
class RollbackRow:
    step: str
    action: str
    status: str


@dataclass(frozen=True)
class Timeline:
    status: str
    steps: tuple[StepRow, ...]
    rollback: tuple[RollbackRow, ...]
    rollback_reason: str | None
    failure: Mapping[str, Any] | None
    attention: Mapping[str, Any] | None
    blocked: Mapping[str, Any] | None
    waiting_on: str | None
    started_at: float | None
    finished_at: float | None
    cancel_requested: bool
    cancelled_by: str | None
    last_seq: int

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    @property
    def choices(self) -> tuple[str, ...]:
        """What a person may choose for a run that needs attention (retry, skip, rollback)."""
        if self.status != NEEDS_ATTENTION or not self.attention:
            return ()
        return tuple(str(c) for c in self.attention.get("choices", ()))

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


def _hosts(value: Any) -> tuple[HostResult, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        return ()
    out: list[HostResult] = []
    for item in value:
        if not isinstance(item, Mapping) or not item.get("host"):
            continue
        exit_code = item.get("exit_code")
        duration = item.get("duration")
        out.append(
            HostResult(
                host=str(item["host"]),
                ok=bool(item.get("ok")),
                exit_code=exit_code if isinstance(exit_code, int) else None,
                duration=float(duration) if isinstance(duration, int | float) else None,
                error=str(item.get("error") or ""),
            )
        )
    return tuple(out)


def _host_results(step: StepState) -> tuple[HostResult, ...]:
    """Per-host results: a success's result carries them, a fan-out's failure its error."""
    if isinstance(step.result, Mapping) and "hosts" in step.result:
        return _hosts(step.result["hosts"])
    if step.error:
        return _hosts(step.error.get("hosts"))
    return ()


def _kind(step: AnyStep) -> str:
    if isinstance(step, ApprovalStep):
        return "approval"
    if isinstance(step, ParallelStep):
        return "parallel"
    if isinstance(step, GotoStep):
        return "goto"
    if isinstance(step, BranchStep):
        return "branch"
    if isinstance(step, InputStep):
        return "input"
    return "action"


def _approval(step: ApprovalStep, state: RunState, done: StepState) -> ApprovalInfo:
    decisions = tuple(
        DecisionRow(d.user, d.decision, d.at, d.reason) for d in state.approvals.get(step.id, ())
    )
    return ApprovalInfo(
        message=step.approval.message,
        approvers=tuple(step.approval.approvers),
        required=step.approval.required,
        approvals=sum(1 for d in decisions if d.decision == "approve"),
        decisions=decisions,
        deadline=done.deadline,
        timed_out=done.timed_out,
    )


def _row(step: AnyStep, group: ParallelStep | None, state: RunState, undo: str | None) -> StepRow:
    done = state.step(step.id)
    error = done.error or {}
    return StepRow(
        id=step.id,
        title=step.name or step.id,
        kind=_kind(step),
        status=done.status,
        action=step.action if isinstance(step, ActionStep) else (done.action or ""),
        group=group.id if group is not None else None,
        attempt=done.attempt,
        started_at=done.started_at,
        duration=done.duration,
        outputs=dict(done.outputs or {}),
        error=str(error.get("message") or ""),
        error_kind=str(error.get("kind") or ""),
        continued=done.continued,
        target=done.target,
        next_attempt_at=done.next_attempt_at,
        hosts=_host_results(done),
        approval=_approval(step, state, done) if isinstance(step, ApprovalStep) else None,
        rollback=undo,
    )


def _rollback(completed: Sequence[Completed]) -> tuple[RollbackRow, ...]:
    """The completed steps in the order a rollback undoes them (the last done first)."""
    return tuple(RollbackRow(c.step, c.action, c.rollback) for c in reversed(completed))


def timeline_of(run: LoadedRun) -> Timeline:
    return timeline(run.loaded.runbook, run.state)


def timeline(runbook: Runbook, state: RunState) -> Timeline:
    """The rows of ``runbook``'s steps as ``state`` (the run's folded log) has them."""
    undo: dict[str, str] = {}
    if state.rollback_reason is not None:
        # a step done twice (a loop through goto) is undone twice: its last undo is shown
        for done in state.completed:
            undo[done.step] = done.rollback
    waiting: str | None = None
    with contextlib.suppress(ApprovalError):  # not waiting: no step to name
        waiting = waiting_step(runbook, state).id
    return Timeline(
        status=state.status,
        steps=tuple(
            _row(step, group, state, undo.get(step.id)) for step, group in iter_steps(runbook)
        ),
        rollback=_rollback(state.completed) if state.rollback_reason is not None else (),
        rollback_reason=state.rollback_reason,
        failure=state.failure,
        attention=state.attention,
        blocked=state.blocked if state.status not in TERMINAL else None,
        waiting_on=waiting,
        started_at=state.started_at,
        finished_at=state.finished_at,
        cancel_requested=state.cancel_requested,
        cancelled_by=state.cancelled_by,
        last_seq=state.last_seq,
    )
