"""A re-run's link in the store, on SQLite and PostgreSQL: ``create_run`` writes ``rerun_of``
and the carried events in the run's creating transaction, and ``reruns_of`` finds the re-runs
of a run (the other way of the link)."""

from __future__ import annotations

import pytest

from runbook_engine.errors import StoreError
from runbook_engine.store import NewEvent, NewRun, Store


def _new(store: Store, run_id: str, link: dict[str, object] | None = None) -> None:
    store.create_run(
        run_id,
        runbook="deploy",
        version=1,
        digest="sha256:ab",
        params={},
        requester="alice",
        rerun_of=link,
        then=[NewEvent("step.carried", {"step": "a", "status": "succeeded"}, "a")] if link else (),
    )


def test_rerun_of_and_carried_events_are_written_with_the_run(store: Store) -> None:
    _new(store, "orig")
    _new(store, "r0001", {"run": "orig", "from": "b", "failed_hosts": False})
    record = store.get_run("r0001")
    assert record is not None and record.last_seq == 2
    first, carried = store.events("r0001")
    assert first.data["rerun_of"] == {"run": "orig", "from": "b", "failed_hosts": False}
    assert (carried.seq, carried.type, carried.step_id) == (2, "step.carried", "a")
    # the next event follows them
    assert store.append_event("r0001", "run.started", {}).seq == 3
    # a second create of the same id writes nothing: no carried events of a run not made
    with pytest.raises(StoreError, match="already exists"):
        _new(store, "r0001", {"run": "other", "from": None, "failed_hosts": False})
    assert len(store.events("r0001")) == 3


def test_reruns_of_finds_the_reruns_of_a_run(store: Store) -> None:
    _new(store, "orig")
    _new(store, "else")
    _new(store, "r0001", {"run": "orig", "from": None, "failed_hosts": False})
    _new(store, "r0002", {"run": "else", "from": None, "failed_hosts": False})
    _new(store, "r0003", {"run": "orig", "from": "b", "failed_hosts": True})
    store.create_runs(
        [
            NewRun(
                "r0004",
                "deploy",
                1,
                "sha256:ab",
                {},
                "alice",
                rerun_of={"run": "r0003", "from": None, "failed_hosts": False},
            )
        ]
    )
    assert store.reruns_of("orig", prefix="r") == ["r0001", "r0003"]
    assert store.reruns_of("r0003", prefix="r") == ["r0004"]
    assert store.reruns_of("r0004", prefix="r") == []
