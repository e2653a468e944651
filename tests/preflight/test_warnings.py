"""Warnings that prevent incidents: printed with exit 0, errors (exit 2) with ``--strict``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runbook_engine.cli import main

HEAD = """\
apiVersion: runbook/v1
name: warned
version: 1
parameters:
  path: {type: string, default: /tmp}
  count: {type: integer, default: 3}
  argv: {type: list, default: ["true"]}
steps:
"""


def run_validate(tmp_path: Path, steps: str, *args: str) -> Result:
    path = tmp_path / "warned.yaml"
    path.write_text(HEAD + steps)
    return CliRunner().invoke(main, ["validate", str(path), *args], catch_exceptions=False)


def warnings_of(result: Result) -> list[dict[str, object]]:
    [report] = json.loads(result.output)["files"]
    return list(report.get("warnings", []))


WARNED = [
    (
        "unquoted parameter in shell.command",
        "  - id: s\n    action: shell.command\n    with: {command: 'du -sh {{ params.path }}'}\n",
        "steps[0].with.command",
        "without `| quote`",
    ),
    (
        "unquoted parameter in ssh.command",
        "  - id: s\n    action: ssh.command\n"
        "    with: {hosts: 10.0.0.5, command: 'ls {{ params.path }}'}\n",
        "steps[0].with.command",
        "give with.command as a list",
    ),
    (
        "unquoted parameter in ssh.script",
        "  - id: s\n    action: ssh.script\n"
        "    with: {hosts: 10.0.0.5, script: 'rm -r {{ params.path }}/cache'}\n",
        "steps[0].with.script",
        "params.path",
    ),
    (
        "quote inside double quotes",
        "  - id: s\n    action: shell.command\n"
        "    with: {command: 'ls \"{{ params.path | quote }}\"'}\n",
        "steps[0].with.command",
        "do not protect",
    ),
    (
        "mutating step without rollback next to one with",
        "  - id: a\n    action: file.write\n    with: {path: /tmp/x, content: y}\n"
        "  - id: b\n    action: shell.command\n    with: {command: [rm, /tmp/y]}\n",
        "steps[1].action",
        "nothing undoes it",
    ),
    (
        "approval nobody can give",
        "  - id: ok\n    approval: {message: go, approvers: [alice, bob], required: 3}\n",
        "steps[0].approval.required",
        "can never be approved",
    ),
]


@pytest.mark.parametrize(("case", "steps", "field", "words"), WARNED, ids=[w[0] for w in WARNED])
def test_warning_is_printed_and_exits_0(
    tmp_path: Path, case: str, steps: str, field: str, words: str
) -> None:
    result = run_validate(tmp_path, steps, "-o", "json")
    assert result.exit_code == 0, (case, result.output)
    found = [w for w in warnings_of(result) if w["path"] == field]
    assert found, (case, warnings_of(result))
    assert words in str(found[0]["message"])
    assert found[0]["line"] is not None


@pytest.mark.parametrize(("case", "steps", "field", "words"), WARNED, ids=[w[0] for w in WARNED])
def test_strict_makes_the_warning_an_error(
    tmp_path: Path, case: str, steps: str, field: str, words: str
) -> None:
    result = run_validate(tmp_path, steps, "--strict")
    assert result.exit_code == 2, (case, result.output)
    assert f"{field}: " in result.output
    assert words in result.output


SAFE = [
    (
        "quoted parameter",
        "  - id: s\n    action: shell.command\n"
        "    with: {command: 'du -sh {{ params.path | quote }}'}\n",
    ),
    (
        "an integer cannot carry shell syntax",
        "  - id: s\n    action: shell.command\n"
        "    with: {command: 'head -n {{ params.count }} f'}\n",
    ),
    (
        "the list form runs no shell",
        "  - id: s\n    action: shell.command\n    with: {command: ['du', '{{ params.path }}']}\n",
    ),
    (
        "a list parameter as the whole command is the list form",
        "  - id: s\n    action: shell.command\n    with: {command: '{{ params.argv }}'}\n",
    ),
    (
        "no step rolls back: none is expected to",
        "  - id: b\n    action: shell.command\n    with: {command: [rm, /tmp/y]}\n",
    ),
    (
        "a read-only AWS call changes nothing",
        "  - id: a\n    action: file.write\n    with: {path: /tmp/x, content: y}\n"
        "  - id: b\n    action: aws.call\n    with: {service: ec2, operation: DescribeRegions}\n",
    ),
    (
        "an approval group may be resolved when deciding",
        "  - id: ok\n    approval: {message: go, approvers: [alice, '@leads'], required: 3}\n",
    ),
]


@pytest.mark.parametrize(("case", "steps"), SAFE, ids=[s[0] for s in SAFE])
def test_no_warning(tmp_path: Path, case: str, steps: str) -> None:
    result = run_validate(tmp_path, steps, "--strict", "-o", "json")
    assert result.exit_code == 0, (case, result.output)
    assert warnings_of(result) == []


def test_groups_file_members_count_as_approvers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "groups.yaml").write_text("leads: [carol]\n")
    monkeypatch.setenv("RUNBOOK_GROUPS", str(tmp_path / "groups.yaml"))
    steps = "  - id: ok\n    approval: {message: go, approvers: [alice, '@leads'], required: 3}\n"
    result = run_validate(tmp_path, steps, "-o", "json")
    [warning] = warnings_of(result)
    assert "only 2 people can approve (alice, carol)" in str(warning["message"])
