"""Commands about schedules: schedules (next fire times) and report (compliance)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from runbook_engine.auth.local import server_mode
from runbook_engine.cli._common import open_store, output_option, user_errors
from runbook_engine.cli.schedule_views import (
    check_slack,
    schedule_row,
    show_report,
    show_schedules,
)


@click.command()
@click.option("--count", default=3, show_default=True, help="fire times to show per schedule")
@output_option
@user_errors
def schedules(count: int, output: str) -> None:
    """Scheduled runbooks and their next fire times."""
    if server_mode():  # the server's schedules, through its API: nothing is read here
        from runbook_engine.cli.remote import catalog as remote

        return remote.schedules(count, output)
    from runbook_engine.catalog import Catalog
    from runbook_engine.schedule import upcoming

    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for loaded in Catalog().latest():
        for index, when in upcoming(loaded, now, count):
            sched = loaded.runbook.schedule[index]
            rows.append(
                schedule_row(
                    loaded.runbook.name,
                    loaded.runbook.version,
                    index,
                    cron=sched.cron,
                    timezone=sched.timezone,
                    missed=sched.missed,
                    params=sched.params,
                    when=when,
                )
            )
    show_schedules(rows, now, output)


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
    from runbook_engine.cli.ops_cmds import parse_since

    start = parse_since(since)
    check_slack(slack_channel)  # before anything is read
    if server_mode():  # the server's report, through its API; --slack posts from here
        from runbook_engine.cli.remote import catalog as remote

        return remote.report(start, slack_channel, output)
    from runbook_engine.catalog import Catalog
    from runbook_engine.report import compliance_report

    scheduled = [x.runbook.name for x in Catalog().latest() if x.runbook.schedule]
    with open_store(create=False) as store:
        reports = compliance_report(store, start, scheduled)
    show_report(reports, start, slack_channel, output)
