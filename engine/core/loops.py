"""``for_each``: a step run once per item of a list, as sub-steps ``step[index]``.

Entering a looped step renders its list and records ``loop.started`` with the items. Each item
is then run by *the command that runs one item* (``run_item``: for an action step, an
``Invoke`` of its action with the step's ``with`` rendered for that item), with its own
attempts (the step's ``retry``) and time-out, at most ``max_concurrency`` at once. An item that
fails for good is recorded (``loop.item_failed``); with ``on_item_failure: stop`` no item starts
after that, and the step fails once the running ones end; with ``continue`` the others still
run and the step fails at the end. The step's own ``on_failure`` then applies.

Every decision reads the loop's counters (``LoopState``) and the few items in flight, never the
whole list; the list is walked once, when the step ends (its outputs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from runbook_engine.core.decide import (
    Command,
    Env,
    Invoke,
    Record,
    _can_retry,
    _failed,
    _retry,
    call_command,
    template_context,
)
from runbook_engine.core.events import (
    LoopItemFailed,
    LoopStarted,
    StepError,
    StepFailed,
    StepSucceeded,
)
from runbook_engine.core.items import item_id, split_item
from runbook_engine.core.loop_state import LoopState, loop_outputs
from runbook_engine.core.state import RunState, StepState
from runbook_engine.errors import TemplateError
from runbook_engine.spec.models import ActionStep, CallStep
from runbook_engine.spec.params import REDACTED
from runbook_engine.templating import render, strings_in

__all__ = [
    "JudgeItem",
    "LoopStep",
    "RunItem",
    "decide_items",
    "decide_loop",
    "enter_loop",
    "item_vars",
]

#: how many failed items a loop step's failure names (the rest are counted)
NAMED_FAILURES = 10

#: runs item ``index`` of a loop: (index, attempt, not_before) -> the command
RunItem = Callable[[int, int, float | None], Command]
#: an item that failed: (its id, its state) -> a retry (``step.retry``) or ``loop.item_failed``
JudgeItem = Callable[[str, StepState], Record]


class LoopStep(Protocol):
    """What the loop needs of a step that can loop (``Looped`` and a step's ``id``): an action
    step, and any other kind that inherits ``Looped``."""

    @property
    def id(self) -> str: ...
    @property
    def for_each(self) -> str | None: ...
    @property
    def as_(self) -> str: ...
    @property
    def max_concurrency(self) -> int: ...
    @property
    def on_item_failure(self) -> str: ...
    @property
    def outputs(self) -> Mapping[str, Any]: ...


def item_vars(step: LoopStep, state: RunState, sid: str, env: Env | None = None) -> dict[str, Any]:
    """What the templates of item ``sid`` see besides the run's context: the item under the
    step's ``as`` name, and ``loop`` (``index``, ``length``, ``first``, ``last``).

    The items are as ``loop.started`` recorded them, secrets masked; an item where a mask
    shows is taken from the list rendered again with the run's real parameters (``env``), so
    that its call gets the secret (masked again when recorded), as a rollback's does."""
    _, index = split_item(sid)
    loop = state.loops.get(step.id)
    if index is None or loop is None or index >= len(loop.items):
        return {}
    length = len(loop.items)
    value = loop.items[index]
    if env is not None and any(REDACTED in text for text in strings_in(value)):
        value = _unmasked(step, state, env, index, length, value)
    return {
        step.as_: value,
        "loop": {
            "index": index,
            "length": length,
            "first": index == 0,
            "last": index == length - 1,
        },
    }


def _unmasked(
    step: LoopStep, state: RunState, env: Env, index: int, length: int, value: Any
) -> Any:
    assert step.for_each is not None
    try:
        again = render(step.for_each, template_context(state, env), field=f"{step.id}.for_each")
    except TemplateError:
        return value
    if isinstance(again, list | tuple) and len(again) == length:
        return again[index]
    return value  # the list changed since the loop began: keep what was recorded


def enter_loop(step: LoopStep, state: RunState, env: Env) -> Record:
    """Render the step's list: ``loop.started`` with its items, or the step's failure."""
    assert step.for_each is not None
    field = f"{step.id}.for_each"
    try:
        items = render(step.for_each, template_context(state, env), field=field)
    except TemplateError as exc:
        return _failed(step.id, str(exc), "template")
    if not isinstance(items, list | tuple):
        shown = repr(items)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        return _failed(
            step.id,
            f"{field}: expected a list, got {type(items).__name__} {shown}",
            "template",
        )
    return Record.of(LoopStarted(step=step.id, items=list(items)))


def _run_action_item(step: ActionStep, state: RunState, env: Env) -> RunItem:
    def run(index: int, attempt: int, not_before: float | None) -> Command:
        sid = item_id(step.id, index)
        ctx = template_context(state, env, **item_vars(step, state, sid, env))
        try:
            params = render(step.with_, ctx, field=f"{sid}.with", timeout=step.timeout)
        except TemplateError as exc:
            return _failed(sid, str(exc), "template")
        return Invoke(sid, step.action, params, attempt, step.timeout, not_before)

    return run


def _judge_action_item(step: ActionStep, state: RunState, env: Env) -> JudgeItem:
    """The step's ``retry`` policy, per item."""

    def judge(sid: str, ist: StepState) -> Record:
        if _can_retry(step, ist, state, item=True):
            return _retry(step, ist, env, sid)
        return Record.of(LoopItemFailed(step=sid))

    return judge


def _run_call_item(step: CallStep, state: RunState, env: Env) -> RunItem:
    """A call step's item starts a child run of its own (``step[index]`` its parent step)."""

    def run(index: int, attempt: int, not_before: float | None) -> Command:
        sid = item_id(step.id, index)
        extra = item_vars(step, state, sid, env)
        return call_command(step, sid, state.step(sid), state, env, extra)

    return run


def _judge_call_item(sid: str, ist: StepState) -> Record:
    """A child run is not tried again: its own steps have their own retries."""
    return Record.of(LoopItemFailed(step=sid))


def decide_loop(step: Any, state: RunState, env: Env) -> list[Command]:
    """What a running loop step does next. An action step's item is an ``Invoke`` of its
    action, a call step's item a child run of its own."""
    if isinstance(step, CallStep):
        return decide_items(step, state, _run_call_item(step, state, env), _judge_call_item)
    if not isinstance(step, ActionStep):
        raise TypeError(f"step {step.id!r}: {type(step).__name__} has no items to run")
    run_item = _run_action_item(step, state, env)
    return decide_items(step, state, run_item, _judge_action_item(step, state, env))


def decide_items(
    step: LoopStep, state: RunState, run_item: RunItem, judge: JudgeItem
) -> list[Command]:
    """A running loop, whatever runs its items: judge the items that just failed, run again
    those waiting for it, start new ones up to ``max_concurrency``, and end the step when no
    item is left to run. Reads the loop's counters and the items in flight only."""
    loop = state.loops[step.id]
    # an item that just failed: try it again, or count it failed
    records: list[Command] = [
        judge(item_id(step.id, index), state.step(item_id(step.id, index)))
        for index in sorted(loop.unjudged)
    ]
    if records:
        return records
    commands: list[Command] = []
    for index in sorted(loop.waiting):
        ist = state.step(item_id(step.id, index))
        commands.append(run_item(index, ist.attempt + 1, ist.next_attempt_at))
    stopping = loop.failed > 0 and step.on_item_failure == "stop"
    if not stopping and not state.cancel_requested:
        free = step.max_concurrency - loop.in_flight
        for index in range(loop.next, min(len(loop.items), loop.next + max(free, 0))):
            commands.append(run_item(index, 1, None))
    failures: list[Command] = [c for c in commands if isinstance(c, Record)]
    if failures:
        return failures[:1]  # an item's template failed: recorded alone, decided again
    if commands or loop.in_flight:
        return commands
    if loop.next < len(loop.items) and not stopping:
        return []  # cancelled: the run rolls back
    return [_finished(step, loop, state)]


def _finished(step: LoopStep, loop: LoopState, state: RunState) -> Record:
    outputs = loop_outputs(step.id, list(step.outputs), loop, state.steps)
    if loop.failed == 0:
        return Record.of(StepSucceeded(step=step.id, outputs=outputs))
    failed: list[str] = []
    messages: list[str] = []
    force = False
    for index in range(loop.next):
        sid = item_id(step.id, index)
        ist = state.step(sid)
        if ist.status != "failed":
            continue
        error = StepError.of(ist.error) or StepError("failed")
        force = force or error.force_rollback
        if len(failed) < NAMED_FAILURES:
            failed.append(sid)
            messages.append(f"{sid}: {error.message}")
    more = loop.failed - len(failed)
    named = "; ".join(messages) + (f"; and {more} more" if more > 0 else "")
    not_run = len(loop.items) - loop.next
    tail = f" ({not_run} not started: on_item_failure is stop)" if not_run else ""
    error = StepError(
        f"{loop.failed} of {len(loop.items)} items failed{tail}: {named}",
        kind="loop",
        # a human chose to roll back an interrupted item: the step's policy cannot undo that
        force_rollback=force,
    )
    return Record.of(StepFailed(step=step.id, error=error, outputs=outputs))
