"""Concurrency locks held in the database."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from runbook_engine.errors import LockHeld, StoreError
from runbook_engine.store import TERMINAL_STATUSES, Store
from runbook_engine.store._tables import runs
from tests.store.store_helpers import Target, make_run, run_in_processes, take_lock


def test_terminal_statuses() -> None:
    assert (
        frozenset(
            {"succeeded", "failed", "rolled_back", "rollback_failed", "cancelled", "rejected"}
        )
        == TERMINAL_STATUSES
    )


def test_lock_held_by_a_live_run_is_refused_naming_the_holder(store: Store) -> None:
    make_run(store, "run-a", status="running")
    make_run(store, "run-b", status="running")
    store.acquire_lock("host:api-1", "run-a")
    with pytest.raises(LockHeld) as caught:
        store.acquire_lock("host:api-1", "run-b")
    assert isinstance(caught.value, StoreError)
    assert (caught.value.key, caught.value.holder) == ("host:api-1", "run-a")
    assert store.lock_holder("host:api-1") == "run-a"


def test_lock_is_reentrant_for_the_same_run(store: Store) -> None:
    make_run(store, "run-a", status="running")
    store.acquire_lock("k", "run-a")
    store.acquire_lock("k", "run-a")
    assert store.lock_holder("k") == "run-a"
    store.release_lock("k", "run-a")
    assert store.lock_holder("k") is None


def test_lock_of_a_finished_run_is_taken_over(store: Store) -> None:
    for status in sorted(TERMINAL_STATUSES):
        old, new, key = f"old-{status}", f"new-{status}", f"k-{status}"
        make_run(store, old, status="running")
        make_run(store, new, status="running")
        store.acquire_lock(key, old)
        store.append_event(old, "run.finished", status=status)
        store.acquire_lock(key, new)
        assert store.lock_holder(key) == new, status


def test_lock_of_a_deleted_run_is_taken_over(store: Store) -> None:
    make_run(store, "run-a", status="running")
    make_run(store, "run-b", status="running")
    store.acquire_lock("k", "run-a")
    with store._engine.begin() as conn:
        conn.execute(delete(runs).where(runs.c.id == "run-a"))
    store.acquire_lock("k", "run-b")
    assert store.lock_holder("k") == "run-b"


def test_release_by_a_non_holder_is_a_no_op(store: Store) -> None:
    make_run(store, "run-a", status="running")
    store.acquire_lock("k", "run-a")
    store.release_lock("k", "run-b")
    assert store.lock_holder("k") == "run-a"
    store.release_lock("unknown-key", "run-a")


def test_release_locks_of_a_run(store: Store) -> None:
    make_run(store, "run-a", status="running")
    make_run(store, "run-b", status="running")
    store.acquire_lock("k1", "run-a")
    store.acquire_lock("k2", "run-a")
    store.acquire_lock("k3", "run-b")
    store.release_locks_of("run-a")
    assert [store.lock_holder(k) for k in ("k1", "k2", "k3")] == [None, None, "run-b"]
    store.acquire_lock("k1", "run-b")
    assert store.lock_holder("k1") == "run-b"


def test_only_one_of_several_processes_gets_the_lock(store: Store, target: Target) -> None:
    contenders = ["run-a", "run-b", "run-c"]
    for run_id in contenders:
        make_run(store, run_id, status="running")
    outcomes = run_in_processes(take_lock, [(target, "host:db-1", run_id) for run_id in contenders])

    winner = store.lock_holder("host:db-1")
    assert winner in contenders
    assert sorted(outcomes) == sorted([("won", winner), ("held", winner), ("held", winner)])
