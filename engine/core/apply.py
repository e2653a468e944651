"""Fold one event into the run state. Pure: no I/O, no clock, no randomness.

Resume after a crash is ``replay(layout, events)``: the same fold that ran live, so the state a
resumed engine sees is exactly the state the dead one had recorded."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from runbook_engine.core.events import (
    ApprovalDecided,
    ApprovalRequested,
    ChildStarted,
    EventType,
    InputGiven,
    InputRequested,
    LoopStarted,
    RollbackResolved,
    RollbackStarted,
    RollbackStepInterrupted,
    RunCancelRequested,
    RunFinished,
    RunResolved,
    RunStarted,
    StepCarried,
    StepError,
    StepFailed,
    StepInterrupted,
    StepJumped,
    StepRetry,
    StepStarted,
    StepSucceeded,
)
from runbook_engine.core.items import item_id
from runbook_engine.core.loop_state import LoopState
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
    evolve,
)
from runbook_engine.core.statuses import next_status
from runbook_engine.errors import HistoryError
from runbook_engine.spec.models import GOTO_END, Looped, ParallelStep, Runbook


@dataclass(frozen=True)
class Layout:
    """Where each step sits: top-level order and parallel groups."""

    top: tuple[str, ...]
    parent: dict[str, str]  # child id -> group id
    children: dict[str, tuple[str, ...]]
    #: the steps with ``for_each``: "running" while their items run
    loops: frozenset[str] = frozenset()

    @classmethod
    def of(cls, runbook: Runbook) -> Layout:
        parent: dict[str, str] = {}
        children: dict[str, tuple[str, ...]] = {}
        for step in runbook.steps:
            if isinstance(step, ParallelStep):
                children[step.id] = tuple(c.id for c in step.parallel)
                for child in step.parallel:
                    parent[child.id] = step.id
        loops = frozenset(s.id for s in runbook.steps if isinstance(s, Looped) and s.looped)
        return cls(tuple(s.id for s in runbook.steps), parent, children, loops)

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
        return evolve(state, cursor=state.cursor + 1)
    return state


def _visit(state: RunState, step_id: str) -> RunState:
    return state.with_step(step_id, visits=state.step(step_id).visits + 1)


@dataclass(frozen=True)
class Folded:
    """What a fold function is given besides the state: the event's payload and place."""

    layout: Layout
    data: Mapping[str, Any]
    ts: float
    seq: int
    step: str  # the payload's "step", or ""


def _run_started(state: RunState, ev: Folded) -> RunState:
    calls = RunStarted.of(ev.data).calls
    return evolve(state, started_at=ev.ts, blocked=None, calls=dict(calls) if calls else None)


def _run_resumed(state: RunState, ev: Folded) -> RunState:
    return evolve(state, blocked=None) if state.blocked is not None else state


def _run_blocked(state: RunState, ev: Folded) -> RunState:
    return evolve(state, blocked=dict(ev.data))


def _run_finished(state: RunState, ev: Folded) -> RunState:
    failure = RunFinished.of(ev.data).failure
    return evolve(state, finished_at=ev.ts, failure=state.failure or failure)


def _run_cancel_requested(state: RunState, ev: Folded) -> RunState:
    return evolve(state, cancel_requested=True, cancelled_by=RunCancelRequested.of(ev.data).by)


def _step_started(state: RunState, ev: Folded) -> RunState:
    sid, started = ev.step, StepStarted.of(ev.data)
    st = state.step(sid)
    if st.status in (STEP_PENDING,):
        state = _visit(state, sid)
    return state.with_step(
        sid,
        status=STEP_RUNNING,
        attempt=int(started.attempt),
        started_at=ev.ts,
        error=None,
        next_attempt_at=None,
        action=started.action or st.action,
        params=dict(started.with_) if isinstance(started.with_, dict) else st.params,
    )


def _child_started(state: RunState, ev: Folded) -> RunState:
    sid, started = ev.step, ChildStarted.of(ev.data)
    st = state.step(sid)
    if st.status == STEP_PENDING:
        state = _visit(state, sid)
    return state.with_step(
        sid,
        status=STEP_RUNNING,
        attempt=max(st.attempt, 1),
        started_at=ev.ts,
        error=None,
        next_attempt_at=None,
        child=started.run,
        action="call",
        params={"runbook": started.runbook, "version": started.version, "run": started.run},
    )


