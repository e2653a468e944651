"""``runbook run``, ``plan`` and the engine's starts refuse what ``validate`` refuses, with the
same located errors, before any step runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from runbook_engine.cli import main
from runbook_engine.errors import RunbookInvalid
from runbook_engine.plugin import default_registry
from runbook_engine.preflight import check_text, validate_context
from runbook_engine.service import Engine
from runbook_engine.spec import load_text
from runbook_engine.store import Store

INVENTORY = "all:\n  children:\n    fleet:\n      hosts:\n        web01: {address: 10.0.0.1}\n"

RUNBOOK = """\
apiVersion: runbook/v1
name: late-typo
version: 1
parameters:
  size: {{type: integer, default: 2}}
steps:
  - id: first
    action: shell.command
    with: {{command: [touch, "{marker}"]}}
  - id: later
    action: ssh.command
    with: {{hosts: flet, command: [uptime]}}
  - id: last
    action: sleep
    with: {{seconds: "{{{{ params.size }}}}"}}
"""


@pytest.fixture
def runbook(workdir: Path) -> Path:
    (workdir / "hosts.yaml").write_text(INVENTORY)
    path = workdir / "late-typo.yaml"
    path.write_text(RUNBOOK.format(marker=workdir / "touched"))
    return path


def test_run_refuses_before_the_first_step_with_the_lines(workdir: Path, runbook: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["run", str(runbook), "--yes", "-i", str(workdir / "hosts.yaml")],
        catch_exceptions=False,
    )
    assert result.exit_code == 2, result.output
    assert "late-typo.yaml:12:19: steps[1].with.hosts: host pattern term 'flet'" in result.output
    assert "late-typo.yaml:15:12: steps[2].with.seconds: unknown parameter 'seconds'" in (
        result.output
    )
    assert not (workdir / "touched").exists()


def test_plan_refuses_the_same(workdir: Path, runbook: Path) -> None:
    result = CliRunner().invoke(main, ["plan", str(runbook)], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert "steps[2].with.seconds: unknown parameter 'seconds'" in result.output


def test_engine_start_and_validate_report_the_same_problems(
    workdir: Path, runbook: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNBOOK_INVENTORY", str(workdir / "hosts.yaml"))
    text = runbook.read_text()
    _, report = check_text(text, str(runbook), default_registry(), validate_context())
    with Store.open() as store:
        engine = Engine(store=store)
        with pytest.raises(RunbookInvalid) as caught:
            engine.start(load_text(text, str(runbook)), {}, requester="alice")
    assert caught.value.problems == report.errors
    assert not (workdir / "touched").exists()
