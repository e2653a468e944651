"""Runs, their event logs, lookups and ownership."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from runbook_engine.errors import StoreError
from runbook_engine.store import EventRecord, RunRecord, Store
from runbook_engine.store._tables import runs
from tests.store.store_helpers import make_run


def _set_created_at(store: Store, run_id: str, when: datetime) -> None:
    with store._engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run_id).values(created_at=when))


def _age_heartbeat(store: Store, run_id: str, seconds: float) -> None:
    with store._engine.begin() as conn:
        conn.execute(
            update(runs)
            .where(runs.c.id == run_id)
            .values(heartbeat_at=datetime.now(UTC) - timedelta(seconds=seconds))
        )


# -- create_run and events --------------------------------------------------------------


def test_create_run_returns_the_row_and_logs_run_created(store: Store) -> None:
    run = store.create_run(
        "run-1",
        runbook="restart-api",
        version=3,
        digest="sha256:abcd",
        params={"host": "api-1", "count": 2, "nested": {"ok": True}},
        requester="alice",
    )
    assert isinstance(run, RunRecord)
    assert (run.id, run.runbook, run.version, run.digest) == (
        "run-1",
        "restart-api",
        3,
        "sha256:abcd",
    )
    assert run.status == "pending"
    assert run.params == {"host": "api-1", "count": 2, "nested": {"ok": True}}
    assert run.requester == "alice"
    assert run.state == {}
    assert run.owner is None
    assert run.heartbeat_at is None
    assert run.created_at.tzinfo is UTC
    assert run.created_at == run.updated_at
    assert store.get_run("run-1") == run

    [created] = store.events("run-1")
    assert isinstance(created, EventRecord)
    assert (created.run_id, created.seq, created.type, created.step_id) == (
        "run-1",
        1,
        "run.created",
        None,
    )
    assert created.data == {"params": run.params, "requester": "alice"}
    assert created.ts == run.created_at


def test_create_run_with_state_and_status(store: Store) -> None:
    run = make_run(store, "run-1", state={"step": "drain"}, status="awaiting_approval")
    assert run.state == {"step": "drain"}
    assert run.status == "awaiting_approval"


def test_duplicate_run_id_is_refused(store: Store) -> None:
    make_run(store, "run-1")
    with pytest.raises(StoreError, match="run run-1 already exists"):
        make_run(store, "run-1", runbook="other")
    run = store.get_run("run-1")
    assert run is not None
    assert run.runbook == "restart-api"
    assert len(store.events("run-1")) == 1


def test_append_event_numbers_gaplessly_and_updates_the_run(store: Store) -> None:
    created = make_run(store, "run-1")
    make_run(store, "run-2")  # another run's log numbers independently
    first = store.append_event(
        "run-1", "step.started", {"attempt": 1}, step_id="drain", status="running"
    )
    store.append_event("run-2", "step.started")
    second = store.append_event(
        "run-1", "step.finished", step_id="drain", state={"done": ["drain"]}
    )
    third = store.append_event("run-1", "run.succeeded", {}, status="succeeded")

    assert [first.seq, second.seq, third.seq] == [2, 3, 4]
    assert first.data == {"attempt": 1}
    assert second.data == {}
    assert first.ts.tzinfo is UTC
    assert created.created_at <= first.ts <= second.ts <= third.ts

    logged = store.events("run-1")
    assert [e.seq for e in logged] == [1, 2, 3, 4]
    assert [e.type for e in logged] == [
        "run.created",
        "step.started",
        "step.finished",
        "run.succeeded",
    ]
    assert logged[1:] == [first, second, third]
    assert [e.seq for e in store.events("run-2")] == [1, 2]

    run = store.get_run("run-1")
    assert run is not None
    assert run.status == "succeeded"  # the last status given
    assert run.state == {"done": ["drain"]}  # kept when an event gives none
    assert run.updated_at == third.ts


def test_events_after_seq(store: Store) -> None:
    make_run(store, "run-1")
    for n in range(5):
        store.append_event("run-1", "tick", {"n": n})
    assert [e.seq for e in store.events("run-1", after_seq=3)] == [4, 5, 6]
    assert store.events("run-1", after_seq=6) == []
    assert store.events("no-such-run") == []


def test_append_to_unknown_run_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match="no run nope"):
        store.append_event("nope", "tick")


def test_unserialisable_data_is_a_store_error_and_writes_nothing(store: Store) -> None:
    make_run(store, "run-1")
    with pytest.raises(StoreError, match="not JSON serializable"):
        store.append_event("run-1", "tick", {"when": object()})
    assert [e.seq for e in store.events("run-1")] == [1]
    assert store.append_event("run-1", "tick").seq == 2


def test_nan_is_refused_on_both_backends(store: Store) -> None:
    # PostgreSQL's json type rejects NaN; SQLite would store it. Refuse it on both.
    make_run(store, "run-1")
    with pytest.raises(StoreError, match="JSON"):
        store.append_event("run-1", "tick", state={"ratio": float("nan")})
    run = store.get_run("run-1")
    assert run is not None
    assert run.state == {}


def test_records_are_frozen(store: Store) -> None:
    run = make_run(store, "run-1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.status = "running"  # type: ignore[misc]


def test_naive_datetimes_given_to_records_become_utc() -> None:
    naive = datetime(2024, 1, 2, 3, 4, 5)
    event = EventRecord("r", 1, naive, "t", None, {})
    assert event.ts == naive.replace(tzinfo=UTC)
    other_zone = datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert EventRecord("r", 1, other_zone, "t", None, {}).ts.tzinfo is UTC


# -- get_run ---------------------------------------------------------------------------------


def test_get_run_by_unique_prefix(store: Store) -> None:
    make_run(store, "8f3a1c22-aaaa")
    make_run(store, "8f3b0000-bbbb")
    run = store.get_run("8f3a")
    assert run is not None
    assert run.id == "8f3a1c22-aaaa"
    assert store.get_run("8f3a1c22-aaaa") == run
    assert store.get_run("9999") is None


def test_get_run_prefix_needs_four_characters(store: Store) -> None:
    make_run(store, "8f3a1c22")
    assert store.get_run("8f3") is None


def test_get_run_ambiguous_prefix_names_the_candidates(store: Store) -> None:
    make_run(store, "8f3a1c22")
    make_run(store, "8f3a9d00")
    with pytest.raises(StoreError, match="ambiguous") as caught:
        store.get_run("8f3a")
    assert "8f3a1c22" in str(caught.value)
    assert "8f3a9d00" in str(caught.value)


def test_exact_id_wins_over_a_longer_id_it_prefixes(store: Store) -> None:
    make_run(store, "abcd")
    make_run(store, "abcdef")
    run = store.get_run("abcd")
    assert run is not None
    assert run.id == "abcd"


def test_get_run_prefix_is_literal_and_case_sensitive(store: Store) -> None:
    make_run(store, "ABCD-1234")
    make_run(store, "ab_d-5678")
    assert store.get_run("abcd") is None  # SQLite's LIKE would match ABCD
    found = store.get_run("ab_d")  # "_" is not a wildcard
    assert found is not None
    assert found.id == "ab_d-5678"


# -- list_runs -----------------------------------------------------------------------------


def test_list_runs_newest_first_with_filters(store: Store) -> None:
    base = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    layout = [
        ("run-a", "restart-api", "succeeded", 0),
        ("run-b", "restart-api", "running", 1),
        ("run-c", "rotate-certs", "failed", 2),
        ("run-d", "restart-api", "failed", 3),
    ]
    for run_id, runbook, status, hours in layout:
        make_run(store, run_id, runbook=runbook, status=status)
        _set_created_at(store, run_id, base + timedelta(hours=hours))

    def ids(**filters: object) -> list[str]:
        return [r.id for r in store.list_runs(**filters)]  # type: ignore[arg-type]

    assert ids() == ["run-d", "run-c", "run-b", "run-a"]
    assert ids(status="failed") == ["run-d", "run-c"]
    assert ids(status=["succeeded", "running"]) == ["run-b", "run-a"]
    assert ids(status=("failed",), runbook="restart-api") == ["run-d"]
    assert ids(runbook="rotate-certs") == ["run-c"]
    assert ids(since=base + timedelta(hours=2)) == ["run-d", "run-c"]  # inclusive
    # An aware datetime in another zone means the same instant.
    plus_two = timezone(timedelta(hours=2))
    assert ids(since=(base + timedelta(hours=2)).astimezone(plus_two)) == ["run-d", "run-c"]
    assert ids(limit=2) == ["run-d", "run-c"]
    assert ids(status="cancelled") == []
    assert store.list_runs()[0].created_at == base + timedelta(hours=3)


def test_list_runs_rejects_a_limit_below_one(store: Store) -> None:
    with pytest.raises(ValueError, match="limit"):
        store.list_runs(limit=0)


# -- ownership ----------------------------------------------------------------------------


def test_set_owner_and_heartbeat(store: Store) -> None:
    make_run(store, "run-1")
    store.set_owner("run-1", "host-a:100")
    run = store.get_run("run-1")
    assert run is not None
    assert run.owner == "host-a:100"
    assert run.heartbeat_at is not None
    assert run.heartbeat_at.tzinfo is UTC

    _age_heartbeat(store, "run-1", 60)
    assert store.heartbeat("run-1", "host-a:100") is True
    after = store.get_run("run-1")
    assert after is not None
    assert after.heartbeat_at is not None
    assert after.heartbeat_at > run.heartbeat_at - timedelta(seconds=1)
    # Someone who is not the owner cannot keep the run alive.
    assert store.heartbeat("run-1", "host-b:200") is False

    store.set_owner("run-1", None)
    cleared = store.get_run("run-1")
    assert cleared is not None
    assert (cleared.owner, cleared.heartbeat_at) == (None, None)


def test_set_owner_of_unknown_run_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match="no run nope"):
        store.set_owner("nope", "host:1")


def test_claim_run_respects_a_fresh_owner_and_takes_a_stale_one(store: Store) -> None:
    make_run(store, "run-1")
    assert store.claim_run("run-1", "host-a:1", stale_after=30) is True  # no owner yet
    assert store.claim_run("run-1", "host-a:1", stale_after=30) is True  # same owner
    assert store.claim_run("run-1", "host-b:2", stale_after=30) is False  # fresh heartbeat
    run = store.get_run("run-1")
    assert run is not None
    assert run.owner == "host-a:1"

    _age_heartbeat(store, "run-1", 31)
    assert store.claim_run("run-1", "host-b:2", stale_after=30) is True
    taken = store.get_run("run-1")
    assert taken is not None
    assert taken.owner == "host-b:2"
    assert taken.heartbeat_at is not None
    assert datetime.now(UTC) - taken.heartbeat_at < timedelta(seconds=5)
    # The previous owner notices on its next heartbeat.
    assert store.heartbeat("run-1", "host-a:1") is False


def test_claim_unknown_run_is_false(store: Store) -> None:
    assert store.claim_run("nope", "host:1", stale_after=30) is False
