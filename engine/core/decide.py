"""Given the runbook and a run's state, what happens next. Pure: the runtime does the I/O.

``decide`` returns commands: ``Record`` (an event to write; the engine's own decisions, such as
"skip this step" or "start rolling back", are events too, so the log explains every move),
``Invoke`` / ``InvokeRollback`` (call an action), and ``AwaitDecision`` (wait for approvals).
An empty list while the run is active means "wait for what is in flight".

``recover`` is called once when a run is picked up after its engine died: steps that were in
flight are re-run only if their action is idempotent; otherwise a human decides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from runbook_engine.core import inputs
from runbook_engine.core.apply import Layout
from runbook_engine.core.children import child_run_id
from runbook_engine.core.events import (
    ApprovalRequested,
    EventType,
    GroupStarted,
    Payload,
    RollbackStarted,
    RollbackStepFailed,
    RollbackStepInterrupted,
    RollbackStepSkipped,
    RunFinished,
    RunNeedsAttention,
    RunResolved,
    RunStarted,
    StepContinued,
    StepError,
    StepFailed,
    StepInterrupted,
    StepJumped,
    StepRetry,
    StepSkipped,
    StepSucceeded,
)
from runbook_engine.core.inputs import AwaitInput
from runbook_engine.core.items import split_item
from runbook_engine.core.loop_state import LoopState, loop_result
from runbook_engine.core.state import (
    STEP_DONE,
    STEP_FAILED,
    STEP_PENDING,
    STEP_RETRY_WAIT,
    STEP_RUNNING,
    STEP_SUCCEEDED,
    STEP_WAITING,
    Completed,
    RunState,
    StepState,
)
from runbook_engine.core.statuses import (
    CANCELLED,
    FAILED,
    NEEDS_ATTENTION,
    PENDING,
    REJECTED,
    ROLLBACK_FAILED,
    ROLLED_BACK,
    ROLLING_BACK,
    SUCCEEDED,
    TERMINAL,
)
from runbook_engine.errors import TemplateError
from runbook_engine.secret_taint import SecretParams, params_copy
from runbook_engine.spec.models import (
    ActionStep,
    AnyStep,
    ApprovalStep,
    BranchStep,
    CallStep,
    GotoStep,
    InputStep,
    Looped,
    ParallelStep,
    Runbook,
    iter_steps,
)
from runbook_engine.spec.params import REDACTED
from runbook_engine.templating import evaluate_condition, render, strings_in

# ---------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Record:
    """Write this event (decide's way of saying what happened without acting)."""

    type: EventType
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, payload: Payload) -> Record:
        return cls(payload.TYPE, payload.to_data())


@dataclass(frozen=True)
class Invoke:
    step: str
    action: str
    params: dict[str, Any]
    attempt: int
    timeout: float | None
    not_before: float | None = None


@dataclass(frozen=True)
class InvokeRollback:
    index: int
    step: str
    action: str
    params: dict[str, Any]
    result: Any
    undo: bool  # True: the action's automatic undo; False: the step's rollback block
    timeout: float | None


@dataclass(frozen=True)
class AwaitDecision:
    step: str
    deadline: float | None


@dataclass(frozen=True)
class StartChild:
    """Start a call step's child run (or go back to it, ``run_id`` already recorded)."""

    step: str
    run_id: str
    runbook: str
    version: int
    params: dict[str, Any]
    timeout: float | None


@dataclass(frozen=True)
class RollbackChild:
    """Undo the child run of a completed call step, as a unit."""

    index: int
    step: str
    run_id: str


Command = Record | Invoke | InvokeRollback | AwaitDecision | AwaitInput | StartChild | RollbackChild


