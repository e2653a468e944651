"""The worker's pieces in one process: driving a run from a job, the daemon-thread bridge,
following a run from its log, and JSON log lines. SQLite store; no PostgreSQL needed."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook_engine.core.statuses import SUCCEEDED
from runbook_engine.service import Engine
from runbook_engine.spec.loader import LoadedRunbook, load_text
from runbook_engine.store import EventRecord, RunRecord, Store
from runbook_engine.worker.follow import follow
from runbook_engine.worker.housekeeping import Housekeeper
from runbook_engine.worker.logs import JsonFormatter, setup_logging
from runbook_engine.worker.tasks import Runtime, in_thread

NAP = """\
apiVersion: runbook/v1
name: nap
version: 1
steps:
  - id: nap
    action: sleep
    with: {duration: 0.3}
  - id: say
    action: log
    with: {message: rested}
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(str(tmp_path / "runs.db"))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def runtime(store: Store) -> Runtime:
    engine = Engine(store=store)
    return Runtime(store=store, engine=engine, keeper=Housekeeper(store, engine))


def nap() -> LoadedRunbook:
    return load_text(NAP, "nap.yaml")


def test_drive_runs_a_recorded_run_once(runtime: Runtime) -> None:
    run_id, _ = runtime.engine.create(nap(), {}, requester="alice")
    assert runtime.drive(run_id) == SUCCEEDED
    assert runtime.drive(run_id) == SUCCEEDED  # a late duplicate job changes nothing
    types = [e.type for e in runtime.store.events(run_id)]
    assert types.count("run.started") == 1 and types.count("run.finished") == 1
    assert runtime.drive("nosuchrun") == "no such run"


def test_two_jobs_for_one_run_in_one_worker_drive_it_once(runtime: Runtime) -> None:
    """Ownership is per process, so the worker itself must refuse the second job."""
    run_id, _ = runtime.engine.create(nap(), {}, requester="alice")
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(runtime.drive(run_id))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert SUCCEEDED in results
    assert runtime.busy == 0
    types = [e.type for e in runtime.store.events(run_id)]
    assert types.count("run.started") == 1 and types.count("step.started") == 2


def test_a_run_another_engine_drives_is_left_alone(runtime: Runtime) -> None:
    run_id, _ = runtime.engine.create(nap(), {}, requester="alice")
    runtime.store.set_owner(run_id, "elsewhere:4242")  # heartbeating a moment ago
    assert runtime.drive(run_id) == "driven by elsewhere:4242"
    assert [e.type for e in runtime.store.events(run_id)] == ["run.created"]


def test_in_thread_returns_raises_and_lets_go_when_cancelled() -> None:
    release = threading.Event()

    def slow(arg: str) -> str:
        release.wait(10)
        return arg

    def boom(arg: str) -> str:
        raise ValueError(arg)

    async def scenario() -> float:
        assert await in_thread(str.upper, "ok", name="t1") == "OK"
        with pytest.raises(ValueError, match="bad"):
            await in_thread(boom, "bad", name="t2")
        task = asyncio.create_task(in_thread(slow, "late", name="t3"))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 1.0  # did not wait for the thread
    release.set()


def test_follow_reports_every_event_until_the_run_ends(store: Store) -> None:
    engine = Engine(store=store)
    run_id, _ = engine.create(nap(), {}, requester="alice")
    seen: list[EventRecord] = []
    driver = threading.Thread(target=engine.execute, args=(run_id,))
    driver.start()
    final = follow(store, run_id, lambda _record, event: seen.append(event), poll=0.05)
    driver.join(30)
    assert final.status == SUCCEEDED
    assert [e.seq for e in seen] == list(range(1, len(seen) + 1))
    assert seen[-1].type == "run.finished"


def test_follow_times_out_on_a_run_nobody_drives(store: Store) -> None:
    run_id, _ = Engine(store=store).create(nap(), {}, requester="alice")
    records: list[RunRecord] = []
    with pytest.raises(TimeoutError, match="pending"):
        follow(store, run_id, lambda record, _event: records.append(record), timeout=0.2)
    assert len(records) == 1  # run.created


def test_json_log_lines_carry_run_and_job() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord("runbook.worker", logging.INFO, __file__, 1, "run %s", ("r1",), None)
    record.run_id = "r1"
    assert json.loads(formatter.format(record)) == {
        "ts": record.created,
        "level": "info",
        "logger": "runbook.worker",
        "message": "run r1",
        "run_id": "r1",
    }
    job = logging.LogRecord("procrastinate.worker", logging.ERROR, __file__, 1, "failed", (), None)
    job.job = {"id": 7, "task_name": "runbook.execute_run", "task_kwargs": {"run_id": "r2"}}
    try:
        raise RuntimeError("database is down")
    except RuntimeError:
        import sys

        job.exc_info = sys.exc_info()
    line = json.loads(formatter.format(job))
    assert (line["job_id"], line["task"], line["run_id"]) == (7, "runbook.execute_run", "r2")
    assert "database is down" in line["error"]


def test_setup_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    handlers, level, runbook_level = (
        root.handlers[:],
        root.level,
        logging.getLogger("runbook").level,
    )
    monkeypatch.delenv("RUNBOOK_LOG_LEVEL", raising=False)
    try:
        setup_logging("json")
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
        assert root.level == logging.WARNING
        assert logging.getLogger("runbook").level == logging.INFO
        monkeypatch.setenv("RUNBOOK_LOG_LEVEL", "DEBUG")
        setup_logging("text")
        assert root.level == logging.DEBUG
        assert not isinstance(root.handlers[0].formatter, JsonFormatter)
    finally:
        logging.captureWarnings(False)
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.getLogger("runbook").setLevel(runbook_level)