def _group_started(state: RunState, ev: Folded) -> RunState:
    sid = ev.step
    state = _visit(state, sid).with_step(sid, status=STEP_RUNNING, started_at=ev.ts, error=None)
    for child in ev.layout.children.get(sid, ()):
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


def _loop_started(state: RunState, ev: Folded) -> RunState:
    sid, started = ev.step, LoopStarted.of(ev.data)
    old = state.loops.get(sid)
    if old is not None:  # entered again (a goto back): its items start afresh
        for index in range(len(old.items)):
            state = state.with_step(item_id(sid, index), **_NEW_STEP)
    state = evolve(state, loops={**state.loops, sid: LoopState(items=tuple(started.items))})
    return _visit(state, sid).with_step(
        sid, status=STEP_RUNNING, started_at=ev.ts, error=None, outputs={}, result=None
    )


def _loop_item_failed(state: RunState, ev: Folded) -> RunState:
    # ``continued`` marks an item's failure as final: the loop counts it failed
    return state.with_step(ev.step, continued=True)


def _step_succeeded(state: RunState, ev: Folded) -> RunState:
    sid, done = ev.step, StepSucceeded.of(ev.data)
    result = done.result
    result_seq = ev.seq if result is not None else None
    state = state.with_step(
        sid,
        status=STEP_SUCCEEDED,
        outputs=dict(done.outputs or {}),
        result=result,
        result_seq=result_seq,
        duration=done.duration,
        error=None,
    )
    if done.action:
        entry = Completed(
            step=sid,
            action=done.action,
            params=dict(done.with_ or {}),
            result=result,
            result_seq=result_seq,
        )
        state = evolve(state, completed=state.completed.append(entry))
    return _advance(state, ev.layout, sid)


def _step_carried(state: RunState, ev: Folded) -> RunState:
    """A re-run's step taken over from its original as it was there; it moves the cursor like
    a step done, and is not a completed step (a re-run never undoes its original's work). A
    carried failure had its failure ignored (it is behind the start)."""
    carried = StepCarried.of(ev.data)
    result = carried.result
    state = state.with_step(
        ev.step,
        status=carried.status,
        outputs=dict(carried.outputs or {}),
        result=result,
        result_seq=ev.seq if result is not None else None,
        continued=carried.status == STEP_FAILED,
    )
    return _advance(state, ev.layout, ev.step)


def _step_failed(state: RunState, ev: Folded) -> RunState:
    # the state keeps the error as recorded, keys a plugin added included (templates read it)
    failed = StepFailed.of(ev.data)
    extra = {"outputs": dict(failed.outputs)} if failed.outputs is not None else {}
    return state.with_step(
        ev.step,
        status=STEP_FAILED,
        error=dict(ev.data.get("error") or {}),
        duration=failed.duration,
        **extra,
    )


def _step_retry(state: RunState, ev: Folded) -> RunState:
    return state.with_step(
        ev.step, status=STEP_RETRY_WAIT, next_attempt_at=StepRetry.of(ev.data).at
    )


def _step_continued(state: RunState, ev: Folded) -> RunState:
    return _advance(state.with_step(ev.step, continued=True), ev.layout, ev.step)


def _step_skipped(state: RunState, ev: Folded) -> RunState:
    if state.step(ev.step).status == STEP_PENDING:
        state = _visit(state, ev.step)
    return _advance(state.with_step(ev.step, status=STEP_SKIPPED), ev.layout, ev.step)


def _step_jumped(state: RunState, ev: Folded) -> RunState:
    sid, layout = ev.step, ev.layout
    target = StepJumped.of(ev.data).target
    state = _visit(state, sid).with_step(sid, status=STEP_SUCCEEDED, target=target)
    cursor = layout.index(target)
    # Steps from the target on may run again: reset them, keeping their visit counts. On a
    # backward jump that includes the jumping step itself, which must be entered (and its
    # condition and the loop guard checked) again when the cursor comes back to it.
    for other in layout.top[cursor:]:
        for one in (other, *layout.children.get(other, ())):
            st = state.step(one)
            state = state.with_step(one, **{**_NEW_STEP, "visits": st.visits})
    return evolve(state, cursor=cursor)


def _step_interrupted(state: RunState, ev: Folded) -> RunState:
    if StepInterrupted.of(ev.data).rerun:
        return state.with_step(ev.step, status=STEP_RETRY_WAIT, next_attempt_at=ev.ts)
    return state.with_step(ev.step, status=STEP_INTERRUPTED)


