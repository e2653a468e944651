"""The event vocabulary: one enum, a fold per type that changes the state, typed errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from runbook_engine.core.apply import FOLDS
from runbook_engine.core.events import ENGINE_EVENTS, EventType, StepError

#: engine events that change only the status and last_seq, on purpose
STATUS_ONLY = {
    EventType.RUN_CREATED,
    EventType.RUN_WAITING_FOR_LOCK,
    EventType.RUN_RESUMED,
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


def test_step_errors_round_trip_and_ignore_what_they_do_not_know() -> None:
    error = StepError("web1: exit 2", kind="exit", retryable=True, host="web1", exit_code=2)
    assert StepError.of(error.to_data()) == error
    assert StepError.of({**error.to_data(), "stderr": "boom"}) == error
    assert StepError.of(None) is None
    assert StepError.of({}) is None
    assert StepError.of({"message": "x", "exit_code": "2"}) == StepError("x")
