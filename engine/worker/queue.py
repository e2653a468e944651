"""The run queue: a Procrastinate app on the store's PostgreSQL, and handing runs to it.

A queued job carries only a run id. The store's event log stays the one truth about a run; a
job is a doorbell that says "some worker should drive this run now". That is why a lost or
duplicated job is harmless: the housekeeping reaper rings again for a run nobody drives, and
``Engine.execute`` refuses a run another live engine already drives.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from runbook_engine.errors import RunbookError
from runbook_engine.worker.pg import conninfo_from_url, ensure_schema

if TYPE_CHECKING:
    from procrastinate import App
    from procrastinate.jobs import JobDeferrer

    from runbook_engine.store import Store

RUNS_QUEUE = "runbook-runs"
HOUSEKEEPING_QUEUE = "runbook-housekeeping"
EXECUTE_RUN = "runbook.execute_run"
HOUSEKEEPING = "runbook.housekeeping"

EXECUTOR_ENV = "RUNBOOK_EXECUTOR"
"""``inline`` (default): approve/reject/cancel continue a run in the CLI process; ``queue``: they
hand it to a worker."""


def make_app(conninfo: str) -> App:
    """An app that can defer jobs; a worker registers its tasks on it
    (``runbook_engine.worker.tasks``)."""
    from procrastinate import App, PsycopgConnector

    # A CLI process defers one job and exits, so the pool starts with one connection; a worker
    # grows it as its listeners, heartbeat and fetches need.
    return App(connector=PsycopgConnector(conninfo=conninfo, min_size=1, max_size=10))


def _deferrer(app: App, run_id: str, delay: float) -> JobDeferrer:
    options: dict[str, Any] = {"queue": RUNS_QUEUE, "queueing_lock": run_id}
    if delay > 0:
        options["schedule_in"] = {"seconds": delay}
    return app.configure_task(EXECUTE_RUN, **options)


def defer_run(app: App, run_id: str, *, delay: float = 0.0) -> bool:
    """Queue ``execute_run(run_id)``; False when a job for the run is already waiting (the
    queueing lock allows one ``todo`` job per run: it will see everything recorded so far)."""
    from procrastinate.exceptions import AlreadyEnqueued

    try:
        _deferrer(app, run_id, delay).defer(run_id=run_id)
    except AlreadyEnqueued:
        return False
    return True


async def defer_run_async(app: App, run_id: str, *, delay: float = 0.0) -> bool:
    """``defer_run`` for code running on the worker's event loop."""
    from procrastinate.exceptions import AlreadyEnqueued

    try:
        await _deferrer(app, run_id, delay).defer_async(run_id=run_id)
    except AlreadyEnqueued:
        return False
    return True


def enqueue(run_ids: Iterable[str], url: str | None = None) -> list[bool]:
    """Queue runs from a short-lived process (the CLI): connect, defer, disconnect.

    The queue's schema is applied first if no worker has done it yet, so submitting before the
    first worker starts works; the worker then finds the jobs waiting."""
    conninfo = conninfo_from_url(url)
    ensure_schema(conninfo)
    app = make_app(conninfo)
    with app.open():
        return [defer_run(app, run_id) for run_id in run_ids]


def queue_executor() -> bool:
    """True when ``RUNBOOK_EXECUTOR=queue``: runs continue on workers, not in the CLI."""
    value = os.environ.get(EXECUTOR_ENV, "").strip().lower()
    if value in ("", "inline"):
        return False
    if value == "queue":
        return True
    raise RunbookError(f"{EXECUTOR_ENV}={value!r}: use 'inline' (the default) or 'queue'")


def enqueue_if_queued(store: Store, run_id: str) -> bool:
    """For ``runbook approve/reject/cancel``: under ``RUNBOOK_EXECUTOR=queue`` hand the run to a
    worker and return True (the caller reports and exits); otherwise return False and the
    caller continues the run inline as before."""
    if not queue_executor():
        return False
    enqueue([run_id], store.url)
    return True
