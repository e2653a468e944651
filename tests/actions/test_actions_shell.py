"""shell.command: streaming, exit codes, environment, timeouts that leave nothing behind."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from runbook_engine.actions.shell import MAX_CAPTURE, ShellCommandAction, ShellCommandParams
from runbook_engine.errors import ActionError, ActionInputError, ActionTimeout, CommandFailed
from runbook_engine.plugin.contract import ActionContext, Result

CancelAfter = Callable[[ActionContext, float], None]


def run(ctx: ActionContext, **raw: Any) -> Result:
    return ShellCommandAction().run(ShellCommandParams.model_validate(raw), ctx)


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie left for init to reap is dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


@pytest.fixture
def stray_pids() -> Iterator[list[int]]:
    """Pids a test may leave running on failure; killed afterwards so nothing leaks."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def read_pid(path: Path) -> int:
    give_up = time.monotonic() + 5
    while time.monotonic() < give_up:
        text = path.read_text().strip() if path.exists() else ""
        if text:
            return int(text)
        time.sleep(0.01)
    raise AssertionError(f"{path} was never written")


def test_stdout_and_stderr_stream_in_order(ctx: ActionContext, log_lines: list[str]) -> None:
    result = run(ctx, command="echo one; sleep 0.1; echo two >&2; sleep 0.1; printf three")
    assert log_lines == ["one", "stderr: two", "three"]
    assert result["stdout"] == "one\nthree"
    assert result["stderr"] == "two\n"
    assert result["exit_code"] == 0
    assert result["duration"] >= 0.2


def test_lines_are_logged_as_they_arrive(ctx: ActionContext) -> None:
    seen: list[tuple[str, float]] = []
    ctx = replace(ctx, log=lambda line: seen.append((line, time.monotonic())))
    run(ctx, command="echo early; sleep 0.5; echo late")
    (first, first_at), (second, second_at) = seen
    assert (first, second) == ("early", "late")
    assert second_at - first_at >= 0.4


def test_accepted_exit_code(ctx: ActionContext) -> None:
    result = run(ctx, command="exit 3", accept_exit_codes=[0, 3])
    assert result["exit_code"] == 3


def test_refused_exit_code_raises_command_failed(ctx: ActionContext) -> None:
    command = "for i in $(seq 1 50); do echo line$i >&2; done; exit 2"
    with pytest.raises(CommandFailed, match="exited with 2") as excinfo:
        run(ctx, command=command)
    error = excinfo.value
    assert error.exit_code == 2
    assert error.retryable is True
    assert error.kind == "exit"
    assert error.stderr.splitlines() == [f"line{i}" for i in range(31, 51)]


def test_killed_by_a_signal(ctx: ActionContext) -> None:
    with pytest.raises(CommandFailed, match="killed by SIGKILL") as excinfo:
        run(ctx, command="kill -9 $$")
    assert excinfo.value.exit_code == -signal.SIGKILL


