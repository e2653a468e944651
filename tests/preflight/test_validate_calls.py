"""``runbook validate`` checks call steps across files: the called runbook and version exist
(among the files given or in the catalog), ``with:`` fits the child's parameters, no secret is
passed to a parameter the child stores in the clear, and no runbook calls itself through
others; every problem with file, line and field, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runbook_engine.cli import main

CALLER = """\
apiVersion: runbook/v1
name: caller
version: 1
parameters:
  token: {type: string, secret: true}
steps:
  - id: one
    call: {runbook: callee, with: {count: many, extra: 1, label: "{{ params.token }}"}}
  - id: two
    call: {runbook: nowhere}
  - id: three
    call: {runbook: callee, version: 7, with: {count: 1, need: x}}
"""

CALLEE = """\
apiVersion: runbook/v1
name: callee
version: 1
parameters:
  count: {type: integer}
  need: {type: string}
  label: {type: string, default: ""}
steps:
  - {id: back, call: {runbook: caller, with: {token: x}}}
"""

FINE_CALLER = """\
apiVersion: runbook/v1
name: fine
version: 1
parameters:
  token: {type: string, secret: true}
steps:
  - id: one
    call: {runbook: leaf, with: {count: 2, key: "{{ params.token }}"}}
  - id: after
    action: log
    with: {message: "{{ steps.one.outputs.work.done }}"}
"""

LEAF = """\
apiVersion: runbook/v1
name: leaf
version: 1
parameters:
  count: {type: integer, maximum: 5}
  key: {type: string, secret: true}
steps:
  - {id: work, action: log, with: {message: "{{ params.count }} times"}, outputs: {done: "yes"}}
"""


def validate(*paths: Path) -> Result:
    return CliRunner().invoke(main, ["validate", *map(str, paths), "-o", "json"])


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./runbooks: the catalog holds nothing but what is given
    monkeypatch.delenv("RUNBOOK_PATH", raising=False)


def test_every_problem_of_a_call_is_reported_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "caller.yaml").write_text(CALLER)
    (tmp_path / "callee.yaml").write_text(CALLEE)
    result = validate(tmp_path / "caller.yaml", tmp_path / "callee.yaml")
    assert result.exit_code == 2, result.output
    files = {Path(f["file"]).name: f for f in json.loads(result.stdout)["files"]}
    caller = {(p["line"], p["path"]): p["message"] for p in files["caller.yaml"]["problems"]}
    assert caller[(8, "steps[0].call.with.count")] == (
        "parameter 'count' of callee: expected an integer, got 'many'"
    )
    assert (
        "has no parameter 'extra' (it has: count, label, need)"
        in caller[(8, "steps[0].call.with.extra")]
    )
    assert "secret parameter 'token'" in caller[(8, "steps[0].call.with.label")]
    assert "needs the parameter(s) need" in caller[(8, "steps[0].call.with")]
    assert caller[(8, "steps[0].call.runbook")] == "call cycle: caller -> callee -> caller"
    assert (
        "calls runbook 'nowhere', which the catalog does not have"
        in caller[(10, "steps[1].call.runbook")]
    )
    assert "calls version 7 of runbook 'callee'" in caller[(12, "steps[2].call.version")]
    callee = {(p["line"], p["path"]): p["message"] for p in files["callee.yaml"]["problems"]}
    assert callee[(9, "steps[0].call.runbook")] == "call cycle: callee -> caller -> callee"


def test_calls_that_fit_are_valid_and_their_outputs_may_be_read(tmp_path: Path) -> None:
    (tmp_path / "fine.yaml").write_text(FINE_CALLER)
    (tmp_path / "leaf.yaml").write_text(LEAF)
    result = validate(tmp_path / "fine.yaml", tmp_path / "leaf.yaml")
    assert result.exit_code == 0, result.output
    assert all(f["valid"] for f in json.loads(result.stdout)["files"])


def test_the_called_runbook_may_come_from_the_catalog(tmp_path: Path) -> None:
    books = tmp_path / "runbooks"
    books.mkdir()
    (books / "leaf.yaml").write_text(LEAF)
    (tmp_path / "fine.yaml").write_text(FINE_CALLER)
    result = validate(tmp_path / "fine.yaml")
    assert result.exit_code == 0, result.output


def test_reading_a_childs_outputs_names_a_step_and_an_output_it_declares(tmp_path: Path) -> None:
    wrong = FINE_CALLER.replace(
        '{message: "{{ steps.one.outputs.work.done }}"}',
        '{message: "{{ steps.one.outputs.wrok.done }} {{ steps.one.outputs.work.nope }}"}',
    )
    (tmp_path / "fine.yaml").write_text(wrong)
    (tmp_path / "leaf.yaml").write_text(LEAF)
    result = validate(tmp_path / "fine.yaml", tmp_path / "leaf.yaml")
    assert result.exit_code == 2, result.output
    files = {Path(f["file"]).name: f for f in json.loads(result.stdout)["files"]}
    messages = sorted(p["message"] for p in files["fine.yaml"]["problems"])
    assert messages == [
        "reads steps.one.outputs.work.nope, but step 'work' of leaf declares: done",
        "reads steps.one.outputs.wrok, but leaf has no step 'wrok' with outputs "
        "(its steps with outputs: work)",
    ]
    assert {p["line"] for p in files["fine.yaml"]["problems"]} == {11}
