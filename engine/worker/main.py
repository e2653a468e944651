"""One worker process: what ``runbook worker`` runs.

It opens the store (migrating it if needed) and the queue (applying its schema if missing),
then runs two Procrastinate workers on one event loop: ``runs`` drives up to ``concurrency``
runs at once, ``housekeeping`` takes the once-a-second pass. They are separate so that
housekeeping — which fires schedules and rescues orphaned runs — never waits behind long runs.

Stopping: the first SIGTERM/SIGINT stops taking jobs and lets the runs in hand finish for up
to ``shutdown_timeout`` seconds; then, or at a second signal, the process exits and the runs it
still drove are taken over by other workers from their event logs, as after a crash.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runbook_engine.errors import RunbookError
from runbook_engine.lease import HEARTBEAT_EVERY
from runbook_engine.runtime.bus import Subscriber
from runbook_engine.worker.housekeeping import STALLED_AFTER, Housekeeper
from runbook_engine.worker.pg import conninfo_from_url, ensure_schema
from runbook_engine.worker.queue import HOUSEKEEPING_QUEUE, RUNS_QUEUE, make_app
from runbook_engine.worker.tasks import Runtime, register_tasks

if TYPE_CHECKING:
    from procrastinate import App
    from procrastinate.worker import Worker

log = logging.getLogger("runbook.worker")

#: exit code after a second stop signal (the conventional 128 + SIGINT)
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class WorkerOptions:
    concurrency: int = 4
    metrics_port: int = 9464  # 0: no metrics endpoint
    metrics_addr: str = "0.0.0.0"
    json_logs: bool = False
    shutdown_timeout: float = 60.0
    url: str | None = None  # the store; default $RUNBOOK_DB


def run_worker(options: WorkerOptions) -> int:
    """Run until stopped by a signal; returns the process exit code."""
    from runbook_engine.cli.progress import JsonLog
    from runbook_engine.metrics import Metrics, serve_metrics
    from runbook_engine.service import Engine
    from runbook_engine.store import Store
    from runbook_engine.telemetry import tracing_from_env

    conninfo = conninfo_from_url(options.url)
    store = Store.open(options.url)
    ensure_schema(conninfo)
    metrics = Metrics()
    metrics.watch_store(store)
    metrics.watch_queue(conninfo)
    subscribers: list[Subscriber] = [metrics]
    if options.json_logs:
        subscribers.append(JsonLog())
    tracing = tracing_from_env()
    if tracing is not None:
        subscribers.append(tracing)
    engine = Engine(store=store, subscribers=subscribers)
    runtime = Runtime(store=store, engine=engine, keeper=Housekeeper(store, engine))
    app = make_app(conninfo)
    register_tasks(app, runtime)
    server = None
    if options.metrics_port:
        try:
            server = serve_metrics(options.metrics_port, options.metrics_addr, metrics=metrics)
        except OSError as exc:
            raise RunbookError(
                f"cannot serve metrics on {options.metrics_addr}:{options.metrics_port}: {exc} "
                "(--metrics-port 0 turns the endpoint off)"
            ) from exc
        log.info("metrics on http://%s:%s/metrics", options.metrics_addr, server.server_port)
    log.info("worker started on %r (concurrency %d)", store, options.concurrency)
    try:
        asyncio.run(_serve(app, options))
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        if tracing is not None:
            tracing.close()
    if runtime.busy:
        # Run threads are still inside Engine.execute; waiting for them is what the grace
        # period was for. Exit now: their runs keep their event logs and owners that are no
        # longer alive, and the other workers' reapers take them over.
        log.warning(
            "exiting with %d run(s) still in hand; other workers take them over", runtime.busy
        )
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    store.close()
    log.info("worker stopped")
    return 0


def _worker(app: App, queue: str, *, concurrency: int, grace: float) -> Worker:
    from procrastinate.worker import Worker

    return Worker(
        app,
        queues=[queue],
        name=queue,
        concurrency=concurrency,
        shutdown_graceful_timeout=grace,
        install_signal_handlers=False,  # ours in _serve stop both workers together
        delete_jobs="successful",  # failed jobs stay: the reaper's backoff counts them
        # heartbeats on the store's rhythm: a dead worker's jobs are found stalled when its
        # runs' owners turn stale
        update_heartbeat_interval=HEARTBEAT_EVERY,
        stalled_worker_timeout=STALLED_AFTER,
    )


async def _serve(app: App, options: WorkerOptions) -> None:
    async with app.open_async():
        runs = _worker(
            app, RUNS_QUEUE, concurrency=options.concurrency, grace=options.shutdown_timeout
        )
        chores = _worker(app, HOUSEKEEPING_QUEUE, concurrency=1, grace=5.0)
        loop = asyncio.get_running_loop()
        signals = 0

        def on_signal() -> None:
            nonlocal signals
            signals += 1
            if signals == 1:
                log.info(
                    "stopping: no new jobs; runs in hand get %gs to finish (signal again "
                    "to leave them to other workers now)",
                    options.shutdown_timeout,
                )
                # Procrastinate leaves these two unannotated
                runs.stop()  # type: ignore[no-untyped-call]
                chores.stop()  # type: ignore[no-untyped-call]
                return
            log.warning("second stop signal: exiting now; other workers take over the runs")
            logging.shutdown()
            os._exit(EXIT_INTERRUPTED)

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        try:
            await asyncio.gather(
                runs.run(),  # type: ignore[no-untyped-call]
                chores.run(),  # type: ignore[no-untyped-call]
            )
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
