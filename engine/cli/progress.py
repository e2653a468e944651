"""What a person sees while a run goes: one line per event, coloured in a terminal, plain when
piped; and the summary table at the end."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from runbook_engine.core.events import (
    ApprovalDecided,
    ApprovalRequested,
    ApprovalTimedOut,
    ChildStarted,
    EventType,
    GroupStarted,
    InputGiven,
    InputRequested,
    InputTimedOut,
    LoopItemFailed,
    LoopStarted,
    RollbackStarted,
    RollbackStepFailed,
    RollbackStepSkipped,
    RollbackStepStarted,
    RollbackStepSucceeded,
    RunCancelRequested,
    RunNeedsAttention,
    RunResumed,
    RunWaitingForLock,
    StepCarried,
    StepContinued,
    StepFailed,
    StepJumped,
    StepOutput,
    StepOutputTruncated,
    StepRetry,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)
from runbook_engine.core.item_lines import ItemLines
from runbook_engine.core.loop_state import describe_summary, loop_summary
from runbook_engine.core.state import STEP_SUCCEEDED, RunState
from runbook_engine.durations import format_duration
from runbook_engine.runtime.bus import Event, RunInfo
from runbook_engine.terminal import printable

_ICONS: dict[str, tuple[str, str]] = {
    EventType.STEP_STARTED: ("▶", "cyan"),
    EventType.STEP_SUCCEEDED: ("✓", "green"),
    EventType.STEP_FAILED: ("✗", "red"),
    EventType.STEP_SKIPPED: ("↷", "dim"),
    EventType.STEP_RETRY: ("↻", "yellow"),
    EventType.STEP_JUMPED: ("→", "blue"),
    EventType.STEP_CONTINUED: ("…", "yellow"),
    EventType.GROUP_STARTED: ("⇉", "cyan"),
    EventType.APPROVAL_REQUESTED: ("?", "magenta"),
    EventType.APPROVAL_DECIDED: ("✎", "magenta"),
    EventType.APPROVAL_TIMED_OUT: ("⌛", "magenta"),
    EventType.INPUT_REQUESTED: ("?", "magenta"),
    EventType.INPUT_GIVEN: ("✎", "magenta"),
    EventType.INPUT_TIMED_OUT: ("⌛", "magenta"),
    EventType.ROLLBACK_STARTED: ("↶", "yellow"),
    EventType.ROLLBACK_STEP_STARTED: ("↶", "yellow"),
    EventType.ROLLBACK_STEP_SUCCEEDED: ("✓", "yellow"),
    EventType.ROLLBACK_STEP_FAILED: ("✗", "red"),
    EventType.ROLLBACK_STEP_SKIPPED: ("↷", "dim"),
    EventType.RUN_NEEDS_ATTENTION: ("!", "bold red"),
    EventType.RUN_CANCEL_REQUESTED: ("■", "yellow"),
    EventType.RUN_WAITING_FOR_LOCK: ("⏸", "yellow"),
    EventType.LOOP_STARTED: ("↻", "cyan"),
    EventType.LOOP_ITEM_FAILED: ("✗", "red"),
}


def describe(event: Event) -> str | None:
    """The line an event prints, or ``None`` for events a person need not see."""
    p = event.payload
    run_id = event.run_id
    match p:
        case RunResumed():
            return f"resumed by {p.owner} (was {p.status})"
        case StepStarted():
            attempt = f" (attempt {p.attempt})" if p.attempt > 1 else ""
            return f"{p.step}: {p.action}{attempt}"
        case StepSucceeded():
            dur = f" {format_duration(p.duration)}" if p.duration is not None else ""
            outs = ", ".join(f"{k}={_short(v)}" for k, v in (p.outputs or {}).items())
            return f"{p.step}{dur}" + (f"  {outs}" if outs else "")
        case StepFailed():
            return f"{p.step}: {p.error.message or 'failed'}"
        case StepRetry():
            return f"{p.step}: retrying (attempt {p.attempt}) in {format_duration(p.delay)}"
        case StepSkipped():
            return f"{p.step}: skipped ({p.reason})"
        case StepJumped():
            return f"{p.step}: goto {p.target}"
        case StepOutputTruncated():
            return (
                f"{p.step}: output past {p.cap_bytes} bytes: {p.dropped_bytes} bytes "
                "left out of the log, its end kept"
            )
        case StepContinued():
            return f"{p.step}: failure ignored (on_failure: continue)"
        case GroupStarted():
            return f"{p.step}: parallel group"
        case ChildStarted():
            return f"{p.step}: child run {p.run} ({p.runbook}@{p.version})"
        case StepCarried():
            undone = "; it was rolled back there" if p.rolled_back else ""
            return f"{p.step}: carried over from run {p.from_run} ({p.status}{undone})"
        case ApprovalRequested():
            who = ", ".join(p.approvers) or "anyone but the requester"
            return (
                f"{p.step}: waiting for approval — {p.message} (approvers: {who}; "
                f"runbook approve {run_id} / runbook reject {run_id} --reason ...)"
            )
        case ApprovalDecided():
            return f"{p.step}: {p.decision}d by {p.user}" + (f": {p.reason}" if p.reason else "")
        case ApprovalTimedOut():
            return f"{p.step}: approval timed out"
        case InputRequested():
            names = ", ".join(str(f.get("name")) for f in p.fields)
            who = f"; from: {', '.join(p.from_)}" if p.from_ else ""
            return (
                f"{p.step}: waiting for input — {p.message} (fields: {names}{who}; "
                f"runbook input {run_id} --set NAME=VALUE)"
            )
        case InputGiven():
            values = ", ".join(f"{k}={_short(v)}" for k, v in p.values.items())
            return f"{p.step}: input given by {p.user}" + (f": {values}" if values else "")
        case InputTimedOut():
            return f"{p.step}: input timed out"
        case RollbackStarted():
            return f"rolling back ({p.reason})"
        case RollbackStepStarted():
            return f"{p.step}: {'undo' if p.undo else 'rollback'} with {p.action}"
        case RollbackStepSucceeded():
            return f"{p.step}: rolled back"
        case RollbackStepFailed():
            return f"{p.step}: rollback failed: {p.error.message}"
        case RollbackStepSkipped():
            return f"{p.step}: {p.reason}"
        case RunNeedsAttention():
            choices = " | ".join(f"--{c}" for c in p.choices)
            return f"needs attention: {p.reason} → runbook resume {run_id} {choices}"
        case RunCancelRequested():
            return f"cancel requested by {p.by}"
        case RunWaitingForLock():
            return f"waiting for lock {p.lock!r} held by run {p.holder}"
        case LoopStarted():
            return f"{p.step}: for each of {len(p.items):,} items"
        case LoopItemFailed():
            return f"{p.step}: failed for good"
    return None


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


class ConsoleProgress:
    """Subscriber printing progress; rich colours on a terminal, plain lines otherwise."""

    def __init__(self, stream: TextIO | None = None, *, show_output: bool = True) -> None:
        self.stream = stream or sys.stdout
        self.console = Console(file=self.stream, highlight=False, soft_wrap=True)
        #: piped or in CI: plain lines written as they are (rich's rendering of a line costs
        #: more than the engine's whole step)
        self.plain = not self.console.is_terminal or self.console.no_color
        self.show_output = show_output
        self.items = ItemLines()  # a loop of 10,000 items: its first ones and failures

    def _line(self, markup: str, plain: str) -> None:
        if self.plain:
            self.stream.write(plain + "\n")
            self.stream.flush()
        else:
            self.console.print(markup, markup=True, highlight=False)

    def on_event(self, run: RunInfo, event: Event, state: RunState) -> None:
        if event.type == EventType.RUN_CREATED:
            return
        if event.type in (EventType.RUN_RESUMED, EventType.RUN_STARTED):
            name = printable(f"{run.runbook}@{run.version}")
            how = " (resumed)" if event.type == EventType.RUN_RESUMED else ""
            self._line(
                f"[bold]{escape(name)}[/bold] run {run.id}{how}", f"{name} run {run.id}{how}"
            )
            return
        if event.type == EventType.STEP_OUTPUT:
            output = event.payload
            if (
                self.show_output
                and isinstance(output, StepOutput)
                and self.items.shows_output(output.step)
            ):
                for line in output.lines:
                    shown = printable(line)
                    self._line(
                        f"    [dim]{output.step}│[/dim] {escape(shown)}",
                        f"    {output.step}│ {shown}",
                    )
            return
        note = self.items.note(event.step_id, event.type, run_id=run.id)
        if event.type == EventType.RUN_FINISHED:
            if note:
                self._line(f"    [dim]{escape(printable(note))}[/dim]", f"    {printable(note)}")
            return
        if not self.items.shows(event.step_id, event.type):
            return
        text = describe(event)
        if text is None:
            return
        icon, style = _ICONS.get(event.type, ("·", "white"))
        shown = printable(text)
        self._line(f"  [{style}]{icon}[/{style}] {escape(shown)}", f"  {icon} {shown}")
        if note:
            self._line(f"    [dim]{escape(printable(note))}[/dim]", f"    {printable(note)}")


class JsonLog:
    """Subscriber writing one JSON object per event (``--log-format json``)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr

    def on_event(self, run: RunInfo, event: Event, state: RunState) -> None:
        record = {
            "ts": event.ts,
            "run_id": run.id,
            "runbook": run.runbook,
            "version": run.version,
            "seq": event.seq,
            "event": event.type,
            "step_id": event.step_id,
            "status": state.status,
            **{k: v for k, v in event.data.items() if k not in ("step",)},
        }
        self.stream.write(json.dumps(record, default=str) + "\n")
        self.stream.flush()


