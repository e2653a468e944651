"""Call one action in the bounded thread pool, with a timeout that really stops it.

Blocking libraries (paramiko, boto3, subprocess) run in threads. A timeout sets the action's
``cancelled`` event, which every built-in action watches; the runtime then waits a short grace
period for the action to stop before it records the timeout."""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from runbook_engine.core.events import StepError
from runbook_engine.errors import ActionError, ActionTimeout, RunbookError
from runbook_engine.plugin.contract import Action, ActionContext

#: seconds an action gets to stop after its timeout or a cancel before we stop waiting for it
STOP_GRACE = 5.0


@dataclass(frozen=True)
class Outcome:
    ok: bool
    result: Any = None
    error: StepError | None = None
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


def step_error(exc: BaseException) -> StepError:
    """Why a step failed, from ``exc``: with what the command said and each host's result
    where the error carries them."""
    if isinstance(exc, ActionError):
        return StepError(
            message=str(exc),
            kind=exc.kind,
            retryable=exc.retryable,
            host=exc.host,
            exit_code=exc.exit_code,
            retry_after=exc.retry_after or None,
            stderr=json_safe(exc.stderr) if exc.stderr is not None else None,
            hosts=json_safe(exc.hosts) if exc.hosts is not None else None,
            not_started=[str(h) for h in exc.not_started] if exc.not_started else None,
        )
    # an unexpected exception in plugin code: recorded, never retried blindly
    return StepError(f"{type(exc).__name__}: {exc}", kind="crash")


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
        return Outcome(False, error=StepError(validation_message(exc), kind="input"))

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
            False, error=step_error(ActionTimeout(message)), duration=time.monotonic() - started
        )
    except asyncio.CancelledError:
        ctx.cancelled.set()
        future.add_done_callback(_swallow)
        raise
    except Exception as exc:
        return Outcome(False, error=step_error(exc), duration=time.monotonic() - started)
    return Outcome(
        True,
        result=json_safe(result) if result is not None else {},
        duration=time.monotonic() - started,
    )


def _swallow(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()  # retrieved so asyncio does not warn about it


#: what the log keeps of one step's output (all hosts together) unless RUNBOOK_MAX_STEP_OUTPUT
#: says otherwise; past it the end is kept and the dropped middle counted
DEFAULT_MAX_STEP_OUTPUT = 16 * 1024 * 1024
MAX_STEP_OUTPUT_ENV = "RUNBOOK_MAX_STEP_OUTPUT"


def max_step_output() -> int:
    """The cap on one step's logged output, in bytes (``RUNBOOK_MAX_STEP_OUTPUT``: a number of
    bytes, or with a KiB/MiB/GiB suffix)."""
    text = os.environ.get(MAX_STEP_OUTPUT_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_STEP_OUTPUT
    units = {"kib": 1024, "mib": 1024**2, "gib": 1024**3, "k": 1024, "m": 1024**2, "g": 1024**3}
    number, unit = text.lower(), 1
    for suffix, size in units.items():
        if number.endswith(suffix):
            number, unit = number[: -len(suffix)].strip(), size
            break
    try:
        value = int(float(number) * unit)
    except ValueError:
        raise RunbookError(
            f"{MAX_STEP_OUTPUT_ENV}={text!r}: expected a size such as 16MiB or 1048576"
        ) from None
    if value < 1024:
        raise RunbookError(f"{MAX_STEP_OUTPUT_ENV}={text!r}: at least 1KiB")
    return value


@dataclass(frozen=True)
class Dropped:
    """What a step's log left out because the step printed more than the cap."""

    bytes: int
    lines: int
    kept_tail: list[str]


class _StepLines:
    __slots__ = ("dropped_bytes", "dropped_lines", "logged", "tail", "tail_bytes")

    def __init__(self) -> None:
        self.logged = 0  # bytes passed on to the log so far
        self.tail: deque[tuple[str, int]] = deque()  # (line, its size)
        self.tail_bytes = 0
        self.dropped_bytes = 0
        self.dropped_lines = 0


class LineBuffer:
    """Collects output lines from action threads until the run loop writes them to the log.

    Each step's log is capped (``max_bytes``, all its hosts together): its first three
    quarters go to the log as they arrive; past that, the last quarter's worth of lines is kept
    in a ring, and when the step ends ``finish`` hands over what was dropped (counted) and the
    tail. Memory stays bounded by the cap however much a step prints.
    """

    def __init__(self, max_bytes: int | None = None) -> None:
        self._lock = threading.Lock()
        self._lines: dict[str, list[str]] = {}
        self._steps: dict[str, _StepLines] = {}
        cap = max_bytes if max_bytes is not None else max_step_output()
        self.cap = cap
        self._tail_budget = cap // 4
        self._head_budget = cap - self._tail_budget

    def sink(self, step: str, redact: Callable[[str], str]) -> Callable[[str], None]:
        def write(line: str) -> None:
            text = redact(line.rstrip("\n"))
            size = len(text.encode("utf-8", errors="replace")) + 1
            with self._lock:
                seen = self._steps.get(step)
                if seen is None:
                    seen = self._steps[step] = _StepLines()
                if seen.logged + size <= self._head_budget and not seen.tail:
                    seen.logged += size
                    self._lines.setdefault(step, []).append(text)
                    return
                seen.tail.append((text, size))
                seen.tail_bytes += size
                while seen.tail_bytes > self._tail_budget and len(seen.tail) > 1:
                    _, dropped = seen.tail.popleft()
                    seen.tail_bytes -= dropped
                    seen.dropped_bytes += dropped
                    seen.dropped_lines += 1

        return write

    def drain(self) -> dict[str, list[str]]:
        with self._lock:
            lines, self._lines = self._lines, {}
        return lines

    def finish(self, step: str) -> Dropped | None:
        """The step ended: what its log left out and the tail it kept, if it hit the cap. The
        next attempt of the step starts with a whole cap again."""
        with self._lock:
            seen = self._steps.pop(step, None)
        if seen is None or not seen.tail:
            return None
        return Dropped(seen.dropped_bytes, seen.dropped_lines, [line for line, _ in seen.tail])
