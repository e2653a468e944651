"""Prometheus metrics: a bus subscriber for what runs do, and gauges read from the store and
the queue when scraped.

Counters and histograms are per process (each worker counts the runs it drove; Prometheus sums
over instances). Gauges about shared state — approvals waiting, queue depth — are read from
PostgreSQL on each scrape, so every instance reports the same fleet-wide value: aggregate them
with ``max``, not ``sum``.

    metrics = Metrics()
    engine = Engine(store=store, subscribers=[metrics])
    metrics.watch_store(store)           # runbook_approvals_waiting
    metrics.watch_queue(conninfo)        # runbook_queue_depth
    serve_metrics(9464, metrics=metrics) # or mount metrics_wsgi_app(metrics) in a web app
"""

from __future__ import annotations

import logging
import threading
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from runbook_engine.core.events import EventType, StepError
from runbook_engine.core.state import RunState
from runbook_engine.core.statuses import WAITING_APPROVAL, WAITING_INPUT
from runbook_engine.runtime.bus import Event, RunInfo
from runbook_engine.store import Store
from runbook_engine.worker.queue import HOUSEKEEPING_QUEUE, RUNS_QUEUE

log = logging.getLogger("runbook.metrics")

#: action name prefixes whose failures are remote-call errors, by family
ERROR_FAMILIES = ("ssh", "aws", "scaling", "ec2")

#: runbook steps range from milliseconds (a check) to many minutes (a drain, a rollout)
STEP_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)

_QUEUE_DEPTH_SQL = (
    "SELECT queue_name, count(*) FROM procrastinate_jobs WHERE status = 'todo' GROUP BY queue_name"
)

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def action_family(action: str | None) -> str | None:
    """``ssh`` for ``ssh.command``; None for actions that make no SSH/AWS call."""
    if not action:
        return None
    family = action.split(".", 1)[0]
    return family if family in ERROR_FAMILIES and "." in action else None


class Metrics:
    """The metrics of one process, in their own registry (never the global default one, so
    tests and embedding applications do not collide)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.runs = Counter(
            "runbook_runs_finished",
            "Runs that reached a final status, by runbook and status",
            ["runbook", "status"],
            registry=self.registry,
        )
        self.step_seconds = Histogram(
            "runbook_step_duration_seconds",
            "Duration of step attempts (succeeded or failed), by runbook and action",
            ["runbook", "action"],
            buckets=STEP_BUCKETS,
            registry=self.registry,
        )
        self.call_errors = Counter(
            "runbook_action_errors",
            "Failed SSH and AWS calls (ssh.*, aws.*, scaling.*, ec2.* steps and rollbacks), "
            "by action family and error kind",
            ["family", "kind"],
            registry=self.registry,
        )
        # step.failed carries no action name: remember it from step.started
        self._actions: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ subscriber

    def on_event(self, run: RunInfo, event: Event, state: RunState) -> None:
        data = event.data
        kind = event.type
        if kind in (EventType.STEP_STARTED, EventType.ROLLBACK_STEP_STARTED):
            with self._lock:
                self._actions[self._key(event)] = str(data.get("action") or "unknown")
        elif kind in (
            EventType.STEP_SUCCEEDED,
            EventType.STEP_FAILED,
            EventType.ROLLBACK_STEP_FAILED,
        ):
            with self._lock:
                action = self._actions.pop(self._key(event), None)
            action = str(data.get("action") or action or "unknown")
            if kind != EventType.ROLLBACK_STEP_FAILED and data.get("duration") is not None:
                self.step_seconds.labels(run.runbook, action).observe(float(data["duration"]))
            family = action_family(action)
            if kind != EventType.STEP_SUCCEEDED and family is not None:
                error = StepError.of(data.get("error")) or StepError("failed")
                self.call_errors.labels(family, error.kind).inc()
        elif kind == EventType.ROLLBACK_STEP_SUCCEEDED:
            with self._lock:
                self._actions.pop(self._key(event), None)
        elif kind == EventType.RUN_FINISHED:
            self.runs.labels(run.runbook, str(data.get("status"))).inc()
            with self._lock:
                for key in [k for k in self._actions if k[0] == run.id]:
                    del self._actions[key]

    @staticmethod
    def _key(event: Event) -> tuple[str, str]:
        step = str(event.data.get("step") or event.step_id or "")
        if event.type.startswith("rollback."):
            step = f"rollback:{step}"
        return (event.run_id, step)

    # ------------------------------------------------------------------ scrape-time gauges

    def watch_store(self, store: Store) -> None:
        """Add ``runbook_approvals_waiting{runbook}`` and ``runbook_inputs_waiting{runbook}``,
        read from the store on each scrape."""
        self.registry.register(_ApprovalsCollector(store))

    def watch_queue(self, conninfo: str) -> None:
        """Add ``runbook_queue_depth{queue}``: jobs waiting (``todo``) in the run queue."""
        self.registry.register(_QueueCollector(conninfo))


class _ApprovalsCollector(Collector):
    """``runbook_approvals_waiting`` and ``runbook_inputs_waiting``: runs waiting for a
    person, by runbook."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for status, name, what in (
            (WAITING_APPROVAL, "runbook_approvals_waiting", "an approval decision"),
            (WAITING_INPUT, "runbook_inputs_waiting", "a person's input"),
        ):
            gauge = GaugeMetricFamily(
                name, f"Runs waiting for {what}, by runbook", labels=["runbook"]
            )
            try:
                waiting = Tally(
                    r.runbook for r in self.store.list_runs(status=status, limit=100_000)
                )
            except Exception:
                # a scrape must answer even when the database does not: the gauge is left out
                log.warning("cannot read runs waiting for %s", what, exc_info=True)
                return
            for runbook, count in sorted(waiting.items()):
                gauge.add_metric([runbook], count)
            yield gauge


