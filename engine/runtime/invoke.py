"""Call one action in the bounded thread pool, with a timeout that really stops it.

Blocking libraries (paramiko, boto3, subprocess) run in threads. A timeout sets the action's
``cancelled`` event, which every built-in action watches; the runtime then waits a short grace
period for the action to stop before it records the timeout."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from runbook_engine.errors import ActionError, ActionTimeout
from runbook_engine.plugin.contract import Action, ActionContext

#: seconds an action gets to stop after its timeout or a cancel before we stop waiting for it
STOP_GRACE = 5.0


@dataclass(frozen=True)
class Outcome:
    ok: bool
    result: Any = None
    error: dict[str, Any] | None = None
    duration: float = 0.0


def json_safe(value: Any) -> Any:
    """``value`` as the event log can keep it. Results are meant to be JSON, but a plugin that
    passes on a client library's answer may hand back datetimes, sets or bytes: those become
    text (ISO 8601 for times) instead of failing the write after the action took effect."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((json_safe(v) for v in value), key=repr)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def error_dict(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, ActionError):
        out: dict[str, Any] = {"message": str(exc), "kind": exc.kind, "retryable": exc.retryable}
        if exc.host:
            out["host"] = exc.host
        if exc.retry_after:
            out["retry_after"] = exc.retry_after
        for attr in ("exit_code", "stderr", "hosts"):
            if getattr(exc, attr, None) is not None:
                out[attr] = json_safe(getattr(exc, attr))
        return out
    # an unexpected exception in plugin code: recorded, never retried blindly
    return {"message": f"{type(exc).__name__}: {exc}", "kind": "crash", "retryable": False}


def validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(parameters)"
        msg = str(err["msg"])
        if err["type"] == "extra_forbidden":
            msg = "unknown parameter"
        parts.append(f"{loc}: {msg}")
    return "invalid parameters: " + "; ".join(parts)


async def call_action(
    pool: ThreadPoolExecutor,
    action: Action,
    params: Mapping[str, Any],
    ctx: ActionContext,
    timeout: float | None,
    *,
    undo_result: Any = None,
    undo: bool = False,
) -> Outcome:
    started = time.monotonic()
    try:
        model = action.Params.model_validate(dict(params))
    except ValidationError as exc:
        return Outcome(
            False, error={"message": validation_message(exc), "kind": "input", "retryable": False}
        )

    def target() -> Any:
        if undo:
            return action.undo(model, undo_result or {}, ctx)
        return action.run(model, ctx)

    ctx.deadline = timeout  # seconds the action has, as ActionContext documents
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(pool, target)
    try:
        result = await asyncio.wait_for(asyncio.shield(future), timeout)
    except TimeoutError:
        ctx.cancelled.set()
        await asyncio.wait({future}, timeout=STOP_GRACE)
        stopped = future.done()
        message = f"timed out after {timeout:g}s" + (
            "" if stopped else f"; the action did not stop within {STOP_GRACE:g}s"
        )
        future.add_done_callback(_swallow)
        return Outcome(
            False, error=error_dict(ActionTimeout(message)), duration=time.monotonic() - started
        )
    except asyncio.CancelledError:
        ctx.cancelled.set()
        future.add_done_callback(_swallow)
        raise
    except Exception as exc:
        return Outcome(False, error=error_dict(exc), duration=time.monotonic() - started)
    return Outcome(
        True,
        result=json_safe(result) if result is not None else {},
        duration=time.monotonic() - started,
    )


def _swallow(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()  # retrieved so asyncio does not warn about it


class LineBuffer:
    """Collects output lines from action threads until the run loop writes them to the log."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lines: dict[str, list[str]] = {}

    def sink(self, step: str, redact: Callable[[str], str]) -> Callable[[str], None]:
        def write(line: str) -> None:
            with self._lock:
                self._lines.setdefault(step, []).append(redact(line.rstrip("\n")))

        return write

    def drain(self) -> dict[str, list[str]]:
        with self._lock:
            lines, self._lines = self._lines, {}
        return lines