#: a longer runbook's summary lists only the steps that did not simply succeed
SUMMARY_ROWS = 50


def summary_table(state: RunState, order: list[str]) -> Table:
    table = Table(title=None, show_edge=False, pad_edge=False)
    table.add_column("step")
    table.add_column("status")
    table.add_column("tries", justify="right")
    table.add_column("duration", justify="right")
    shown = order
    if len(order) > SUMMARY_ROWS:
        # what needs a look; the succeeded ones are counted in the last row
        shown = [sid for sid in order if not _plainly_succeeded(state, sid)]
    for sid in shown:
        st = state.steps.get(sid)
        if st is None:
            table.add_row(sid, "not run", "", "")
            continue
        status = st.status + (" (continued)" if st.continued else "")
        loop = state.loops.get(sid)
        if loop is not None:  # a for_each step: its items counted, the failed ones named
            status += f" ({describe_summary(loop_summary(sid, loop, state.steps, named=3))})"
        dur = format_duration(st.duration) if st.duration is not None else ""
        table.add_row(sid, status, str(st.attempt or ""), dur)
    left_out = len(order) - len(shown)
    if left_out:
        table.add_row(f"({left_out:,} more)", STEP_SUCCEEDED, "", "")
    return table


def _plainly_succeeded(state: RunState, step_id: str) -> bool:
    st = state.steps.get(step_id)
    return st is not None and st.status == STEP_SUCCEEDED and not st.continued
