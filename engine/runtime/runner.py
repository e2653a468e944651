"""Drive one run: ask the core what to do, do it, record what happened — in that order.

Every event is durably written before the runner acts on what it announces (the write-ahead
rule), and not more often: events that only record what happened (a step succeeded) wait to be
committed with the next one that must be durable (the next step's start), so a step costs one
commit. The runner's view of the run is the fold of the log: its own events as it writes them,
and other processes' (an approval from the CLI or Slack, a cancel) as ``sync`` finds them, so
it sees them exactly as a resumed engine would. The run row gets a compact checkpoint of the
state on every status change and every ``CHECKPOINT_EVERY`` events, never a copy per event.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from runbook_engine.core.apply import Layout, apply
from runbook_engine.core.decide import (
    AwaitDecision,
    Env,
    Invoke,
    InvokeRollback,
    Record,
    RollbackChild,
    StartChild,
    decide,
    recover,
    template_context,
)
from runbook_engine.core.events import (
    ApprovalTimedOut,
    ChildStarted,
    InputTimedOut,
    Payload,
    RollbackStepFailed,
    RollbackStepStarted,
    RollbackStepSucceeded,
    RunNeedsAttention,
    RunResumed,
    StepError,
    StepFailed,
    StepOutput,
    StepOutputTruncated,
    StepStarted,
    StepSucceeded,
)
from runbook_engine.core.inputs import AwaitInput, secret_defaults, secret_fields
from runbook_engine.core.items import split_item
from runbook_engine.core.loops import item_vars
from runbook_engine.core.state import RunState
from runbook_engine.core.statuses import (
    NEEDS_ATTENTION,
    PENDING,
    TERMINAL,
    WAITING,
    WAITING_APPROVAL,
    WAITING_INPUT,
)
from runbook_engine.errors import StoreError, TemplateError
from runbook_engine.lease import HEARTBEAT_EVERY
from runbook_engine.plugin import Registry
from runbook_engine.plugin.contract import ActionContext
from runbook_engine.runtime import calls
from runbook_engine.runtime.bus import Bus, Event, RunInfo
from runbook_engine.runtime.cancel_probe import cancel_probe
from runbook_engine.runtime.children import ChildOutcome, Children
from runbook_engine.runtime.invoke import STOP_GRACE, LineBuffer, Outcome, call_action
from runbook_engine.runtime.loading import Loaded, load
from runbook_engine.runtime.recordable import recordable
from runbook_engine.secret_taint import watch
from runbook_engine.secret_texts import SecretTexts, derived_values, secret_params
from runbook_engine.spec.loader import LoadedRunbook
from runbook_engine.spec.models import ActionStep, CallStep, InputStep, iter_steps
from runbook_engine.spec.params import REDACTED, redact_text, secret_values
from runbook_engine.store import EventRecord, NewEvent, Store
from runbook_engine.template_limits import stop_when
from runbook_engine.templating import render

log = logging.getLogger("runbook.runner")

POLL = 0.25
#: a checkpoint of the state goes to the run row at least this often (and at status changes)
CHECKPOINT_EVERY = 64
#: while only actions without effects run, their events are committed at least this often
GROUP_COMMIT = 0.1


#: event fields that carry what actions and templates produced (as opposed to the engine's own
#: bookkeeping such as ``attempt`` or ``index``): a number there that is a secret is masked too
PAYLOAD_KEYS = frozenset(
    {"with", "result", "outputs", "error", "lines", "message", "reason", "items"}
)


def redact(value: Any, secrets: tuple[str, ...], *, payload: bool = False) -> Any:
    """``value`` with every secret masked: inside strings (and dict keys) everywhere, and as
    whole numbers inside payload fields (a secret integer parameter rendered natively)."""
    if not secrets:
        return value
    if isinstance(value, str):
        return redact_text(value, secrets)
    if payload and isinstance(value, int | float) and not isinstance(value, bool):
        shown = {str(value), repr(value)}
        if isinstance(value, float) and value.is_integer():
            shown.add(str(int(value)))
        return REDACTED if shown & set(secrets) else value
    if isinstance(value, list | tuple):
        return [redact(v, secrets, payload=payload) for v in value]
    if isinstance(value, dict):
        return {
            (redact_text(k, secrets) if isinstance(k, str) else k): redact(
                v, secrets, payload=payload or k in PAYLOAD_KEYS
            )
            for k, v in value.items()
        }
    return value


class Runner:
    def __init__(
        self,
        *,
        store: Store,
        registry: Registry,
        loaded: LoadedRunbook,
        run_id: str,
        params: dict[str, Any],
        requester: str,
        bus: Bus,
        owner: str,
        wait_for_approval: bool = True,
        pool: ThreadPoolExecutor | None = None,
        start: Loaded | None = None,
        synced: bool = False,
        alert: Mapping[str, Any] | None = None,
        children: Children | None = None,
        limits: Mapping[str, list[str]] | None = None,
        inputs: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.store = store
        #: starts and drives call steps' child runs (None: this runner cannot run call steps)
        self.children = children
        #: the versions of the call steps without one, pinned when the run starts
        self._pins: dict[str, int] = {}
        #: call steps' child runs in flight, and the parent's rollback of completed ones
        self.calls: dict[asyncio.Task[ChildOutcome], StartChild | RollbackChild] = {}
        self._call_started: dict[asyncio.Task[ChildOutcome], float] = {}  # monotonic
        self._call_stopped: dict[asyncio.Task[ChildOutcome], float | None] = {}  # timeout hit
        #: a child run waits for people (and this runner does not wait for it, or people must
        #: act on the child itself): the parent waits with it, and says which child
        self.waiting_child: ChildOutcome | None = None
        self.alert: Mapping[str, Any] = alert or {}
        #: a re-run of the failed hosts: the fan-out step limited to them (runtime/rerun.py)
        self.limits: Mapping[str, list[str]] = limits or {}
        #: the secret values of input steps given to this process (step -> field -> value)
        self.inputs: Mapping[str, Mapping[str, Any]] = inputs or {}
        self._has_secret_fields = any(
            isinstance(step, InputStep) and secret_fields(step.input)
            for step in loaded.runbook.steps
        )
        self.registry = registry
        self.runbook = loaded.runbook
        self.layout = start.layout if start is not None else Layout.of(loaded.runbook)
        self._steps = {step.id: step for step, _ in iter_steps(loaded.runbook)}
        self.run_id = run_id
        self.params = secret_params(loaded.runbook, params)
        # what is masked: the secret parameters, what templates derive from them (learnt as
        # they render, see _learn), and their encodings
        self._secret_texts = SecretTexts(secret_values(loaded.runbook, params))
        held = [v for vs in self.inputs.values() for v in vs.values()]
        held += [v for vs in secret_defaults(loaded.runbook).values() for v in vs.values()]
        self._secret_texts.learn([], secret=held)
        self.secrets = self._secret_texts.texts
        self._secret_output_steps = {
            step.id
            for step, _ in iter_steps(loaded.runbook)
            if isinstance(step, ActionStep) and step.secret_outputs
        }
        self._held: dict[str, list[str]] = {}
        self.bus = bus
        self.owner = owner
        self.wait_for_approval = wait_for_approval
        self.info = RunInfo(
            id=run_id,
            runbook=loaded.runbook.name,
            version=loaded.runbook.version,
            digest=loaded.digest,
            requester=requester,
            notify_channel=loaded.runbook.notify.channel if loaded.runbook.notify else None,
        )
        self.state = RunState()
        #: the run as the engine loaded it for this operation (read again only without one)
        self._start_from = start
        #: ``start`` is the whole log as of the claim: the first look for new events can wait
        self._synced = start is not None and synced
        self._own_pool = pool is None
        self.pool = pool or ThreadPoolExecutor(max_workers=16, thread_name_prefix="action")
        self.tasks: dict[asyncio.Task[Outcome], Invoke | InvokeRollback] = {}
        self.contexts: dict[asyncio.Task[Outcome], ActionContext] = {}
        self.stop_asked: dict[asyncio.Task[Outcome], float] = {}  # monotonic time of the cancel
        self.lines = LineBuffer()
        self.resources: dict[str, Any] = {}
        self.lost = False  # another engine took the run over (our heartbeat went stale)
        self._last_flush = 0.0
        self._pending: list[NewEvent] = []  # recorded, not yet committed (nothing depends on them)
        self._pending_states: list[RunState] = []  # the state after each of them
        self._committed = self.state  # the fold of the log as committed (before ``_pending``)
        self._checkpoint_seq = 0  # the last_seq of the newest checkpoint on the run row
        self._last_sync = 0.0
        self._last_commit = time.monotonic()
        self._no_effects: set[asyncio.Task[Outcome]] = set()  # running actions without effects
        self._beat_stop = threading.Event()

    # ------------------------------------------------------------------ log & state

    def env(self) -> Env:
        return Env(
            now=time.time(),
            params=self.params,
            run={
                "id": self.run_id,
                "requester": self.info.requester,
                "runbook": self.info.runbook,
                "version": self.info.version,
            },
            idempotent=lambda name: name in self.registry and self.registry.get(name).idempotent,
            has_undo=lambda name: name in self.registry and self.registry.get(name).has_undo(),
            random=random.random(),
            alert=self.alert,
            pins=self._pins,
            limits=self.limits,
            inputs=self._inputs(),
        )

    def _inputs(self) -> Mapping[str, Mapping[str, Any]]:
        """The secret values of input steps templates read: those given to this process, and
        the defaults of steps that timed out with ``on_timeout: default``."""
        if not self._has_secret_fields:
            return self.inputs
        return {**secret_defaults(self.runbook, self.state), **self.inputs}

    def sync(self, *, quiet_until: int = 0) -> None:
        """Fold every event written since we last looked, ours and other processes' alike,
        and publish it; events up to ``quiet_until`` are folded silently (already published)."""
        self.flush_events()
        self._last_sync = time.monotonic()
        self._fold(self.store.events(self.run_id, after_seq=self.state.last_seq), quiet_until)
        self._committed = self.state

    def sync_now_and_then(self) -> None:
        """``sync`` at most every ``POLL`` seconds: what others write (a decision, a cancel)
        is seen within that time, without a query per turn of the loop."""
        if time.monotonic() - self._last_sync >= POLL:
            self.sync()

    def _fold(self, events: list[EventRecord], quiet_until: int = 0) -> None:
        for ev, state in zip(events, self._states(self.state, events), strict=True):
            self.state = state
            if ev.seq > quiet_until:
                self._publish(ev, state)

    def _states(self, state: RunState, events: list[EventRecord]) -> list[RunState]:
        """The state after each of ``events``, folded onto ``state``."""
        out: list[RunState] = []
        for ev in events:
            ts = ev.ts.timestamp()
            state = apply(self.layout, state, ev.type, ev.data or {}, ts, ev.seq)
            out.append(state)
        return out

    def _publish(self, ev: EventRecord, state: RunState) -> None:
        event = Event(self.run_id, ev.seq, ev.ts.timestamp(), ev.type, ev.step_id, ev.data or {})
        self.bus.publish(self.info, event, state)

    def record(self, event: Payload | Record, *, durable: bool = True) -> None:
        """Record an event: the runner's state includes it at once (decide sees it).

        ``durable=False`` for events that only say what happened (a step succeeded): they
        are committed with the next durable one, a step's start, or at the latest before the
        runner waits, so always before anything acts on them. Subscribers get each event once
        it is committed."""
        if isinstance(event, Record):
            type_, data = event.type, event.data
        else:
            type_, data = event.TYPE, event.to_data()
        data = redact(data, self.secrets)
        step = data.get("step")
        # stamped now and written with this time: the state folded here is then exactly the
        # fold of the log, and needs no second fold when the batch is committed
        now = datetime.now(UTC)
        self._pending.append(NewEvent(type_, data, str(step) if step is not None else None, now))
        self.state = apply(
            self.layout, self.state, type_, data, now.timestamp(), self.state.last_seq + 1
        )
        self._pending_states.append(self.state)
        if durable:
            self.flush_events()

    def _learn(self, derived: list[Any], *, secret: list[Any] | None = None) -> None:
        """Mask from now on what templates derived from secrets and the outputs marked
        ``secret``; learnt before the events that carry them are recorded."""
        if self._secret_texts.learn(derived, secret=secret or ()):
            self.secrets = self._secret_texts.texts

    def flush_events(self) -> None:
        """Commit the recorded events in one transaction, then publish them; now and then
        (a status change, every ``CHECKPOINT_EVERY`` events) a checkpoint goes with them."""
        if not self._pending:
            return
        self._last_commit = time.monotonic()
        batch, self._pending = self._pending, []
        states, self._pending_states = self._pending_states, []
        committed = self._committed
        # Each event was folded when recorded, with the seq and the time it is written with:
        # unless another process wrote in between, the live state is exactly the fold of the
        # log (a resumed engine's state), and a checkpoint of it can go into the same
        # transaction.
        first = committed.last_seq + 1
        records = [
            EventRecord(
                self.run_id, first + i, e.ts or datetime.now(UTC), e.type, e.step_id, e.data
            )
            for i, e in enumerate(batch)
        ]
        folded = states[-1]
        # A checkpoint costs the size of the state: taking one about once per pass through the
        # runbook (three events a step) keeps its cost per event constant however long the
        # run, and a load folds at most that many events.
        # A loop's items are steps of the state: they count (the checkpoint holds them).
        every = max(CHECKPOINT_EVERY, 3 * max(len(self._steps), len(folded.steps)))
        due = folded.status != committed.status or folded.last_seq - self._checkpoint_seq >= every
        written = self.store.append_events(
            self.run_id,
            batch,
            status=folded.status,
            state=folded.summary() if due else None,
            published=True,
            expect_seq=committed.last_seq,
            checkpoint=folded.to_checkpoint() if due else None,
        )
        if written[0].seq == first:
            self.state = self._committed = folded
            if due:
                self._checkpoint_seq = folded.last_seq
            for record, state in zip(records, states, strict=True):
                self._publish(record, state)
            return
        # Another process appended in between (a decision, a cancel), so neither the status
        # nor a checkpoint was written (expect_seq): fold the log in order, theirs and ours.
        self.state = committed
        self._fold(self.store.events(self.run_id, after_seq=committed.last_seq))
        self._committed = self.state
        self._checkpoint(status_unwritten=True)

    def _checkpoint(self, *, status_unwritten: bool = False) -> None:
        """Store the status and a checkpoint of the state as folded. If the log grew
        meanwhile, the checkpoint waits for the next one, unless the status still has to be
        written: then fold what is new and try again."""
        while not self.store.save_state(
            self.run_id,
            self.state.status,
            self.state.to_checkpoint(),
            self.state.last_seq,
            summary=self.state.summary(),
        ):
            if not status_unwritten:
                return
            self._fold(self.store.events(self.run_id, after_seq=self.state.last_seq))
            self._committed = self.state
        self._checkpoint_seq = self.state.last_seq

    def flush_lines(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_flush < 0.2:
            return
        self._last_flush = now
        for step, lines in self.lines.drain().items():
            self._log_lines(step, lines)

    def _log_lines(self, step: str, lines: list[str]) -> None:
        if split_item(step)[0] in self._secret_output_steps:  # the step's, or its item's
            # its secret outputs are known only when it ends: its lines wait to be masked
            self._held.setdefault(step, []).extend(lines)
            return
        # output is log, not state: many lines go into one event to keep writes few
        self.record(StepOutput(step=step, lines=lines), durable=False)

    def _release_lines(self, step: str) -> None:
        """Log what a step with secret outputs printed, masked with what is known now."""
        lines = self._held.pop(step, None)
        if lines:
            self.record(StepOutput(step=step, lines=lines), durable=False)

    # ------------------------------------------------------------------ main loop

    async def run(self, *, resumed: bool = False) -> str:
        start = self._start_from
        if start is None and resumed:
            row = self.store.get_run(self.run_id)
            start = load(self.store, self.layout, row) if row is not None else None
        if start is not None:
            # History is taken silently (checkpoint + events): subscribers saw it when it
            # happened. Events others wrote while no runner drove the run (an approval from the
            # CLI, a cancel, a human's choice) come after and are published now.
            self.state = start.quiet
            self._fold(list(start.unpublished))
            self._committed = self.state
        if self._synced:
            self._last_sync = time.monotonic()
        else:
            self.sync()
        if self.state.status == PENDING and self.children is not None:
            self._pins = self.children.pins(self.runbook)
        # what the templates derived from secrets before (another drive, another engine) is
        # derived again, before anything of this drive is recorded or printed
        self._learn(derived_values(self.runbook, template_context(self.state, self.env())))
        if resumed:
            self.record(RunResumed(owner=self.owner, status=self.state.status), durable=False)
            with watch() as derived:
                recovered = recover(self.runbook, self.layout, self.state, self.env())
            self._learn(derived)
            for rec in recovered:
                self.record(rec, durable=False)
        # its own thread: a loop busy with a step that prints without pause, or with a big
        # write, must never look dead and be taken over
        beat = threading.Thread(
            target=self._heartbeat, name=f"heartbeat-{self.run_id}", daemon=True
        )
        beat.start()
        try:
            return await self._loop()
        finally:
            self._beat_stop.set()
            for task, ctx in self.contexts.items():
                if not task.done():
                    ctx.cancelled.set()
                    task.cancel()
            for call in self.calls:
                call.cancel()  # the child runs on: it is a run of its own
            self._close_resources()
            if not self.lost:  # the new owner's run now: write nothing more
                self.flush_lines(force=True)
                for step in list(self._held):  # steps that never finished (a cancel)
                    self._release_lines(step)
                self.flush_events()
                # only a runbook with a concurrency lock ever takes one
                locked = self.runbook.concurrency is not None
                self.store.let_go(
                    self.run_id, self.owner, release_locks=locked and self.state.status in TERMINAL
                )
            if self._own_pool:
                self.pool.shutdown(wait=False, cancel_futures=True)

    def _check_owner(self) -> None:
        if self.lost:
            raise StoreError(
                f"run {self.run_id} was taken over by another engine (this one's heartbeat went "
                "stale); stopped driving it"
            )

    async def _loop(self) -> str:
        while True:
            self._check_owner()
            self.flush_lines()
            if self.state.cancel_requested:
                self._stop_steps()
            if self.state.status in TERMINAL:
                return self.state.status
            probe = cancel_probe(self.store, self.run_id, self._committed)
            with watch() as derived, stop_when(probe) as stopped:
                commands = decide(self.runbook, self.layout, self.state, self.env())
            self._learn(derived)
            if stopped.seen:
                # A cancel stopped a render: fold it in before the render's failure is acted
                # on, so the run rolls back as cancelled; start nothing it decided meanwhile.
                self.sync()
                commands = [cmd for cmd in commands if isinstance(cmd, Record)]
            wake_at: float | None = None
            acted = False
            for cmd in commands:
                if isinstance(cmd, Record):
                    self.record(cmd, durable=False)
                    acted = True
                elif isinstance(cmd, Invoke):
                    if cmd.step in self._busy_steps():
                        continue
                    if cmd.not_before and cmd.not_before > time.time():
                        wake_at = min(wake_at or cmd.not_before, cmd.not_before)
                        continue
                    self._start(cmd)
                    acted = True
                elif isinstance(cmd, InvokeRollback):
                    self._start_rollback(cmd)
                    acted = True
                elif isinstance(cmd, StartChild):
                    if cmd.step not in self._busy_steps():
                        self._start_child(cmd)
                        acted = True
                elif isinstance(cmd, RollbackChild):
                    self._roll_back_child(cmd)
                    acted = True
                elif isinstance(cmd, AwaitDecision):
                    if cmd.deadline is not None and time.time() >= cmd.deadline:
                        # also when not waiting: a run resumed after its deadline times out
                        self.record(ApprovalTimedOut(step=cmd.step), durable=False)
                        acted = True
                        continue
                    if not self.wait_for_approval:
                        return WAITING_APPROVAL
                    await self._await_decision(cmd)
                    acted = True
                elif isinstance(cmd, AwaitInput):
                    if cmd.deadline is not None and time.time() >= cmd.deadline:
                        self.record(InputTimedOut(step=cmd.step), durable=False)
                        acted = True
                        continue
                    if not self.wait_for_approval or cmd.secret:
                        # secret values reach only the process they are given to: that one
                        # drives the run on, so this one lets go of it
                        return WAITING_INPUT
                    await self._await_decision(cmd)
                    acted = True
            if acted:
                continue
            if self.state.status == NEEDS_ATTENTION:
                return NEEDS_ATTENTION
            if self.waiting_child is not None and not self.tasks and not self.calls:
                # a child waits for people; whoever acts on it continues it, then this run
                return self.waiting_child.status
            if not self.tasks and not self.calls and wake_at is None:
                cursor = self.state.cursor
                self.record(
                    RunNeedsAttention(
                        # names the step a "rollback" choice fails, so that the choice can work
                        step=self.layout.top[cursor] if cursor < len(self.layout.top) else None,
                        reason="the engine found nothing to do for an active run; "
                        "this is a bug — please report it with `runbook show RUN`",
                        choices=["rollback"],
                    )
                )
                return NEEDS_ATTENTION
            timeout = POLL if wake_at is None else max(0.0, min(POLL, wake_at - time.time()))
            await self._wait_tasks(timeout)
            self.sync_now_and_then()

    def _stop_steps(self) -> None:
        """Ask every running step to stop; never the rollback that the cancel itself starts.

        A step whose action ignores the request is given up on after ``STOP_GRACE``, as on a
        timeout: its failure is recorded so that the rollback can begin, and its thread is left
        to end on its own."""
        now = time.monotonic()
        for call, started in list(self.calls.items()):
            # a child run stops by its own cancel and rollback, however long that takes
            if isinstance(started, StartChild) and call not in self._call_stopped:
                self._call_stopped[call] = None
                self._cancel_child(started.run_id, "its parent run was cancelled")
        for task, cmd in list(self.tasks.items()):
            if not isinstance(cmd, Invoke) or task.done():
                continue
            self.contexts[task].cancelled.set()
            asked = self.stop_asked.setdefault(task, now)
            if now - asked < STOP_GRACE:
                continue
            del self.tasks[task]
            self._no_effects.discard(task)
            del self.contexts[task]
            del self.stop_asked[task]
            task.cancel()
            message = f"cancelled; the action did not stop within {STOP_GRACE:g}s"
            self.record(
                StepFailed(
                    step=cmd.step,
                    attempt=cmd.attempt,
                    duration=round(now - asked, 3),
                    error=StepError(message, kind="cancelled"),
                )
            )

    def _busy_steps(self) -> set[str]:
        busy = {cmd.step for cmd in self.tasks.values() if isinstance(cmd, Invoke)}
        return busy | {cmd.step for cmd in self.calls.values() if isinstance(cmd, StartChild)}

    # ------------------------------------------------------------------ actions

    def _context(self, step: str, attempt: int) -> ActionContext:
        return ActionContext(
            run_id=self.run_id,
            step_id=step,
            attempt=attempt,
            log=self.lines.sink(step, lambda line: redact_text(line, self.secrets)),
            resources=self.resources,
            secrets=self.secrets,
        )

    def _start(self, cmd: Invoke) -> None:
        # looked up first: an engine without the plugin stops here, before claiming the step ran
        action = self.registry.get(cmd.action)
        # the write-ahead rule: a step's start is durable before its action acts on the world;
        # an action without effects (log, sleep) acts on nothing, so its start is committed
        # with the events around it
        started = recordable(
            StepStarted(step=cmd.step, attempt=cmd.attempt, action=cmd.action, with_=cmd.params)
        )
        if not isinstance(started, StepStarted):  # parameters the log cannot keep: not run
            self.record(started, durable=False)
            return
        self.record(started, durable=action.effects)
        ctx = self._context(cmd.step, cmd.attempt)
        task = asyncio.create_task(call_action(self.pool, action, cmd.params, ctx, cmd.timeout))
        self.tasks[task] = cmd
        self.contexts[task] = ctx
        if not action.effects:
            self._no_effects.add(task)

    def _start_rollback(self, cmd: InvokeRollback) -> None:
        action = self.registry.get(cmd.action)
        started = recordable(
            RollbackStepStarted(
                index=cmd.index, step=cmd.step, action=cmd.action, undo=cmd.undo, with_=cmd.params
            )
        )
        self.record(started)
        if not isinstance(started, RollbackStepStarted):  # the log cannot keep it: not run
            return
        ctx = self._context(cmd.step, 1)
        task = asyncio.create_task(
            call_action(
                self.pool,
                action,
                cmd.params,
                ctx,
                cmd.timeout,
                undo=cmd.undo,
                undo_result=cmd.result,
            )
        )
        self.tasks[task] = cmd
        self.contexts[task] = ctx

    async def _wait_tasks(self, timeout: float) -> None:
        # Nothing recorded stays uncommitted while the runner waits on the world. While only
        # actions without effects run, events are committed in groups, at least every
        # GROUP_COMMIT seconds: a crash loses at most that much of steps that may simply run
        # again, and a thousand log steps cost a few commits instead of a thousand.
        grouped = (
            bool(self.tasks)
            and not self.calls
            and all(task in self._no_effects for task in self.tasks)
        )
        if not grouped or time.monotonic() - self._last_commit >= GROUP_COMMIT:
            self.flush_events()
        self._time_out_calls()
        if not self.tasks and not self.calls:
            await asyncio.sleep(timeout)
            return
        waiting: set[asyncio.Task[Any]] = {*self.tasks, *self.calls}
        done, _ = await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        self.flush_lines(force=bool(done))
        for call in [t for t in done if t in self.calls]:
            self._end_call(call)
        for task in [t for t in done if t in self.tasks]:
            cmd = self.tasks.pop(task)
            self._no_effects.discard(task)
            self.contexts.pop(task, None)
            self.stop_asked.pop(task, None)
            self._finish_lines(cmd.step)
            outcome = task.result()
            if isinstance(cmd, Invoke):
                self._finish(cmd, outcome)
            else:
                self._finish_rollback(cmd, outcome)

    def _finish_lines(self, step: str) -> None:
        """A step that printed past the cap: one note says what was left out, then its tail."""
        dropped = self.lines.finish(step)
        if dropped is None:
            return
        self.record(
            StepOutputTruncated(
                step=step,
                dropped_bytes=dropped.bytes,
                dropped_lines=dropped.lines,
                cap_bytes=self.lines.cap,
            ),
            durable=False,
        )
        self._log_lines(step, dropped.kept_tail)

    def _outputs(self, step: ActionStep | CallStep, sid: str, result: Any) -> dict[str, Any]:
        """The outputs of ``sid`` (the step, or one of its loop's items) rendered from its
        ``result``; what they derive from secrets, and those marked secret, are masked from
        now on. A template that fails raises ``TemplateError``."""
        if not step.outputs:
            return {}
        env = self.env()
        extra = item_vars(step, self.state, sid, env) if step.looped else {}
        ctx = template_context(self.state, env, result=result, **extra)
        with watch() as derived:
            outputs = {
                k: render(v, ctx, field=f"{sid}.outputs.{k}")
                for k, v in step.output_templates().items()
            }
        self._learn(derived, secret=[outputs[k] for k in step.secret_outputs])
        return outputs

    def _finish(self, cmd: Invoke, outcome: Outcome) -> None:
        duration = round(outcome.duration, 3)
        if not outcome.ok:
            self._release_lines(cmd.step)
            error = outcome.error or StepError("failed")
            failed = StepFailed(step=cmd.step, attempt=cmd.attempt, duration=duration, error=error)
            self.record(recordable(failed), durable=False)
            return
        step = self._steps[split_item(cmd.step)[0]]  # a loop item's: its step's
        outputs: dict[str, Any] = {}
        if isinstance(step, ActionStep):
            try:
                outputs = self._outputs(step, cmd.step, outcome.result)
            except TemplateError as exc:
                self._release_lines(cmd.step)
                message = f"the action succeeded but its outputs failed: {exc}"
                failed = StepFailed(
                    step=cmd.step,
                    attempt=cmd.attempt,
                    duration=duration,
                    error=StepError(message, kind="template"),
                )
                self.record(failed, durable=False)
                return
        self._release_lines(cmd.step)
        succeeded = StepSucceeded(
            step=cmd.step,
            attempt=cmd.attempt,
            duration=duration,
            action=cmd.action,
            with_=cmd.params,
            result=outcome.result,
            outputs=outputs,
        )
        # a result the log cannot keep fails the step (recordable), never the run's next write
        self.record(recordable(succeeded), durable=False)

    def _finish_rollback(self, cmd: InvokeRollback, outcome: Outcome) -> None:
        index, step, duration = cmd.index, cmd.step, round(outcome.duration, 3)
        self._release_lines(step)
        if outcome.ok:
            done = RollbackStepSucceeded(
                index=index, step=step, duration=duration, result=outcome.result
            )
            self.record(recordable(done), durable=False)
        else:
            error = outcome.error or StepError("failed")
            failed = RollbackStepFailed(index=index, step=step, duration=duration, error=error)
            self.record(recordable(failed), durable=False)

    # ------------------------------------------------------------------ call steps

    def _start_child(self, cmd: StartChild) -> None:
        if self.children is None:
            error = StepError("this engine cannot start child runs (call steps)", kind="call")
            self.record(StepFailed(step=cmd.step, error=error), durable=False)
            return
        # the write-ahead rule: the child's id is durable before the child exists, so an
        # engine that dies in between finds it again rather than starting a second child
        self.record(
            ChildStarted(
                step=cmd.step,
                run=cmd.run_id,
                runbook=cmd.runbook,
                version=cmd.version,
                with_=cmd.params,
            )
        )
        req = calls.request(
            cmd, parent=self.run_id, requester=self.info.requester, secrets=self.secrets
        )
        children, wait = self.children, self.wait_for_approval
        self._track_call(cmd, lambda: children.run(req, wait=wait))

    def _roll_back_child(self, cmd: RollbackChild) -> None:
        self.record(
            RollbackStepStarted(
                index=cmd.index, step=cmd.step, action="call", undo=True, with_={"run": cmd.run_id}
            )
        )
        children, wait = self.children, self.wait_for_approval
        if children is None:
            error = StepError("this engine cannot roll back child runs", kind="call")
            failed = RollbackStepFailed(index=cmd.index, step=cmd.step, error=error)
            self.record(failed, durable=False)
            return
        self._track_call(cmd, lambda: children.roll_back(cmd.run_id, parent=self.run_id, wait=wait))

    def _track_call(
        self, cmd: StartChild | RollbackChild, work: Callable[[], ChildOutcome]
    ) -> None:
        loop = asyncio.get_running_loop()

        async def on_a_thread() -> ChildOutcome:
            return await loop.run_in_executor(self.pool, work)

        task = asyncio.create_task(on_a_thread())
        self.calls[task] = cmd
        self._call_started[task] = time.monotonic()

    def _cancel_child(self, run_id: str, reason: str) -> None:
        if self.children is not None:
            self.children.cancel(run_id, parent=self.run_id, reason=reason)

    def _time_out_calls(self) -> None:
        now = time.monotonic()
        for call, cmd in self.calls.items():
            if not isinstance(cmd, StartChild) or cmd.timeout is None or call in self._call_stopped:
                continue
            if now - self._call_started[call] >= cmd.timeout:
                self._call_stopped[call] = cmd.timeout
                self._cancel_child(cmd.run_id, f"the call timed out after {cmd.timeout:g}s")

    def _end_call(self, call: asyncio.Task[ChildOutcome]) -> None:
        cmd = self.calls.pop(call)
        duration = round(time.monotonic() - self._call_started.pop(call), 3)
        timed_out = self._call_stopped.pop(call, None)
        try:
            outcome = call.result()
        except Exception as exc:  # the driver broke: the step fails, the run goes on deciding
            log.exception("the child run of step %s could not be driven", cmd.step)
            outcome = ChildOutcome(cmd.run_id, "", message=f"{type(exc).__name__}: {exc}")
        if isinstance(cmd, RollbackChild):
            if outcome.status in TERMINAL:
                self.record(recordable(calls.rollback_done(cmd, outcome, duration=duration)))
            else:
                self.waiting_child = outcome
            return
        if outcome.status and outcome.status not in TERMINAL:
            self.waiting_child = outcome  # the step stays running; resumed, it goes back
            return
        attempt = self.state.step(cmd.step).attempt
        if not calls.succeeded(outcome):
            failed = calls.failure(
                cmd, outcome, attempt=attempt, duration=duration, timed_out=timed_out
            )
            self.record(failed, durable=False)
            return
        step = self._steps[split_item(cmd.step)[0]]  # a loop item's: its step's
        result = calls.result(outcome)
        outputs: dict[str, Any] = dict(outcome.outputs)  # without its own: the child's
        if isinstance(step, CallStep) and step.outputs:
            try:
                outputs = self._outputs(step, cmd.step, result)
            except TemplateError as exc:
                message = f"the child run succeeded but the step's outputs failed: {exc}"
                error = StepError(message, kind="template")
                self.record(
                    StepFailed(step=cmd.step, attempt=attempt, duration=duration, error=error),
                    durable=False,
                )
                return
        succeeded = StepSucceeded(
            step=cmd.step,
            attempt=attempt,
            duration=duration,
            action="call",
            with_=calls.call_params(cmd),
            result=result,
            outputs=outputs,
        )
        self.record(recordable(succeeded), durable=False)

    # ------------------------------------------------------------------ approvals

    async def _await_decision(self, cmd: AwaitDecision | AwaitInput) -> None:
        """Wait until someone decides (or gives the input), the run is cancelled, or the wait
        times out."""
        seen = self.state.last_seq
        while True:
            self._check_owner()
            self.sync()
            if self.state.last_seq != seen or self.state.status not in WAITING:
                return
            if cmd.deadline is not None and time.time() >= cmd.deadline:
                timed_out = (
                    InputTimedOut(step=cmd.step)
                    if isinstance(cmd, AwaitInput)
                    else ApprovalTimedOut(step=cmd.step)
                )
                self.record(timed_out, durable=False)
                return
            await asyncio.sleep(POLL)

    # ------------------------------------------------------------------ housekeeping

    def _heartbeat(self) -> None:
        while not self._beat_stop.wait(HEARTBEAT_EVERY):
            try:
                owned = self.store.heartbeat(self.run_id, self.owner)
            except Exception:
                log.exception("heartbeat for run %s failed", self.run_id)
                continue
            if not owned:
                log.error("run %s was taken over by another engine", self.run_id)
                self.lost = True
                return

    def _close_resources(self) -> None:
        for name, resource in list(self.resources.items()):
            close = getattr(resource, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:
                    log.exception("closing %s failed", name)
        self.resources.clear()
