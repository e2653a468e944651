"""The rollout mechanics without a network: batches, the failure threshold, skipped hosts,
the bound on hosts in flight, and how amounts and percentages are read."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from pydantic import ValidationError

from runbook_engine.actions.ssh.errors import HostFailure, Stopped
from runbook_engine.actions.ssh.fanout import Rollout, fan_out
from runbook_engine.actions.ssh.params import FanoutParams, parse_amount
from runbook_engine.actions.ssh.targets import Target
from runbook_engine.plugin.contract import ActionContext

TARGETS = [Target(f"n{i:02d}", f"10.0.0.{i}", 22, "root") for i in range(1, 13)]


def stop_kind() -> HostFailure:
    return HostFailure("cancelled", "cancelled", retryable=False)


def run(work: Any, rollout: Rollout, ctx: ActionContext | None = None) -> Any:
    context = ctx or ActionContext(run_id="r", step_id="s")
    return fan_out(TARGETS, work, rollout, context, blank={"x": None}, stop_kind=stop_kind)


def test_failure_threshold_stops_new_hosts_but_finishes_the_batch() -> None:
    started: list[str] = []

    def work(target: Target) -> dict[str, Any]:
        started.append(target.name)
        if target.name in ("n02", "n06"):
            raise HostFailure("exit", "boom", retryable=True, details={"x": 1})
        return {"x": 0}

    report = run(work, Rollout(forks=4, batch_size=4, tolerated=1))
    assert sorted(started) == [f"n{i:02d}" for i in range(1, 9)]  # batches 1 and 2 only
    assert [t.name for t in report.skipped] == [f"n{i:02d}" for i in range(9, 13)]
    assert report.stop_reason == "2 failed, max_failures is 1"
    failed = [o.data for o in report.outcomes if not o.ok]
    assert [(d["host"], d["kind"], d["x"]) for d in failed] == [
        ("n02", "exit", 1),
        ("n06", "exit", 1),
    ]


def test_within_a_batch_no_host_starts_after_the_threshold() -> None:
    def work(target: Target) -> dict[str, Any]:
        raise HostFailure("exit", "boom", retryable=True)

    report = run(work, Rollout(forks=1, batch_size=12, tolerated=0))
    assert len(report.outcomes) == 1
    assert len(report.skipped) == 11


def test_never_more_than_forks_in_flight() -> None:
    lock = threading.Lock()
    running = peak = 0

    def work(target: Target) -> dict[str, Any]:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return {}

    report = run(work, Rollout(forks=3, batch_size=12, tolerated=0))
    assert peak == 3
    assert [o.target.name for o in report.outcomes] == [t.name for t in TARGETS]


def test_cancel_stops_starting_hosts() -> None:
    ctx = ActionContext(run_id="r", step_id="s")

    def work(target: Target) -> dict[str, Any]:
        ctx.cancelled.set()
        raise Stopped("killed")

    report = run(work, Rollout(forks=1, batch_size=12, tolerated=12), ctx)
    assert len(report.outcomes) == 1
    assert report.outcomes[0].data["kind"] == "cancelled"
    assert report.outcomes[0].data["error"] == "cancelled; killed"
    assert report.stop_reason == "the step was cancelled or timed out"


def test_unexpected_errors_are_that_hosts_failure() -> None:
    def work(target: Target) -> dict[str, Any]:
        raise ConnectionRefusedError(111, "refused")

    report = run(work, Rollout(forks=12, batch_size=12, tolerated=12))
    assert {o.data["kind"] for o in report.outcomes} == {"unreachable"}


@pytest.mark.parametrize(
    ("value", "total", "up", "expected"),
    [
        (3, 10, True, 3),
        ("25%", 10, True, 3),
        ("25%", 10, False, 2),
        ("100%", 7, False, 7),
        ("0%", 9, False, 0),
        ("33.3%", 3, True, 1),
    ],
)
def test_amounts(value: int | str, total: int, up: bool, expected: int) -> None:
    assert parse_amount(value, total, round_up=up) == expected


@pytest.mark.parametrize(
    "bad",
    [
        {"batch": 0},
        {"batch": "0%"},
        {"batch": "150%"},
        {"max_failures": -1},
        {"max_failures": "lots"},
        {"forks": 0},
        {"forks": 1000},
        {"hosts": " "},
        {"hosts": []},
    ],
)
def test_invalid_rollout_options(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FanoutParams.model_validate({"hosts": "web", **bad})
