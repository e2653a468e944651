"""Helpers for the store tests, including the functions child processes run.

Child processes are started with the ``spawn`` method, so everything they run
lives here, in a small module they can import quickly by name.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

from sqlalchemy import Engine, text

from runbook_engine.errors import LockHeld
from runbook_engine.store import RunRecord, Store


@dataclass(frozen=True)
class Target:
    """Where a test's store lives; picklable, so child processes can open it too."""

    url: str
    schema: str | None = None

    @property
    def dialect(self) -> str:
        return "sqlite" if self.schema is None else "postgresql"

    def open(self) -> Store:
        return Store.open(self.url, schema=self.schema)


def new_schema_name() -> str:
    """A PostgreSQL schema name no other test uses."""
    return f"t_{uuid.uuid4().hex[:16]}"


def drop_schema(admin: Engine, schema: str) -> None:
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def make_run(store: Store, run_id: str, **overrides: Any) -> RunRecord:
    """Create a run with sensible defaults for whatever the test does not care about."""
    fields: dict[str, Any] = {
        "runbook": "restart-api",
        "version": 1,
        "digest": "sha256:aaaa",
        "params": {"host": "api-1"},
        "requester": "alice",
    }
    fields.update(overrides)
    return store.create_run(run_id, **fields)


def run_in_processes(func: Callable[..., None], arg_tuples: list[tuple[Any, ...]]) -> list[Any]:
    """Run ``func(*args, start, results)`` in one spawned process per ``args``.

    ``start`` is a barrier the children pass together once they are set up, so
    their work overlaps; each child puts one outcome on ``results``. Returns the
    outcomes in the order they arrived.
    """
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(len(arg_tuples))
    results: Queue[Any] = ctx.Queue()
    procs = [ctx.Process(target=func, args=(*args, start, results)) for args in arg_tuples]
    for proc in procs:
        proc.start()
    try:
        return [results.get(timeout=60) for _ in procs]
    finally:
        for proc in procs:
            proc.join(30)
            if proc.is_alive():  # only after a failure above; never leave strays
                proc.kill()
                proc.join()
            proc.close()
        results.close()
        results.join_thread()


# -- child processes -------------------------------------------------------------------


def open_store(target: Target, start: Barrier, results: Queue[Any]) -> None:
    """Open (and so migrate) the store together with other processes."""
    start.wait(30)
    try:
        target.open().close()
        results.put(("ok", os.getpid()))
    except Exception as exc:
        results.put(("error", repr(exc)))


def append_events(
    target: Target, run_id: str, count: int, start: Barrier, results: Queue[Any]
) -> None:
    """Append ``count`` events and report the seqs received.

    The short pause between appends lets the writers interleave: without it, on
    SQLite one writer tends to finish all its appends while the others sleep in
    the busy handler, and the test would exercise little contention.
    """
    store = target.open()
    try:
        start.wait(30)
        seqs: list[int] = []
        for n in range(count):
            seqs.append(store.append_event(run_id, "tick", {"pid": os.getpid(), "n": n}).seq)
            time.sleep(0.002)
        results.put(("ok", seqs))
    except Exception as exc:
        results.put(("error", repr(exc)))
    finally:
        store.close()


def append_until_killed(target: Target, run_id: str, report: Connection) -> None:
    """Append forever, sending each seq down the pipe only after append_event
    returned (that is, after commit); the parent SIGKILLs us at some point."""
    store = target.open()
    n = 0
    while True:
        n += 1
        event = store.append_event(run_id, "tick", {"n": n}, state={"n": n})
        report.send(event.seq)


def take_lock(target: Target, key: str, run_id: str, start: Barrier, results: Queue[Any]) -> None:
    """Try to take ``key`` for ``run_id`` at the same moment as other processes."""
    store = target.open()
    try:
        start.wait(30)
        store.acquire_lock(key, run_id)
        results.put(("won", run_id))
    except LockHeld as exc:
        results.put(("held", exc.holder))
    except Exception as exc:
        results.put(("error", repr(exc)))
    finally:
        store.close()