def test_env_is_merged_over_the_engine_environment(
    ctx: ActionContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RB_TEST_INHERITED", "inherited")
    result = run(
        ctx, command='echo "$RB_TEST_INHERITED $RB_TEST_EXTRA"', env={"RB_TEST_EXTRA": "x"}
    )
    assert result["stdout"] == "inherited x\n"


def test_stdin_is_fed(ctx: ActionContext) -> None:
    assert run(ctx, command="cat", stdin="hello\nworld\n")["stdout"] == "hello\nworld\n"


def test_large_stdin_does_not_deadlock(ctx: ActionContext) -> None:
    # Bigger than any pipe buffer, in both directions at once.
    result = run(ctx, command=["cat"], stdin="x" * (3 * 1024 * 1024))
    assert result["stdout"].endswith("x" * 1000)


def test_without_stdin_the_command_reads_nothing(ctx: ActionContext) -> None:
    assert run(ctx, command="cat")["stdout"] == ""


def test_cwd(ctx: ActionContext, tmp_path: Path) -> None:
    assert run(ctx, command=["pwd"], cwd=str(tmp_path))["stdout"].strip() == str(tmp_path.resolve())


def test_missing_cwd_or_program_is_an_input_error(ctx: ActionContext, tmp_path: Path) -> None:
    with pytest.raises(ActionInputError, match="cannot start") as excinfo:
        run(ctx, command="true", cwd=str(tmp_path / "nope"))
    assert excinfo.value.retryable is False
    with pytest.raises(ActionInputError, match="no-such-program-xyz"):
        run(ctx, command=["no-such-program-xyz"])


def test_list_form_does_not_use_a_shell(ctx: ActionContext) -> None:
    result = run(ctx, command=["printf", "%s|", "a; echo injected", "$HOME", "*"])
    assert result["stdout"] == "a; echo injected|$HOME|*|"


def test_secrets_are_masked_in_log_result_and_error(
    ctx: ActionContext, log_lines: list[str]
) -> None:
    ctx = replace(ctx, secrets=("s3cr3t-token",))
    result = run(ctx, command="echo token=s3cr3t-token; echo s3cr3t-token >&2")
    assert log_lines == ["token=***", "stderr: ***"]
    assert result["stdout"] == "token=***\n"
    assert result["stderr"] == "***\n"
    with pytest.raises(CommandFailed) as excinfo:
        run(ctx, command="echo bad s3cr3t-token >&2; exit 1")
    assert "s3cr3t-token" not in excinfo.value.stderr
    assert "s3cr3t-token" not in "\n".join(log_lines)


def test_timeout_kills_the_whole_process_group(
    ctx: ActionContext, tmp_path: Path, stray_pids: list[int]
) -> None:
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    with pytest.raises(ActionTimeout) as excinfo:
        run(ctx, command=f"sleep 30 & echo $! > {pidfile}; wait", timeout=0.5)
    elapsed = time.monotonic() - started
    grandchild = read_pid(pidfile)
    stray_pids.append(grandchild)
    assert excinfo.value.retryable is True
    assert 0.5 <= elapsed < 2.0
    assert not alive(grandchild)


def test_processes_ignoring_sigterm_get_sigkill(
    ctx: ActionContext, tmp_path: Path, stray_pids: list[int]
) -> None:
    pidfile = tmp_path / "pid"
    with pytest.raises(ActionTimeout):
        run(ctx, command=f"trap '' TERM; sleep 30 & echo $! > {pidfile}; wait", timeout="300ms")
    grandchild = read_pid(pidfile)
    stray_pids.append(grandchild)
    assert not alive(grandchild)


def test_cancel_from_another_thread(
    ctx: ActionContext, tmp_path: Path, cancel_after: CancelAfter, stray_pids: list[int]
) -> None:
    pidfile = tmp_path / "pid"
    cancel_after(ctx, 0.3)
    started = time.monotonic()
    with pytest.raises(ActionError) as excinfo:
        run(ctx, command=f"sleep 30 & echo $! > {pidfile}; wait")
    grandchild = read_pid(pidfile)
    stray_pids.append(grandchild)
    assert time.monotonic() - started < 1.5
    assert excinfo.value.kind == "cancelled"
    assert excinfo.value.retryable is False
    assert not alive(grandchild)


def test_step_deadline_applies_without_a_timeout(ctx: ActionContext) -> None:
    ctx = replace(ctx, deadline=0.3)
    started = time.monotonic()
    with pytest.raises(ActionTimeout):
        run(ctx, command="sleep 30")
    assert time.monotonic() - started < 1.5


def test_background_child_holding_the_pipe_does_not_block(
    ctx: ActionContext, tmp_path: Path, stray_pids: list[int]
) -> None:
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    result = run(ctx, command=f"sleep 30 & echo $! > {pidfile}; echo started")
    stray_pids.append(read_pid(pidfile))
    assert result["stdout"] == "started\n"
    assert time.monotonic() - started < 2.0


def test_output_is_capped_keeping_the_head_and_the_tail(ctx: ActionContext) -> None:
    extra = 1000
    command = f"printf BEGIN; head -c {MAX_CAPTURE + extra} /dev/zero | tr '\\0' x; printf END"
    result = run(ctx, command=command)
    head, marker, tail = result["stdout"].split("\n")
    assert marker == f"[... {extra + 8} bytes truncated ...]"
    assert head.startswith("BEGINx") and len(head) == MAX_CAPTURE // 2
    assert tail.endswith("xEND") and len(tail) == MAX_CAPTURE // 2
    assert result["truncated"] is True
    assert result["stdout_bytes"] == MAX_CAPTURE + extra + 8
    small = run(ctx, command="echo hi")
    assert (small["stdout"], small["truncated"], small["stdout_bytes"]) == ("hi\n", False, 3)


def test_describe_hides_environment_values() -> None:
    params = ShellCommandParams.model_validate(
        {"command": ["systemctl", "restart", "api"], "env": {"API_TOKEN": "abc123"}}
    )
    shown = ShellCommandAction().describe(params)
    assert shown == "shell.command systemctl restart api (env=API_TOKEN)"


@pytest.mark.parametrize(
    "raw",
    [
        {"command": ""},
        {"command": []},
        {"command": "true", "accept_exit_codes": []},
        {"command": "true", "timeout": 0},
        {"command": "true", "timeout": "soon"},
        {"command": "true", "shell": True},
    ],
)
def test_invalid_params(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ShellCommandParams.model_validate(raw)


def test_timeout_accepts_duration_strings() -> None:
    params = ShellCommandParams.model_validate({"command": "true", "timeout": "1m30s"})
    assert params.timeout == 90.0
