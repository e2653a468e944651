"""What a run looks like in Slack: the run message (a step checklist with status and durations)
and the replies in its thread (failures, rollback steps, the final summary).

Pure functions of the run's state: the notifier can redraw a message from the log at any time,
in any process, and get the same picture. Every value that came from a user or a program
(parameters, output, errors, reasons, CLI user names) is escaped (``slack.escaping``), so
``<!here>`` in a parameter is shown, not sent as a notification.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runbook_engine.core.events import (
    InputRequested,
    RollbackStarted,
    RollbackStepFailed,
    RollbackStepSkipped,
    RollbackStepStarted,
    RollbackStepSucceeded,
    RunBlocked,
    RunNeedsAttention,
    StepFailed,
)
from runbook_engine.core.loop_state import describe_summary, loop_summary
from runbook_engine.core.state import (
    STEP_FAILED,
    STEP_INTERRUPTED,
    STEP_PENDING,
    STEP_RETRY_WAIT,
    STEP_RUNNING,
    STEP_SKIPPED,
    STEP_SUCCEEDED,
    STEP_WAITING,
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
    RUNNING,
    SUCCEEDED,
    WAITING_APPROVAL,
    WAITING_INPUT,
)
from runbook_engine.durations import format_duration
from runbook_engine.runtime.bus import Event
from runbook_engine.runtime.rerun import link_text
from runbook_engine.slack.escaping import escape
from runbook_engine.spec.loader import LoadedRunbook
from runbook_engine.spec.models import ApprovalStep, iter_steps

Block = dict[str, Any]

#: the action id of the "Re-run from here" button (``runbook rerun RUN --from STEP``)
RERUN = "runbook_rerun"
#: a run message offers a re-run from the failed step when its run ended so
RERUN_STATUSES = frozenset({FAILED, ROLLED_BACK, ROLLBACK_FAILED})

#: Slack refuses a section text over 3000 characters; leave room for the ellipsis
SECTION_LIMIT = 2900
STDERR_LINES = 10

STATUS_ICON = {
    PENDING: ":white_circle:",
    RUNNING: ":arrows_counterclockwise:",
    WAITING_APPROVAL: ":raised_hand:",
    WAITING_INPUT: ":memo:",
    NEEDS_ATTENTION: ":warning:",
    ROLLING_BACK: ":leftwards_arrow_with_hook:",
    SUCCEEDED: ":white_check_mark:",
    FAILED: ":x:",
    ROLLED_BACK: ":leftwards_arrow_with_hook:",
    ROLLBACK_FAILED: ":rotating_light:",
    CANCELLED: ":no_entry_sign:",
    REJECTED: ":no_entry:",
}

STEP_ICON = {
    STEP_PENDING: ":white_small_square:",
    STEP_RUNNING: ":arrows_counterclockwise:",
    STEP_RETRY_WAIT: ":repeat:",
    STEP_WAITING: ":raised_hand:",
    STEP_SUCCEEDED: ":white_check_mark:",
    STEP_FAILED: ":x:",
    STEP_SKIPPED: ":fast_forward:",
    STEP_INTERRUPTED: ":warning:",
}


@dataclass(frozen=True)
class RunView:
    """Everything the run message shows, gathered by the notifier."""

    run_id: str
    runbook: str
    version: int
    requester: str
    params: Mapping[str, Any]  # as stored: secret values are already ***
    state: RunState
    steps: tuple[tuple[str, int, bool], ...] = field(default=())  # (id, depth, is_approval)
    #: the alert that started the run (``Alert.as_dict``), if an alert did
    alert: Mapping[str, Any] | None = None
    #: the run this one re-runs (``rerun_of`` of its ``run.created``), if it is a re-run
    rerun_of: Mapping[str, Any] | None = None

    @classmethod
    def of(
        cls,
        run_id: str,
        loaded: LoadedRunbook,
        requester: str,
        params: Mapping[str, Any],
        state: RunState,
        alert: Mapping[str, Any] | None = None,
        rerun_of: Mapping[str, Any] | None = None,
    ) -> RunView:
        steps = tuple(
            (step.id, 0 if group is None else 1, isinstance(step, ApprovalStep))
            for step, group in iter_steps(loaded.runbook)
        )
        rb = loaded.runbook
        return cls(
            run_id, rb.name, rb.version, requester, dict(params), state, steps, alert, rerun_of
        )

    def rerun_start(self) -> str | None:
        """The top-level step a "Re-run from here" re-runs from: the one the run failed at
        (the group, for a step inside one); None when the run did not fail at a step."""
        if self.state.status not in RERUN_STATUSES or not self.state.failure:
            return None
        failed = str(self.state.failure.get("step") or "")
        top: str | None = None
        for sid, depth, _ in self.steps:
            if depth == 0:
                top = sid
            if sid == failed:
                return top
        return None


def alert_line(alert: Mapping[str, Any]) -> str:
    """The alert a run came from, in one context line: what fired, where from, its labels,
    and a link to its source (the alert's own text is the sender's: escaped, and clipped)."""
    raw = alert.get("labels")
    labels: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    name = str(labels.get("alertname") or alert.get("summary") or alert.get("fingerprint") or "")
    head = f"alert *{escape(_one_line(name, 200))}* ({escape(str(alert.get('source', '')))}"
    head += f", {escape(str(alert.get('status', 'firing')))})"
    shown = ", ".join(
        f"{escape(_one_line(str(k), 60))}={escape(_one_line(str(v), 120))}"
        for k, v in labels.items()
        if k != "alertname"
    )
    if shown:
        head += f" · {shown}"
    url = str(alert.get("generator_url") or "")
    if url.startswith(("https://", "http://")) and not any(c in url for c in "<>|"):
        head += f" · <{url}|source>"
    return clip(head, 2000)


def clip(text: str, limit: int = SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mention(user: str) -> str:
    """Slack user ids render as mentions; other names (from the CLI) stay plain text."""
    if user[:1] in "UW" and user[1:].isalnum() and user.isupper():
        return f"<@{user}>"
    return escape(user)


def elapsed(state: RunState, now: float) -> float | None:
    if state.started_at is None:
        return None
    return (state.finished_at or now) - state.started_at


def _step_line(sid: str, depth: int, st: StepState, state: RunState, approval: bool) -> str:
    icon = STEP_ICON.get(st.status, ":grey_question:")
    line = f"{'    ' * depth}{icon} `{sid}`"
    if st.status == STEP_SUCCEEDED and st.duration is not None:
        line += f"  {format_duration(st.duration)}"
    if st.attempt > 1:
        line += f"  (attempt {st.attempt})"
    if st.status == STEP_RUNNING:
        line += "  running"
    elif st.status == STEP_RETRY_WAIT:
        line += "  waiting to retry"
    elif st.status == STEP_WAITING:
        line += "  waiting for approval" if approval else "  waiting for input"
    elif st.status == STEP_SKIPPED:
        line += "  skipped"
    elif st.status == STEP_INTERRUPTED:
        line += "  interrupted"
    elif st.status == STEP_FAILED and st.error:
        line += f"  {escape(_one_line(str(st.error.get('message', 'failed')), 120))}"
    if approval and st.status == STEP_SUCCEEDED:
        by = ", ".join(mention(d.user) for d in state.approvals.get(sid, ()))
        line += f"  approved by {by}" if by else "  approved"
    if st.continued:
        line += "  (failure ignored)"
    loop = state.loops.get(sid)
    if loop is not None:  # a for_each step: its items counted, the first failed ones named
        summary = loop_summary(sid, loop, state.steps, named=5)
        line += f"  ({escape(describe_summary(summary))})"
        undone = []
    else:
        undone = [c.rollback for c in state.completed if c.step == sid]
    if undone and undone[-1] == "succeeded":
        line += "  :leftwards_arrow_with_hook: rolled back"
    elif undone and undone[-1] == "failed":
        line += "  :rotating_light: rollback failed"
    return line


def _one_line(text: str, limit: int) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return clip(first, limit)


def headline(view: RunView, now: float) -> str:
    state = view.state
    took = elapsed(state, now)
    icon = STATUS_ICON.get(state.status, ":grey_question:")
    status = state.status.replace("_", " ")
    text = f"{icon} *{view.runbook}@{view.version}* — {status}"
    if took is not None:
        text += f" ({'took' if state.finished_at else 'for'} {format_duration(took)})"
    return text


def run_message(view: RunView, now: float) -> tuple[str, list[Block]]:
    """The run message: fallback text (notifications) and blocks (the checklist)."""
    state = view.state
    head = headline(view, now)
    blocks: list[Block] = [{"type": "section", "text": {"type": "mrkdwn", "text": head}}]
    params = ", ".join(f"{k}={escape(_short(v))}" for k, v in view.params.items())
    context = f"run `{view.run_id}` · started by {mention(view.requester)}"
    if params:
        context += f" · {params}"
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(context, 2000)}]}
    )
    if view.alert:
        line = alert_line(view.alert)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]})
    if view.rerun_of:
        line = clip(escape(link_text(view.rerun_of)), 2000)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]})
    lines = [
        _step_line(sid, depth, state.step(sid), state, approval)
        for sid, depth, approval in view.steps
    ]
    blocks.extend(_sections(lines))
    if state.failure and state.status not in (SUCCEEDED,):
        where = f"`{state.failure['step']}`: " if state.failure.get("step") else ""
        message = escape(_one_line(str(state.failure.get("message", "")), 500))
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Failure* {where}{message}"}}
        )
    if state.status == WAITING_INPUT:
        blocks.extend(input_blocks(view))
    if state.status == NEEDS_ATTENTION:
        choices = " | ".join(f"--{c}" for c in (state.attention or {}).get("choices", []))
        hint = f"A person must decide: `runbook resume {view.run_id} {choices}`"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": hint}})
    start = view.rerun_start()
    if start is not None:
        value = json.dumps({"run": view.run_id, "step": start}, separators=(",", ":"))
        button = {
            "type": "button",
            "action_id": RERUN,
            "text": {"type": "plain_text", "text": "Re-run from here"},
            "value": value,
        }
        blocks.append({"type": "actions", "elements": [button]})
    fallback = f"{view.runbook}@{view.version} run {view.run_id}: {state.status}"
    return fallback, blocks


#: the run message's button that opens the form of the input step the run waits for
INPUT_BUTTON = "runbook_input"


def input_blocks(view: RunView) -> list[Block]:
    """While the run waits for input: a "Provide input" button (it opens a form of the
    step's fields) and how to give it from a terminal."""
    waiting = [
        sid
        for sid, _, approval in view.steps
        if not approval and view.state.step(sid).status == STEP_WAITING
    ]
    if not waiting:
        return []
    sid = waiting[0]
    value = json.dumps({"run": view.run_id, "step": sid}, separators=(",", ":"))
    hint = (
        f":memo: Step `{sid}` waits for input: use the button, or "
        f"`runbook input {view.run_id} --set NAME=VALUE`"
    )
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": hint}},
        {
            "type": "actions",
            "block_id": f"input:{sid}",
            "elements": [
                {
                    "type": "button",
                    "action_id": INPUT_BUTTON,
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Provide input"},
                    "value": value,
                }
            ],
        },
    ]


