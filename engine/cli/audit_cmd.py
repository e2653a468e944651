"""``runbook audit``: who asked for what, how they proved who they were, and from where."""

from __future__ import annotations

import click

from runbook_engine.cli._common import emit_json, open_store, output_option, user_errors
from runbook_engine.terminal import printable


@click.command()
@click.option("--since", default="7d", show_default=True, help="7d, 12h, 30m or an ISO date")
@output_option
@user_errors
def audit(since: str, output: str) -> None:
    """Mutating requests (starts, decisions, cancels, resumes, token changes), allowed or
    refused, oldest first."""
    from runbook_engine.cli.ops_cmds import parse_since

    start = parse_since(since)
    with open_store(create=False) as store:
        entries = store.audit_since(start)
    if output == "json":
        emit_json(
            [
                {
                    "at": e.at.isoformat(),
                    "principal": e.principal,
                    "via": e.via,
                    "source": e.source,
                    "action": e.action,
                    "target": e.target,
                    "outcome": e.outcome,
                    "detail": e.detail,
                }
                for e in entries
            ]
        )
        return
    if not entries:
        click.echo(f"nothing recorded since {start:%Y-%m-%d %H:%M} UTC")
        return
    for e in entries:
        reason = e.detail.get("reason") if e.outcome != "ok" else None
        click.echo(
            printable(
                f"{e.at:%Y-%m-%d %H:%M:%S}  {e.outcome:7}  {e.action:12}  {e.target:14}  "
                f"{e.principal} ({e.via}, {e.source or '-'})" + (f": {reason}" if reason else "")
            )
        )