class _QueueCollector(Collector):
    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo

    def collect(self) -> Iterator[GaugeMetricFamily]:
        import psycopg

        gauge = GaugeMetricFamily(
            "runbook_queue_depth", "Jobs waiting to be picked up, by queue", labels=["queue"]
        )
        try:
            # a connection per scrape: scrapes are seconds apart and must not hold a
            # connection of the worker's pools
            with psycopg.connect(self.conninfo, connect_timeout=5) as conn:
                rows = conn.execute(_QUEUE_DEPTH_SQL).fetchall()
        except psycopg.Error:
            log.warning("cannot read the queue depth", exc_info=True)
            return
        # the engine's queues always show, at 0 when empty, so alerts see a value
        depth = dict.fromkeys((RUNS_QUEUE, HOUSEKEEPING_QUEUE), 0.0)
        depth.update({str(queue): float(count) for queue, count in rows})
        for queue, count in sorted(depth.items()):
            gauge.add_metric([queue], count)
        yield gauge


_shared: dict[str, Metrics] = {}
_shared_lock = threading.Lock()


def default_metrics() -> Metrics:
    """The process's shared instance, for code that does not pass one around."""
    with _shared_lock:
        if "default" not in _shared:
            _shared["default"] = Metrics()
        return _shared["default"]


def metrics_wsgi_app(metrics: Metrics | None = None) -> Wsgi:
    """A WSGI app answering with the metrics, to mount at ``/metrics`` in a web server."""
    app: Wsgi = make_wsgi_app((metrics or default_metrics()).registry)
    return app


def serve_metrics(
    port: int, addr: str = "0.0.0.0", *, metrics: Metrics | None = None
) -> WSGIServer:
    """Serve ``/metrics`` over HTTP from a daemon thread; returns the server (``.shutdown()``
    then ``.server_close()`` stop it). Port 0 picks a free port: ``server.server_port``."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(
        port, addr=addr, registry=(metrics or default_metrics()).registry
    )
    return server