def _sections(lines: list[str]) -> list[Block]:
    """Lines packed into as few sections as Slack's per-section limit allows."""
    out: list[Block] = []
    chunk: list[str] = []
    size = 0
    for full in lines:
        line = clip(full, 300)
        if chunk and size + len(line) + 1 > SECTION_LIMIT:
            out.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(chunk)}})
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(chunk)}})
    return out[:45]  # Slack allows 50 blocks a message; the header and footer need a few


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return clip(text, 60)


def _code(text: str) -> str:
    # a ``` inside would end the block early; a zero-width space keeps the backticks apart
    return "```" + text.replace("```", "`\u200b`\u200b`") + "```"


# --------------------------------------------------------------------------- thread replies


def failure_reply(event: Event, attempts: int | None = None) -> str:
    """A step failed: where, how (exit code), the message and the last lines of stderr."""
    failed = event.payload
    if not isinstance(failed, StepFailed):
        return clip(f":x: a step failed (event {event.seq})")
    step, err = failed.step, failed.error
    if err.kind in ("rejected", "approval_timeout"):
        return clip(f":no_entry: approval `{step}`: {escape(_one_line(err.message, 500))}")
    if err.kind == "input_timeout":
        return clip(f":hourglass: input `{step}`: {escape(_one_line(err.message, 500))}")
    parts = [f":x: `{step}` failed"]
    if err.host:
        parts.append(f"on `{escape(err.host)}`")
    if err.exit_code is not None:
        parts.append(f"with exit code {err.exit_code}")
    if failed.attempt:
        parts.append(f"(attempt {failed.attempt}{f' of {attempts}' if attempts else ''})")
    text = " ".join(parts)
    message = err.message.strip()
    if message:
        text += f"\n> {escape(_one_line(message, 500))}"
    stderr = (err.stderr or "").rstrip()
    if stderr:
        tail = "\n".join(stderr.splitlines()[-STDERR_LINES:])
        text += "\nLast lines of stderr:\n" + _code(escape(clip(tail, 2000)))
    return clip(text)


