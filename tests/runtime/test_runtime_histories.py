"""The runtime still writes logs shaped like the recorded fixtures (tests/fixtures/histories),
so the replay tests in tests/core keep testing what engines really write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.runtime.record_histories import FIXTURES, SCENARIOS, Scenario, as_fixture, record


def shape(events: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    # output lines are grouped by timing; everything else is deterministic
    return [(e["type"], e["step"]) for e in events if e["type"] != "step.output"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_a_new_recording_matches_the_fixture(scenario: Scenario, tmp_path: Path) -> None:
    fresh = as_fixture(scenario, record(scenario, tmp_path))
    stored = json.loads((FIXTURES / f"{scenario.name}.json").read_text())
    assert fresh["runbook"] == stored["runbook"]
    assert fresh["final"] == stored["final"]
    assert shape(fresh["events"]) == shape(stored["events"])
