"""Commands about schedules: schedules (next fire times) and report (compliance)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import click

from runbook_engine.cli._common import (
    emit_json,
    open_store,
    output_option,
    user_errors,
)


@click.command()
@click.option("--count", default=3, show_default=True, help="fire times to show per schedule")
@output_option
@user_errors
def schedules(count: int, output: str) -> None:
    """Scheduled runbooks and their next fire times."""
    from runbook_engine.catalog import Catalog
    from runbook_engine.schedule import upcoming

    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for loaded in Catalog().latest():
        for index, when in upcoming(loaded, now, count):
            sched = loaded.runbook.schedule[index]
            rows.append(
                {
                    "runbook": loaded.runbook.name,
                    "version": loaded.runbook.version,
                    "schedule": index,
                    "cron": sched.cron,
                    "timezone": sched.timezone,
                    "missed": sched.missed,
                    "params": sched.params,
                    "next": when.isoformat(),
                }
            )
    if output == "json":
        emit_json(rows)
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


@click.command()
@click.option("--since", default="7d", show_default=True, help="7d, 12h, 30m or an ISO date")
@click.option(
    "--slack",
    "slack_channel",
    metavar="CHANNEL",
    help="also post the summary to this Slack channel (needs SLACK_BOT_TOKEN)",
)
@output_option
@user_errors
def report(since: str, slack_channel: str | None, output: str) -> None:
    """Compliance report of scheduled runs: passed, failed, and which checks failed."""
    from runbook_engine.catalog import Catalog
    from runbook_engine.cli.ops_cmds import parse_since
    from runbook_engine.report import compliance_report, summary_text

    start = parse_since(since)
    scheduled = [x.runbook.name for x in Catalog().latest() if x.runbook.schedule]
    from runbook_engine.errors import RunbookError

    if slack_channel and not os.environ.get("SLACK_BOT_TOKEN"):  # before anything is read
        raise RunbookError("--slack needs SLACK_BOT_TOKEN in the environment")
    with open_store(create=False) as store:
        reports = compliance_report(store, start, scheduled)
    text = summary_text(reports, start)
    if slack_channel:
        _post_to_slack(slack_channel, text)
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


def _post_to_slack(channel: str, text: str) -> None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    from runbook_engine.errors import RunbookError

    token = os.environ.get("SLACK_BOT_TOKEN")
    if not token:
        raise RunbookError("--slack needs SLACK_BOT_TOKEN in the environment")
    base = os.environ.get("RUNBOOK_SLACK_API_URL") or WebClient.BASE_URL
    try:
        WebClient(token=token, base_url=base).chat_postMessage(channel=channel, text=text)
    except SlackApiError as exc:
        raise RunbookError(f"Slack refused the report: {exc.response.get('error')}") from None
