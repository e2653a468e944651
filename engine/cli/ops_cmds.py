"""Commands that look at runs and versions: runs, show, logs."""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from runbook_engine.auth.local import server_mode
from runbook_engine.cli._common import (
    emit_json,
    existing_store,
    open_store,
    output_option,
    user_errors,
)
from runbook_engine.core.events import EventType
from runbook_engine.errors import CatalogError, RunbookError, RunNotFound
from runbook_engine.terminal import printable

if TYPE_CHECKING:
    from runbook_engine.children import RunNode
    from runbook_engine.store import EventRecord, RunRecord, Store


def parse_since(text: str) -> datetime:
    """``7d``, ``12h``, ``30m`` ago, or an ISO date/time."""
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if match:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        return datetime.now(UTC) - timedelta(**{unit: int(match.group(1))})
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"expected 7d, 12h, 30m or an ISO date, got {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _age(when: datetime) -> str:
    from runbook_engine.durations import format_duration

    return format_duration(max(0.0, (datetime.now(UTC) - when).total_seconds())) + " ago"


def _status_text(record: RunRecord) -> str:
    """Say so when an active run has no live engine: it needs `runbook resume`."""
    from runbook_engine.core.statuses import ACTIVE, NEEDS_ATTENTION, WAITING
    from runbook_engine.lease import is_driven

    blocked = (record.state or {}).get("blocked")
    if record.status in ACTIVE and isinstance(blocked, dict):
        # it cannot go on for want of secrets; say which and how to give them
        names = [str(n) for n in blocked.get("needs", [])]
        # an input step's secret (step.field) is given again with `runbook input`
        how = "input" if any("." in n for n in names) else "resume"
        needs = ", ".join(names)
        return f"{record.status} (blocked: needs secret {needs}; runbook {how} {record.id})"
    if record.status not in ACTIVE or record.status in (*WAITING, NEEDS_ATTENTION):
        return str(record.status)
    if not is_driven(record):
        return f"{record.status} (no engine: runbook resume {record.id})"
    return str(record.status)


@click.command()
@click.option("--status", multiple=True, help="only runs in this status (repeatable)")
@click.option("--runbook", help="only runs of this runbook")
@click.option("--since", help="only runs started since: 7d, 12h, 30m or an ISO date")
@click.option("--limit", default=50, show_default=True)
@output_option
@user_errors
def runs(
    status: tuple[str, ...], runbook: str | None, since: str | None, limit: int, output: str
) -> None:
    """Recent runs, newest first."""
    if server_mode():
        from runbook_engine.cli.remote import views

        return views.runs(status, runbook, since, limit, output)
    with open_store(create=False) as store:
        records = store.list_runs(
            status=list(status) or None,
            runbook=runbook,
            since=parse_since(since) if since else None,
            limit=limit,
        )
    print_runs(records, output)


def print_runs(records: list[RunRecord], output: str) -> None:
    """The runs table (or its JSON), of the local store's runs or of a server's."""
    if output == "json":
        emit_json(
            [
                {
                    "id": r.id,
                    "runbook": r.runbook,
                    "version": r.version,
                    "status": r.status,
                    "requester": r.requester,
                    "created_at": r.created_at.isoformat(),
                    "updated_at": r.updated_at.isoformat(),
                }
                for r in records
            ]
        )
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    for col in ("id", "runbook", "status", "requester", "started"):
        table.add_column(col)
    for r in records:
        table.add_row(
            r.id,
            f"{r.runbook}@{r.version}",
            _status_text(r),
            escape(printable(r.requester)),
            _age(r.created_at),
        )
    Console(soft_wrap=True).print(table)


@click.command()
@click.argument("ref")
@output_option
@user_errors
def show(ref: str, output: str) -> None:
    """A run's timeline (RUN id), or a runbook version (NAME or NAME@VERSION)."""
    if server_mode():
        from runbook_engine.cli.remote import views

        return views.show(ref, output)
    store = existing_store()
    try:
        record = None if "@" in ref or store is None else store.get_run(ref)
        if record is None:
            _show_runbook(ref, output, store)
            return
        assert store is not None  # a run was found in it
        events = store.events(record.id)
        state = _state_of(store, record) if output == "json" else None
        tree = _tree(store, record)
        from runbook_engine.service import RERUN_PREFIX

        reruns = store.reruns_of(record.id, prefix=RERUN_PREFIX)
    finally:
        if store is not None:
            store.close()
    show_run(record, events, output, state, reruns, tree)


