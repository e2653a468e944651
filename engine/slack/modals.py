"""Modals: fill in and confirm a run's parameters, and give a reason for a rejection.

A modal's ``private_metadata`` carries what the submission needs (run id, runbook, channel).
It comes back inside a signed payload, so it is as trustworthy as the rest of that payload.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runbook_engine.slack.messages import Block, clip
from runbook_engine.spec.loader import LoadedRunbook
from runbook_engine.spec.models import Parameter

RUN_VIEW = "runbook_run"
REJECT_VIEW = "runbook_reject"
REASON_BLOCK = "reason"
PARAM_PREFIX = "param:"


@dataclass(frozen=True)
class RunRequest:
    """A run asked for from Slack, before it exists."""

    run_id: str
    ref: str  # NAME or NAME@VERSION
    channel: str
    response_url: str | None = None

    def dumps(self) -> str:
        return json.dumps(self.__dict__, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> RunRequest:
        data = json.loads(text)
        return cls(
            run_id=str(data["run_id"]),
            ref=str(data["ref"]),
            channel=str(data["channel"]),
            response_url=data.get("response_url"),
        )


def _text(text: str, limit: int = 150) -> Block:
    return {"type": "plain_text", "text": clip(text, limit)}


def _initial(param: Parameter, given: Mapping[str, str], name: str) -> str | None:
    if name in given:
        return given[name]
    if "default" in param.model_fields_set and param.default is not None:
        value = param.default
        return (
            ", ".join(map(str, value))
            if isinstance(value, list)
            else str(value).lower()
            if (isinstance(value, bool))
            else str(value)
        )
    return None


def _element(name: str, param: Parameter, initial: str | None) -> Block:
    if param.type in ("enum", "boolean"):
        choices = (
            [str(c) for c in param.choices or []]
            if param.type == "enum"
            else [
                "true",
                "false",
            ]
        )
        options = [{"text": _text(c, 75), "value": c} for c in choices]
        element: Block = {"type": "static_select", "action_id": "value", "options": options}
        if initial is not None and initial in choices:
            element["initial_option"] = options[choices.index(initial)]
        return element
    element = {"type": "plain_text_input", "action_id": "value"}
    if initial is not None:
        element["initial_value"] = initial
    if param.type == "list":
        element["placeholder"] = _text("comma-separated values")
    return element


def field_input(name: str, param: Parameter, given: Mapping[str, str]) -> Block:
    """The input block of one parameter (or one field of an input step), prefilled with what
    was typed, else its default."""
    hint = param.description or param.type
    if param.secret:
        hint += " (secret: never stored or shown)"
    return {
        "type": "input",
        "block_id": PARAM_PREFIX + name,
        "optional": not param.is_required,
        "label": _text(name, 2000),
        "hint": _text(hint, 2000),
        "element": _element(name, param, _initial(param, given, name)),
    }


def plain_text(text: str, limit: int = 150) -> Block:
    """A ``plain_text`` object, clipped to ``limit`` characters."""
    return _text(text, limit)


def run_modal(loaded: LoadedRunbook, given: Mapping[str, str], request: RunRequest) -> Block:
    """A modal asking for every parameter, prefilled with what was typed and the defaults."""
    rb = loaded.runbook
    blocks: list[Block] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": clip(f"*{rb.name}@{rb.version}*\n{rb.description}".strip()),
            },
        }
    ]
    for name, param in list(rb.parameters.items())[:90]:
        blocks.append(field_input(name, param, given))
    return {
        "type": "modal",
        "callback_id": RUN_VIEW,
        "title": _text(f"Run {rb.name}", 24),
        "submit": _text("Run", 24),
        "close": _text("Cancel", 24),
        "private_metadata": request.dumps(),
        "blocks": blocks,
    }


def submitted_params(view: Mapping[str, Any]) -> dict[str, str]:
    """The parameter values of a submitted run modal, as text (empty fields left out)."""
    values: dict[str, str] = {}
    for block_id, fields in (view.get("state", {}).get("values") or {}).items():
        if not block_id.startswith(PARAM_PREFIX):
            continue
        field = fields.get("value") or {}
        if field.get("type") == "static_select":
            chosen = (field.get("selected_option") or {}).get("value")
        else:
            chosen = field.get("value")
        if chosen not in (None, ""):
            values[block_id[len(PARAM_PREFIX) :]] = str(chosen)
    return values


def reject_modal(run_id: str, step: str, channel: str) -> Block:
    meta = json.dumps({"run": run_id, "step": step, "channel": channel}, separators=(",", ":"))
    return {
        "type": "modal",
        "callback_id": REJECT_VIEW,
        "title": _text("Reject", 24),
        "submit": _text("Reject", 24),
        "close": _text("Cancel", 24),
        "private_metadata": meta,
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"Reject step `{step}` of run `{run_id}`? Completed steps are "
                    "rolled back.",
                },
            },
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "label": _text("Reason"),
                "element": {"type": "plain_text_input", "action_id": "value", "multiline": True},
            },
        ],
    }


def submitted_reason(view: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """(run id, step, channel, reason) from a submitted reject modal."""
    meta = json.loads(view.get("private_metadata") or "{}")
    field = (view.get("state", {}).get("values") or {}).get(REASON_BLOCK, {}).get("value", {})
    reason = str(field.get("value") or "").strip()
    return (
        str(meta.get("run", "")),
        str(meta.get("step", "")),
        str(meta.get("channel", "")),
        (reason),
    )
