"""Fixtures shared by the action tests: a context whose log lines are collected."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from runbook_engine.plugin.contract import ActionContext


@pytest.fixture
def log_lines() -> list[str]:
    """Lines the action wrote through ``ctx.log`` (``list.append`` is thread-safe)."""
    return []


@pytest.fixture
def ctx(log_lines: list[str]) -> ActionContext:
    return ActionContext(run_id="run-1", step_id="step-1", log=log_lines.append)


@pytest.fixture
def cancel_after() -> Iterator[Callable[[ActionContext, float], None]]:
    """Set ``ctx.cancelled`` from another thread after a delay, like the runtime does."""
    timers: list[threading.Timer] = []

    def schedule(context: ActionContext, delay: float) -> None:
        timer = threading.Timer(delay, context.cancelled.set)
        timer.start()
        timers.append(timer)

    yield schedule
    for timer in timers:
        timer.cancel()
        timer.join()
