"""Fold one event into the run state. Pure: no I/O, no clock, no randomness.

Resume after a crash is ``replay(layout, events)``: the same fold that ran live, so the state a
resumed engine sees is exactly the state the dead one had recorded."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from runbook_engine.core.state import (
    STEP_FAILED,
    STEP_INTERRUPTED,
    STEP_PENDING,
    STEP_RETRY_WAIT,
    STEP_RUNNING,
    STEP_SKIPPED,
    STEP_SUCCEEDED,
    STEP_WAITING,
    Completed,
    Decision,
    RunState,
    StepState,
)
from runbook_engine.core.statuses import next_status
from runbook_engine.spec.models import GOTO_END, ParallelStep, Runbook


@dataclass(frozen=True)
class Layout:
    """Where each step sits: top-level order and parallel groups."""

    top: tuple[str, ...]
    parent: dict[str, str]  # child id -> group id
    children: dict[str, tuple[str, ...]]

    @classmethod
    def of(cls, runbook: Runbook) -> Layout:
        parent: dict[str, str] = {}
        children: dict[str, tuple[str, ...]] = {}
        for step in runbook.steps:
            if isinstance(step, ParallelStep):
                children[step.id] = tuple(c.id for c in step.parallel)
                for child in step.parallel:
                    parent[child.id] = step.id
        return cls(tuple(s.id for s in runbook.steps), parent, children)

    def index(self, step_id: str) -> int:
        return len(self.top) if step_id == GOTO_END else self.top.index(step_id)

    def is_top(self, step_id: str) -> bool:
        return step_id not in self.parent


def _advance(state: RunState, layout: Layout, step_id: str) -> RunState:
    """A top-level step is done: move the cursor past it."""
    if (
        layout.is_top(step_id)
        and state.cursor < len(layout.top)
        and layout.top[state.cursor] == step_id
    ):
        return replace(state, cursor=state.cursor + 1)
    return state


def _visit(state: RunState, step_id: str) -> RunState:
    return state.with_step(step_id, visits=state.step(step_id).visits + 1)


def apply(
    layout: Layout, state: RunState, type_: str, data: Mapping[str, Any], ts: float, seq: int
) -> RunState:
    status = next_status(state.status, type_, dict(data))
    state = replace(state, status=status, last_seq=seq)
    step_id = data.get("step")
    sid = str(step_id) if step_id is not None else ""

    if type_ == "run.started":
        return replace(state, started_at=ts)
    if type_ == "run.finished":
        return replace(state, finished_at=ts, failure=state.failure or data.get("failure"))
    if type_ == "run.cancel_requested":
        return replace(state, cancel_requested=True, cancelled_by=data.get("by"))

    if type_ == "step.started":
        st = state.step(sid)
        if st.status in (STEP_PENDING,):
            state = _visit(state, sid)
        return state.with_step(
            sid,
            status=STEP_RUNNING,
            attempt=int(data.get("attempt", st.attempt + 1)),
            started_at=ts,
            error=None,
            next_attempt_at=None,
            action=str(data["action"]) if data.get("action") else st.action,
            params=dict(data["with"]) if isinstance(data.get("with"), dict) else st.params,
        )
    if type_ == "group.started":
        state = _visit(state, sid).with_step(sid, status=STEP_RUNNING, started_at=ts, error=None)
        for child in layout.children.get(sid, ()):
            state = state.with_step(
                child,
                status=STEP_PENDING,
                attempt=0,
                outputs={},
                result=None,
                result_seq=None,
                error=None,
                continued=False,
            )
        return state
    if type_ == "step.succeeded":
        result = data.get("result")
        result_seq = seq if result is not None else None
        state = state.with_step(
            sid,
            status=STEP_SUCCEEDED,
            outputs=dict(data.get("outputs") or {}),
            result=result,
            result_seq=result_seq,
            duration=data.get("duration"),
            error=None,
        )
        if data.get("action"):
            state = replace(
                state,
                completed=(
                    *state.completed,
                    Completed(
                        step=sid,
                        action=str(data["action"]),
                        params=dict(data.get("with") or {}),
                        result=result,
                        result_seq=result_seq,
                    ),
                ),
            )
        return _advance(state, layout, sid)
    if type_ == "step.failed":
        return state.with_step(
            sid,
            status=STEP_FAILED,
            error=dict(data.get("error") or {}),
            duration=data.get("duration"),
        )
    if type_ == "step.retry":
        return state.with_step(sid, status=STEP_RETRY_WAIT, next_attempt_at=data.get("at"))
    if type_ == "step.continued":
        return _advance(state.with_step(sid, continued=True), layout, sid)
    if type_ == "step.skipped":
        st = state.step(sid)
        if st.status == STEP_PENDING:
            state = _visit(state, sid)
        return _advance(state.with_step(sid, status=STEP_SKIPPED), layout, sid)
    if type_ == "step.jumped":
        target = str(data["target"])
        state = _visit(state, sid).with_step(sid, status=STEP_SUCCEEDED, target=target)
        cursor = layout.index(target)
        # Steps from the target on may run again: reset them, keeping their visit counts. On a
        # backward jump that includes the jumping step itself, which must be entered (and its
        # condition and the loop guard checked) again when the cursor comes back to it.
        for other in layout.top[cursor:]:
            for one in (other, *layout.children.get(other, ())):
                st = state.step(one)
                state = state.with_step(
                    one,
                    **{
                        **{k: getattr(StepState(), k) for k in StepState.__dataclass_fields__},
                        "visits": st.visits,
                    },
                )
        return replace(state, cursor=cursor)
    if type_ == "step.interrupted":
        if data.get("rerun"):
            return state.with_step(sid, status=STEP_RETRY_WAIT, next_attempt_at=ts)
        return state.with_step(sid, status=STEP_INTERRUPTED)

    if type_ == "approval.requested":
        return _visit(state, sid).with_step(
            sid, status=STEP_WAITING, started_at=ts, deadline=data.get("deadline")
        )
    if type_ == "approval.decided":
        decisions = state.approvals.get(sid, ())
        decision = Decision(
            user=str(data["user"]),
            decision=str(data["decision"]),
            at=ts,
            reason=str(data.get("reason") or ""),
        )
        return replace(state, approvals={**state.approvals, sid: (*decisions, decision)})
    if type_ == "approval.timed_out":
        return state.with_step(sid, timed_out=True)

    if type_ == "rollback.started":
        return replace(
            state,
            rollback_queue=tuple(int(i) for i in data.get("queue", ())),
            rollback_reason=str(data.get("reason") or "failed"),
            failure=state.failure or data.get("failure"),
        )
    if type_ in (
        "rollback.step_started",
        "rollback.step_succeeded",
        "rollback.step_failed",
        "rollback.step_skipped",
    ):
        index = int(data["index"])
        outcome = {
            "rollback.step_started": "running",
            "rollback.step_succeeded": "succeeded",
            "rollback.step_failed": "failed",
            "rollback.step_skipped": "skipped",
        }[type_]
        completed = list(state.completed)
        completed[index] = replace(completed[index], rollback=outcome)
        queue = state.rollback_queue
        if outcome in ("succeeded", "skipped") and queue and queue[0] == index:
            queue = queue[1:]
        return replace(state, completed=tuple(completed), rollback_queue=queue)

    if type_ == "run.needs_attention":
        return replace(state, attention=dict(data))
    if type_ == "run.resolved":
        return _resolve(layout, state, str(data["choice"]), ts)
    if type_ == "rollback.resolved":
        return _resolve_rollback(state, str(data["choice"]))
    if type_ == "rollback.step_interrupted":
        completed = list(state.completed)
        index = int(data["index"])
        completed[index] = replace(completed[index], rollback=STEP_PENDING)
        return replace(state, completed=tuple(completed))
    if type_ == "run.failure":
        return replace(state, failure=dict(data))
    return state


def _resolve(layout: Layout, state: RunState, choice: str, ts: float) -> RunState:
    """A human decided what to do about a step that was in flight when the engine died."""
    sid = str((state.attention or {}).get("step") or "")
    state = replace(state, attention=None)
    if choice == "retry":
        return state.with_step(sid, status=STEP_RETRY_WAIT, next_attempt_at=ts)
    if choice == "skip":
        # "treat it as done": it took effect, so a later rollback must undo it like a completed
        # step (its result is unknown)
        st = state.step(sid)
        if st.action:
            entry = Completed(step=sid, action=st.action, params=dict(st.params or {}), result=None)
            state = replace(state, completed=(*state.completed, entry))
        return _advance(state.with_step(sid, status=STEP_SKIPPED), layout, sid)
    # rollback: the step's effect is unknown; treat it as a failure that rolls back, and undo
    # the step itself too (its rollback block; an automatic undo cannot run without a result)
    st = state.step(sid)
    if st.action:
        entry = Completed(step=sid, action=st.action, params=dict(st.params or {}), result=None)
        state = replace(state, completed=(*state.completed, entry))
    return state.with_step(
        sid,
        status=STEP_FAILED,
        error={
            "message": "interrupted; rolled back on request",
            "kind": "interrupted",
            "retryable": False,
            "force_rollback": True,
        },
    )


def _resolve_rollback(state: RunState, choice: str) -> RunState:
    """A human decided about an interrupted rollback entry: run it again, or skip it."""
    idx = int((state.attention or {})["rollback_index"])
    completed = list(state.completed)
    completed[idx] = replace(
        completed[idx], rollback=STEP_PENDING if choice == "retry" else "skipped"
    )
    queue = (
        state.rollback_queue
        if choice == "retry"
        else tuple(i for i in state.rollback_queue if i != idx)
    )
    return replace(state, completed=tuple(completed), rollback_queue=queue, attention=None)


def replay(layout: Layout, events: Iterable[Any], start: RunState | None = None) -> RunState:
    """State after the given events (objects with ``type``, ``data``, ``ts``, ``seq``), folded
    onto ``start`` (a checkpoint) or onto the empty state."""
    state = start or RunState()
    for event in events:
        ts = event.ts.timestamp() if hasattr(event.ts, "timestamp") else float(event.ts)
        state = apply(layout, state, event.type, event.data or {}, ts, event.seq)
    return state
