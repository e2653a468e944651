"""Poll until something holds, a timeout passes, or the step is stopped.

Every wait in the AWS actions goes through here, so each one stops within a moment of
``ctx.cancelled`` (step timeout, run cancel) and logs progress only when it changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runbook_engine.actions._common import stop_error
from runbook_engine.errors import ActionTimeout
from runbook_engine.plugin.contract import ActionContext

__all__ = ["Progress", "poll"]


@dataclass(frozen=True)
class Progress:
    """One look at the resource: are we there, what was seen, and a line for people."""

    done: bool
    value: Any
    status: str


def poll(
    ctx: ActionContext,
    check: Callable[[], Progress],
    *,
    what: str,
    timeout: float,
    interval: float,
    started: float,
) -> tuple[Progress, int]:
    """Call ``check`` every ``interval`` seconds until it reports done; the last progress and
    the number of looks.

    Raises ``ActionTimeout`` (retryable) after ``timeout`` seconds, naming the last status, and
    the stop error (see ``stop_error``; ``started`` is when the action began) on cancel.
    """
    begun = time.monotonic()
    looks = 0
    last_status = None
    while True:
        if ctx.cancelled.is_set():
            raise stop_error(ctx, started, what)
        progress = check()
        looks += 1
        if progress.status != last_status:
            ctx.log(progress.status)
            last_status = progress.status
        if progress.done:
            return progress, looks
        remaining = timeout - (time.monotonic() - begun)
        if remaining <= 0:
            raise ActionTimeout(
                f"{what}: still not done after {timeout:g}s ({looks} checks); "
                f"last: {progress.status}"
            )
        if ctx.cancelled.wait(min(interval, remaining)):
            raise stop_error(ctx, started, what)
