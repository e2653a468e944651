"""What ``runbook audit`` prints, from plain data (an entry as ``audit -o json`` shows it), so
that the server's trail (``runbook_engine.cli.remote.admin``) prints as a local store's does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from runbook_engine.cli._common import emit_json
from runbook_engine.terminal import printable

if TYPE_CHECKING:
    from runbook_engine.store import AuditRecord


def audit_dict(entry: AuditRecord) -> dict[str, Any]:
    return {
        "at": entry.at.isoformat(),
        "principal": entry.principal,
        "via": entry.via,
        "source": entry.source,
        "action": entry.action,
        "target": entry.target,
        "outcome": entry.outcome,
        "detail": entry.detail,
    }


def show_audit(entries: Sequence[Mapping[str, Any]], start: datetime, output: str) -> None:
    if output == "json":
        emit_json(list(entries))
        return
    if not entries:
        click.echo(f"nothing recorded since {start:%Y-%m-%d %H:%M} UTC")
        return
    for e in entries:
        at = datetime.fromisoformat(e["at"])
        reason = e["detail"].get("reason") if e["outcome"] != "ok" else None
        click.echo(
            printable(
                f"{at:%Y-%m-%d %H:%M:%S}  {e['outcome']:7}  {e['action']:12}  {e['target']:14}  "
                f"{e['principal']} ({e['via']}, {e['source'] or '-'})"
                + (f": {reason}" if reason else "")
            )
        )
