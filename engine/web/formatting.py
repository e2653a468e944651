"""How values read on a page: times, durations, statuses (the templates' filters)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from runbook_engine.durations import format_duration


def when(value: datetime | float | int | None) -> str:
    """A moment in UTC, to the second: the same on every viewer's screen, as in the logs."""
    if value is None:
        return ""
    moment = (
        datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else value
    ).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(value: datetime | float | int | None) -> str:
    """A moment for a ``<time datetime=...>`` attribute."""
    if value is None:
        return ""
    moment = datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else value
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def duration(seconds: float | None) -> str:
    return "" if seconds is None else format_duration(max(0.0, float(seconds)))


def status_label(status: str | None) -> str:
    """``waiting_approval`` reads as ``waiting approval``."""
    return (status or "").replace("_", " ")


def status_class(status: str | None) -> str:
    """The badge colour of a status: one of a few families, so new statuses still look right."""
    status = status or ""
    if status in {"succeeded", "approved"}:
        return "ok"
    if status in {"failed", "rejected", "rollback_failed", "timed_out", "needs_attention"}:
        return "bad"
    if status in {"running", "rolling_back", "retry_wait"}:
        return "busy"
    # a rolled-back run failed, but left things as they were: a warning, not an error
    if status in {"waiting_approval", "waiting_input", "waiting", "interrupted", "rolled_back"}:
        return "wait"
    return "quiet"


def short(value: Any, limit: int = 200) -> str:
    """A value as one readable line (JSON for structures), cut at ``limit`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


FILTERS: dict[str, Callable[..., str]] = {
    "when": when,
    "iso": iso,
    "duration": duration,
    "status_label": status_label,
    "status_class": status_class,
    "short": short,
}
