"""``runbook validate`` warns about a secret parameter put into a command line, local or remote
(``shell.command``, ``ssh.command``, ``ssh.script``'s arguments), and not about one passed with
``env:`` or written into a script's text (a file on the host, not an argument)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from runbook_engine.cli import main

HEAD = """\
apiVersion: runbook/v1
name: argv
version: 1
parameters:
  token: {type: string, secret: true}
steps:
"""

WARNED = [
    (
        "shell.command",
        "    action: shell.command\n"
        "    with: {command: \"curl -H 'X: {{ params.token | quote }}' https://x\"}\n",
        "steps[0].with.command",
    ),
    (
        "ssh.command string",
        "    action: ssh.command\n"
        "    with: {hosts: 10.0.0.5, command: 'login {{ params.token | quote }}'}\n",
        "steps[0].with.command",
    ),
    (
        "ssh.command list",
        "    action: ssh.command\n"
        "    with: {hosts: 10.0.0.5, command: [login, '{{ params.token }}']}\n",
        "steps[0].with.command",
    ),
    (
        "ssh.script args",
        "    action: ssh.script\n"
        "    with: {hosts: 10.0.0.5, script: 'login \"$1\"', args: ['{{ params.token }}']}\n",
        "steps[0].with.args",
    ),
]

QUIET = [
    (
        "ssh.command with env",
        "    action: ssh.command\n"
        "    with:\n"
        "      hosts: 10.0.0.5\n"
        "      command: 'login \"$TOKEN\"'\n"
        "      env: {TOKEN: '{{ params.token }}'}\n",
    ),
    (
        "ssh.script with env",
        "    action: ssh.script\n"
        "    with:\n"
        "      hosts: 10.0.0.5\n"
        "      script: 'login \"$TOKEN\"'\n"
        "      env: {TOKEN: '{{ params.token }}'}\n",
    ),
]


def warnings(tmp_path: Path, step: str) -> list[dict[str, object]]:
    path = tmp_path / "argv.yaml"
    path.write_text(HEAD + "  - id: a\n" + step)
    result = CliRunner().invoke(main, ["validate", str(path), "-o", "json"])
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.output)["files"]
    return list(report.get("warnings", []))


@pytest.mark.parametrize(("case", "step", "field"), WARNED, ids=[w[0] for w in WARNED])
def test_a_secret_on_a_command_line_is_warned_about(
    tmp_path: Path, case: str, step: str, field: str
) -> None:
    found = [
        w
        for w in warnings(tmp_path, step)
        if w["path"] == field and "is secret" in str(w["message"])
    ]
    assert len(found) == 1, (case, found)
    message = str(found[0]["message"])
    assert "params.token is secret and is put into the command line" in message
    assert "`env: {TOKEN: " in message


@pytest.mark.parametrize(("case", "step"), QUIET, ids=[q[0] for q in QUIET])
def test_a_secret_in_env_is_not_warned_about(tmp_path: Path, case: str, step: str) -> None:
    assert [w for w in warnings(tmp_path, step) if "is secret" in str(w["message"])] == []
