"""Prometheus metrics and OpenTelemetry spans from the bus, and the ways they are served."""

from __future__ import annotations

import os
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import psycopg
import pytest

from runbook_engine.core.state import RunState
from runbook_engine.metrics import Metrics, action_family, metrics_wsgi_app, serve_metrics
from runbook_engine.runtime.bus import Event, RunInfo
from runbook_engine.service import Engine
from runbook_engine.spec.loader import load_text
from runbook_engine.store import Store
from runbook_engine.worker.pg import conninfo_from_url, ensure_schema

RUNBOOK = """\
apiVersion: runbook/v1
name: metered
version: 1
steps:
  - id: gate
    approval: {message: "go?"}
  - id: nap
    action: sleep
    with: {duration: 0.01}
  - id: boom
    action: fail
    with: {message: "boom"}
"""

PG = os.environ.get("RUNBOOK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
INFO = RunInfo(id="r1", runbook="fleet", version=1, digest="d", requester="alice")


def event(seq: int, type_: str, **data: Any) -> Event:
    return Event("r1", seq, 1000.0 + seq, type_, data.get("step"), data)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(str(tmp_path / "runs.db"))
    try:
        yield opened
    finally:
        opened.close()


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_action_family() -> None:
    assert action_family("ssh.command") == "ssh"
    assert action_family("aws.call") == "aws"
    assert action_family("scaling.asg") == "scaling"
    assert action_family("ec2.reboot") == "ec2"
    assert action_family("shell.command") is None
    assert action_family("sshd") is None and action_family(None) is None


def test_events_count_runs_steps_and_remote_errors() -> None:
    metrics = Metrics()
    state = RunState()
    for ev in [
        event(2, "step.started", step="probe", action="ssh.command", attempt=1),
        event(
            3,
            "step.failed",
            step="probe",
            attempt=1,
            duration=1.5,
            error={"kind": "timeout", "message": "slow"},
        ),
        event(4, "step.started", step="probe", action="ssh.command", attempt=2),
        event(5, "step.succeeded", step="probe", action="ssh.command", duration=0.2),
        event(6, "step.started", step="scale", action="scaling.asg", attempt=1),
        event(7, "step.failed", step="scale", duration=3.0, error={"kind": "throttled"}),
        event(8, "rollback.step_started", step="probe", action="ssh.command", index=0),
        event(9, "rollback.step_failed", step="probe", index=0, error={"kind": "exit"}),
        event(10, "step.started", step="local", action="shell.command", attempt=1),
        event(11, "step.failed", step="local", duration=0.1, error={"kind": "exit"}),
        event(12, "run.finished", status="rollback_failed"),
    ]:
        metrics.on_event(INFO, ev, state)
    assert (
        sample(metrics, "runbook_runs_finished_total", runbook="fleet", status="rollback_failed")
        == 1
    )
    assert (
        sample(
            metrics, "runbook_step_duration_seconds_count", runbook="fleet", action="ssh.command"
        )
        == 2
    )
    assert (
        sample(metrics, "runbook_step_duration_seconds_sum", runbook="fleet", action="scaling.asg")
        == 3.0
    )
    assert sample(metrics, "runbook_action_errors_total", family="ssh", kind="timeout") == 1
    assert sample(metrics, "runbook_action_errors_total", family="ssh", kind="exit") == 1
    assert sample(metrics, "runbook_action_errors_total", family="scaling", kind="throttled") == 1
    assert sample(metrics, "runbook_action_errors_total", family="shell", kind="exit") is None


def test_metrics_from_a_real_run_and_waiting_approvals(store: Store) -> None:
    metrics = Metrics()
    metrics.watch_store(store)
    engine = Engine(store=store, subscribers=[metrics])
    loaded = load_text(RUNBOOK, "metered.yaml")
    outcome = engine.start(loaded, {}, requester="alice", wait_for_approval=False)
    assert sample(metrics, "runbook_approvals_waiting", runbook="metered") == 1
    engine.decide(outcome.run_id, user="bob", approve=True)
    assert engine.resume(outcome.run_id, by="bob").status == "failed"
    assert sample(metrics, "runbook_approvals_waiting", runbook="metered") is None
    assert sample(metrics, "runbook_runs_finished_total", runbook="metered", status="failed") == 1
    assert (
        sample(metrics, "runbook_step_duration_seconds_count", runbook="metered", action="sleep")
        == 1
    )


def test_queue_depth_is_read_from_postgresql() -> None:
    schema = f"m_{uuid.uuid4().hex[:12]}"
    admin = psycopg.connect(conninfo_from_url(PG), autocommit=True)
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        conninfo = conninfo_from_url(f"{PG}?options=-csearch_path%3D{schema}")
        metrics = Metrics()
        metrics.watch_queue(conninfo)
        ensure_schema(conninfo)
        from runbook_engine.worker.queue import defer_run, make_app

        app = make_app(conninfo)
        with app.open():
            defer_run(app, "run-1")
            defer_run(app, "run-2")
        assert sample(metrics, "runbook_queue_depth", queue="runbook-runs") == 2
        assert sample(metrics, "runbook_queue_depth", queue="runbook-housekeeping") == 0
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


def test_queue_depth_is_left_out_when_the_queue_is_unreachable() -> None:
    metrics = Metrics()
    metrics.watch_queue("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    assert sample(metrics, "runbook_queue_depth", queue="runbook-runs") is None


def test_wsgi_app_and_http_server() -> None:
    metrics = Metrics()
    metrics.on_event(INFO, event(2, "run.finished", status="succeeded"), RunState())
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    statuses: list[str] = []
    body = b"".join(metrics_wsgi_app(metrics)(environ, lambda s, h: statuses.append(s)))
    assert statuses == ["200 OK"]
    assert b'runbook_runs_finished_total{runbook="fleet",status="succeeded"} 1.0' in body
    server = serve_metrics(0, "127.0.0.1", metrics=metrics)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        text = urllib.request.urlopen(url, timeout=10).read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert "runbook_runs_finished_total" in text


# ---------------------------------------------------------------------- OpenTelemetry


def test_tracing_is_off_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    from runbook_engine.telemetry import tracing_from_env

    monkeypatch.delenv("RUNBOOK_OTEL", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert tracing_from_env() is None
    monkeypatch.setenv("RUNBOOK_OTEL", "loud")
    assert tracing_from_env() is None


def test_spans_per_run_stretch_and_step(store: Store) -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import StatusCode

    from runbook_engine.telemetry import Tracing

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = Tracing(provider.get_tracer("test"), provider)
    engine = Engine(store=store, subscribers=[tracing])
    outcome = engine.start(
        load_text(RUNBOOK, "metered.yaml"), {}, requester="alice", wait_for_approval=False
    )
    engine.decide(outcome.run_id, user="bob", approve=True)
    engine.resume(outcome.run_id, by="bob")
    tracing.close()
    spans = exporter.get_finished_spans()
    runs = [s for s in spans if s.name == "run metered"]
    # two stretches: up to the approval, and from the decision to the end
    assert [(s.attributes or {})["runbook.segment_end"] for s in runs] == ["approval", "finished"]
    assert runs[1].status.status_code == StatusCode.ERROR
    steps = {s.name: s for s in spans if s.name.startswith("step ")}
    assert set(steps) == {"step nap", "step boom"}
    assert steps["step boom"].status.status_code == StatusCode.ERROR
    assert steps["step nap"].parent is not None
    assert steps["step nap"].parent.span_id == runs[1].context.span_id
    assert {(s.attributes or {})["runbook.run_id"] for s in spans} == {outcome.run_id}


def test_console_exporter_from_the_environment(
    store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("opentelemetry.sdk")
    from runbook_engine.telemetry import tracing_from_env

    monkeypatch.setenv("RUNBOOK_OTEL", "console")
    tracing = tracing_from_env()
    assert tracing is not None
    engine = Engine(store=store, subscribers=[tracing])
    no_gate = RUNBOOK.replace('  - id: gate\n    approval: {message: "go?"}\n', "")
    outcome = engine.start(load_text(no_gate, "m.yaml"), {}, requester="alice")
    tracing.close()
    err = capsys.readouterr().err
    assert '"name": "run metered"' in err and outcome.run_id in err
