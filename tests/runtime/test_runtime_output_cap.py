"""A step that prints without end: the log keeps its start and its end, the result a bounded
head and tail per stream, and memory and store stay bounded (measured in bench/executor)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

RUNBOOK = """\
apiVersion: runbook/v1
name: chatty
version: 1
steps:
  - id: loud
    action: shell.command
    with:
      command: "printf 'first line\\\\n'; seq 1 200000; printf 'last line\\\\n'"
  - id: after
    action: log
    with: {message: "{{ steps.loud.result.truncated }} {{ steps.loud.result.stdout_bytes }}"}
"""


def runbook(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "runbook"), *args],
        capture_output=True,
        text=True,
        cwd=workdir,
        timeout=120,
        check=False,
    )


def test_past_the_cap_the_log_keeps_head_note_and_tail(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNBOOK_MAX_STEP_OUTPUT", "64KiB")
    (workdir / "chatty.yaml").write_text(RUNBOOK)
    done = runbook(workdir, "run", "chatty.yaml", "--yes", "-o", "json")
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout)["run_id"]

    logs = runbook(workdir, "logs", run_id, "--step", "loud")
    lines = [line.split(" | ", 1)[1] for line in logs.stdout.splitlines() if " | " in line]
    assert lines[0] == "first line"
    assert lines[-1] == "last line"
    [note] = [line for line in lines if line.startswith("[... ")]
    assert "bytes left out" in note
    kept = sum(len(line) + 1 for line in lines if line is not note)
    assert 48 * 1024 <= kept <= 64 * 1024
    # the tail is the real end of the output, in order
    numbers = [int(line) for line in lines[lines.index(note) + 1 : -1]]
    assert numbers == list(range(numbers[0], 200001))

    events = json.loads(runbook(workdir, "show", run_id, "-o", "json").stdout)["events"]
    [truncated] = [e for e in events if e["type"] == "step.output_truncated"]
    total = len("first line\n") + sum(len(f"{n}\n") for n in range(1, 200001)) + 10
    assert truncated["data"]["dropped_bytes"] + kept == total
    result = next(e for e in events if e["type"] == "step.succeeded" and e["step"] == "loud")
    assert result["data"]["result"]["truncated"] is True
    assert len(result["data"]["result"]["stdout"]) < 70 * 1024
    after = next(e for e in events if e["type"] == "step.started" and e["step"] == "after")
    assert after["data"]["with"]["message"] == f"True {total}"


def test_a_bad_cap_setting_is_a_clear_error(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNBOOK_MAX_STEP_OUTPUT", "lots")
    (workdir / "chatty.yaml").write_text(RUNBOOK)
    done = runbook(workdir, "run", "chatty.yaml", "--yes")
    assert done.returncode != 0
    assert "RUNBOOK_MAX_STEP_OUTPUT='lots'" in done.stderr
    assert "Traceback" not in done.stderr
