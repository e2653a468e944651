"""The queue on the machine's PostgreSQL: connection string, schema, deferring, stalled jobs."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from procrastinate import App
from sqlalchemy import Engine, text

from runbook_engine.errors import RunbookError, StoreError
from runbook_engine.store import Store
from runbook_engine.worker.housekeeping import abort_stalled_jobs, failures_of
from runbook_engine.worker.pg import conninfo_from_url, ensure_schema
from runbook_engine.worker.queue import (
    EXECUTOR_ENV,
    RUNS_QUEUE,
    defer_run,
    defer_run_async,
    enqueue,
    enqueue_if_queued,
    make_app,
    queue_executor,
)
from tests.worker.worker_fleet import schema_url


def jobs(conninfo: str) -> list[tuple[int, str, str, str]]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT id, status, queue_name, queueing_lock FROM procrastinate_jobs ORDER BY id"
        ).fetchall()
    return [(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]


@pytest.fixture(scope="module")
def conninfo(pg_url: str) -> str:
    return conninfo_from_url(pg_url)


@pytest.fixture
def app(conninfo: str) -> Iterator[App]:
    ensure_schema(conninfo)
    app = make_app(conninfo)
    with app.open():
        yield app
    with psycopg.connect(conninfo) as conn:
        conn.execute("DELETE FROM procrastinate_jobs")
        conn.execute("DELETE FROM procrastinate_workers")


def test_conninfo_keeps_the_search_path_and_drops_the_driver() -> None:
    info = conninfo_from_url("postgresql+psycopg://u:p%40ss@db:5433/runs?options=-csearch_path%3Dx")
    assert info == "postgresql://u:p%40ss@db:5433/runs?options=-csearch_path%3Dx"
    assert conninfo_from_url("postgres://db/runs") == "postgresql://db/runs"


def test_conninfo_refuses_sqlite(tmp_path: object) -> None:
    with pytest.raises(StoreError, match="PostgreSQL"):
        conninfo_from_url("sqlite:///runs.db")
    with pytest.raises(StoreError, match="PostgreSQL"):
        conninfo_from_url("/tmp/runs.db")


def test_schema_is_applied_once_by_concurrent_starters(pg_admin: tuple[str, Engine]) -> None:
    """Four workers starting at once: one applies the schema, the others wait and find it."""
    base, admin = pg_admin
    schema = f"w_{uuid.uuid4().hex[:16]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        _apply_concurrently(conninfo_from_url(schema_url(base, schema)))
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def _apply_concurrently(conninfo: str) -> None:
    results: list[bool | BaseException] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        barrier.wait(10)
        try:
            results.append(ensure_schema(conninfo))
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results, key=str) == [False, False, False, True]
    assert ensure_schema(conninfo) is False
    assert jobs(conninfo) == []


def test_a_run_is_queued_at_most_once(app: App, conninfo: str) -> None:
    assert defer_run(app, "run-a") is True
    assert defer_run(app, "run-a") is False  # the waiting job will see everything anyway
    assert defer_run(app, "run-b") is True
    assert [(s, q, lock) for _, s, q, lock in jobs(conninfo)] == [
        ("todo", RUNS_QUEUE, "run-a"),
        ("todo", RUNS_QUEUE, "run-b"),
    ]


def test_enqueue_from_a_short_lived_process(pg_url: str, conninfo: str) -> None:
    ensure_schema(conninfo)
    assert enqueue(["run-c", "run-c"], pg_url) == [True, False]
    with psycopg.connect(conninfo) as conn:
        conn.execute("DELETE FROM procrastinate_jobs")


def test_executor_switch(pg_url: str, conninfo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store.open(pg_url)
    try:
        monkeypatch.delenv(EXECUTOR_ENV, raising=False)
        assert queue_executor() is False
        assert enqueue_if_queued(store, "run-d") is False
        monkeypatch.setenv(EXECUTOR_ENV, "inline")
        assert enqueue_if_queued(store, "run-d") is False
        monkeypatch.setenv(EXECUTOR_ENV, "queue")
        assert enqueue_if_queued(store, "run-d") is True
        assert [lock for *_, lock in jobs(conninfo)] == ["run-d"]
        monkeypatch.setenv(EXECUTOR_ENV, "celery")
        with pytest.raises(RunbookError, match="inline"):
            queue_executor()
    finally:
        store.close()
        with psycopg.connect(conninfo) as conn:
            conn.execute("DELETE FROM procrastinate_jobs")


def test_jobs_of_a_dead_worker_are_aborted_and_failures_counted(app: App, conninfo: str) -> None:
    async def scenario() -> tuple[list[int], dict[str, int], int]:
        async with make_app(conninfo).open_async() as aapp:
            assert await defer_run_async(aapp, "run-e")
            assert await defer_run_async(aapp, "run-f")
            # a worker that stopped heartbeating a minute ago took run-e's job
            with psycopg.connect(conninfo) as conn:
                row = conn.execute(
                    "INSERT INTO procrastinate_workers (last_heartbeat) "
                    "VALUES (now() - interval '1 minute') RETURNING id"
                ).fetchone()
            assert row is not None
            job = await aapp.job_manager.fetch_job(queues=[RUNS_QUEUE], worker_id=int(row[0]))
            assert job is not None and job.task_kwargs == {"run_id": "run-e"}
            aborted = await abort_stalled_jobs(aapp)
            # run-f's job fails on a live worker
            alive = await aapp.job_manager.register_worker()
            failing = await aapp.job_manager.fetch_job(queues=[RUNS_QUEUE], worker_id=alive)
            assert failing is not None and failing.id is not None
            from procrastinate.jobs import Status

            await aapp.job_manager.finish_job_by_id_async(failing.id, Status.FAILED, False)
            failures = await failures_of(aapp, ["run-e", "run-f", "run-g"])
            return aborted, failures, job.id or 0

    aborted, failures, job_id = asyncio.run(scenario())
    assert aborted == [job_id]
    assert {lock: status for _, status, _, lock in jobs(conninfo)} == {
        "run-e": "aborted",
        "run-f": "failed",
    }
    assert failures == {"run-f": 1}