def _approval_requested(state: RunState, ev: Folded) -> RunState:
    deadline = ApprovalRequested.of(ev.data).deadline
    return _visit(state, ev.step).with_step(
        ev.step, status=STEP_WAITING, started_at=ev.ts, deadline=deadline
    )


def _approval_decided(state: RunState, ev: Folded) -> RunState:
    decided = ApprovalDecided.of(ev.data)
    decision = Decision(
        user=decided.user, decision=decided.decision, at=ev.ts, reason=decided.reason
    )
    decisions = (*state.approvals.get(ev.step, ()), decision)
    return evolve(state, approvals={**state.approvals, ev.step: decisions})


def _approval_timed_out(state: RunState, ev: Folded) -> RunState:
    return state.with_step(ev.step, timed_out=True)


def _input_requested(state: RunState, ev: Folded) -> RunState:
    deadline = InputRequested.of(ev.data).deadline
    return _visit(state, ev.step).with_step(
        ev.step,
        status=STEP_WAITING,
        started_at=ev.ts,
        deadline=deadline,
        given=None,
        timed_out=False,
        outputs={},
        asked_seq=ev.seq,
    )


def _input_given(state: RunState, ev: Folded) -> RunState:
    return state.with_step(ev.step, given=dict(InputGiven.of(ev.data).values))


def _rollback_started(state: RunState, ev: Folded) -> RunState:
    started = RollbackStarted.of(ev.data)
    return evolve(
        state,
        rollback_queue=tuple(int(i) for i in started.queue),
        rollback_reason=started.reason or "failed",
        failure=state.failure or started.failure,
    )


def _rollback_index(data: Mapping[str, Any]) -> int:
    # every rollback step event names the completed step it undoes by its index
    return int(RollbackStepInterrupted.of(data).index)


def _rollback_step(outcome: str) -> Fold:
    def fold(state: RunState, ev: Folded) -> RunState:
        index = _rollback_index(ev.data)
        completed = state.completed.set(index, evolve(state.completed[index], rollback=outcome))
        queue = state.rollback_queue
        if outcome in ("succeeded", "skipped") and queue and queue[0] == index:
            queue = queue[1:]
        return evolve(state, completed=completed, rollback_queue=queue)

    return fold


def _rollback_step_interrupted(state: RunState, ev: Folded) -> RunState:
    index = _rollback_index(ev.data)
    entry = evolve(state.completed[index], rollback=STEP_PENDING)
    return evolve(state, completed=state.completed.set(index, entry))


def _run_needs_attention(state: RunState, ev: Folded) -> RunState:
    return evolve(state, attention=dict(ev.data))


def _run_resolved(state: RunState, ev: Folded) -> RunState:
    return _resolve(ev.layout, state, RunResolved.of(ev.data).choice, ev.ts)


def _rollback_resolved(state: RunState, ev: Folded) -> RunState:
    return _resolve_rollback(state, RollbackResolved.of(ev.data).choice)


def _run_failure(state: RunState, ev: Folded) -> RunState:
    return evolve(state, failure=dict(ev.data))


Fold = Callable[[RunState, Folded], RunState]

#: how each type of event changes the state; the others (run.created, step.output,
#: the notifier's slack.* bookkeeping...) change only the status (statuses.py) and last_seq
FOLDS: dict[str, Fold] = {
    EventType.RUN_STARTED: _run_started,
    EventType.RUN_RESUMED: _run_resumed,
    EventType.RUN_BLOCKED: _run_blocked,
    EventType.RUN_FINISHED: _run_finished,
    EventType.RUN_CANCEL_REQUESTED: _run_cancel_requested,
    EventType.RUN_NEEDS_ATTENTION: _run_needs_attention,
    EventType.RUN_RESOLVED: _run_resolved,
    EventType.RUN_FAILURE: _run_failure,
    EventType.STEP_STARTED: _step_started,
    EventType.GROUP_STARTED: _group_started,
    EventType.CHILD_STARTED: _child_started,
    EventType.STEP_CARRIED: _step_carried,
    EventType.STEP_SUCCEEDED: _step_succeeded,
    EventType.STEP_FAILED: _step_failed,
    EventType.STEP_RETRY: _step_retry,
    EventType.STEP_CONTINUED: _step_continued,
    EventType.STEP_SKIPPED: _step_skipped,
    EventType.STEP_JUMPED: _step_jumped,
    EventType.STEP_INTERRUPTED: _step_interrupted,
    EventType.APPROVAL_REQUESTED: _approval_requested,
    EventType.APPROVAL_DECIDED: _approval_decided,
    EventType.APPROVAL_TIMED_OUT: _approval_timed_out,
    EventType.ROLLBACK_STARTED: _rollback_started,
    EventType.ROLLBACK_STEP_STARTED: _rollback_step("running"),
    EventType.ROLLBACK_STEP_SUCCEEDED: _rollback_step("succeeded"),
    EventType.ROLLBACK_STEP_FAILED: _rollback_step("failed"),
    EventType.ROLLBACK_STEP_SKIPPED: _rollback_step("skipped"),
    EventType.ROLLBACK_STEP_INTERRUPTED: _rollback_step_interrupted,
    EventType.ROLLBACK_RESOLVED: _rollback_resolved,
    EventType.LOOP_STARTED: _loop_started,
    EventType.LOOP_ITEM_FAILED: _loop_item_failed,
    EventType.INPUT_REQUESTED: _input_requested,
    EventType.INPUT_GIVEN: _input_given,
    EventType.INPUT_TIMED_OUT: _approval_timed_out,  # the same mark: the wait is over
}

