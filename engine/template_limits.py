"""What one template render may cost: time, and the size of the values it builds.

A runbook's templates run in the engine's own loop, so a template that never ends stops the
whole run (and a cancel with it), and one that builds a gigabyte string costs a gigabyte of
memory and then a gigabyte in the store. Every render therefore has

* a **time budget**: a wall-clock deadline, checked at the points a template spends its time
  (each loop iteration, call, filter, intercepted operator and output chunk);
* **size limits**: on ranges, on repetition and concatenation of text and lists, on padding
  widths and format strings, and on the rendered value.

Why a deadline checked inside the template rather than a timer outside it: rendering is pure
Python on the engine's main thread, and a thread cannot be stopped safely from outside; an
instruction count would need tuning per machine, while a deadline means the same thing as the
step's ``timeout`` it is derived from. ``time.monotonic()`` costs tens of nanoseconds, far
less than a Jinja loop iteration.

The same checks ask, at most every ``CANCEL_EVERY`` seconds, whether the run was cancelled,
through a callback the runtime installs with ``stop_when`` (a store read: the core that renders
does no I/O of its own). A cancel written by another process then ends a long render within
about a second instead of when the render's budget runs out.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from typing import Any

#: seconds one render may take when the step gives no shorter ``timeout``
RENDER_SECONDS = 10.0
#: characters in one string (or items in one list) a template may build or render
MAX_SIZE = 4 * 1024 * 1024
#: items in one ``range()``
MAX_RANGE = 100_000
#: bits of an integer power (``2 ** 4096`` is already a 1,234-digit number)
MAX_POWER_BITS = 4096
#: nesting of lists and mappings in a rendered value
MAX_DEPTH = 64
#: seconds between two "was the run cancelled?" questions during renders
CANCEL_EVERY = 0.5


class TemplateLimit(Exception):
    """A render went past one of its limits (turned into a TemplateError naming the field)."""


class RenderCancelled(TemplateLimit):
    """The run was cancelled while a template rendered."""


@dataclass
class CancelWatch:
    """Asks ``cancelled()`` now and then during the renders it covers; ``seen`` once it said
    yes (every later check of those renders then stops at once)."""

    cancelled: Callable[[], bool]
    next_at: float
    seen: bool = False


_deadline: ContextVar[tuple[float, float] | None] = ContextVar("template_deadline", default=None)
_cancel: ContextVar[CancelWatch | None] = ContextVar("template_cancel", default=None)


@contextmanager
def stop_when(cancelled: Callable[[], bool]) -> Iterator[CancelWatch]:
    """Let the renders inside stop when ``cancelled()`` says so; it is first asked
    ``CANCEL_EVERY`` seconds in, so renders that end sooner never call it."""
    watch = CancelWatch(cancelled, time.monotonic() + CANCEL_EVERY)
    token = _cancel.set(watch)
    try:
        yield watch
    finally:
        _cancel.reset(token)


@contextmanager
def budget(seconds: float | None) -> Iterator[None]:
    """Run a render within ``seconds`` (never more than ``RENDER_SECONDS``). A render inside
    another (a list's items, a dict's values) shares the outer render's deadline."""
    if _deadline.get() is not None:
        yield
        return
    allowed = RENDER_SECONDS if seconds is None else max(0.0, min(seconds, RENDER_SECONDS))
    token = _deadline.set((time.monotonic() + allowed, allowed))
    try:
        yield
    finally:
        _deadline.reset(token)


def check_time() -> None:
    """Raise once the current render is past its deadline, or its run was cancelled (outside
    a render: nothing)."""
    current = _deadline.get()
    if current is None:
        return
    now = time.monotonic()
    if now > current[0]:
        raise TemplateLimit(f"the template ran longer than its time budget of {current[1]:g}s")
    watch = _cancel.get()
    if watch is not None and (watch.seen or now >= watch.next_at):
        if not watch.seen:
            watch.seen = watch.cancelled()
            # from when the answer came: a slow store is not asked again and again
            watch.next_at = time.monotonic() + CANCEL_EVERY
        if watch.seen:
            raise RenderCancelled("the run was cancelled while the template rendered")


def check_size(value: Any) -> Any:
    """``value`` if it is within ``MAX_SIZE`` (text in characters, lists in items)."""
    if isinstance(value, str | list | tuple | bytes) and len(value) > MAX_SIZE:
        raise TemplateLimit(_too_big(len(value)))
    return value


def _too_big(size: int) -> str:
    return (
        f"the template would build a value of {size:,} items or characters (at most {MAX_SIZE:,})"
    )


def _length(value: Any) -> int:
    return len(value) if isinstance(value, Sized) and not isinstance(value, dict) else 0


def _need(size: int) -> None:
    if size > MAX_SIZE:
        raise TemplateLimit(_too_big(size))