def _show_runbook(ref: str, output: str, store: Store | None) -> None:
    from runbook_engine.catalog import Catalog

    try:
        loaded = Catalog().resolve(ref, store)
    except RunbookError:
        if "@" in ref:
            raise
        if store is None:
            open_store(create=False)  # says where no store was found: a mistyped RUNBOOK_DB?
        raise CatalogError(f"no run or runbook {ref!r}") from None
    stored = store.get_version(loaded.runbook.name, loaded.runbook.version) if store else None
    if output == "json":
        emit_json(
            {
                "name": loaded.runbook.name,
                "version": loaded.runbook.version,
                "digest": loaded.digest,
                "file": loaded.file,
                "recorded_at": stored.recorded_at.isoformat() if stored else None,
                "source": loaded.source,
            }
        )
        return
    click.echo(printable(f"# {loaded.ref}  {loaded.digest}  ({loaded.file})"))
    click.echo(printable(loaded.source, newlines=True), nl=False)


def _tree(store: Store, record: RunRecord) -> RunNode:
    """The run and the child runs of its call steps, read from the store."""
    from runbook_engine.children import run_tree
    from runbook_engine.core.apply import Layout
    from runbook_engine.core.state import RunState
    from runbook_engine.runtime.loading import load_state
    from runbook_engine.spec.loader import load_text

    def state_of(run: RunRecord) -> RunState:
        stored = store.get_version(run.runbook, run.version)
        if stored is None:
            return RunState()
        loaded = load_text(stored.source, f"<store {stored.name}@{stored.version}>")
        return load_state(store, Layout.of(loaded.runbook), run)

    return run_tree(record, state_of, store.get_run)


def _state_of(store: Store, record: RunRecord) -> dict[str, Any] | None:
    """The run's state as the engine sees it (checkpoint and newer events, results included)."""
    from runbook_engine.core.apply import Layout
    from runbook_engine.runtime.loading import load_state
    from runbook_engine.spec.loader import load_text

    stored = store.get_version(record.runbook, record.version)
    if stored is None:
        return None
    loaded = load_text(stored.source, f"<store {stored.name}@{stored.version}>")
    return load_state(store, Layout.of(loaded.runbook), record).to_dict()


def _rerun_link(events: list[EventRecord]) -> dict[str, Any] | None:
    """What a re-run's ``run.created`` says of its original (``None``: not a re-run)."""
    link = (events[0].data or {}).get("rerun_of") if events else None
    return link if isinstance(link, dict) else None


def show_run(
    record: RunRecord,
    events: list[EventRecord],
    output: str,
    state: dict[str, Any] | None,
    reruns: list[str] | None = None,
    tree: RunNode | None = None,
) -> None:
    from runbook_engine.cli.progress import describe
    from runbook_engine.core.item_lines import ItemLines
    from runbook_engine.runtime.bus import Event

    if output == "json":
        emit_json(
            {
                "id": record.id,
                "runbook": record.runbook,
                "version": record.version,
                "digest": record.digest,
                "status": record.status,
                "params": record.params,
                "requester": record.requester,
                "owner": record.owner,
                "created_at": record.created_at.isoformat(),
                "parent": (events[0].data or {}).get("parent") if events else None,
                "children": [asdict(c) for c in tree.children] if tree else [],
                "rerun_of": _rerun_link(events),
                "reruns": reruns or [],
                "state": state,
                "events": [
                    {
                        "seq": e.seq,
                        "ts": e.ts.isoformat(),
                        "type": e.type,
                        "step": e.step_id,
                        "data": e.data,
                    }
                    for e in events
                ],
            }
        )
        return
    click.echo(f"run {record.id}  {record.runbook}@{record.version}  {record.status}")
    click.echo(
        f"  requested by {printable(record.requester)} at {record.created_at:%Y-%m-%d %H:%M:%S}Z"
        f"  digest {record.digest[:19]}"
    )
    if record.params:
        click.echo(
            "  params: " + ", ".join(f"{k}={printable(v)}" for k, v in record.params.items())
        )
    alert = (events[0].data or {}).get("trigger", {}).get("alert") if events else None
    if isinstance(alert, dict):  # the alert that started the run (runbook_engine.hooks)
        labels = ", ".join(f"{k}={v}" for k, v in (alert.get("labels") or {}).items())
        where = f"{alert.get('source')} {alert.get('fingerprint')} at {alert.get('starts_at')}"
        click.echo(printable(f"  alert: {where}  {labels}  {alert.get('generator_url') or ''}"))
    parent = (events[0].data or {}).get("parent") if events else None
    if isinstance(parent, dict):
        click.echo(printable(f"  called by run {parent.get('run')} (step {parent.get('step')})"))
    if tree is not None and tree.children:
        click.echo("  runs:")
        for line in tree.lines():
            click.echo(printable(f"    {line}"))
    link = _rerun_link(events)
    if link is not None:  # a re-run (runbook rerun): which run, from where, which hosts
        from runbook_engine.runtime.rerun import link_text

        click.echo(printable(f"  {link_text(link)}"))
    if reruns:  # the other way: the runs that re-ran this one
        click.echo(f"  re-run as {', '.join(reruns)}")
    start = events[0].ts if events else record.created_at
    items = ItemLines()  # a loop's items: the first ones and the failures, the rest counted
    for e in events:
        if e.type == EventType.STEP_OUTPUT or not items.shows(e.step_id, e.type):
            continue
        ev = Event(record.id, e.seq, e.ts.timestamp(), e.type, e.step_id, e.data or {})
        text = describe(ev) or e.type
        offset = (e.ts - start).total_seconds()
        click.echo(f"  +{offset:8.2f}s  {e.type:<24} {printable(text)}")
        note = items.note(e.step_id, e.type, run_id=record.id)
        if note:
            click.echo(f"  {'':10}  {'':<24} {printable(note)}")
        for host in (
            (e.data or {}).get("result", {}).get("hosts", [])
            if isinstance((e.data or {}).get("result"), dict)
            else []
        ):
            if isinstance(host, dict):
                click.echo(
                    printable(
                        f"              {host.get('host')}: exit {host.get('exit_code')} "
                        f"{host.get('duration', '')}"
                    )
                )


