"""``runbook_engine.testing``: what teams reuse to test their own runbooks."""

from __future__ import annotations

from pathlib import Path

from runbook_engine.testing import run_runbook

BRANCHY = """\
apiVersion: runbook/v1
name: branchy
version: 1
parameters:
  threshold: {type: integer, default: 50}
steps:
  - id: measure
    action: shell.command
    with: {command: "echo 70"}
    outputs: {usage: "{{ result.stdout | trim | int }}"}
  - id: enough
    if: "{{ steps.measure.outputs.usage < params.threshold }}"
    goto: end
  - id: too-full
    action: fail
    with: {message: "usage {{ steps.measure.outputs.usage }}%"}
"""


def test_run_runbook_from_text_with_typed_params() -> None:
    ok = run_runbook(BRANCHY, {"threshold": 90})
    assert ok.status == "succeeded"
    assert "too-full" not in ok.state.steps  # the branch jumped past it
    failed = run_runbook(BRANCHY, {"threshold": 60})
    assert failed.status == "failed"
    assert failed.state.steps["too-full"].status == "failed"


def test_run_runbook_keeps_the_store_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "branchy.yaml"
    path.write_text(BRANCHY)
    url = f"sqlite:///{tmp_path / 'kept.db'}"
    outcome = run_runbook(path, store_url=url)
    from runbook_engine.store import Store

    with Store.open(url) as store:
        types = [event.type for event in store.events(outcome.run_id)]
    assert types[0] == "run.created"
    assert types[-1] == "run.finished"
