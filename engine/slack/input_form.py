"""The form of an input step in Slack: a modal built from the step's fields, opened by the run
message's "Provide input" button, and what its submission holds.

Fields are asked as a run's parameters are (``slack.modals``: a select for choices and
booleans, text for the rest, prefilled with the defaults). A secret field is not asked: Slack
keeps what is typed in a modal, so the form says to give it with ``runbook input`` or the API;
a step with a required secret field has no submit button at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runbook_engine.slack.escaping import author_text
from runbook_engine.slack.messages import Block, clip
from runbook_engine.slack.modals import PARAM_PREFIX, field_input, plain_text, submitted_params
from runbook_engine.spec.models import InputStep

__all__ = ["FIELD_PREFIX", "INPUT_VIEW", "InputForm", "input_modal", "submitted_values"]

INPUT_VIEW = "runbook_input"
#: the block id of a field's input: the same prefix as a run form's parameters
FIELD_PREFIX = PARAM_PREFIX


@dataclass(frozen=True)
class InputForm:
    """What a submitted input modal is about (its ``private_metadata``)."""

    run_id: str
    step: str
    channel: str

    def dumps(self) -> str:
        return json.dumps(
            {"run": self.run_id, "step": self.step, "channel": self.channel}, separators=(",", ":")
        )

    @classmethod
    def loads(cls, text: str) -> InputForm:
        data = json.loads(text or "{}")
        return cls(
            str(data.get("run", "")), str(data.get("step", "")), str(data.get("channel", ""))
        )


def input_modal(form: InputForm, step: InputStep, message: str) -> Block:
    """The modal for ``step``: its rendered ``message``, then one input per field that is not
    secret; a note for the secret ones."""
    spec = step.input
    blocks: list[Block] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": clip(
                    f"Run `{form.run_id}`, step `{step.id}`\n> "
                    + author_text(message, spec.message)
                ),
            },
        }
    ]
    secret = [name for name, field in spec.fields.items() if field.secret]
    for name, field in spec.fields.items():
        if field.secret:
            continue
        blocks.append(field_input(name, field, {}))
    askable = not any(spec.fields[name].is_required for name in secret)
    if secret:
        sets = " ".join(f"--set {name}=-" for name in secret)
        note = (
            f":lock: {', '.join(f'`{n}`' for n in secret)}: secret, so not asked here (Slack "
            f"keeps what is typed in a form). Give {'them' if len(secret) > 1 else 'it'} with "
            f"`runbook input {form.run_id} {sets}` or the API"
        )
        if not askable:
            note += "; this step cannot be answered from Slack."
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(note)}]})
    view: Block = {
        "type": "modal",
        "callback_id": INPUT_VIEW,
        "title": plain_text("Provide input", 24),
        "close": plain_text("Cancel", 24),
        "private_metadata": form.dumps(),
        "blocks": blocks[:100],
    }
    if askable:
        view["submit"] = plain_text("Submit", 24)
    return view


def submitted_values(view: Mapping[str, Any]) -> dict[str, str]:
    """The values of a submitted input modal, as text (empty fields left out: their
    defaults apply)."""
    return submitted_params(view)
