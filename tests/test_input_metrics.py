"""``runbook_inputs_waiting{runbook}``: runs waiting at an input step, read from the store on
each scrape, beside the approvals gauge."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook_engine.metrics import Metrics
from runbook_engine.service import Engine
from runbook_engine.spec.loader import load_text
from runbook_engine.store import Store

ASKED = """\
apiVersion: runbook/v1
name: asked
version: 1
steps:
  - id: ask
    input: {message: how many?, fields: {count: {type: integer}}}
  - {id: after, action: log, with: {message: "count {{ steps.ask.outputs.count }}"}}
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(str(tmp_path / "runs.db")) as opened:
        yield opened


def test_runs_waiting_for_input_are_counted(store: Store) -> None:
    metrics = Metrics()
    metrics.watch_store(store)
    engine = Engine(store=store, subscribers=[metrics])
    loaded = load_text(ASKED, "asked.yaml")
    first = engine.start(loaded, {}, requester="alice", wait_for_approval=False)
    engine.start(loaded, {}, requester="alice", wait_for_approval=False)
    assert first.status == "waiting_input" and first.exit_code == 5
    waiting = metrics.registry.get_sample_value("runbook_inputs_waiting", {"runbook": "asked"})
    assert waiting == 2
    assert (
        metrics.registry.get_sample_value("runbook_approvals_waiting", {"runbook": "asked"}) is None
    )
    given = engine.give_input(first.run_id, user="alice", values={"count": "4"})
    after = engine.continue_after_input(given, by="alice")
    assert after.outcome is not None and after.outcome.status == "succeeded"
    assert after.outcome.state.step("ask").outputs == {"count": 4}
    waiting = metrics.registry.get_sample_value("runbook_inputs_waiting", {"runbook": "asked"})
    assert waiting == 1
