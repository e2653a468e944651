"""The event vocabulary: one enum, a fold per type that changes the state, typed errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runbook_engine.core.apply import FOLDS
from runbook_engine.core.events import (
    ENGINE_EVENTS,
    PAYLOADS,
    EventType,
    StepError,
    StepFailed,
    StepStarted,
)

HISTORIES = Path(__file__).resolve().parent.parent / "fixtures" / "histories"

#: engine events that change only the status and last_seq, on purpose
STATUS_ONLY = {
    EventType.RUN_CREATED,
    EventType.RUN_WAITING_FOR_LOCK,
    EventType.STEP_OUTPUT,
    EventType.STEP_OUTPUT_TRUNCATED,
}


def test_every_engine_event_is_folded_or_known_not_to_change_the_state() -> None:
    assert set(FOLDS) | STATUS_ONLY == set(ENGINE_EVENTS)
    assert not set(FOLDS) & STATUS_ONLY


def test_types_are_the_text_the_store_keeps() -> None:
    assert EventType("step.started") is EventType.STEP_STARTED
    assert {EventType(t.value) for t in EventType} == set(EventType)
    assert len({t.value for t in EventType}) == len(EventType)


def test_a_misspelt_event_type_is_a_type_error(tmp_path: Path) -> None:
    snippet = tmp_path / "uses_events.py"
    snippet.write_text(
        textwrap.dedent(
            """
            from runbook_engine.core.events import EventType

            def record(type_: EventType) -> None: ...

            record(EventType.STEP_STARTED)
            record("step.startd")
            record(EventType.STEP_STARTD)

            from runbook_engine.core.events import StepError, StepFailed

            StepFailed(step="a", eror=StepError("x"))
            StepFailed.of({}).error.mesage
            """
        )
    )
    # in a process of its own: mypy raises the interpreter's recursion limit for good
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", str(snippet), "--no-incremental", "--strict"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    out = checked.stdout
    assert checked.returncode == 1, out
    assert 'incompatible type "str"; expected "EventType"' in out
    assert '"type[EventType]" has no attribute "STEP_STARTD"' in out
    assert 'Unexpected keyword argument "eror" for "StepFailed"' in out
    assert '"StepError" has no attribute "mesage"' in out


def test_step_errors_round_trip_and_ignore_what_they_do_not_know() -> None:
    error = StepError("web1: exit 2", kind="exit", retryable=True, host="web1", exit_code=2)
    assert StepError.of(error.to_data()) == error
    assert StepError.of({**error.to_data(), "from_a_plugin": "x"}) == error
    with_output = StepError("exit 1", kind="exit", stderr="boom", hosts={"web1": {"exit": 1}})
    assert StepError.of(with_output.to_data()) == with_output
    assert StepError.of(None) is None
    assert StepError.of({}) is None
    assert StepError.of({"message": "x", "exit_code": "2"}) == StepError("x")


def test_every_type_has_its_payload_class() -> None:
    assert set(PAYLOADS) == set(EventType)
    assert all(cls.TYPE is type_ for type_, cls in PAYLOADS.items())


def test_payloads_read_and_write_the_recorded_logs_unchanged() -> None:
    events = [
        e for f in sorted(HISTORIES.glob("*.json")) for e in json.loads(f.read_text())["events"]
    ]
    assert {e["type"] for e in events} >= {"step.started", "step.failed", "rollback.started"}
    for event in events:
        payload = PAYLOADS[EventType(event["type"])].of(event["data"])
        # what an engine wrote reads back field for field (None: the same as left out)
        assert payload.to_data() == {k: v for k, v in event["data"].items() if v is not None}


def test_payloads_carry_typed_errors_and_python_names() -> None:
    failed = StepFailed(step="a", error=StepError("boom", kind="exit", exit_code=3), attempt=2)
    data = failed.to_data()
    assert data == {
        "step": "a",
        "error": {"message": "boom", "kind": "exit", "retryable": False, "exit_code": 3},
        "attempt": 2,
    }
    assert StepFailed.of(data) == failed
    started = StepStarted(step="a", attempt=1, action="log", with_={"message": "hi"})
    assert started.to_data()["with"] == {"message": "hi"}
    assert StepStarted.of(started.to_data()) == started


def test_an_event_missing_what_its_type_needs_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"step\.jumped event that is not well formed"):
        PAYLOADS[EventType.STEP_JUMPED].of({"step": "a"})
