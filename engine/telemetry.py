# OpenTelemetry is an optional extra: type-check this module whether or not it is installed
# mypy: disable-error-code="import-not-found"
"""OpenTelemetry spans for runs and steps, when an exporter is configured.

Off unless OpenTelemetry's SDK is installed (``pip install 'runbook-engine[otel]'``) and either
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (OTLP over HTTP; the standard ``OTEL_*`` variables
configure it) or ``RUNBOOK_OTEL=console`` (spans printed to stderr, for trying it out).

A run may be driven by several processes: a worker stops at an approval and another continues,
or one dies and another takes over. Each process emits a ``run`` span for the stretch it drove
(``runbook.segment_end`` says why it ended: finished, approval, attention), with a child span
per step attempt and per rollback step. Every span carries ``runbook.run_id``, so a tracing
UI finds all of a run's stretches by that attribute.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import TYPE_CHECKING

from runbook_engine.core.events import EventType, StepError
from runbook_engine.core.state import RunState
from runbook_engine.runtime.bus import Event, RunInfo

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

log = logging.getLogger("runbook.telemetry")

ENV_MODE = "RUNBOOK_OTEL"
ENV_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"

#: events after which the process that recorded them stops driving the run (for now)
_SEGMENT_ENDS: dict[str, str] = {
    EventType.RUN_FINISHED: "finished",
    EventType.APPROVAL_REQUESTED: "approval",
    EventType.RUN_NEEDS_ATTENTION: "attention",
    EventType.INPUT_REQUESTED: "input",
}
_STEP_STARTS = frozenset({EventType.STEP_STARTED, EventType.ROLLBACK_STEP_STARTED})
_STEP_ENDS = frozenset(
    {
        EventType.STEP_SUCCEEDED,
        EventType.STEP_FAILED,
        EventType.STEP_INTERRUPTED,
        EventType.ROLLBACK_STEP_SUCCEEDED,
        EventType.ROLLBACK_STEP_FAILED,
        EventType.ROLLBACK_STEP_INTERRUPTED,
    }
)


def _ns(ts: float) -> int:
    return int(ts * 1_000_000_000)


class Tracing:
    """Bus subscriber turning a run's events into spans (timestamps from the event log)."""

    def __init__(self, tracer: Tracer, provider: TracerProvider | None = None) -> None:
        self.tracer = tracer
        self.provider = provider
        self._runs: dict[str, Span] = {}
        self._steps: dict[tuple[str, str], Span] = {}
        self._lock = threading.Lock()  # a worker drives several runs from several threads

    def on_event(self, run: RunInfo, event: Event, state: RunState) -> None:
        from opentelemetry import trace
        from opentelemetry.trace import Status, StatusCode

        if event.type == EventType.RUN_CREATED:
            return
        with self._lock:
            segment = self._runs.get(run.id)
            if segment is None:
                segment = self.tracer.start_span(
                    f"run {run.runbook}",
                    start_time=_ns(event.ts),
                    attributes={
                        "runbook.run_id": run.id,
                        "runbook.name": run.runbook,
                        "runbook.version": run.version,
                        "runbook.requester": run.requester,
                    },
                )
                self._runs[run.id] = segment
            key = (run.id, self._step_key(event))
            if event.type in _STEP_STARTS:
                step = self.tracer.start_span(
                    f"{'rollback' if event.type.startswith('rollback.') else 'step'} "
                    f"{event.data.get('step')}",
                    context=trace.set_span_in_context(segment),
                    start_time=_ns(event.ts),
                    attributes={
                        "runbook.run_id": run.id,
                        "runbook.step_id": str(event.data.get("step")),
                        "runbook.action": str(event.data.get("action")),
                        "runbook.attempt": int(event.data.get("attempt") or 1),
                    },
                )
                self._steps[key] = step
            elif event.type in _STEP_ENDS and key in self._steps:
                step = self._steps.pop(key)
                step.set_attribute("runbook.outcome", event.type.rsplit(".", 1)[1])
                if event.type.endswith("failed"):
                    error = StepError.of(event.data.get("error")) or StepError("")
                    step.set_status(Status(StatusCode.ERROR, error.message))
                step.end(end_time=_ns(event.ts))
            ending = _SEGMENT_ENDS.get(event.type)
            if ending is not None:
                self._end_segment(run.id, event, ending, state)

    def _end_segment(self, run_id: str, event: Event, ending: str, state: RunState) -> None:
        from opentelemetry.trace import Status, StatusCode

        for key in [k for k in self._steps if k[0] == run_id]:
            self._steps.pop(key).end(end_time=_ns(event.ts))
        segment = self._runs.pop(run_id)
        segment.set_attribute("runbook.segment_end", ending)
        segment.set_attribute("runbook.status", state.status)
        if ending == "finished" and state.status != "succeeded":
            segment.set_status(Status(StatusCode.ERROR, state.status))
        segment.end(end_time=_ns(event.ts))

    @staticmethod
    def _step_key(event: Event) -> str:
        step = str(event.data.get("step") or event.step_id or "")
        return f"rollback:{step}" if event.type.startswith("rollback.") else step

    def close(self) -> None:
        """End what is open (the process is stopping) and flush the exporter."""
        with self._lock:
            for span in [*self._steps.values(), *self._runs.values()]:
                span.end()
            self._steps.clear()
            self._runs.clear()
        if self.provider is not None:
            self.provider.shutdown()


def tracing_from_env() -> Tracing | None:
    """A ``Tracing`` subscriber if the environment asks for one and the SDK is installed."""
    mode = os.environ.get(ENV_MODE, "").strip().lower()
    endpoint = os.environ.get(ENV_ENDPOINT, "").strip()
    if mode not in ("", "console", "otlp"):
        log.warning("%s=%s is not understood (use console or otlp); no tracing", ENV_MODE, mode)
        return None
    if not mode and not endpoint:
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SimpleSpanProcessor,
        )
    except ImportError:
        log.warning(
            "tracing is configured but OpenTelemetry is not installed: "
            "pip install 'runbook-engine[otel]'"
        )
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": "runbook-engine"}))
    if mode == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    else:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.warning(
                "%s is set but the OTLP exporter is not installed: "
                "pip install 'runbook-engine[otel]'",
                ENV_ENDPOINT,
            )
            return None
        # the exporter reads OTEL_EXPORTER_OTLP_* (endpoint, headers, timeout) itself
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return Tracing(provider.get_tracer("runbook-engine"), provider)
