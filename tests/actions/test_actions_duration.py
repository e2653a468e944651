"""parse_duration: the forms runbook authors write, and clear errors for everything else."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from runbook_engine.actions.core import SleepParams
from runbook_engine.durations import parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("500ms", 0.5),
        ("2s", 2.0),
        ("15m", 900.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("1m30s", 90.0),
        ("1d", 86400.0),
        ("1d2h3m4s5ms", 86400 + 7200 + 180 + 4 + 0.005),
        ("1.5s", 1.5),
        ("0s", 0.0),
        (" 2s ", 2.0),
        ("30", 30.0),
        ("2.5", 2.5),
        (0, 0.0),
        (5, 5.0),
        (0.25, 0.25),
    ],
)
def test_parses(value: str | float, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("abc", "expected seconds"),
        ("1x", "expected seconds"),
        ("1 h", "expected seconds"),
        ("h", "expected seconds"),
        ("1.s", "expected seconds"),
        ("2s!", "expected seconds"),
        ("-1s", "expected seconds"),
        ("1m1m", "largest to smallest"),
        ("30s1m", "largest to smallest"),
        ("-5", "negative"),
        (-1, "negative"),
        ("nan", "finite"),
        ("inf", "finite"),
        (float("inf"), "finite"),
        (True, "expected seconds"),
    ],
)
def test_rejects_with_clear_message(value: str | float, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as excinfo:
        parse_duration(value)
    # The message quotes the offending value so the author can find it.
    assert repr(value) in str(excinfo.value)


def test_rejects_non_string_types() -> None:
    with pytest.raises(TypeError, match="string or a number"):
        parse_duration(None)  # type: ignore[arg-type]


def test_params_accept_durations_and_report_bad_ones() -> None:
    assert SleepParams.model_validate({"duration": "1m"}).duration == 60.0
    assert SleepParams.model_validate({"duration": 3}).duration == 3.0
    with pytest.raises(ValidationError, match="invalid duration '5 minutes'"):
        SleepParams.model_validate({"duration": "5 minutes"})
    with pytest.raises(ValidationError):
        SleepParams.model_validate({"duration": [1]})
