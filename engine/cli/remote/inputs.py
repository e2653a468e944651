"""The remote half of ``runbook input``: the server checks and records the values and drives
the run on (a secret value lives in that server's memory only); this side sends them, then
follows the run as ``runbook approve`` does, to the same output and exit code."""

from __future__ import annotations

import sys
from typing import Any

import click

from runbook_engine.cli.input_cmd import ask_fields, set_values, shown_values
from runbook_engine.cli.remote.records import run_path
from runbook_engine.cli.remote.runs import follow_after
from runbook_engine.client.transport import ApiClient
from runbook_engine.errors import NotWaitingForInput


def give(
    run_id: str, pairs: tuple[str, ...], as_user: str | None, no_resume: bool, output: str
) -> None:
    from runbook_engine.auth.local import acting_user
    from runbook_engine.terminal import printable

    acting_user(as_user)  # refuses --as and RUNBOOK_USER: the server knows who gives it
    with ApiClient.from_env() as api:
        before: dict[str, Any] = api.get(run_path(run_id))
        asked = before.get("input")
        if not isinstance(asked, dict):
            raise NotWaitingForInput(
                f"run {before['id']} is {before['status']}, not waiting for input"
            )
        fields = list(asked.get("fields") or [])
        given = set_values(pairs, fields)
        if not pairs and sys.stdin.isatty() and output == "text":
            given = ask_fields(fields)
        answer = api.post(
            run_path(before["id"], "input"), {"values": given, "values_from_text": True}
        )
        gave = {
            "run_id": answer["run_id"],
            "step": answer["step"],
            "values": answer["values"],
            "user": answer["user"],
        }
        if output == "text":
            click.echo(
                f"gave input to step {answer['step']} of run {answer['run_id']} as "
                f"{printable(answer['user'])}: {shown_values(answer['values'])}"
            )
        follow_after(api, before, gave, no_resume=no_resume, output=output)
