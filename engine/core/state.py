"""The state of one run, rebuilt from its event log. Plain frozen data; JSON round-trips exactly."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from runbook_engine.core.statuses import PENDING

# step statuses
STEP_PENDING = "pending"
STEP_RUNNING = "running"
STEP_RETRY_WAIT = "retry_wait"
STEP_WAITING = "waiting"  # an approval step waiting for decisions
STEP_SUCCEEDED = "succeeded"
STEP_FAILED = "failed"
STEP_SKIPPED = "skipped"
STEP_INTERRUPTED = "interrupted"  # in flight when the engine died; not safe to re-run

STEP_DONE = frozenset({STEP_SUCCEEDED, STEP_SKIPPED})


@dataclass(frozen=True)
class StepState:
    status: str = STEP_PENDING
    attempt: int = 0
    visits: int = 0
    outputs: dict[str, Any] = field(default_factory=dict)
    result: Any = None
    error: dict[str, Any] | None = None
    continued: bool = False  # failed, but on_failure: continue let the run go on
    started_at: float | None = None
    duration: float | None = None
    next_attempt_at: float | None = None
    deadline: float | None = None  # approval timeout
    timed_out: bool = False  # approval timeout reached
    target: str | None = None  # goto/branch: where it jumped
    # the last call made (from step.started): a step skipped after a crash is rolled back with it
    action: str | None = None
    params: dict[str, Any] | None = None


@dataclass(frozen=True)
class Completed:
    """A step that did something, kept for rollback in reverse order."""

    step: str
    action: str
    params: dict[str, Any]
    result: Any
    rollback: str = PENDING  # pending, running, succeeded, failed, skipped


@dataclass(frozen=True)
class Decision:
    user: str
    decision: str  # approve | reject
    at: float
    reason: str = ""


@dataclass(frozen=True)
class RunState:
    status: str = PENDING
    cursor: int = 0
    steps: dict[str, StepState] = field(default_factory=dict)
    completed: tuple[Completed, ...] = ()
    rollback_queue: tuple[int, ...] = ()
    rollback_reason: str | None = None  # failed | cancelled | rejected | requested
    approvals: dict[str, tuple[Decision, ...]] = field(default_factory=dict)
    cancel_requested: bool = False
    cancelled_by: str | None = None
    failure: dict[str, Any] | None = None
    attention: dict[str, Any] | None = None
    started_at: float | None = None
    finished_at: float | None = None
    last_seq: int = 0

    def step(self, step_id: str) -> StepState:
        return self.steps.get(step_id, StepState())

    def with_step(self, step_id: str, **changes: Any) -> RunState:
        steps = dict(self.steps)
        steps[step_id] = replace(self.step(step_id), **changes)
        return replace(self, steps=steps)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        return cls(
            status=data["status"],
            cursor=data["cursor"],
            steps={k: StepState(**v) for k, v in data["steps"].items()},
            completed=tuple(Completed(**c) for c in data["completed"]),
            rollback_queue=tuple(data["rollback_queue"]),
            rollback_reason=data["rollback_reason"],
            approvals={k: tuple(Decision(**d) for d in v) for k, v in data["approvals"].items()},
            cancel_requested=data["cancel_requested"],
            cancelled_by=data["cancelled_by"],
            failure=data["failure"],
            attention=data["attention"],
            started_at=data["started_at"],
            finished_at=data["finished_at"],
            last_seq=data["last_seq"],
        )