def _of_host(line: str, host: str) -> bool:
    """SSH steps log each line as ``HOST: text`` (``HOST: stderr: text``)."""
    return line.startswith(f"{host}: ")


@click.command()
@click.argument("run_id")
@click.option("--follow", "-f", is_flag=True, help="keep printing until the run finishes")
@click.option("--step", "only_step", metavar="STEP", help="only this step's output and events")
@click.option(
    "--host", "only_host", metavar="HOST", help="only the output lines of this host (SSH steps)"
)
@output_option
@user_errors
def logs(
    run_id: str, follow: bool, only_step: str | None, only_host: str | None, output: str
) -> None:
    """The output lines of a run's steps (and its events), as they were recorded.

    A step that printed more than the log keeps (RUNBOOK_MAX_STEP_OUTPUT, 16 MiB by default)
    shows its beginning, a line saying how much was left out, and its end."""
    if server_mode():
        from runbook_engine.cli.remote import views

        return views.logs(run_id, follow, only_step, only_host, output)
    from runbook_engine.core.items import split_item
    from runbook_engine.store import TERMINAL_STATUSES

    with open_store(create=False) as store:
        record = store.get_run(run_id)
        if record is None:
            raise RunNotFound(run_id)
        seq = 0
        while True:
            for e in store.events(record.id, after_seq=seq):
                seq = e.seq
                data = e.data or {}
                # a loop step's items too: --step restart shows restart[0], restart[1]...
                if only_step is not None and (
                    e.step_id != only_step and split_item(e.step_id or "")[0] != only_step
                ):
                    continue
                if only_host is not None:
                    if e.type != EventType.STEP_OUTPUT:
                        continue
                    lines = [ln for ln in data.get("lines", []) if _of_host(ln, only_host)]
                    if not lines:
                        continue
                    data = {**data, "lines": lines}
                print_log_event(record.id, e, data, output)
            current = store.get_run(record.id)
            if not follow or current is None or current.status in TERMINAL_STATUSES:
                break
            time.sleep(0.5)


def print_log_event(run_id: str, e: EventRecord, data: dict[str, Any], output: str) -> None:
    """One event of ``runbook logs`` (``data``: its data as filtered for the command)."""
    from runbook_engine.cli.progress import describe
    from runbook_engine.runtime.bus import Event

    if output == "json":
        click.echo(
            json.dumps(
                {
                    "seq": e.seq,
                    "ts": e.ts.isoformat(),
                    "type": e.type,
                    "step": e.step_id,
                    "data": data,
                },
                default=str,
            )
        )
        return
    stamp = f"{e.ts:%H:%M:%S}"
    if e.type == EventType.STEP_OUTPUT:
        for line in data.get("lines", []):
            click.echo(f"{stamp} {data.get('step')} | {printable(line)}")
    elif e.type == EventType.STEP_OUTPUT_TRUNCATED:
        click.echo(
            f"{stamp} {data.get('step')} | [... {data.get('dropped_lines')} lines, "
            f"{data.get('dropped_bytes')} bytes left out: the step printed more than "
            f"its log keeps ({data.get('cap_bytes')} bytes) ...]"
        )
    else:
        text = describe(Event(run_id, e.seq, e.ts.timestamp(), e.type, e.step_id, data))
        if text:
            click.echo(f"{stamp} -- {printable(text)}")
