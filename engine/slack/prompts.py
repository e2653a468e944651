"""The approval prompt: a Block Kit message with Approve and Reject buttons that shows, as
people decide, who decided what and when, and finally how the step ended.

The message is the runbook's template rendered with the run's values: the template's own
mentions stay mentions, anything a value brought in is escaped (``slack.escaping``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runbook_engine.core.events import ApprovalRequested
from runbook_engine.core.state import STEP_FAILED, STEP_SUCCEEDED, STEP_WAITING, RunState
from runbook_engine.slack.escaping import author_text, escape
from runbook_engine.slack.messages import Block, clip, mention

APPROVE = "runbook_approve"
REJECT = "runbook_reject"


@dataclass(frozen=True)
class Prompt:
    """One request for approval, from its ``approval.requested`` event."""

    run_id: str
    runbook: str
    step: str
    seq: int  # the event's seq: a step visited again (goto) gets a new prompt
    message: str
    approvers: tuple[str, ...]
    required: int
    deadline: float | None
    on_timeout: str
    requester: str

    @classmethod
    def from_event(
        cls, run_id: str, runbook: str, requester: str, seq: int, data: Mapping[str, Any]
    ) -> Prompt:
        asked = ApprovalRequested.of(data)
        return cls(
            run_id=run_id,
            runbook=runbook,
            step=asked.step,
            seq=seq,
            message=asked.message,
            approvers=tuple(str(a) for a in asked.approvers),
            required=int(asked.required),
            deadline=asked.deadline,
            on_timeout=asked.on_timeout,
            requester=requester,
        )


def button_value(run_id: str, step: str) -> str:
    return json.dumps({"run": run_id, "step": step}, separators=(",", ":"))


def parse_button_value(value: str) -> tuple[str, str]:
    data = json.loads(value)
    return str(data["run"]), str(data["step"])


def _when(ts: float) -> str:
    """A date Slack shows in each reader's own time zone."""
    return f"<!date^{int(ts)}^{{date_short_pretty}} {{time}}|{int(ts)}>"


def _who(entry: str) -> str:
    if entry.startswith("@"):
        return f"`{entry}`"
    return mention(entry)


def prompt_message(prompt: Prompt, state: RunState, template: str = "") -> tuple[str, list[Block]]:
    """The prompt's text and blocks. ``template``: the step's ``approval.message`` as the
    runbook writes it; without it, nothing in the message is live markup."""
    st = state.step(prompt.step)
    # decisions made during this visit of the step only
    decisions = [d for d in state.approvals.get(prompt.step, ()) if d.at >= (st.started_at or 0)]
    approved = sum(1 for d in decisions if d.decision == "approve")
    open_ = st.status == STEP_WAITING and state.step(prompt.step).started_at is not None
    head = (
        f":raised_hand: *Approval needed* — `{prompt.runbook}` run `{prompt.run_id}`, "
        f"step `{prompt.step}`"
    )
    blocks: list[Block] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": head}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": clip("> " + author_text(prompt.message, template))},
        },
    ]
    who = ", ".join(_who(a) for a in prompt.approvers) or "anyone"
    details = f"Approvers: {who} · {approved} of {prompt.required} approvals"
    details += f" · requested by {mention(prompt.requester)}"
    if prompt.deadline is not None and open_:
        details += f" · times out {_when(prompt.deadline)} ({prompt.on_timeout} then)"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(details)}]})
    lines = []
    for d in decisions:
        icon = ":white_check_mark:" if d.decision == "approve" else ":no_entry:"
        verb = "approved" if d.decision == "approve" else "rejected"
        line = f"{icon} {verb} by {mention(d.user)} {_when(d.at)}"
        if d.reason:
            line += f": {escape(d.reason)}"
        lines.append(line)
    outcome = _outcome(prompt, state)
    if outcome:
        lines.append(outcome)
    if lines:
        text = clip("\n".join(lines))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if open_ and not outcome:
        value = button_value(prompt.run_id, prompt.step)
        blocks.append(
            {
                "type": "actions",
                "block_id": f"approval:{prompt.step}",
                "elements": [
                    {
                        "type": "button",
                        "action_id": APPROVE,
                        "style": "primary",
                        "text": {"type": "plain_text", "text": "Approve"},
                        "value": value,
                    },
                    {
                        "type": "button",
                        "action_id": REJECT,
                        "style": "danger",
                        "text": {"type": "plain_text", "text": "Reject"},
                        "value": value,
                    },
                ],
            }
        )
    text = f"Approval needed: {prompt.runbook} run {prompt.run_id}, step {prompt.step}"
    if outcome:
        text = f"{prompt.runbook} run {prompt.run_id}, step {prompt.step}: {outcome}"
    return text, blocks


def _outcome(prompt: Prompt, state: RunState) -> str:
    """How the step ended, or "" while it is still open."""
    st = state.step(prompt.step)
    if st.status == STEP_SUCCEEDED:
        return "*Approved* (timed out; on_timeout: approve)" if st.timed_out else "*Approved*"
    if st.status == STEP_FAILED:
        if (st.error or {}).get("kind") == "approval_timeout" or st.timed_out:
            return ":hourglass: *Timed out* — rejected"
        return "*Rejected*"
    if st.status == STEP_WAITING:
        if state.status not in ("waiting_approval", "running", "pending"):
            return f"*Closed* — the run is {state.status.replace('_', ' ')}"
        return ""
    return f"*Closed* — the run is {state.status.replace('_', ' ')}"