def rollback_reply(event: Event) -> str | None:
    p = event.payload
    match p:
        case RollbackStarted():
            return f":leftwards_arrow_with_hook: Rolling back ({escape(p.reason or 'failed')})"
        case RollbackStepStarted():
            how = "undo" if p.undo else "rollback"
            return f":leftwards_arrow_with_hook: `{p.step}`: {how} with `{p.action}`"
        case RollbackStepSucceeded():
            return f":white_check_mark: `{p.step}` rolled back"
        case RollbackStepFailed():
            msg = escape(_one_line(p.error.message, 500))
            return f":rotating_light: rollback of `{p.step}` failed: {msg}"
        case RollbackStepSkipped():
            return f":fast_forward: `{p.step}`: {escape(p.reason or 'skipped')}"
    return None


def attention_reply(event: Event) -> str:
    p = event.payload
    reason, choices = (p.reason, p.choices) if isinstance(p, RunNeedsAttention) else ("", [])
    shown = " | ".join(f"--{c}" for c in choices)
    return clip(
        f":warning: Needs attention: {escape(reason)}\n"
        f"Decide with `runbook resume {event.run_id} {shown}`"
    )


def input_reply(event: Event) -> str:
    """An input step asks: what, of whom, and how to answer."""
    p = event.payload
    if not isinstance(p, InputRequested):
        return clip(f":memo: a step waits for input (event {event.seq})")
    who = ", ".join(f"`{escape(w)}`" if w.startswith("@") else mention(w) for w in p.from_)
    text = f":memo: *Input needed* — step `{p.step}`: {escape(_one_line(p.message, 500))}"
    if who:
        text += f"\nFrom: {who}"
    text += (
        "\nUse *Provide input* on the run message, or "
        f"`runbook input {event.run_id} --set NAME=VALUE`"
    )
    return clip(text)


def blocked_reply(event: Event) -> str:
    p = event.payload
    reason = p.reason if isinstance(p, RunBlocked) else ""
    return clip(f":lock: The run cannot go on: {reason}")


def summary_reply(view: RunView, now: float) -> str:
    state = view.state
    done = sum(1 for sid, _, _ in view.steps if state.step(sid).status == STEP_SUCCEEDED)
    text = f"{headline(view, now)}\n{done} of {len(view.steps)} steps succeeded"
    if state.failure and state.status != SUCCEEDED:
        where = f"`{state.failure['step']}`: " if state.failure.get("step") else ""
        text += f"\n{where}{escape(_one_line(str(state.failure.get('message', '')), 500))}"
    if state.status == CANCELLED and state.cancelled_by:
        text += f"\ncancelled by {mention(state.cancelled_by)}"
    return clip(text)
