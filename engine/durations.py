"""Parse human durations (``500ms``, ``2s``, ``1h30m``, ``1d``) into seconds.

Runbook authors write timeouts and sleeps by hand; accepting the usual suffixes avoids a class of
"was that milliseconds?" mistakes, while a strict grammar (largest unit first, each unit once)
rejects typos such as ``1m1m`` or ``30s1m`` instead of guessing what they meant.
"""

from __future__ import annotations

import math
import re

__all__ = ["format_duration", "parse_duration"]

_UNIT_SECONDS: dict[str, float] = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
#: position of each unit from largest to smallest, to enforce the order
_UNIT_RANK: dict[str, int] = {unit: rank for rank, unit in enumerate(_UNIT_SECONDS)}
# "ms" is listed before "m" and "s" so that "500ms" is not read as "500m" followed by "s".
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)")
_EXPECTED = "expected seconds (e.g. 30, 2.5) or a duration like '500ms', '2s', '15m', '1h30m', '1d'"


def parse_duration(value: str | int | float) -> float:
    """Return ``value`` as a number of seconds.

    Numbers (and numeric strings) are seconds. Strings may combine ``d``, ``h``, ``m``, ``s`` and
    ``ms`` parts from the largest unit to the smallest, each at most once: ``"1h30m"``,
    ``"1m30s"``, ``"1.5s"``, ``"500ms"``. Negative, infinite and NaN values are refused.

    Raises ``ValueError`` with the offending value and the accepted forms when the value cannot
    be parsed, and ``TypeError`` when it is not a string or a number.
    """
    # bool is an int subclass; ``sleep: true`` is a mistake, not one second.
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: {_EXPECTED}")
    if isinstance(value, int | float):
        return _checked(float(value), value)
    if not isinstance(value, str):
        raise TypeError(f"duration must be a string or a number, not {type(value).__name__}")

    text = value.strip()
    if not text:
        raise ValueError(f"invalid duration {value!r}: empty; {_EXPECTED}")
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return _checked(seconds, value)

    total = 0.0
    position = 0
    last_rank = -1
    while position < len(text):
        match = _PART.match(text, position)
        if match is None:
            raise ValueError(f"invalid duration {value!r}: {_EXPECTED}")
        number, unit = match.groups()
        rank = _UNIT_RANK[unit]
        if rank <= last_rank:
            raise ValueError(
                f"invalid duration {value!r}: units must go from largest to smallest "
                f"(d, h, m, s, ms), each at most once"
            )
        last_rank = rank
        total += float(number) * _UNIT_SECONDS[unit]
        position = match.end()
    return _checked(total, value)


def _checked(seconds: float, original: object) -> float:
    if not math.isfinite(seconds):
        raise ValueError(f"invalid duration {original!r}: must be a finite number of seconds")
    if seconds < 0:
        raise ValueError(f"invalid duration {original!r}: must not be negative")
    return seconds


def format_duration(seconds: float) -> str:
    """Short human form used in summaries: ``850ms``, ``12.3s``, ``4m05s``, ``2h10m``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