@dataclass(frozen=True)
class Env:
    """What decide may know that is not in the state."""

    now: float
    params: Mapping[str, Any]
    run: Mapping[str, Any]
    idempotent: Callable[[str], bool]
    has_undo: Callable[[str], bool]
    random: float = 0.5  # a sample in [0, 1) for retry jitter
    #: the alert that started the run (``Alert.as_dict``); empty for any other run
    alert: Mapping[str, Any] = field(default_factory=dict)
    #: the versions call steps without one will run (recorded when the run starts)
    pins: Mapping[str, int] = field(default_factory=dict)
    #: a re-run of the failed hosts: step id -> the hosts its fan-out is limited to
    limits: Mapping[str, list[str]] = field(default_factory=dict)
    #: secret values of input steps this process holds (step -> field -> value): templates
    #: read them as the steps' outputs, where the state has ``***``
    inputs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


class StepsView(Mapping[str, Mapping[str, Any]]):
    """``steps`` in templates: each step's status, outputs, result, attempt and error, built
    when a template reads it, so rendering costs the same in step 5 and in step 5,000."""

    def __init__(
        self,
        steps: Mapping[str, StepState],
        loops: Mapping[str, LoopState] | None = None,
        secret_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._steps = steps
        self._loops = loops or {}
        self._secret_outputs = secret_outputs or {}

    def __getitem__(self, step_id: str) -> Mapping[str, Any]:
        st = self._steps[step_id]
        outputs: Mapping[str, Any] = st.outputs
        hidden = self._secret_outputs.get(step_id)
        if hidden and st.status == STEP_SUCCEEDED:
            # an input step's secret values: reads of them are watched like secret parameters
            outputs = SecretParams({**st.outputs, **hidden}, frozenset(hidden))
        view = {
            "status": st.status,
            "outputs": outputs,
            "result": st.result,
            "attempt": st.attempt,
            "error": st.error,
        }
        loop = self._loops.get(step_id)
        if loop is not None:
            return _LoopView(view, step_id, loop, self._steps)
        return view

    def __iter__(self) -> Iterator[str]:
        return iter(self._steps)

    def __len__(self) -> int:
        return len(self._steps)


class _LoopView(Mapping[str, Any]):
    """A loop step in ``steps``: its ``result`` (the list of item results) is built only when
    a template reads it, so reading ``steps.X.outputs`` never walks the items."""

    def __init__(
        self, view: dict[str, Any], step_id: str, loop: LoopState, steps: Mapping[str, StepState]
    ) -> None:
        self._view = view
        self._step_id = step_id
        self._loop = loop
        self._steps = steps

    def __getitem__(self, key: str) -> Any:
        if key == "result" and self._view["result"] is None:
            self._view["result"] = loop_result(self._step_id, self._loop, self._steps)
        return self._view[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._view)

    def __len__(self) -> int:
        return len(self._view)


def template_context(state: RunState, env: Env, **extra: Any) -> dict[str, Any]:
    steps = StepsView(state.steps, state.loops, env.inputs)
    # params_copy keeps which parameters are secret, so that reading them is noticed
    params = params_copy(env.params)
    return {
        "params": params,
        "steps": steps,
        "run": dict(env.run),
        "alert": dict(env.alert),
        **extra,
    }


def _failed(step_id: str, message: str, kind: str) -> Record:
    return Record.of(StepFailed(step=step_id, error=StepError(message, kind=kind)))


def find_step(runbook: Runbook, step_id: str) -> AnyStep:
    """The step ``step_id`` names; for a loop item (``restart[3]``), its loop step."""
    step_id = split_item(step_id)[0]
    for step, _ in iter_steps(runbook):
        if step.id == step_id:
            return step
    raise KeyError(step_id)


# ---------------------------------------------------------------------------- decide


def decide(runbook: Runbook, layout: Layout, state: RunState, env: Env) -> list[Command]:
    if state.status in TERMINAL:
        return []
    if state.status == NEEDS_ATTENTION:
        attention = state.attention or {}
        if state.cancel_requested and "rollback_index" not in attention:
            sid = str(attention.get("step", ""))
            return [Record.of(RunResolved(choice="rollback", by=state.cancelled_by, step=sid))]
        return []  # a human decides: runbook resume RUN --retry | --skip | --rollback
    if state.status == PENDING:
        if state.cancel_requested:
            return [Record.of(RunFinished(status=CANCELLED))]
        return [Record.of(RunStarted(calls=dict(env.pins) or None))]
    if state.status == ROLLING_BACK:
        return _rollback(runbook, state, env)

    # groups and loops are "running" while their children or items are: not in flight
    in_flight = any(sid not in layout.children and sid not in layout.loops for sid in state.running)
    if state.cancel_requested:
        if in_flight or _group_busy(layout, state):
            return []  # the runtime stops what is running; its failure event comes back here
        return [
            _begin_rollback(state, "cancelled", {"message": f"cancelled by {state.cancelled_by}"})
        ]
    interrupted = state.interrupted_in_order()
    forced = bool(state.forced)
    if interrupted and not forced:
        # recover asks about one interrupted step at a time; ask about the next one before
        # anything else starts (several parallel children may have been in flight)
        if in_flight or _group_busy(layout, state):
            return []
        return [_ask_about(find_step(runbook, interrupted[0]), interrupted[0])]
    if state.cursor >= len(layout.top):
        return [Record.of(RunFinished(status=SUCCEEDED))]

    step = runbook.steps[state.cursor]
    st = state.step(step.id)
    if st.status == STEP_PENDING:
        return _enter(runbook, step, st, state, env)
    if st.status == STEP_RUNNING and step.id in layout.loops:
        from runbook_engine.core import loops  # it builds on this module's commands

        return loops.decide_loop(step, state, env)
    if st.status == STEP_RETRY_WAIT and isinstance(step, ActionStep):
        return [_invoke(step, state, env, st.attempt + 1, st.next_attempt_at)]
    if st.status == STEP_RETRY_WAIT and isinstance(step, CallStep):
        return [_call(step, st, state, env)]  # back to the child after a crash
    if st.status == STEP_RUNNING and isinstance(step, ParallelStep):
        return _parallel(step, state, env)
    if st.status == STEP_WAITING and isinstance(step, ApprovalStep):
        return _approval(step, st, state)
    if st.status == STEP_WAITING and isinstance(step, InputStep):
        return [c if isinstance(c, AwaitInput) else Record.of(c) for c in inputs.waiting(step, st)]
    if st.status == STEP_FAILED:
        return _on_failure(step, st, state, env)
    return []


def _group_busy(layout: Layout, state: RunState) -> bool:
    return any(sid in layout.parent for sid in state.running)


def _render_timeout(step: AnyStep) -> float | None:
    """The time a template of ``step`` may take: the step's own ``timeout`` where it has one
    (capped by the templates' own budget), so a template never outlasts its step."""
    return step.timeout if isinstance(step, ActionStep) else None


def _condition(step: AnyStep, state: RunState, env: Env) -> bool | Record:
    if step.if_ is None:
        return True
    try:
        return evaluate_condition(
            step.if_,
            template_context(state, env),
            field=f"{step.id}.if",
            timeout=_render_timeout(step),
        )
    except TemplateError as exc:
        return _failed(step.id, str(exc), "template")


def _enter(
    runbook: Runbook, step: AnyStep, st: StepState, state: RunState, env: Env
) -> list[Command]:
    if st.visits >= runbook.max_step_visits:
        return [
            _failed(
                step.id,
                f"loop guard: step {step.id!r} reached max_step_visits "
                f"({runbook.max_step_visits}); a goto loop did not end",
                "loop_guard",
            )
        ]
    ok = _condition(step, state, env)
    if isinstance(ok, Record):
        return [ok]
    if not ok:
        return [Record.of(StepSkipped(step=step.id, reason="condition is false"))]
    if isinstance(step, Looped) and step.looped:  # an action step, or any kind that loops
        from runbook_engine.core import loops

        return [loops.enter_loop(step, state, env)]
    if isinstance(step, ActionStep):
        return [_invoke(step, state, env, 1, None)]
    if isinstance(step, GotoStep):
        return [Record.of(StepJumped(step=step.id, target=step.goto))]
    if isinstance(step, BranchStep):
        for case in step.branch:
            if case.if_ is None:
                return [Record.of(StepJumped(step=step.id, target=case.goto))]
            try:
                hit = evaluate_condition(
                    case.if_, template_context(state, env), field=f"{step.id}.branch"
                )
            except TemplateError as exc:
                return [_failed(step.id, str(exc), "template")]
            if hit:
                return [Record.of(StepJumped(step=step.id, target=case.goto))]
        return [Record.of(StepSkipped(step=step.id, reason="no branch case matched"))]
    if isinstance(step, ApprovalStep):
        try:
            message = render(
                step.approval.message,
                template_context(state, env),
                field=f"{step.id}.approval.message",
            )
        except TemplateError as exc:
            return [_failed(step.id, str(exc), "template")]
        timeout = step.approval.timeout
        approvers = step.approval.approvers or runbook.permissions.approve
        return [
            Record.of(
                ApprovalRequested(
                    step=step.id,
                    message=str(message),
                    approvers=list(approvers),
                    required=step.approval.required,
                    allow_requester=step.approval.allow_requester,
                    deadline=env.now + timeout if timeout is not None else None,
                    on_timeout=step.approval.on_timeout,
                )
            )
        ]
    if isinstance(step, ParallelStep):
        return [Record.of(GroupStarted(step=step.id))]
    if isinstance(step, CallStep):
        return [_call(step, st, state, env)]
    if isinstance(step, InputStep):
        try:
            message = render(
                step.input.message, template_context(state, env), field=f"{step.id}.input.message"
            )
        except TemplateError as exc:
            return [_failed(step.id, str(exc), "template")]
        return [Record.of(inputs.requested(step, str(message), env.now))]
    return []


def _call(step: CallStep, st: StepState, state: RunState, env: Env) -> Command:
    """Start the step's child run; an entry the log already gave a child goes back to it."""
    return call_command(step, step.id, st, state, env, {})


def call_command(
    step: CallStep, sid: str, st: StepState, state: RunState, env: Env, extra: dict[str, Any]
) -> Command:
    """The command that starts the child run of ``sid``: the step, or one of its loop's items
    (``extra``: the item's names in the templates)."""
    call = step.call
    version = call.version or (state.calls or {}).get(step.id)
    if version is None:
        return _failed(
            sid,
            f"runbook {call.runbook!r} was not in the catalog when the run started, so no "
            "version of it was recorded to call",
            "call",
        )
    try:
        params = render(call.with_, template_context(state, env, **extra), field=f"{sid}.call.with")
    except TemplateError as exc:
        return _failed(sid, str(exc), "template")
    run_id = st.child or child_run_id(str(env.run.get("id", "")), sid, st.visits + 1)
    return StartChild(sid, run_id, call.runbook, version, dict(params), step.timeout)


def _invoke(
    step: ActionStep, state: RunState, env: Env, attempt: int, not_before: float | None
) -> Command:
    try:
        params = render(
            step.with_, template_context(state, env), field=f"{step.id}.with", timeout=step.timeout
        )
    except TemplateError as exc:
        return _failed(step.id, str(exc), "template")
    limit = env.limits.get(step.id)
    if limit is not None and isinstance(params, dict):
        params = {**params, "limit": list(limit)}  # the action honours it (ssh.*: FanoutParams)
    return Invoke(step.id, step.action, params, attempt, step.timeout, not_before)


def retry_delay(step: ActionStep, attempt: int, sample: float) -> float:
    """Delay before try ``attempt + 1``: delay * backoff^(attempt-1), capped, with jitter.

    ``max_delay`` bounds the result, jitter included: jitter spreads retries below the cap,
    never past it."""
    policy = step.retry
    delay = policy.delay * policy.backoff ** max(attempt - 1, 0)
    if policy.max_delay is not None:
        delay = min(delay, policy.max_delay)
    delay = max(0.0, delay * (1 + policy.jitter * (2 * sample - 1)))
    if policy.max_delay is not None:
        delay = min(delay, policy.max_delay)
    return delay


def _can_retry(step: AnyStep, st: StepState, state: RunState, *, item: bool = False) -> bool:
    """May ``st`` (the step, or with ``item`` one of its loop items) be tried again? A loop
    step itself never is: its retry policy applies to each item."""
    error = StepError.of(st.error)
    if not isinstance(step, ActionStep) or state.cancel_requested or error is None:
        return False
    if step.looped and not item:
        return False
    if st.attempt >= step.retry.attempts or error.force_rollback:
        return False
    return error.retryable or step.retry.on == "any"


def _retry(step: ActionStep, st: StepState, env: Env, sid: str | None = None) -> Record:
    """Try ``st`` again (the step's, or the loop item ``sid``'s) after the retry delay."""
    error = StepError.of(st.error)
    delay = retry_delay(step, st.attempt, env.random)
    if error is not None and error.retry_after:
        delay = max(delay, error.retry_after)
    return Record.of(
        StepRetry(
            step=sid or step.id, attempt=st.attempt + 1, delay=round(delay, 3), at=env.now + delay
        )
    )


def _on_failure(step: AnyStep, st: StepState, state: RunState, env: Env) -> list[Command]:
    if isinstance(step, ActionStep) and _can_retry(step, st, state):
        return [_retry(step, st, env)]
    failure = {"step": step.id, **(st.error or {})}
    error = StepError.of(st.error) or StepError("failed")
    if error.kind in ("rejected", "approval_timeout"):
        return [_begin_rollback(state, "rejected", failure)]
    if error.force_rollback:
        return [_begin_rollback(state, "requested", failure)]
    policy = (
        step.on_failure
        if isinstance(step, ActionStep | ParallelStep | CallStep | InputStep)
        else "rollback"
    )
    if policy == "continue":
        return [Record.of(StepContinued(step=step.id))]
    if policy == "abort":
        return [Record.of(RunFinished(status=FAILED, failure=failure))]
    return [_begin_rollback(state, "failed", failure)]


def pending_rollback(state: RunState) -> list[int]:
    """The completed steps still to undo, in the order a rollback undoes them."""
    return [
        i for i in reversed(range(len(state.completed))) if state.completed[i].rollback == PENDING
    ]


def _begin_rollback(state: RunState, reason: str, failure: dict[str, Any]) -> Record:
    queue = pending_rollback(state)
    return Record.of(RollbackStarted(reason=reason, queue=queue, failure=failure))


def _parallel(group: ParallelStep, state: RunState, env: Env) -> list[Command]:
    kids = group.parallel
    running = sum(1 for c in kids if state.step(c.id).status == STEP_RUNNING)
    for child in kids:
        cst = state.step(child.id)
        if cst.status == STEP_FAILED and not cst.continued:
            if _can_retry(child, cst, state):
                return [_retry(child, cst, env)]
            forced = (error := StepError.of(cst.error)) is not None and error.force_rollback
            if child.on_failure == "continue" and not forced:
                return [Record.of(StepContinued(step=child.id))]
    failed = [
        c.id
        for c in kids
        if state.step(c.id).status == STEP_FAILED and not state.step(c.id).continued
    ]
    if failed:
        if running:
            return []  # let the others finish before the group fails
        errors = {c: StepError.of(state.step(c).error) or StepError("") for c in failed}
        messages = "; ".join(f"{c}: {e.message}" for c, e in errors.items())
        error = StepError(
            f"{len(failed)} of {len(kids)} parallel steps failed: {messages}",
            kind="parallel",
            # a human chose to roll back an interrupted child: the group's policy cannot undo that
            force_rollback=any(e.force_rollback for e in errors.values()),
        )
        return [Record.of(StepFailed(step=group.id, error=error))]
    limit = group.max_concurrency or len(kids)
    commands: list[Command] = []
    for child in kids:
        if running >= limit:
            break
        cst = state.step(child.id)
        if cst.status == STEP_PENDING:
            ok = _condition(child, state, env)
            if isinstance(ok, Record):
                return [ok]
            if not ok:
                return [Record.of(StepSkipped(step=child.id, reason="condition is false"))]
            commands.append(_invoke(child, state, env, 1, None))
            running += 1
        elif cst.status == STEP_RETRY_WAIT:
            commands.append(_invoke(child, state, env, cst.attempt + 1, cst.next_attempt_at))
            running += 1
    if commands:
        # a Record in the list (template failure) must be handled alone
        records = [c for c in commands if isinstance(c, Record)]
        return [records[0]] if records else commands
    done = all(state.step(c.id).status in STEP_DONE or state.step(c.id).continued for c in kids)
    if done and not running:
        return [Record.of(StepSucceeded(step=group.id))]
    return []


def _approval(step: ApprovalStep, st: StepState, state: RunState) -> list[Command]:
    # a decision recorded after the deadline is too late: the timeout decides (on_timeout)
    decisions = tuple(
        d for d in state.approvals.get(step.id, ()) if st.deadline is None or d.at <= st.deadline
    )
    for d in decisions:
        if d.decision == "reject":
            reason = f": {d.reason}" if d.reason else ""
            error = StepError(f"rejected by {d.user}{reason}", kind="rejected")
            return [Record.of(StepFailed(step=step.id, error=error))]
    approved_by = sorted({d.user for d in decisions if d.decision == "approve"})
    if len(approved_by) >= step.approval.required:
        return [Record.of(StepSucceeded(step=step.id, outputs={"approved_by": approved_by}))]
    if st.timed_out:
        if step.approval.on_timeout == "approve":
            outputs = {"approved_by": approved_by, "timed_out": True}
            return [Record.of(StepSucceeded(step=step.id, outputs=outputs))]
        error = StepError("approval timed out", kind="approval_timeout")
        return [Record.of(StepFailed(step=step.id, error=error))]
    return [AwaitDecision(step.id, st.deadline)]


def _params_used(
    step: AnyStep, entry: Completed, state: RunState, env: Env, extra: Mapping[str, Any]
) -> dict[str, Any]:
    """The parameters of the call being undone. The log keeps them with secrets masked; where a
    mask shows, the step's ``with`` is rendered again with the run's real parameters, so that an
    undo gets the secret its call got (it is masked again when the rollback is recorded)."""
    if not isinstance(step, ActionStep) or not any(
        REDACTED in text for text in strings_in(entry.params)
    ):
        return entry.params
    try:
        again = render(
            step.with_,
            template_context(state, env, **extra),
            field=f"{step.id}.with",
            timeout=step.timeout,
        )
    except TemplateError:
        return entry.params
    if not isinstance(again, dict):
        return entry.params
    if "limit" in entry.params and step.id in env.limits:  # a re-run's limit, not in ``with``
        again = {**again, "limit": entry.params["limit"]}
    return again


def _rollback(runbook: Runbook, state: RunState, env: Env) -> list[Command]:
    # Entries are undone one at a time from the head of the queue, which keeps an entry that
    # is running or failed until it is settled: the head alone says whether to wait or stop,
    # so a rollback of 10,000 loop items costs the same per entry at its start and its end.
    head = state.completed[state.rollback_queue[0]] if state.rollback_queue else None
    if head is not None and head.rollback == "running":
        return []
    if head is not None and head.rollback == "failed":
        return [Record.of(RunFinished(status=ROLLBACK_FAILED))]
    if not state.rollback_queue:
        reason = state.rollback_reason
        if reason == "cancelled":
            final = CANCELLED
        elif reason == "rejected":
            final = REJECTED
        elif reason == "parent":
            final = ROLLED_BACK  # undone with its parent: nothing of it is left in effect
        else:
            undone = any(c.rollback == "succeeded" for c in state.completed)
            final = ROLLED_BACK if undone else FAILED
        return [Record.of(RunFinished(status=final))]
    index = state.rollback_queue[0]
    entry = state.completed[index]
    step = find_step(runbook, entry.step)
    if isinstance(step, CallStep):
        # the child run is undone as a unit, by its own rollback, in its own reverse order
        return [RollbackChild(index, entry.step, str(entry.params.get("run", "")))]
    extra: dict[str, Any] = {}
    if isinstance(step, Looped) and step.looped:
        from runbook_engine.core import loops

        extra = loops.item_vars(step, state, entry.step, env)  # the item it undoes
    used = _params_used(step, entry, state, env, extra)
    if isinstance(step, ActionStep) and step.rollback is not None:
        ctx = template_context(state, env, result=entry.result, params_used=used, **extra)
        try:
            params = render(
                step.rollback.with_,
                ctx,
                field=f"{step.id}.rollback.with",
                timeout=step.rollback.timeout or step.timeout,
            )
        except TemplateError as exc:
            error = StepError(str(exc), kind="template")
            return [Record.of(RollbackStepFailed(index=index, step=entry.step, error=error))]
        return [
            InvokeRollback(
                index,
                entry.step,
                step.rollback.action,
                params,
                entry.result,
                undo=False,
                timeout=step.rollback.timeout or step.timeout,
            )
        ]
    if env.has_undo(entry.action) and entry.result is None:
        # the step was in flight when an engine died and a human chose skip or rollback: its
        # result (what the automatic undo restores from) was never recorded
        return [
            Record.of(
                RollbackStepSkipped(
                    index=index,
                    step=entry.step,
                    reason=f"{entry.action}'s automatic undo needs the step's result, which was "
                    "never recorded (the step was interrupted); check it by hand",
                )
            )
        ]
    if env.has_undo(entry.action):
        timeout = step.timeout if isinstance(step, ActionStep) else None
        return [
            InvokeRollback(
                index,
                entry.step,
                entry.action,
                used,
                entry.result,
                undo=True,
                timeout=timeout,
            )
        ]
    return [
        Record.of(
            RollbackStepSkipped(
                index=index,
                step=entry.step,
                reason=f"nothing to undo: no rollback block and {entry.action} "
                "has no automatic undo",
            )
        )
    ]


# ---------------------------------------------------------------------------- recover


def _ask_about(step: AnyStep, sid: str | None = None) -> Record:
    """Stop for a human: ``step`` (or its loop item ``sid``) was in flight when an engine died
    and may not be re-run."""
    action = step.action if isinstance(step, ActionStep) else "?"
    sid = sid or step.id
    return Record.of(
        RunNeedsAttention(
            step=sid,
            reason=f"step {sid!r} ({action}) was in flight when the engine stopped "
            "and its action is not idempotent: it may or may not have taken effect",
            choices=["retry", "skip", "rollback"],
        )
    )


def recover(runbook: Runbook, layout: Layout, state: RunState, env: Env) -> list[Record]:
    """Events that settle what was in flight when the previous engine stopped."""
    out: list[Record] = []
    ask: Record | None = None
    for sid, st in state.steps.items():
        if st.status != STEP_RUNNING or sid in layout.children or sid in layout.loops:
            continue  # groups and loops are settled through their children and items
        step = find_step(runbook, sid)
        if isinstance(step, CallStep):
            # the child is a run of its own, with the id the log gave it: go back to it
            out.append(Record.of(StepInterrupted(step=sid, rerun=True)))
            continue
        assert isinstance(step, ActionStep)  # only action steps are ever "running"
        if env.idempotent(step.action):
            out.append(Record.of(StepInterrupted(step=sid, rerun=True)))
        else:
            out.append(Record.of(StepInterrupted(step=sid, rerun=False)))
            # one question at a time; decide asks about the others once this one is answered
            ask = ask or _ask_about(step, sid)
    if ask is not None:
        out.append(ask)
    for index, entry in enumerate(state.completed):
        if entry.rollback != "running":
            continue
        step = find_step(runbook, entry.step)
        action = (
            step.rollback.action if isinstance(step, ActionStep) and step.rollback else entry.action
        )
        # undoing a child run again goes back to the same child's rollback
        if isinstance(step, CallStep) or env.idempotent(action):
            out.append(Record.of(RollbackStepInterrupted(index=index, step=entry.step)))
        else:
            out.append(
                Record.of(
                    RunNeedsAttention(
                        step=entry.step,
                        rollback_index=index,
                        reason=f"the rollback of step {entry.step!r} ({action}) was in "
                        "flight when the engine stopped and is not idempotent",
                        choices=["retry", "skip"],
                    )
                )
            )
    return out
