"""What ``schedules`` and ``report`` print (and post to Slack), from plain data, so that the
server's answers (``runbook_engine.cli.remote.catalog``) print as the local commands do."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import click

from runbook_engine.cli._common import emit_json
from runbook_engine.errors import RunbookError
from runbook_engine.report import RunbookReport, summary_text


def schedule_row(
    runbook: str,
    version: int,
    index: int,
    *,
    cron: str,
    timezone: str,
    missed: str,
    params: Mapping[str, Any],
    when: datetime,
) -> dict[str, Any]:
    """One fire time of one schedule, as ``schedules -o json`` shows it."""
    return {
        "runbook": runbook,
        "version": version,
        "schedule": index,
        "cron": cron,
        "timezone": timezone,
        "missed": missed,
        "params": dict(params),
        "next": when.isoformat(),
    }


def show_schedules(rows: Sequence[Mapping[str, Any]], now: datetime, output: str) -> None:
    if output == "json":
        emit_json(list(rows))
        return
    if not rows:
        click.echo("no runbook has a schedule")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    for col in ("runbook", "cron", "timezone", "missed", "next (UTC)", "in"):
        table.add_column(col)
    for r in rows:
        when = datetime.fromisoformat(r["next"])
        delta = when - now
        table.add_row(
            f"{r['runbook']}@{r['version']}",
            r["cron"],
            r["timezone"],
            r["missed"],
            f"{when:%Y-%m-%d %H:%M:%S}",
            str(delta).split(".")[0],
        )
    Console(soft_wrap=True).print(table)


def check_slack(channel: str | None) -> None:
    """Refuse ``--slack`` without a bot token before anything is read or asked."""
    if channel and not os.environ.get("SLACK_BOT_TOKEN"):
        raise RunbookError("--slack needs SLACK_BOT_TOKEN in the environment")


def show_report(
    reports: Sequence[RunbookReport], start: datetime, slack_channel: str | None, output: str
) -> None:
    """The report, after posting its summary to ``slack_channel`` when one is given (from
    this machine, with its ``SLACK_BOT_TOKEN``, in client mode too)."""
    if slack_channel:
        post_to_slack(slack_channel, summary_text(list(reports), start))
    if output == "json":
        emit_json({"since": start.isoformat(), "runbooks": [r.as_dict() for r in reports]})
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    for col in ("runbook", "passed", "failed", "running", "skipped ticks", "failed checks"):
        table.add_column(col)
    for r in reports:
        checks = ", ".join(f"{k} x{v}" for k, v in r.failed_checks.most_common())
        style = "red" if r.failed else ""
        table.add_row(
            r.runbook,
            str(r.passed),
            str(r.failed),
            str(r.running),
            str(r.skipped_ticks),
            checks,
            style=style,
        )
    console = Console(soft_wrap=True)
    console.print(f"compliance since {start:%Y-%m-%d %H:%M} UTC")
    console.print(table)


def post_to_slack(channel: str, text: str) -> None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    token = os.environ.get("SLACK_BOT_TOKEN")
    if not token:
        raise RunbookError("--slack needs SLACK_BOT_TOKEN in the environment")
    base = os.environ.get("RUNBOOK_SLACK_API_URL") or WebClient.BASE_URL
    try:
        WebClient(token=token, base_url=base).chat_postMessage(channel=channel, text=text)
    except SlackApiError as exc:
        raise RunbookError(f"Slack refused the report: {exc.response.get('error')}") from None
