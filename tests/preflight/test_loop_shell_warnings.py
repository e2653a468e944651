"""A loop's item put into a shell command line is warned about like the parameter it comes from."""

from __future__ import annotations

from pathlib import Path

from tests.preflight.test_warnings import run_validate, warnings_of

ITEMS_OF_A_PARAMETER = """\
  - id: each
    action: shell.command
    for_each: "{{ params.argv }}"
    as: word
    with: {command: "echo {{ word }} {{ word | quote }} {{ loop.index }}"}
    rollback: {action: log, with: {message: "{{ word }}"}}
"""

ITEMS_OF_NUMBERS = """\
  - id: each
    action: shell.command
    for_each: "{{ range(params.count) | list }}"
    with: {command: "echo {{ item }}"}
    rollback: {action: log, with: {message: "{{ item }}"}}
"""


def test_an_unquoted_item_of_a_text_parameter_is_warned_about(tmp_path: Path) -> None:
    result = run_validate(tmp_path, ITEMS_OF_A_PARAMETER, "-o", "json")
    assert result.exit_code == 0, result.output
    [warning] = warnings_of(result)
    assert warning["path"] == "steps[0].with.command"
    assert "`word` (an item of params.argv)" in str(warning["message"])
    assert "write `{{ word | quote }}`" in str(warning["message"])
    assert run_validate(tmp_path, ITEMS_OF_A_PARAMETER, "--strict").exit_code == 2


def test_items_of_numbers_are_not_warned_about(tmp_path: Path) -> None:
    result = run_validate(tmp_path, ITEMS_OF_NUMBERS, "-o", "json")
    assert result.exit_code == 0, result.output
    assert warnings_of(result) == []


def test_an_unknown_filter_in_a_command_is_a_located_error_not_a_crash(tmp_path: Path) -> None:
    broken = ITEMS_OF_A_PARAMETER.replace("{{ word | quote }}", "{{ word | q }}")
    result = run_validate(tmp_path, broken, "-o", "json")
    assert result.exit_code == 2, result.output
    assert "No filter named 'q'" in result.output
    assert "Traceback" not in result.output
