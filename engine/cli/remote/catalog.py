"""The remote halves of ``list``, ``diff``, ``plan``, ``schedules`` and ``report``: the
server's runbooks, schedules and report, through its API, printed by the views the local
commands use. Nothing here opens a store or reads a runbook file.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from runbook_engine.cli.catalog_views import runbook_row, show_diff, show_plan, show_runbooks
from runbook_engine.cli.schedule_views import schedule_row, show_report, show_schedules
from runbook_engine.client.transport import ApiClient
from runbook_engine.errors import InputRefused
from runbook_engine.report import RunbookReport

#: the largest page the API gives: fewer round trips for a long list
PAGE = 500


def runbook_ref(ref: str) -> str:
    """``ref`` for a URL path. A server names runbooks, it never reads a path it is given (it
    runs its own files), so a path is refused here, with the reason, before any request."""
    if "/" in ref or "\\" in ref or ref.endswith((".yaml", ".yml")):
        raise InputRefused(
            f"{ref}: with RUNBOOK_SERVER set, name a runbook of the server (NAME or "
            "NAME@VERSION); it runs its own files, not this machine's"
        )
    return quote(ref, safe="@")


def list_runbooks(output: str) -> None:
    with ApiClient.from_env() as api:
        rows = [
            # the API does not say where the server keeps its files: of no use to a client
            runbook_row(x["name"], x["version"], x.get("description", ""), None, x["digest"])
            for x in api.pages("/runbooks", limit=PAGE)
        ]
    # the server skips its invalid files as a local list does, but does not list them
    show_runbooks(rows, [], output)


def diff(a: str, b: str) -> None:
    path = f"/runbooks/{runbook_ref(a)}/diff/{runbook_ref(b)}"
    with ApiClient.from_env() as api:
        answer = api.get(path)
    show_diff(answer["left"], answer["right"], answer["diff"])


def plan(ref: str, params: Mapping[str, str], output: str) -> None:
    """``params`` are ``-p KEY=VALUE`` text; the server parses them as a local plan would."""
    path = f"/runbooks/{runbook_ref(ref)}/plan"
    with ApiClient.from_env() as api:
        answer = api.post(path, {"params": dict(params), "params_from_text": True})
    show_plan(answer, output)


def _when(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def schedules(count: int, output: str) -> None:
    now = datetime.now(UTC)
    with ApiClient.from_env() as api:
        entries: list[dict[str, Any]] = api.get("/schedules", count=count)
    # the API groups a schedule's fire times; a local list has one row per fire time, each
    # schedule's in order, which is the order they come in
    rows = [
        schedule_row(
            e["runbook"],
            e["version"],
            e["schedule"],
            cron=e["cron"],
            timezone=e["timezone"],
            missed=e["missed"],
            params=e["params"],
            when=_when(when),
        )
        for e in entries
        for when in e["next"]
    ]
    show_schedules(rows, now, output)


def report(start: datetime, slack_channel: str | None, output: str) -> None:
    with ApiClient.from_env() as api:
        answer = api.get("/report", since=start.isoformat())
    reports = [RunbookReport.from_dict(r) for r in answer["runbooks"]]
    show_report(reports, start, slack_channel, output)
