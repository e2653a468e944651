"""``runbook validate`` catches what a run's preflight catches, with the line and the field, in
a plain step, a rollback block and a parallel child alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runbook_engine.cli import main

INVENTORY = """\
all:
  children:
    fleet:
      hosts:
        web01: {address: 10.0.0.1}
"""

HEAD = """\
apiVersion: runbook/v1
name: broken
version: 1
parameters:
  max: {type: integer, default: 4}
  host: {type: string, default: web01}
steps:
"""

#: (case, the call as `action: ...` plus its `with:` lines, the key the error names, words in it)
BROKEN = [
    ("unknown action", "action: shel.command\nwith: {command: 'true'}", "action", "shell.command"),
    ("misspelt literal", "action: sleep\nwith: {duraton: 3}", "with.duraton", "'duration'"),
    (
        "misspelt templated",
        "action: scaling.asg\nwith: {group: web, desire_capacity: '{{ params.max }}'}",
        "with.desire_capacity",
        "did you mean 'desired_capacity'",
    ),
    ("missing required", "action: sleep\nwith: {}", "with", "missing required parameter"),
    ("wrong literal type", "action: sleep\nwith: {duration: [1]}", "with.duration", "number"),
    (
        "wrong template type",
        "action: log\nwith: {message: '{{ params.max }}'}",
        "with.message",
        "params.max (type: integer)",
    ),
    (
        "bad AWS operation",
        "action: aws.call\nwith: {service: ec2, operation: DescribeInstance, "
        "params: {InstanceIds: ['{{ params.host }}']}}",
        "with.operation",
        "did you mean 'DescribeInstances'",
    ),
    (
        "host pattern matching nothing",
        "action: ssh.command\nwith: {hosts: flet, command: [uptime]}",
        "with.hosts",
        "'flet'",
    ),
]


def _indent(text: str, by: str) -> str:
    return "".join(f"{by}{line}\n" for line in text.splitlines())


def plain(call: str) -> tuple[str, str, int]:
    """The call as a step: the document, the path of the call, the line of its first key."""
    body = "  - id: s\n" + _indent(call, "    ")
    return HEAD + body, "steps[0]", HEAD.count("\n") + 2


def rollback(call: str) -> tuple[str, str, int]:
    body = "  - id: s\n    action: log\n    with: {message: hi}\n    rollback:\n"
    return HEAD + body + _indent(call, "      "), "steps[0].rollback", HEAD.count("\n") + 5


def parallel(call: str) -> tuple[str, str, int]:
    body = "  - id: group\n    parallel:\n      - id: child\n" + _indent(call, "        ")
    return HEAD + body, "steps[0].parallel[0]", HEAD.count("\n") + 4


def validate(tmp_path: Path, text: str, *args: str) -> Result:
    (tmp_path / "inventory.yaml").write_text(INVENTORY)
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    return CliRunner().invoke(
        main,
        ["validate", str(path), "-i", str(tmp_path / "inventory.yaml"), *args],
        catch_exceptions=False,
    )


@pytest.mark.parametrize("place", [plain, rollback, parallel], ids=lambda f: f.__name__)
@pytest.mark.parametrize(("case", "call", "field", "words"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_call_exits_2_with_line_and_field(
    tmp_path: Path, place: object, case: str, call: str, field: str, words: str
) -> None:
    assert callable(place)
    text, at, first_line = place(call)
    result = validate(tmp_path, text, "-o", "json")
    assert result.exit_code == 2, (case, result.output)
    [report] = json.loads(result.output)["files"]
    wanted = [p for p in report["problems"] if p["path"] == f"{at}.{field}"]
    assert wanted, (case, report["problems"])
    problem = wanted[0]
    assert words in problem["message"]
    key_line = first_line if field == "action" else first_line + 1
    assert problem["line"] == key_line, (case, problem)
    assert problem["column"] is not None
    assert problem["file"].endswith("broken.yaml")


def test_text_output_names_file_line_column_and_field(tmp_path: Path) -> None:
    text, _, line = plain("action: sleep\nwith: {seconds: 3}")
    result = validate(tmp_path, text)
    assert result.exit_code == 2
    assert f"broken.yaml:{line + 1}:12: steps[0].with.seconds: unknown parameter 'seconds'" in (
        result.output
    )
    assert "(its parameters: duration)" in result.output


def test_format_errors_and_action_errors_are_reported_together(tmp_path: Path) -> None:
    text, _, _ = plain("action: sleep\nwith: {seconds: 3}\nretry: {attempts: 0}")
    result = validate(tmp_path, text, "-o", "json")
    assert result.exit_code == 2
    paths = {p["path"] for p in json.loads(result.output)["files"][0]["problems"]}
    assert {"steps[0].retry.attempts", "steps[0].with.seconds"} <= paths


def test_host_patterns_are_not_guessed_without_an_inventory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNBOOK_INVENTORY", raising=False)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "r.yaml"
    path.write_text(plain("action: ssh.command\nwith: {hosts: flet, command: [uptime]}")[0])
    result = CliRunner().invoke(main, ["validate", str(path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_runbook_inventory_variable_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "hosts.yaml").write_text(INVENTORY)
    monkeypatch.setenv("RUNBOOK_INVENTORY", str(tmp_path / "hosts.yaml"))
    path = tmp_path / "r.yaml"
    path.write_text(plain("action: ssh.command\nwith: {hosts: 'fleet,!db', command: [uptime]}")[0])
    result = CliRunner().invoke(main, ["validate", str(path)], catch_exceptions=False)
    assert result.exit_code == 2
    assert "steps[0].with.hosts: host pattern term 'db' matches no host" in result.output


def test_templated_values_of_unknown_type_are_left_to_the_run(tmp_path: Path) -> None:
    call = (
        "action: scaling.asg\n"
        "with: {group: web, desired_capacity: '{{ params.max if true else 1 }}'}"
    )
    result = validate(tmp_path, plain(call)[0])
    assert result.exit_code == 0, result.output


def test_a_string_parameter_may_fill_an_integer_field(tmp_path: Path) -> None:
    # "5" given with -p is a valid capacity: a string template is not reported against int
    call = "action: scaling.asg\nwith: {group: web, desired_capacity: '{{ params.host }}'}"
    result = validate(tmp_path, plain(call)[0])
    assert result.exit_code == 0, result.output