_NEW_STEP = {name: getattr(StepState(), name) for name in StepState.__dataclass_fields__}


def apply(
    layout: Layout, state: RunState, type_: str, data: Mapping[str, Any], ts: float, seq: int
) -> RunState:
    """The state after one event: the run's status by the transition table, then the type's
    fold (``FOLDS``). An event that does not fold is a ``HistoryError`` naming it."""
    try:
        status = next_status(state.status, type_, dict(data))
        state = evolve(state, status=status, last_seq=seq)
        fold = FOLDS.get(type_)
        if fold is None:
            return state
        step_id = data.get("step")
        folded = Folded(layout, data, ts, seq, str(step_id) if step_id is not None else "")
        return fold(state, folded)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        # a log no engine wrote (edited by hand, or by a broken plugin of the store): say which
        # event, once, rather than a traceback on every load of the run
        raise HistoryError(
            f"event {seq} ({type_}) in the run's log is not well formed "
            f"({type(exc).__name__}: {exc}); the run cannot be loaded"
        ) from None


def _resolve(layout: Layout, state: RunState, choice: str, ts: float) -> RunState:
    """A human decided what to do about a step that was in flight when the engine died."""
    sid = str((state.attention or {}).get("step") or "")
    state = evolve(state, attention=None)
    if choice == "retry":
        return state.with_step(sid, status=STEP_RETRY_WAIT, next_attempt_at=ts)
    if choice == "skip":
        # "treat it as done": it took effect, so a later rollback must undo it like a completed
        # step (its result is unknown)
        st = state.step(sid)
        if st.action:
            entry = Completed(step=sid, action=st.action, params=dict(st.params or {}), result=None)
            state = evolve(state, completed=state.completed.append(entry))
        return _advance(state.with_step(sid, status=STEP_SKIPPED), layout, sid)
    # rollback: the step's effect is unknown; treat it as a failure that rolls back, and undo
    # the step itself too (its rollback block; an automatic undo cannot run without a result)
    st = state.step(sid)
    if st.action:
        entry = Completed(step=sid, action=st.action, params=dict(st.params or {}), result=None)
        state = evolve(state, completed=state.completed.append(entry))
    error = StepError(
        "interrupted; rolled back on request", kind="interrupted", force_rollback=True
    )
    return state.with_step(sid, status=STEP_FAILED, error=error.to_data())


def _resolve_rollback(state: RunState, choice: str) -> RunState:
    """A human decided about an interrupted rollback entry: run it again, or skip it."""
    idx = int((state.attention or {})["rollback_index"])
    completed = state.completed.set(
        idx,
        evolve(state.completed[idx], rollback=STEP_PENDING if choice == "retry" else "skipped"),
    )
    queue = (
        state.rollback_queue
        if choice == "retry"
        else tuple(i for i in state.rollback_queue if i != idx)
    )
    return evolve(state, completed=completed, rollback_queue=queue, attention=None)


def replay(layout: Layout, events: Iterable[Any], start: RunState | None = None) -> RunState:
    """State after the given events (objects with ``type``, ``data``, ``ts``, ``seq``), folded
    onto ``start`` (a checkpoint) or onto the empty state."""
    state = start or RunState()
    for event in events:
        ts = event.ts.timestamp() if hasattr(event.ts, "timestamp") else float(event.ts)
        state = apply(layout, state, event.type, event.data or {}, ts, event.seq)
    return state