class Ticking:
    """An iterable a ``for`` loop goes through with the clock checked at each item; its length
    is the wrapped one's, so ``loop.length`` costs no copy."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[Any]) -> None:
        self._items = items

    def __iter__(self) -> Iterator[Any]:
        for item in self._items:
            check_time()
            yield item

    def __len__(self) -> int:
        if isinstance(self._items, Sized):
            return len(self._items)
        raise TypeError("no length")


def safe_range(*args: int) -> range:
    check_time()
    items = range(*args)
    if len(items) > MAX_RANGE:
        raise TemplateLimit(f"range() of {len(items):,} items (at most {MAX_RANGE:,})")
    return items


# ------------------------------------------------------------------ operators


def check_binop(op: str, left: Any, right: Any) -> None:
    """Refuse an operation whose result would be past the limits, before it is computed."""
    check_time()
    if op == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(times, int) and isinstance(seq, str | list | tuple):
                _need(len(seq) * max(times, 0))
    elif op == "+":
        if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            _need(len(left) + len(right))
    elif op == "**" and isinstance(left, int) and isinstance(right, int):
        if abs(left) > 1 and right > 0 and right * abs(left).bit_length() > MAX_POWER_BITS:
            raise TemplateLimit(
                f"{left} ** {right} is too large an integer (at most {MAX_POWER_BITS} bits)"
            )
    elif op == "%" and isinstance(left, str):
        check_format(left, right if isinstance(right, tuple) else (right,))


# a width or precision in %-formatting ("%-10.3f") and in str.format specs ("{:>10}")
_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\d*)(?:\.(\d*))?")
_BRACE_SPEC = re.compile(r"\{[^{}]*:([^{}]*)\}")
_DIGITS = re.compile(r"\d+")


def check_format(fmt: str, args: Iterable[Any]) -> None:
    """Refuse a format string that would build more than ``MAX_SIZE`` characters: by its
    widths ("%999999999d"), or by using long arguments many times ("%s%s%s..." of one text)."""
    widths = [int(n) for m in _PERCENT.finditer(fmt) for n in m.groups() if n]
    widths += [int(n) for m in _BRACE_SPEC.finditer(fmt) for n in _DIGITS.findall(m.group(1))]
    fields = fmt.count("%") + fmt.count("{")
    longest = max((_length(a) for a in _flat_args(args)), default=0)
    _need(len(fmt) + max(widths, default=0) + fields * longest)


def _flat_args(args: Iterable[Any]) -> Iterator[Any]:
    for arg in args:
        if isinstance(arg, dict):
            yield from arg.values()
        else:
            yield arg


# ------------------------------------------------------------------ calls and filters

_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


def check_call(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a call to a known text-growing method whose result would be past the limits:
    padding (``center``, ``ljust``...), ``expandtabs``, ``join``, ``replace``, ``format``."""
    check_time()
    target = getattr(func, "__wrapped__", func)  # the sandbox wraps str.format
    owner = getattr(target, "__self__", None)
    name = getattr(target, "__name__", "")
    if not isinstance(owner, str):
        return
    if name in _WIDTH_METHODS and args and isinstance(args[0], int):
        _need(args[0])
    elif name == "expandtabs":
        size = args[0] if args and isinstance(args[0], int) else 8
        _need(len(owner) + owner.count("\t") * max(size, 0))
    elif name == "join" and args:
        _need(_joined_size(owner, args[0]))
    elif name == "replace" and len(args) >= 2:
        _need(_replaced_size(owner, args[0], args[1]))
    elif name in ("format", "format_map"):
        check_format(owner, [*args, *kwargs.values()])


def _joined_size(sep: str, items: Any) -> int:
    if not isinstance(items, list | tuple):
        return 0  # an iterator or a mapping: the result is checked once built
    parts = sum(len(i) for i in items if isinstance(i, str)) if len(items) <= MAX_SIZE else 0
    return len(sep) * max(len(items) - 1, 0) + parts


def _replaced_size(text: Any, old: Any, new: Any) -> int:
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return 0
    times = text.count(old) if old else len(text) + 1
    return len(text) + times * max(len(new) - len(old), 0)


#: filters that can grow text much past their input, with a check of their arguments
def _check_filter(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    value = args[0] if args else None
    rest = args[1:]
    if name == "center":
        width = rest[0] if rest else kwargs.get("width", 80)
        if isinstance(width, int):
            _need(width)
    elif name == "indent" and isinstance(value, str):
        width = rest[0] if rest else kwargs.get("width", 4)
        size = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        _need(len(value) + (value.count("\n") + 1) * max(size, 0))
    elif name == "join":
        sep = rest[0] if rest else kwargs.get("d", "")
        if isinstance(sep, str):
            _need(_joined_size(sep, value))
    elif name == "replace" and len(rest) >= 2:
        _need(_replaced_size(value, rest[0], rest[1]))
    elif name == "format" and isinstance(value, str):
        check_format(value, [*rest, *kwargs.values()])


def guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` with the clock checked before it runs, its arguments checked where it is
    known to grow text, and its result's size checked after."""

    # the environment or context a pass_* filter receives comes first: skip it when checking
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @wraps(func)  # keeps jinja_pass_arg, which tells Jinja what to pass
    def guarded(*args: Any, **kwargs: Any) -> Any:
        check_time()
        _check_filter(name, args[skip:], kwargs)
        return check_size(func(*args, **kwargs))

    return guarded
