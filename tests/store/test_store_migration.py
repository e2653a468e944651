"""A store written by the previous release (schema 0002) opens, migrates and keeps working.

``tests/fixtures/stores/release-0002.sql`` is a dump of a SQLite store the 0002 release wrote
(how: ``tests/fixtures/stores/README.md``). Revision 0003 moves the run state out of
``runs.state`` (where 0002 kept all of it, rewritten with every event) into checkpoints and a
summary. These tests restore the dump, read what the old release recorded straight from the
tables, and check that the new code shows the same runs and carries the unfinished ones on.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner, Result

from runbook_engine.cli import main
from runbook_engine.store import Store
from runbook_engine.store._engine import SCHEMA_REVISION, alembic_config

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "stores"
DUMP = FIXTURES / "release-0002.sql"
RUNBOOKS = FIXTURES / "release-0002"

GREET = "ffa30e7c9f10"  # fixture-greet: succeeded, log and shell.command steps with outputs
ROLLED_BACK = "641acdf230dc"  # fixture-rollback: file.write undone after a failing step
WAITING = "9268e09bf4c2"  # fixture-approval: waiting for bob at step "gate"
INTERRUPTED = "5cf5891fad25"  # fixture-interrupted: killed -9 during the "wait" sleep
ALL_RUNS = (GREET, ROLLED_BACK, WAITING, INTERRUPTED)


@dataclass(frozen=True)
class OldRun:
    """One run as the 0002 release left it in the tables."""

    row: dict[str, Any]
    state: dict[str, Any]
    events: list[dict[str, Any]]


@dataclass(frozen=True)
class Restored:
    """The dump restored into a SQLite file (not yet opened by the new code)."""

    path: Path
    runs: dict[str, OldRun]


def restore(path: Path) -> None:
    with closing(sqlite3.connect(path)) as con:
        con.executescript(DUMP.read_text(encoding="utf-8"))


def _iso(stored: str) -> str:
    """A timestamp as SQLite holds it (naive, UTC) in the CLI's JSON form."""
    return datetime.fromisoformat(stored).replace(tzinfo=UTC).isoformat()


def read_old(path: Path) -> dict[str, OldRun]:
    """Every run, its 0002 state and its events, read with plain sqlite3."""
    with closing(sqlite3.connect(path)) as con:
        con.row_factory = sqlite3.Row
        runs: dict[str, OldRun] = {}
        for row in con.execute("SELECT * FROM runs ORDER BY created_at"):
            events = [
                {
                    "seq": e["seq"],
                    "ts": _iso(e["ts"]),
                    "type": e["type"],
                    "step": e["step_id"],
                    "data": json.loads(e["data"]),
                }
                for e in con.execute(
                    "SELECT * FROM events WHERE run_id = ? ORDER BY seq", (row["id"],)
                )
            ]
            runs[row["id"]] = OldRun(dict(row), json.loads(row["state"]), events)
    return runs


