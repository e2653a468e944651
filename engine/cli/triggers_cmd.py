"""``runbook triggers``: the alerts that start runbooks, and ``--test`` of a notification."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from runbook_engine.cli._common import echo_error, emit_json, output_option, user_errors
from runbook_engine.core.statuses import EXIT_INVALID

if TYPE_CHECKING:
    from runbook_engine.spec.loader import LoadedRunbook

_SOURCES = ("alertmanager", "pagerduty", "sns", "webhook")


@click.command()
@click.option(
    "--test",
    "payload",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="a notification's body (JSON): print which runbooks it would start; starts nothing",
)
@click.option(
    "--source",
    type=click.Choice(_SOURCES),
    help="with --test: who sent the notification",
)
@click.option("--name", "hook", default="", help="with --test --source webhook: the NAME")
@output_option
@user_errors
def triggers(payload: str | None, source: str | None, hook: str, output: str) -> None:
    """The triggers of the runbooks in ./runbooks and RUNBOOK_PATH: source, matchers,
    parameters, on_resolved, cooldown. With --test FILE --source S: what that notification
    would do (start, cancel, or an error per alert), without doing it."""
    from runbook_engine.catalog import Catalog

    catalog = Catalog()
    latest = catalog.latest()
    for problem in catalog.problems:
        click.echo(f"warning: skipped invalid runbook: {problem}", err=True)
    if payload is None:
        if source is not None or hook:
            raise click.UsageError("--source and --name go with --test FILE")
        _list(latest, output)
        return
    if source is None:
        raise click.UsageError("--test needs --source (alertmanager, pagerduty, sns, webhook)")
    if hook and source != "webhook":
        raise click.UsageError("--name is the NAME of a generic webhook: use --source webhook")
    if source == "webhook" and not hook:
        raise click.UsageError("--source webhook needs --name NAME (of /hooks/webhook/NAME)")
    _test(latest, Path(payload), source, hook, output)


def _rows(latest: list[LoadedRunbook]) -> list[dict[str, Any]]:
    from runbook_engine.spec.models import REGEX_PREFIX, Matcher

    def shown(m: Matcher) -> str:
        return f"{REGEX_PREFIX}{m.regex}" if m.regex is not None else str(m.equals)

    rows: list[dict[str, Any]] = []
    for loaded in latest:
        for index, trigger in enumerate(loaded.runbook.triggers):
            spec = trigger.spec
            rows.append(
                {
                    "runbook": loaded.runbook.name,
                    "version": loaded.runbook.version,
                    "trigger": index,
                    "source": trigger.source,
                    "name": trigger.webhook.name if trigger.webhook else None,
                    "match": {k: shown(m) for k, m in spec.match.items()},
                    "params": dict(spec.params),
                    "on_resolved": spec.on_resolved,
                    "cooldown": spec.cooldown,
                    "max_concurrent": spec.max_concurrent,
                }
            )
    return rows


def _list(latest: list[LoadedRunbook], output: str) -> None:
    rows = _rows(latest)
    if output == "json":
        emit_json(rows)
        return
    if not rows:
        click.echo("no runbook has a trigger")
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from runbook_engine.durations import format_duration
    from runbook_engine.terminal import printable

    def cell(text: str) -> str:
        # runbook text may hold [markup] and control characters: shown as written
        return escape(printable(text))

    table = Table(show_edge=False, pad_edge=False)
    for col in ("runbook", "source", "match", "params", "on_resolved", "cooldown", "max"):
        table.add_column(col)
    for r in rows:
        source = f"webhook/{r['name']}" if r["name"] else r["source"]
        table.add_row(
            cell(f"{r['runbook']}@{r['version']}"),
            cell(source),
            cell(", ".join(f"{k}={v}" for k, v in r["match"].items()) or "(any)"),
            cell(", ".join(f"{k}={v}" for k, v in r["params"].items())),
            r["on_resolved"],
            format_duration(r["cooldown"]) if r["cooldown"] is not None else "-",
            str(r["max_concurrent"]) if r["max_concurrent"] is not None else "-",
        )
    Console(soft_wrap=True).print(table)


def _test(latest: list[LoadedRunbook], path: Path, source: str, hook: str, output: str) -> None:
    from runbook_engine.triggers.alert import PayloadError
    from runbook_engine.triggers.match import match_alerts
    from runbook_engine.triggers.parse import MAX_BODY, parse_payload

    try:
        with path.open("rb") as fh:
            body = fh.read(MAX_BODY + 1)
    except OSError as exc:
        echo_error(f"{path}: cannot read: {exc.strerror}")
        sys.exit(EXIT_INVALID)
    try:
        alerts = parse_payload(source, body, hook=hook)
    except PayloadError as exc:
        echo_error(f"{path}: {exc}")
        sys.exit(EXIT_INVALID)
    matches = match_alerts(latest, alerts)
    if output == "json":
        emit_json(
            {
                "alerts": [a.as_dict() for a in alerts],
                "matches": [m.as_dict() for m in matches],
            }
        )
        return
    from runbook_engine.terminal import printable

    if not alerts:
        click.echo(f"{source}: the notification holds no alert (nothing would start)")
        return
    for alert in alerts:
        click.echo(printable(f"{alert.status} {alert.source} {alert.fingerprint}  {alert.summary}"))
        mine = [m for m in matches if m.alert is alert]
        if not mine:
            click.echo("  no runbook")
        for m in mine:
            ref = f"{m.loaded.runbook.name}@{m.loaded.runbook.version}"
            if m.error is not None:
                click.echo(printable(f"  cannot start {ref} (trigger {m.index}): {m.error}"))
            elif m.action == "cancel":
                click.echo(f"  would cancel run {m.run_id} of {ref} (trigger {m.index})")
            else:
                shown = m.as_dict()["params"] or {}
                params = " ".join(f"{k}={v}" for k, v in shown.items() if v is not None)
                click.echo(
                    printable(f"  would start {ref} as run {m.run_id} (trigger {m.index}) {params}")
                )
