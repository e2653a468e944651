"""What a person sees while a run goes: one line per event, coloured in a terminal, plain when
piped; and the summary table at the end."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from runbook_engine.core.events import EventType
from runbook_engine.core.state import RunState
from runbook_engine.durations import format_duration
from runbook_engine.runtime.bus import Event, RunInfo

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
    EventType.ROLLBACK_STARTED: ("↶", "yellow"),
    EventType.ROLLBACK_STEP_STARTED: ("↶", "yellow"),
    EventType.ROLLBACK_STEP_SUCCEEDED: ("✓", "yellow"),
    EventType.ROLLBACK_STEP_FAILED: ("✗", "red"),
    EventType.ROLLBACK_STEP_SKIPPED: ("↷", "dim"),
    EventType.RUN_NEEDS_ATTENTION: ("!", "bold red"),
    EventType.RUN_CANCEL_REQUESTED: ("■", "yellow"),
    EventType.RUN_WAITING_FOR_LOCK: ("⏸", "yellow"),
}


def describe(event: Event) -> str | None:
    d = event.data
    step = d.get("step", "")
    t = event.type
    if t == EventType.RUN_STARTED:
        return None
    if t == EventType.RUN_RESUMED:
        return f"resumed by {d.get('owner')} (was {d.get('status')})"
    if t == EventType.STEP_STARTED:
        attempt = f" (attempt {d['attempt']})" if d.get("attempt", 1) > 1 else ""
        return f"{step}: {d.get('action')}{attempt}"
    if t == EventType.STEP_SUCCEEDED:
        dur = f" {format_duration(d['duration'])}" if d.get("duration") is not None else ""
        outs = ", ".join(f"{k}={_short(v)}" for k, v in (d.get("outputs") or {}).items())
        return f"{step}{dur}" + (f"  {outs}" if outs else "")
    if t == EventType.STEP_FAILED:
        err = d.get("error") or {}
        return f"{step}: {err.get('message', 'failed')}"
    if t == EventType.STEP_RETRY:
        return f"{step}: retrying (attempt {d['attempt']}) in {format_duration(d['delay'])}"
    if t == EventType.STEP_SKIPPED:
        return f"{step}: skipped ({d.get('reason', '')})"
    if t == EventType.STEP_JUMPED:
        return f"{step}: goto {d.get('target')}"
    if t == EventType.STEP_OUTPUT_TRUNCATED:
        return (
            f"{step}: output past {d.get('cap_bytes')} bytes: {d.get('dropped_bytes')} bytes "
            "left out of the log, its end kept"
        )
    if t == EventType.STEP_CONTINUED:
        return f"{step}: failure ignored (on_failure: continue)"
    if t == EventType.GROUP_STARTED:
        return f"{step}: parallel group"
    if t == EventType.APPROVAL_REQUESTED:
        who = ", ".join(d.get("approvers") or []) or "anyone but the requester"
        return (
            f"{step}: waiting for approval — {d.get('message')} (approvers: {who}; "
            f"runbook approve {event.run_id} / runbook reject {event.run_id} --reason ...)"
        )
    if t == EventType.APPROVAL_DECIDED:
        return f"{step}: {d.get('decision')}d by {d.get('user')}" + (
            f": {d['reason']}" if d.get("reason") else ""
        )
    if t == EventType.APPROVAL_TIMED_OUT:
        return f"{step}: approval timed out"
    if t == EventType.ROLLBACK_STARTED:
        return f"rolling back ({d.get('reason')})"
    if t == EventType.ROLLBACK_STEP_STARTED:
        how = "undo" if d.get("undo") else "rollback"
        return f"{step}: {how} with {d.get('action')}"
    if t == EventType.ROLLBACK_STEP_SUCCEEDED:
        return f"{step}: rolled back"
    if t == EventType.ROLLBACK_STEP_FAILED:
        return f"{step}: rollback failed: {(d.get('error') or {}).get('message')}"
    if t == EventType.ROLLBACK_STEP_SKIPPED:
        return f"{step}: {d.get('reason')}"
    if t == EventType.RUN_NEEDS_ATTENTION:
        choices = " | ".join(f"--{c}" for c in d.get("choices", []))
        return f"needs attention: {d.get('reason')} → runbook resume {event.run_id} {choices}"
    if t == EventType.RUN_CANCEL_REQUESTED:
        return f"cancel requested by {d.get('by')}"
    if t == EventType.RUN_WAITING_FOR_LOCK:
        return f"waiting for lock {d.get('lock')!r} held by run {d.get('holder')}"
    return None


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


class ConsoleProgress:
    """Subscriber printing progress; rich colours on a terminal, plain lines otherwise."""

    def __init__(self, stream: TextIO | None = None, *, show_output: bool = True) -> None:
        self.stream = stream or sys.stdout
        self.console = Console(file=self.stream, highlight=False, soft_wrap=True)
        self.show_output = show_output

    def on_event(self, run: RunInfo, event: Event, state: RunState) -> None:
        if event.type == EventType.RUN_CREATED:
            return
        if event.type == EventType.RUN_RESUMED:
            self.console.print(
                f"[bold]{run.runbook}@{run.version}[/bold] run {run.id} (resumed)", markup=True
            )
            return
        if event.type == EventType.RUN_STARTED:
            self.console.print(
                f"[bold]{run.runbook}@{run.version}[/bold] run {run.id}", markup=True
            )
            return
        if event.type == EventType.STEP_OUTPUT:
            if self.show_output:
                for line in event.data.get("lines", []):
                    self.console.print(
                        f"    [dim]{event.data.get('step')}│[/dim] {escape(line)}",
                        markup=True,
                        highlight=False,
                    )
            return
        if event.type == EventType.RUN_FINISHED:
            return
        text = describe(event)
        if text is None:
            return
        icon, style = _ICONS.get(event.type, ("·", "white"))
        self.console.print(f"  [{style}]{icon}[/{style}] {escape(text)}", markup=True)


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


def summary_table(state: RunState, order: list[str]) -> Table:
    table = Table(title=None, show_edge=False, pad_edge=False)
    table.add_column("step")
    table.add_column("status")
    table.add_column("tries", justify="right")
    table.add_column("duration", justify="right")
    for sid in order:
        st = state.steps.get(sid)
        if st is None:
            table.add_row(sid, "not run", "", "")
            continue
        status = st.status + (" (continued)" if st.continued else "")
        dur = format_duration(st.duration) if st.duration is not None else ""
        table.add_row(sid, status, str(st.attempt or ""), dur)
    return table