def revision_of(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as con:
        return [r for (r,) in con.execute("SELECT version_num FROM alembic_version")]


def tables_of(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as con:
        return {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


CLOCK_SLACK = 0.05
"""Seconds two records of one moment (``*_at`` epoch times in a state) may differ by.

The 0002 engine stamped the state it saved with its newest event (the run's ``finished_at``,
or ``started_at`` of the step it was at) from its own clock, just before the store stamped the
event row itself (``events.ts``), a millisecond or so later; every older time in the state is
the event's ``ts``. Folding the log gives the log's time for the newest event too."""


def differences(new: Any, old: Any, where: str = "") -> list[str]:
    """Where ``new`` lacks something ``old`` holds: unequal values, lists of other lengths,
    keys gone from mappings. The new code may add keys of its own."""
    if isinstance(old, Mapping):
        if not isinstance(new, Mapping):
            return [f"{where}: {old!r} before, {new!r} now"]
        found = [f"{where}.{key}: gone (was {old[key]!r})" for key in old if key not in new]
        for key in old:
            if key in new:
                found += differences(new[key], old[key], f"{where}.{key}")
        return found
    if isinstance(old, list):
        if not isinstance(new, list) or len(new) != len(old):
            return [f"{where}: {old!r} before, {new!r} now"]
        return [
            d
            for i, (n, o) in enumerate(zip(new, old, strict=True))
            for d in differences(n, o, f"{where}[{i}]")
        ]
    if (
        where.endswith("_at")
        and isinstance(old, float)
        and isinstance(new, float)
        and abs(new - old) <= CLOCK_SLACK
    ):
        return []
    return [] if new == old else [f"{where}: {old!r} before, {new!r} now"]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def cli_json(*args: str, exit_code: int = 0) -> Any:
    result = invoke(*args, "-o", "json")
    assert result.exit_code == exit_code, result.output
    return json.loads(result.stdout)


def started_per_step(events: list[dict[str, Any]]) -> Counter[str]:
    return Counter(e["step"] for e in events if e["type"] == "step.started")


@pytest.fixture
def restored(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Restored:
    """The dump restored at RUNBOOK_DB, with the runbooks it ran on RUNBOOK_PATH."""
    path = workdir / "runbook.db"
    restore(path)
    monkeypatch.setenv("RUNBOOK_PATH", str(RUNBOOKS))
    return Restored(path, read_old(path))


# -- the fixture itself ------------------------------------------------------------------


def test_dump_is_a_release_0002_store(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    restore(path)
    assert revision_of(path) == ["0002"]
    assert "checkpoints" not in tables_of(path)
    runs = read_old(path)
    assert {i: r.row["status"] for i, r in runs.items()} == {
        GREET: "succeeded",
        ROLLED_BACK: "rolled_back",
        WAITING: "waiting_approval",
        INTERRUPTED: "running",
    }
    for run in runs.values():
        # 0002 kept the whole state, up to the newest event, in the run row
        assert run.state["last_seq"] == run.row["last_seq"] == run.events[-1]["seq"]
        assert run.state["steps"]
    assert runs[INTERRUPTED].row["owner"] is not None
    assert runs[INTERRUPTED].state["steps"]["wait"]["status"] == "running"


# -- opening migrates -------------------------------------------------------------------


def test_open_migrates_to_the_newest_revision(restored: Restored) -> None:
    with Store.open(str(restored.path)) as store:
        records = {r.id: r for r in store.list_runs()}
        counts = {run_id: len(store.events(run_id)) for run_id in records}
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision_of(restored.path) == [SCHEMA_REVISION] == [head]
    assert "checkpoints" in tables_of(restored.path)
    assert {"api_tokens", "audit"} <= tables_of(restored.path)  # 0004
    assert set(records) == set(restored.runs) == set(ALL_RUNS)
    for run_id, old in restored.runs.items():
        assert records[run_id].status == old.row["status"]
        assert records[run_id].runbook == old.row["runbook"]
        assert counts[run_id] == len(old.events)
        # the driving engine's newest event comes from the old state's last_seq
        assert records[run_id].published_seq == old.state["last_seq"]


def test_opening_again_changes_nothing(restored: Restored) -> None:
    with Store.open(str(restored.path)) as store:
        first = {r.id: (r.status, len(store.events(r.id))) for r in store.list_runs()}
    with Store.open(str(restored.path)) as store:
        again = {r.id: (r.status, len(store.events(r.id))) for r in store.list_runs()}
    assert first == again
    assert revision_of(restored.path) == [SCHEMA_REVISION]


# -- the CLI shows the old runs as before -------------------------------------------------


def test_runs_lists_every_old_run(restored: Restored) -> None:
    listed = {r["id"]: r for r in cli_json("runs")}
    assert set(listed) == set(ALL_RUNS)
    for run_id, old in restored.runs.items():
        assert listed[run_id]["status"] == old.row["status"]
        assert listed[run_id]["runbook"] == old.row["runbook"]
        assert listed[run_id]["version"] == old.row["version"]
        assert listed[run_id]["requester"] == old.row["requester"]
        assert listed[run_id]["created_at"] == _iso(old.row["created_at"])


@pytest.mark.parametrize("run_id", ALL_RUNS)
def test_show_is_as_before(restored: Restored, run_id: str) -> None:
    old = restored.runs[run_id]
    shown = cli_json("show", run_id)
    assert shown["status"] == old.row["status"]
    assert shown["params"] == json.loads(old.row["params"])
    assert shown["requester"] == old.row["requester"]
    # the same steps, in the same order, with the same statuses, results and outputs
    assert list(shown["state"]["steps"]) == list(old.state["steps"])
    assert {s: v["status"] for s, v in shown["state"]["steps"].items()} == {
        s: v["status"] for s, v in old.state["steps"].items()
    }
    assert {s: v["outputs"] for s, v in shown["state"]["steps"].items()} == {
        s: v["outputs"] for s, v in old.state["steps"].items()
    }
    assert differences(shown["state"], old.state, "state") == []
    assert shown["events"] == old.events


def test_finished_runs_keep_their_outputs_and_rollback(restored: Restored) -> None:
    greet = cli_json("show", GREET)["state"]["steps"]
    assert greet["count"]["outputs"] == {"lines": 3}
    assert greet["echo"]["outputs"] == {"said": "greeted fixtures"}
    assert greet["report"]["result"]["message"] == "3 lines; greeted fixtures"
    rolled = cli_json("show", ROLLED_BACK)
    assert rolled["state"]["failure"]["step"] == "boom"
    assert rolled["state"]["steps"]["boom"]["status"] == "failed"
    assert [c["step"] for c in rolled["state"]["completed"]] == ["note", "write"]
    assert "rollback.step_succeeded" in [e["type"] for e in rolled["events"]]


# -- the unfinished runs carry on ---------------------------------------------------------


def test_waiting_run_is_approved_and_finishes(restored: Restored) -> None:
    old = restored.runs[WAITING]
    assert old.state["steps"]["gate"]["status"] == "waiting"
    outcome = cli_json("approve", WAITING, "--as", "bob")
    assert outcome["status"] == "succeeded"
    assert outcome["steps"]["gate"]["outputs"]["approved_by"] == ["bob"]
    shown = cli_json("show", WAITING)
    assert shown["status"] == "succeeded"
    assert {s: v["status"] for s, v in shown["state"]["steps"].items()} == {
        "before": "succeeded",
        "gate": "succeeded",
        "after": "succeeded",
    }
    assert shown["state"]["steps"]["after"]["result"]["message"] == "approved by bob"
    # the old log is kept as it was and continued; "before" is not run again
    assert shown["events"][: len(old.events)] == old.events
    assert started_per_step(shown["events"]) == {"before": 1, "after": 1}
    assert [r["status"] for r in cli_json("runs") if r["id"] == WAITING] == ["succeeded"]


def test_interrupted_run_resumes_without_repeating_completed_steps(restored: Restored) -> None:
    old = restored.runs[INTERRUPTED]
    assert started_per_step(old.events) == {"first": 1, "stamp": 1, "wait": 1}
    outcome = cli_json("resume", INTERRUPTED)
    assert outcome["status"] == "succeeded"
    assert outcome["exit_code"] == 0
    shown = cli_json("show", INTERRUPTED)
    assert shown["status"] == "succeeded"
    assert shown["events"][: len(old.events)] == old.events
    # first and stamp (a shell command, not idempotent) finished before the kill: not again;
    # the idempotent sleep that was in flight runs once more
    assert started_per_step(shown["events"]) == {"first": 1, "stamp": 1, "wait": 2, "last": 1}
    outputs = [e["step"] for e in shown["events"] if e["type"] == "step.output"]
    assert outputs.count("stamp") == 1
    steps = shown["state"]["steps"]
    assert {s: v["status"] for s, v in steps.items()} == dict.fromkeys(
        ("first", "stamp", "wait", "last"), "succeeded"
    )
    # the last step read the output stamp recorded before the interruption
    assert steps["stamp"]["outputs"] == {"said": "stamped"}
    assert steps["last"]["result"]["message"] == "last step after stamped"
    assert shown["owner"] is None
