"""``runbook audit``: who asked for what, how they proved who they were, and from where."""

from __future__ import annotations

import click

from runbook_engine.auth.local import server_mode
from runbook_engine.cli._common import open_store, output_option, user_errors
from runbook_engine.cli.audit_views import audit_dict, show_audit


@click.command()
@click.option("--since", default="7d", show_default=True, help="7d, 12h, 30m or an ISO date")
@output_option
@user_errors
def audit(since: str, output: str) -> None:
    """Mutating requests (starts, decisions, cancels, resumes, token changes), allowed or
    refused, oldest first. From a server: for admins only."""
    from runbook_engine.cli.ops_cmds import parse_since

    start = parse_since(since)
    if server_mode():  # the server's trail, through its API: its admins only
        from runbook_engine.cli.remote import admin as remote

        return remote.audit(start, output)
    with open_store(create=False) as store:
        entries = store.audit_since(start)
    show_audit([audit_dict(e) for e in entries], start, output)
