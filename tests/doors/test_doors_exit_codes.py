"""Exit codes and store locations at the CLI's door (CliRunner, real SQLite files)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.exc import OperationalError

from runbook_engine.cli import main
from runbook_engine.store import Store

FLAGGED = """\
apiVersion: runbook/v1
name: flagged
version: 1
steps:
  - id: touch
    action: shell.command
    with: {{command: ["touch", "{flag}"]}}
  - id: after
    action: log
    with: {{message: after}}
"""


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def _first_run(workdir: Path) -> str:
    done = invoke("run", "disk-usage-check", "--yes", "-o", "json")
    assert done.exit_code == 0, done.output
    with Store.open() as store:
        return store.list_runs()[0].id


@pytest.mark.parametrize(
    "args",
    [
        ("show", "nosuchrun"),
        ("logs", "nosuchrun"),
        ("resume", "nosuchrun"),
        ("approve", "nosuchrun"),
        ("reject", "nosuchrun", "--reason", "no"),
        ("cancel", "nosuchrun"),
    ],
)
def test_an_unknown_run_id_exits_2(workdir: Path, args: tuple[str, ...]) -> None:
    _first_run(workdir)
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "'nosuchrun'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("runs",),
        ("show", "0123456789ab"),
        ("logs", "0123456789ab"),
        ("cancel", "0123456789ab"),
        ("resume", "0123456789ab"),
        ("approve", "0123456789ab"),
        ("report",),
    ],
)
def test_commands_that_need_runs_never_create_a_store(workdir: Path, args: tuple[str, ...]) -> None:
    mistyped = workdir / "runbok.db"
    result = invoke(*args, env={"RUNBOOK_DB": str(mistyped)})
    assert result.exit_code == 2, result.output
    assert f"no store at {mistyped} (RUNBOOK_DB={mistyped})" in result.output
    assert not mistyped.exists()


def test_plan_without_a_store_reads_the_files_and_creates_nothing(workdir: Path) -> None:
    result = invoke("plan", "disk-usage-check")
    assert result.exit_code == 0, result.output
    assert invoke("show", "disk-usage-check").exit_code == 0
    assert not (workdir / "runbook.db").exists()


@pytest.mark.parametrize("command", [("run", "disk-usage-check", "--yes"), ("runs",)])
def test_a_url_naming_a_missing_directory_is_an_error(
    workdir: Path, command: tuple[str, ...]
) -> None:
    typo = workdir / "dta" / "runbook.db"
    for url in (str(typo), f"sqlite:///{typo}"):
        result = invoke(*command, env={"RUNBOOK_DB": url})
        assert result.exit_code == 2, result.output
        assert f"no folder {typo.parent} for the run store (RUNBOOK_DB={url})" in result.output
        assert not typo.parent.exists()


def test_a_duplicate_parameter_is_an_error(workdir: Path) -> None:
    result = invoke("run", "disk-usage-check", "-p", "mount=/", "-p", "mount=/var", "--yes")
    assert result.exit_code == 2, result.output
    assert "parameter 'mount': is given more than once" in result.output
    assert not (workdir / "runbook.db").exists()  # refused before anything was recorded


def test_a_store_write_failure_during_a_run_exits_3_with_the_error(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flag = workdir / "flag"
    (workdir / "runbooks").mkdir()
    (workdir / "runbooks" / "flagged.yaml").write_text(FLAGGED.format(flag=flag))
    real = Store._write

    @contextmanager
    def full_once_the_step_ran(self: Store) -> Iterator[Any]:
        # the disk fills up while the first step runs: what it did cannot be recorded
        if flag.exists():
            raise self._error("write to", OperationalError("INSERT", {}, OSError("disk full")))
        with real(self) as conn:
            yield conn

    monkeypatch.setattr(Store, "_write", full_once_the_step_ran)
    result = invoke("run", "flagged", "--yes")
    assert flag.exists()
    assert result.exit_code == 3, result.output
    assert "cannot write to the run store" in result.output and "disk full" in result.output
    assert "nothing was rolled back" in result.output
    assert "Traceback" not in result.output
