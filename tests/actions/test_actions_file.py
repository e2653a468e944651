"""file.write: atomic write, and an automatic undo that restores exactly what was there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runbook_engine.actions.file import FileWriteAction, FileWriteParams
from runbook_engine.errors import ActionInputError
from runbook_engine.plugin.contract import ActionContext


def ctx(lines: list[str]) -> ActionContext:
    return ActionContext(run_id="r", step_id="s", log=lines.append)


def test_write_new_file_and_undo_removes_it(tmp_path: Path) -> None:
    target = tmp_path / "flag"
    action, lines = FileWriteAction(), list[str]()
    params = FileWriteParams(path=str(target), content="on\n", mode="0600")
    result = action.run(params, ctx(lines))
    assert target.read_text() == "on\n"
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert result["previous"] == {"existed": False}
    assert action.undo(params, result, ctx(lines)) == {"path": str(target), "restored": "absent"}
    assert not target.exists()
    assert any("wrote 3 bytes" in line for line in lines)


def test_undo_restores_previous_content_and_mode(tmp_path: Path) -> None:
    target = tmp_path / "conf"
    target.write_bytes(b"old \x00 binary\n")
    os.chmod(target, 0o640)
    action = FileWriteAction()
    params = FileWriteParams(path=str(target), content="new")
    result = action.run(params, ctx([]))
    assert target.read_text() == "new"
    action.undo(params, result, ctx([]))
    assert target.read_bytes() == b"old \x00 binary\n"
    assert oct(target.stat().st_mode & 0o777) == "0o640"


def test_no_temporary_files_left_behind(tmp_path: Path) -> None:
    target = tmp_path / "f"
    FileWriteAction().run(FileWriteParams(path=str(target), content="x"), ctx([]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_missing_directory_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(ActionInputError, match="is not a directory"):
        FileWriteAction().run(FileWriteParams(path=str(tmp_path / "no" / "f"), content=""), ctx([]))


def test_directory_target_is_an_input_error(tmp_path: Path) -> None:
    target = tmp_path / "dir-not-file"
    target.mkdir()
    with pytest.raises(ActionInputError, match="is a directory"):
        FileWriteAction().run(FileWriteParams(path=str(target), content="x"), ctx([]))


def test_is_idempotent_and_has_undo() -> None:
    assert FileWriteAction.idempotent is True
    assert FileWriteAction.has_undo()
