"""Parameters and command output never reach the terminal raw: `run`, `show` and `logs`
print control characters as visible escapes (CliRunner, real SQLite store, real shell)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner, Result

from runbook_engine.cli import main
from runbook_engine.terminal import printable

NOISY = """\
apiVersion: runbook/v1
name: noisy
version: 1
parameters:
  note: {type: string}
steps:
  - id: shout
    action: shell.command
    with:
      command: ["printf", "%s\\\\033[2J cleared\\\\n", "{{ params.note }}"]
  - id: fail
    action: fail
    with: {message: "gave up on {{ params.note }}"}
"""

#: sets the window title, rings the bell; a carriage return hides what came before
TITLE = "\x1b]0;owned\x07\rok"
#: what may never be printed: ESC, BEL, a bare CR, C1's CSI
RAW = re.compile("[\x1b\x07\r\x9b]")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _run(workdir: Path) -> tuple[Result, str]:
    (workdir / "runbooks").mkdir()
    (workdir / "runbooks" / "noisy.yaml").write_text(NOISY)
    result = invoke("run", "noisy", "-p", f"note={TITLE}", "--yes")
    listed = json.loads(invoke("runs", "-o", "json").output)
    return result, str(listed[0]["id"])


def test_run_prints_parameters_and_output_escaped(workdir: Path) -> None:
    result, _ = _run(workdir)
    assert result.exit_code == 1, result.output
    assert not RAW.search(result.output), repr(result.output)
    assert "\\x1b]0;owned\\x07\\rok" in result.output  # the failure message quotes the note
    assert "\\x1b[2J cleared" in result.output  # the command's own output


def test_show_and_logs_print_the_recorded_text_escaped(workdir: Path) -> None:
    _, run_id = _run(workdir)
    shown = invoke("show", run_id)
    assert shown.exit_code == 0, shown.output
    assert not RAW.search(shown.output), repr(shown.output)
    assert "note=\\x1b]0;owned\\x07\\rok" in shown.output
    logs = invoke("logs", run_id)
    assert logs.exit_code == 0, logs.output
    assert not RAW.search(logs.output), repr(logs.output)
    assert "\\x1b[2J cleared" in logs.output
    # JSON keeps the data as it was: escaping is for terminals
    data = json.loads(invoke("show", run_id, "-o", "json").output)
    assert data["params"]["note"] == TITLE


def test_error_messages_are_escaped(workdir: Path) -> None:
    result = invoke("run", "nope/\x1b[2J.yaml", "--yes")
    assert result.exit_code == 2
    assert "\x1b" not in result.output
    assert "error: nope/\\x1b[2J.yaml: cannot read" in result.output


def test_printable_keeps_text_and_tabs_and_shows_the_rest() -> None:
    assert printable("plain text, ünïcode ✓\tand a tab") == "plain text, ünïcode ✓\tand a tab"
    assert printable("a\nb\r\x00\x7f\x9b") == "a\\nb\\r\\x00\\x7f\\x9b"
    assert printable("a\nb\rc", newlines=True) == "a\nb\\rc"
    assert printable("abc\u202edcba") == "abc\\u202edcba"  # a right-to-left override
