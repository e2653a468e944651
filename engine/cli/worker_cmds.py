"""Commands of the distributed setup: worker (drive queued runs) and submit (queue a run)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from runbook_engine.auth.local import server_mode
from runbook_engine.cli._common import (
    emit_json,
    make_engine,
    open_store,
    output_option,
    params_option,
    user_errors,
)
from runbook_engine.core.events import EventType

if TYPE_CHECKING:
    from runbook_engine.service import Engine
    from runbook_engine.spec.loader import LoadedRunbook
    from runbook_engine.store import Store


@click.command()
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="runs this worker drives at once",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=9464,
    show_default=True,
    envvar="RUNBOOK_METRICS_PORT",
    help="serve Prometheus /metrics on this port; 0: off",
)
@click.option(
    "--metrics-addr",
    default="0.0.0.0",
    show_default=True,
    help="address the metrics endpoint listens on",
)
@click.option(
    "--shutdown-timeout",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="on SIGTERM, seconds the runs in hand get to finish before other workers take them over",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    envvar="RUNBOOK_LOG_FORMAT",
    help="json: one JSON object per line on stderr",
)
@user_errors
def worker(
    concurrency: int, metrics_port: int, metrics_addr: str, shutdown_timeout: float, log_format: str
) -> None:
    """Drive queued runs from the shared PostgreSQL store (RUNBOOK_DB=postgresql+psycopg://...).

    Start as many workers as you like, on any machines. Together they also fire schedules
    (each tick once), continue runs after approvals, and take over the runs of a worker that
    died, from its event log. Secret parameters come from RUNBOOK_SECRET_<NAME>.
    """
    from runbook_engine.worker.logs import setup_logging
    from runbook_engine.worker.main import WorkerOptions, run_worker

    setup_logging(log_format)
    sys.exit(
        run_worker(
            WorkerOptions(
                concurrency=concurrency,
                metrics_port=metrics_port,
                metrics_addr=metrics_addr,
                json_logs=log_format == "json",
                shutdown_timeout=shutdown_timeout,
            )
        )
    )


@click.command()
@click.argument("ref")
@params_option
@click.option(
    "--wait", is_flag=True, help="follow the run until it finishes, then exit with its exit code"
)
@output_option
@user_errors
def submit(ref: str, params: tuple[str, ...], wait: bool, output: str) -> None:
    """Queue a run of NAME, NAME@VERSION or PATH for the workers and print its run id.

    With --wait, print its progress from the event log and exit like `runbook run`: 0
    succeeded, 1 failed, 3 needs attention, 4 cancelled or rejected, 6 lock held. A run waiting
    for approval is followed on until someone decides.
    """
    if server_mode():  # the server records and drives the run: it is its own queue
        from runbook_engine.cli.remote import runs as remote

        return remote.submit(ref, params, wait=wait, output=output)
    from runbook_engine.auth.local import acting_user
    from runbook_engine.catalog import Catalog
    from runbook_engine.cli.secret_input import secret_inputs
    from runbook_engine.spec.params import parse_assignments
    from runbook_engine.worker.pg import conninfo_from_url
    from runbook_engine.worker.queue import enqueue

    conninfo_from_url()  # on SQLite, say so before recording a run no worker can see
    with open_store() as store:
        loaded = Catalog().resolve(ref, store)
        engine = make_engine(store, progress=False, json_logs=False)
        given = secret_inputs(loaded.runbook, parse_assignments(params))
        run_id, _ = engine.create(loaded, given, requester=acting_user())
        enqueue([run_id], store.url)
        secret = [n for n, p in loaded.runbook.parameters.items() if p.secret]
        if secret:
            click.echo(
                f"note: secret parameters are never stored; workers read "
                f"{', '.join('RUNBOOK_SECRET_' + n.upper() for n in secret)}",
                err=True,
            )
        if submitted(run_id, loaded, output, wait=wait):
            _wait(engine, store, run_id, loaded, output)


def submitted(run_id: str, loaded: LoadedRunbook, output: str, *, wait: bool) -> bool:
    """Say that ``run_id`` is queued, as ``submit`` says it locally and against a server;
    True when the command goes on to wait for it."""
    if not wait:
        if output == "json":
            emit_json(
                {
                    "run_id": run_id,
                    "runbook": loaded.runbook.name,
                    "version": loaded.runbook.version,
                    "queued": True,
                }
            )
        else:
            click.echo(run_id)
        return False
    if output == "text":
        click.echo(f"run {run_id} queued", err=True)
    return True


def _wait(engine: Engine, store: Store, run_id: str, loaded: LoadedRunbook, output: str) -> None:
    from runbook_engine.cli.progress import ConsoleProgress
    from runbook_engine.cli.run_cmds import _finish, _order
    from runbook_engine.core.state import RunState
    from runbook_engine.runtime.bus import Event, RunInfo
    from runbook_engine.service import RunOutcome
    from runbook_engine.store import EventRecord, RunRecord
    from runbook_engine.worker.follow import follow

    progress = ConsoleProgress() if output == "text" else None
    reason = ""

    def show(record: RunRecord, event: EventRecord) -> None:
        nonlocal reason
        if event.type == EventType.RUN_FINISHED:
            reason = str(event.data.get("reason") or "")
        if progress is None:
            return
        info = RunInfo(record.id, record.runbook, record.version, record.digest, record.requester)
        progress.on_event(
            info,
            Event(
                event.run_id,
                event.seq,
                event.ts.timestamp(),
                event.type,
                event.step_id,
                event.data or {},
            ),
            RunState(),
        )

    final = follow(store, run_id, show)
    _, _, state = engine.state_of(run_id)
    # the reason names a refused lock ("lock ... is held"), which RunOutcome maps to exit 6
    _finish(RunOutcome(run_id, final.status, state, message=reason), output, _order(loaded))
